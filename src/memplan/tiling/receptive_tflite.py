"""TFLite models in the vocabulary of `receptive`: the same receptive-field rules, the same
stage finding and the same search, for NHWC ``.tflite`` graphs.

``nchw_view(tfl)`` is the model's `Graph` seen as ONNX would write it: every 4-D tensor's
shape as NCHW (``(N, H, W, C) -> (N, C, H, W)``), convolution weights in ONNX layout
(``[O, kh, kw, I] -> [O, I, kh, kw]``; depthwise ``[1, kh, kw, C] -> [C, 1, kh, kw]``), and
each op under the ONNX name whose rule it follows, its window in attributes:

- ``CONV_2D``, ``DEPTHWISE_CONV_2D`` -> ``Conv``; ``MAX_POOL_2D`` / ``AVERAGE_POOL_2D`` ->
  ``MaxPool`` / ``AveragePool`` (``padding`` SAME/VALID -> ``auto_pad``; TFLite's SAME puts
  the odd padding row after, as ONNX's SAME_UPPER);
- ``PAD``/``PADV2`` of the spatial axes -> a 1x1 window whose pads are the op's (a patch
  pads only its border sides); of the channels only -> pointwise;
- ``ADD``, ``MUL``, activations, ``QUANTIZE``/``DEQUANTIZE`` -> their pointwise ONNX names;
  ``CONCATENATION`` along channels -> ``Concat`` on axis 1;
- ``MEAN``, ``FULLY_CONNECTED``, ``SOFTMAX``, ``RESIZE_*``, ``RESHAPE`` -> the ONNX ops that
  see the whole tensor, so the errors say why.

Tensor and op names are unchanged, so a stage found here names the ``.tflite``'s own ops
(``CONV_2D_5``) and tensors; row intervals are the same in both layouts. MACs come from
`memplan.graph.costs` on this view (the ONNX weight layout is what it reads).
"""
from __future__ import annotations

from ..graph.ir import Graph, Op, Tensor

POINTWISE = {
    "ADD": "Add", "MUL": "Mul", "SUB": "Sub", "DIV": "Div", "MAXIMUM": "Max", "MINIMUM": "Min",
    "SQUARED_DIFFERENCE": "Sub", "RELU": "Relu", "RELU6": "Clip", "RELU_N1_TO_1": "Clip", "RELU_0_TO_1": "Clip",
    "LOGISTIC": "Sigmoid", "TANH": "Tanh", "PRELU": "PRelu", "LEAKY_RELU": "LeakyRelu", "HARD_SWISH": "HardSwish",
    "ELU": "Elu", "ABS": "Abs", "NEG": "Neg", "EXP": "Exp", "LOG": "Log", "SQRT": "Sqrt", "RSQRT": "Reciprocal",
    "FLOOR": "Floor", "CEIL": "Ceil", "ROUND": "Round", "QUANTIZE": "Cast", "DEQUANTIZE": "Cast", "CAST": "Cast",
}
WHOLE = {"MEAN": "ReduceMean", "REDUCE_MAX": "ReduceMax", "SUM": "ReduceSum", "FULLY_CONNECTED": "Gemm",
         "BATCH_MATMUL": "MatMul", "SOFTMAX": "Softmax", "RESIZE_BILINEAR": "Resize",
         "RESIZE_NEAREST_NEIGHBOR": "Resize", "RESHAPE": "Flatten", "L2_NORMALIZATION": "InstanceNormalization"}
WINDOWS = {"CONV_2D": "Conv", "DEPTHWISE_CONV_2D": "Conv", "MAX_POOL_2D": "MaxPool", "AVERAGE_POOL_2D": "AveragePool"}
CONV_TYPES = frozenset({"CONV_2D", "DEPTHWISE_CONV_2D"})
POOL_TYPES = frozenset({"MAX_POOL_2D", "AVERAGE_POOL_2D"})
PAD_TYPES = frozenset({"PAD", "PADV2"})


def to_nchw(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0], shape[3], shape[1], shape[2]) if len(shape) == 4 else shape


def options(tfl, op: Op):
    """The op's builtin options object (``Conv2DOptionsT``, ``Pool2DOptionsT``, …) or None."""
    return tfl.model.subgraphs[0].operators[op.attrs["index"]].builtinOptions


def pad_pairs(graph: Graph, op: Op) -> list[list[int]] | None:
    """A PAD's ``paddings`` constant as ``[[before, after], …]`` per axis, or None when computed."""
    value = graph.initializers.get(op.inputs[1]) if len(op.inputs) > 1 else None
    return None if value is None else [[int(v) for v in row] for row in value.reshape(-1, 2)]


def _auto_pad(opts) -> str:
    return "VALID" if opts is not None and int(opts.padding) == 1 else "SAME_UPPER"


def view_op(tfl, op: Op) -> tuple[Op, dict[str, tuple[int, ...]]]:
    """``op`` in ONNX vocabulary, and the weight shapes it needs in ONNX layout."""
    graph, kind = tfl.graph, op.op_type
    attrs: dict = {"index": op.attrs["index"], "tflite": kind}
    weights: dict[str, tuple[int, ...]] = {}
    if kind in WINDOWS:
        opts = options(tfl, op)
        attrs["auto_pad"] = _auto_pad(opts)
        attrs["strides"] = [int(opts.strideH), int(opts.strideW)] if opts is not None else [1, 1]
        if kind in CONV_TYPES:
            w = graph.tensors[op.inputs[1]].shape
            weights[op.inputs[1]] = (w[0], w[3], w[1], w[2]) if kind == "CONV_2D" else (w[3], 1, w[1], w[2])
            attrs["kernel_shape"] = [w[1], w[2]]
            attrs["dilations"] = ([int(opts.dilationHFactor or 1), int(opts.dilationWFactor or 1)]
                                  if opts is not None else [1, 1])
        else:
            attrs["kernel_shape"] = [int(opts.filterHeight), int(opts.filterWidth)]
        return Op(op.name, WINDOWS[kind], op.inputs, op.outputs, attrs), weights
    if kind in PAD_TYPES:
        pairs = pad_pairs(graph, op)
        if pairs is None or len(pairs) != 4:
            return Op(op.name, kind, op.inputs, op.outputs, attrs), weights
        if pairs[0] != [0, 0]:
            return Op(op.name, "PAD of the batch axis", op.inputs, op.outputs, attrs), weights
        if pairs[1] == [0, 0] and pairs[2] == [0, 0]:  # channels only: a pointwise copy
            return Op(op.name, "Identity", op.inputs, op.outputs, attrs), weights
        attrs.update(kernel_shape=[1, 1], strides=[1, 1], pads=[pairs[1][0], pairs[2][0], pairs[1][1], pairs[2][1]])
        return Op(op.name, "MaxPool", op.inputs, op.outputs, attrs), weights
    if kind == "CONCATENATION":
        axis = int(options(tfl, op).axis)
        rank = len(graph.tensors[op.outputs[0]].shape)
        attrs["axis"] = {3: 1, 1: 2, 2: 3}.get(axis % rank, axis) if rank == 4 else axis
        return Op(op.name, "Concat", op.inputs, op.outputs, attrs), weights
    name = POINTWISE.get(kind) or WHOLE.get(kind) or kind
    return Op(op.name, name, op.inputs, op.outputs, attrs), weights


def nchw_view(tfl) -> Graph:
    """The model's graph with NCHW shapes and ONNX op names (see the module docstring)."""
    graph = tfl.graph
    ops, weight_shapes = [], {}
    for op in graph.ops:
        new, weights = view_op(tfl, op)
        ops.append(new)
        weight_shapes.update(weights)
    tensors = {}
    for name, t in graph.tensors.items():
        shape = weight_shapes.get(name) or (to_nchw(t.shape) if t.kind != "weight" else t.shape)
        tensors[name] = Tensor(name, tuple(shape), t.dtype, t.kind)
    return Graph(name=graph.name, ops=tuple(ops), tensors=tensors, inputs=graph.inputs, outputs=graph.outputs,
                 initializers=graph.initializers, source=graph.source)
