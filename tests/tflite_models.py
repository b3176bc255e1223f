"""Small .tflite models built in the tests with the schema's object API (tflite-micro's)."""
from __future__ import annotations

import numpy as np

from memplan.graph.tflite import schema
from memplan.graph.tflite_edit import to_bytes

OPTIONS = {  # opcode -> (BuiltinOptions member, options class name)
    "ADD": ("AddOptions", "AddOptionsT"),
    "MUL": ("MulOptions", "MulOptionsT"),
    "FULLY_CONNECTED": ("FullyConnectedOptions", "FullyConnectedOptionsT"),
    "CONCATENATION": ("ConcatenationOptions", "ConcatenationOptionsT"),
    "DEQUANTIZE": ("DequantizeOptions", "DequantizeOptionsT"),
    "RESHAPE": ("ReshapeOptions", "ReshapeOptionsT"),
    "WHILE": ("WhileOptions", "WhileOptionsT"),
    "CONV_2D": ("Conv2DOptions", "Conv2DOptionsT"),
    "DEPTHWISE_CONV_2D": ("DepthwiseConv2DOptions", "DepthwiseConv2DOptionsT"),
    "MAX_POOL_2D": ("Pool2DOptions", "Pool2DOptionsT"),
    "AVERAGE_POOL_2D": ("Pool2DOptions", "Pool2DOptionsT"),
    "PAD": ("PadOptions", "PadOptionsT"),
    "MEAN": ("ReducerOptions", "ReducerOptionsT"),
}
TYPES = {"float32": "FLOAT32", "float16": "FLOAT16", "int8": "INT8", "int16": "INT16", "int32": "INT32"}


def build(tensors, ops, inputs, outputs, *, extra_subgraphs: int = 0, metadata=(), variable=()) -> bytes:
    """``tensors``: (name, shape, dtype, constant value or None[, (scale, zero point)]); ``ops``: (OPCODE, [inputs],
    [outputs], options dict) with tensor indices; ``metadata``: (name, bytes) entries."""
    fb = schema()
    model = fb.ModelT()
    model.version = 3
    model.buffers = [fb.BufferT()]
    sg = fb.SubGraphT()
    sg.tensors = []
    for i, (name, shape, dtype, value, *quant) in enumerate(tensors):
        t = fb.TensorT()
        t.name, t.shape = name, list(shape)
        if quant:  # (scale, zero point) of a per-tensor quantised tensor
            t.quantization = fb.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [float(quant[0][0])], [int(quant[0][1])]
        t.type = getattr(fb.TensorType, TYPES[dtype])
        t.buffer = 0
        t.isVariable = i in variable
        if value is not None:
            raw = np.asarray(value, dtype=dtype).tobytes()
            model.buffers.append(fb.BufferT(data=np.frombuffer(raw, dtype=np.uint8).copy()))
            t.buffer = len(model.buffers) - 1
        else:
            model.buffers.append(fb.BufferT())
            t.buffer = len(model.buffers) - 1
        sg.tensors.append(t)
    codes: dict[str, int] = {}
    model.operatorCodes = []
    sg.operators = []
    for opcode, ins, outs, options in ops:
        if opcode not in codes:
            code = fb.OperatorCodeT()
            code.builtinCode = getattr(fb.BuiltinOperator, opcode)
            code.deprecatedBuiltinCode = min(code.builtinCode, 127)
            code.version = 1
            codes[opcode] = len(model.operatorCodes)
            model.operatorCodes.append(code)
        op = fb.OperatorT()
        op.opcodeIndex, op.inputs, op.outputs = codes[opcode], list(ins), list(outs)
        if opcode in OPTIONS:
            member, cls = OPTIONS[opcode]
            op.builtinOptionsType = getattr(fb.BuiltinOptions, member)
            op.builtinOptions = getattr(fb, cls)()
            for key, value in (options or {}).items():
                setattr(op.builtinOptions, key, value)
        sg.operators.append(op)
    sg.inputs, sg.outputs = list(inputs), list(outputs)
    model.subgraphs = [sg]
    for _ in range(extra_subgraphs):
        extra = fb.SubGraphT()
        extra.tensors, extra.operators, extra.inputs, extra.outputs = [], [], [], []
        model.subgraphs.append(extra)
    model.metadata = []
    for name, data in metadata:
        model.buffers.append(fb.BufferT(data=np.frombuffer(data, dtype=np.uint8).copy()))
        model.metadata.append(fb.MetadataT(name=name, buffer=len(model.buffers) - 1))
    return to_bytes(model)


def fc_model(widths=(8, 64, 16, 32, 4), *, fp16: bool = False, seed: int = 0) -> bytes:
    """input -> FC -> FC -> ... with one skip (ADD) so lifetimes overlap; float16 weights
    behind DEQUANTIZE when ``fp16``."""
    rng = np.random.default_rng(seed)
    tensors = [("input", (1, widths[0]), "float32", None)]
    ops = []
    x = 0
    for k, (a, b) in enumerate(zip(widths, widths[1:])):
        w = rng.standard_normal((b, a)).astype(np.float32) / np.sqrt(a)
        if fp16:
            tensors.append((f"w{k}_fp16", (b, a), "float16", w.astype(np.float16)))
            tensors.append((f"w{k}", (b, a), "float32", None))
            ops.append(("DEQUANTIZE", [len(tensors) - 2], [len(tensors) - 1], None))
        else:
            tensors.append((f"w{k}", (b, a), "float32", w))
        wi = len(tensors) - 1
        tensors.append((f"fc{k}", (1, b), "float32", None))
        ops.append(("FULLY_CONNECTED", [x, wi, -1], [len(tensors) - 1], {"fusedActivationFunction": 1}))
        x = len(tensors) - 1
    tensors.append(("doubled", (1, widths[-1]), "float32", None))
    ops.append(("ADD", [x, x], [len(tensors) - 1], None))
    return build(tensors, ops, [0], [len(tensors) - 1])


def branchy_model() -> bytes:
    """A graph where TFLM's greedy (largest first, lowest gap) leaves a hole the best plan
    does not: found by searching small FC graphs; TFLM's head is above the lower bound."""
    sizes = {"input": 96, "a": 96, "b": 16, "c": 96, "d": 96, "e": 128, "f": 256, "g": 96, "out": 96}
    edges = [("a", ["input"]), ("b", ["a"]), ("c", ["input", "a"]), ("d", ["b"]), ("e", ["d"]),
             ("f", ["c"]), ("g", ["c", "d"]), ("out", ["c", "g"])]
    return _graph(sizes, edges, np.random.default_rng(1))


def _graph(sizes, edges, rng) -> bytes:
    """Each node: FULLY_CONNECTED of its first input; a second input is ADDed after an FC."""
    tensors = [("input", (1, sizes["input"]), "float32", None)]
    index = {"input": 0}
    ops = []
    for name, srcs in edges:
        a, b = sizes[srcs[0]], sizes[name]
        tensors.append((f"{name}_w", (b, a), "float32", rng.standard_normal((b, a)).astype(np.float32) / np.sqrt(a)))
        w = len(tensors) - 1
        if len(srcs) == 1:
            tensors.append((name, (1, b), "float32", None))
            ops.append(("FULLY_CONNECTED", [index[srcs[0]], w, -1], [len(tensors) - 1], None))
        else:
            tensors.append((f"{name}_fc", (1, b), "float32", None))
            ops.append(("FULLY_CONNECTED", [index[srcs[0]], w, -1], [len(tensors) - 1], None))
            tensors.append((name, (1, b), "float32", None))
            ops.append(("ADD", [len(tensors) - 2, index[srcs[1]]], [len(tensors) - 1], None))
        index[name] = len(tensors) - 1
    return build(tensors, ops, [0], [index[edges[-1][0]]])


def mediapipe_model(name):
    """The models come from `make` (python -m memplan.graph.mediapipe fetch). A missing model fails
    the test with the ModelError saying how to fetch it: data a test needs is never a skip."""
    from memplan.graph import mediapipe

    return mediapipe.model_path(name)


mediapipe_or_skip = mediapipe_model  # the old name, for tests written against it


def strip_net(height=16, width=12, *, pool="MAX_POOL_2D") -> bytes:
    """x -> conv 3x3 SAME (ReLU) -> depthwise 3x3/2 SAME -> pool 3x3 SAME -> add(depthwise, pool)
    -> pad 1 (spatial) -> conv 3x3 VALID -> mean and relu (the graph outputs). Every border case: SAME
    with odd padding, a pool padded at the borders, a branch read on two regions, a spatial PAD."""
    rng = np.random.default_rng(0)
    h2, w2 = height // 2, width // 2
    f = lambda *s: rng.standard_normal(s).astype(np.float32)
    tensors = [("x", (1, height, width, 3), "float32", None),
               ("w1", (4, 3, 3, 3), "float32", f(4, 3, 3, 3)), ("b1", (4,), "float32", f(4)),
               ("c1", (1, height, width, 4), "float32", None),
               ("wd", (1, 3, 3, 4), "float32", f(1, 3, 3, 4)), ("bd", (4,), "float32", f(4)),
               ("d1", (1, h2, w2, 4), "float32", None),
               ("p1", (1, h2, w2, 4), "float32", None),
               ("a1", (1, h2, w2, 4), "float32", None),
               ("pads", (4, 2), "int32", np.array([[0, 0], [1, 1], [1, 1], [0, 0]])),
               ("q1", (1, h2 + 2, w2 + 2, 4), "float32", None),
               ("w2", (6, 3, 3, 4), "float32", f(6, 3, 3, 4)), ("b2", (6,), "float32", f(6)),
               ("c2", (1, h2, w2, 6), "float32", None),
               ("axes", (2,), "int32", np.array([1, 2])),
               ("m", (1, 6), "float32", None),
               ("r2", (1, h2, w2, 6), "float32", None)]
    ops = [("CONV_2D", [0, 1, 2], [3], dict(padding=0, strideH=1, strideW=1, fusedActivationFunction=1)),
           ("DEPTHWISE_CONV_2D", [3, 4, 5], [6], dict(padding=0, strideH=2, strideW=2, depthMultiplier=1)),
           (pool, [6], [7], dict(padding=0, strideH=1, strideW=1, filterHeight=3, filterWidth=3)),
           ("ADD", [6, 7], [8], None),
           ("PAD", [8, 9], [10], None),
           ("CONV_2D", [10, 11, 12], [13], dict(padding=1, strideH=1, strideW=1)),
           ("MEAN", [13, 14], [15], dict(keepDims=False)),
           ("RELU", [13], [16], None)]
    return build(tensors, ops, [0], [16, 15])
