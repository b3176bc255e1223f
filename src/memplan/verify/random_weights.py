"""``--random-weights``: replace the tensors a model uses as weights, and nothing else.

A tensor is a weight when it is a float constant read in a parameter slot of the op that
consumes it: the kernel and bias of Conv / ConvTranspose, the matrices of MatMul / Gemm /
Einsum, the scale / bias / statistics of the normalisations, W / R / B / P of LSTM, GRU and
RNN, the table of a Gather (an embedding), PRelu's slope, and the bias or scale added to the
output of a matrix product or convolution (a Linear layer exported as MatMul + Add). The
decision follows the consumer and its input slot, through ops that only move data
(Transpose, Reshape, Cast, ...: a tied embedding reaches a MatMul through a Transpose),
never the tensor's name. Shapes, Resize scales and sizes, ROIs, axes, indices, pads, masks,
clip bounds, scalars and every integer tensor keep their values, so the model computes what
it computed before, with other numbers in its layers.

Constants come in three forms, all replaced in place (names kept): initializers, ``Constant``
nodes (Paddle exports store weights so), and ``ConstantOfShape`` of a constant shape (the
zoo graphs build every weight so; such a node becomes an initializer of that shape).

Values: seeded, He-style for tensors of rank >= 2 (normal with variance 1/fan-in), uniform
in [0.5, 1.5) for vectors (positive, so BatchNorm variances and LayerNorm scales stay sane).
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import ModelError

# op type -> input slots holding trainable parameters ("all" = every input)
WEIGHT_SLOTS: dict[str, tuple[int, ...] | str] = {
    "Conv": (1, 2), "ConvTranspose": (1, 2), "Gemm": (0, 1, 2), "MatMul": (0, 1), "Einsum": "all",
    "BatchNormalization": (1, 2, 3, 4), "InstanceNormalization": (1, 2), "LayerNormalization": (1, 2),
    "GroupNormalization": (1, 2), "LSTM": (1, 2, 3, 7), "GRU": (1, 2, 3), "RNN": (1, 2, 3),
    "Gather": (0,), "PRelu": (1,),
}
# ops whose output carries their first input's values (a weight seen through them is a weight)
PASS_THROUGH = {"Identity", "Cast", "Transpose", "Reshape", "Squeeze", "Unsqueeze", "Flatten"}
# a float vector added to / multiplied with the output of these is a bias or a scale (also
# through a short chain of such affine ops: Caffe2's scale layer is BatchNorm, Mul, Add)
WEIGHTED_PRODUCERS = {"Conv", "ConvTranspose", "MatMul", "Gemm", "Einsum", "BatchNormalization",
                      "InstanceNormalization", "LayerNormalization", "GroupNormalization"}
BIAS_OPS = {"Add", "Mul", "Sub"}


def randomize_weights(src: str, dst: str, seed: int = 0, *, label: str | None = None) -> str:
    """Write ``src`` to ``dst`` with every float weight replaced by seeded random values
    (``label``: the model as the user named it, for messages)."""
    import onnx

    try:
        model = onnx.load(src)
    except FileNotFoundError:
        raise ModelError(f"{label or src}: no such file") from None
    except Exception as exc:  # noqa: BLE001  (protobuf raises its own DecodeError and others)
        raise ModelError(f"{label or src}: not a readable ONNX model ({type(exc).__name__})") from None
    weights = weight_names(model)
    rng = np.random.default_rng(seed)
    for g in _graphs(model.graph):
        _randomize_graph(g, weights, rng)
    if model.ir_version < 4:  # before IR 4 every initializer must also be a graph input
        declared = {i.name for i in model.graph.input}
        model.graph.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                                 for t in model.graph.initializer if t.name not in declared)
    onnx.save(model, dst)
    return dst


def weight_names(model) -> set[str]:
    """Names of the tensors ``model`` uses as weights (see the module docstring)."""
    nodes = [n for g in _graphs(model.graph) for n in g.node]
    producer = {out: n for n in nodes for out in n.output if out}
    consumers: dict[str, list] = {}
    for n in nodes:
        for slot, name in enumerate(n.input):
            if name:
                consumers.setdefault(name, []).append((n, slot))
    shapes = _float_constants(model)
    return {name for name, shape in shapes.items() if _used_as_weight(name, shape, consumers, producer, set())}


def _used_as_weight(name, shape, consumers, producer, seen) -> bool:
    if name in seen:
        return False
    seen.add(name)
    for node, slot in consumers.get(name, ()):
        slots = WEIGHT_SLOTS.get(node.op_type)
        if slots == "all" or (slots is not None and slot in slots):
            return True
        if node.op_type in PASS_THROUGH and slot == 0 and any(
                _used_as_weight(out, shape, consumers, producer, seen) for out in node.output if out):
            return True
        # A bias or scale is a vector along one axis (C,1,1 or N); a constant added to a
        # matrix product with more dimensions is something else, e.g. an attention mask.
        vector = sum(d > 1 for d in shape) == 1
        if (node.op_type in BIAS_OPS and len(node.input) == 2 and vector
                and _after_weighted_op(node.input[1 - slot], producer, depth=3)):
            return True
    return False


def _after_weighted_op(tensor, producer, depth) -> bool:
    node = producer.get(tensor)
    if node is None or depth == 0:
        return False
    if node.op_type in WEIGHTED_PRODUCERS:
        return True
    return node.op_type in BIAS_OPS and any(_after_weighted_op(t, producer, depth - 1) for t in node.input if t)


def _float_constants(model) -> dict[str, tuple[int, ...]]:
    """name -> shape of the finite float constants with more than one element: initializers,
    Constant and ConstantOfShape (of a constant shape) outputs, in every graph. Constants
    holding inf or NaN are masks or sentinels, never weights."""
    from onnx import numpy_helper

    found = {}
    for g in _graphs(model.graph):
        inits = {t.name: t for t in g.initializer}
        for t in g.initializer:
            value = numpy_helper.to_array(t)
            if _is_float_array(value):
                found[t.name] = value.shape
        for node in g.node:
            if node.op_type == "Constant":
                value = _constant_value(node)
                if value is not None and _is_float_array(value):
                    found[node.output[0]] = value.shape
            elif node.op_type == "ConstantOfShape" and node.input and node.input[0] in inits:
                shape = tuple(int(d) for d in numpy_helper.to_array(inits[node.input[0]]).reshape(-1))
                fill = _fill_value(node)
                if fill.dtype.kind == "f" and np.isfinite(fill).all() and math.prod(shape) > 1:
                    found[node.output[0]] = shape
    return found


def _randomize_graph(g, weights, rng) -> None:
    import onnx
    from onnx import numpy_helper

    inits = {t.name: t for t in g.initializer}
    keep, new_inits = [], []
    for node in g.node:
        out = node.output[0] if node.output else ""
        if out in weights and node.op_type == "Constant":
            value = _constant_value(node)
            array = _random(rng, value.shape, value.dtype)
            del node.attribute[:]
            node.attribute.append(onnx.helper.make_attribute("value", numpy_helper.from_array(array)))
        elif out in weights and node.op_type == "ConstantOfShape":
            shape = tuple(int(d) for d in numpy_helper.to_array(inits[node.input[0]]).reshape(-1))
            new_inits.append(numpy_helper.from_array(_random(rng, shape, _fill_value(node).dtype), out))
            continue
        keep.append(node)
    for init in g.initializer:
        if init.name in weights:
            array = numpy_helper.to_array(init)
            init.CopyFrom(numpy_helper.from_array(_random(rng, array.shape, array.dtype), init.name))
    del g.node[:]
    g.node.extend(keep)
    g.initializer.extend(new_inits)


def _graphs(graph):
    """``graph`` and every subgraph (If branches, Loop bodies), depth first."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.g is not None and attr.HasField("g"):
                yield from _graphs(attr.g)
            for sub in attr.graphs:
                yield from _graphs(sub)


def _constant_value(node):
    """A Constant node's value as an array (None for sparse or string values)."""
    from onnx import helper, numpy_helper

    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(helper.get_attribute_value(attr))
        if attr.name in ("value_float", "value_floats"):
            return np.asarray(helper.get_attribute_value(attr), dtype=np.float32)
    return None


def _fill_value(node) -> np.ndarray:
    from onnx import helper, numpy_helper

    for attr in node.attribute:
        if attr.name == "value":
            return numpy_helper.to_array(helper.get_attribute_value(attr))
    return np.zeros(1, np.float32)  # ConstantOfShape's default fill is float32 zero


def _is_float_array(value) -> bool:
    return value.dtype.kind == "f" and value.size > 1 and bool(np.isfinite(value).all())


def _random(rng, shape, dtype) -> np.ndarray:
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        values = rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(1.0 / max(fan_in, 1)))
    else:
        values = rng.uniform(0.5, 1.5, shape)
    return np.asarray(values).astype(dtype, copy=False)
