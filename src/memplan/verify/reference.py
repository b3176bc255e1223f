"""The reference side of the proof: seeded inputs, random-weight model variants, and
onnxruntime's outputs.

The zoo graphs build every weight as ``ConstantOfShape(..) = 0.02``: a plan that mixes up
two weights or two channels could still match. ``randomize_weights`` rewrites a model so
every float constant holds seeded random values with sane scales (He-normal for matrices and
kernels, values in [0.5, 1.5) for vectors such as BatchNorm scales and variances, so deep
networks neither explode nor vanish).
"""
from __future__ import annotations

import math
import os

import numpy as np

from ..errors import ModelError

FLOAT_KINDS = "f"


def make_inputs(graph, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded inputs: standard normal floats, small non-negative integers, random bools."""
    rng = np.random.default_rng(seed)
    inputs = {}
    for name in graph.inputs:
        t = graph.tensors[name]
        dtype = np.dtype(t.dtype)
        if dtype.kind == "f":
            inputs[name] = rng.standard_normal(t.shape).astype(dtype)
        elif dtype.kind == "b":
            inputs[name] = rng.integers(0, 2, t.shape).astype(bool)
        else:
            inputs[name] = rng.integers(0, 10, t.shape).astype(dtype)
    return inputs


def randomize_weights(src: str, dst: str, seed: int = 0) -> str:
    """Write ``src`` to ``dst`` with every float weight replaced by seeded random values."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(src)
    g = model.graph
    rng = np.random.default_rng(seed)
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    keep, new_inits = [], []
    for node in g.node:
        shape = _constant_of_shape(node, consts)
        if shape is None:
            keep.append(node)
            continue
        value = onnx.helper.get_attribute_value(node.attribute[0]) if node.attribute else None
        dtype = numpy_helper.to_array(value).dtype if value is not None else np.float32
        array = _random(rng, tuple(int(d) for d in shape), dtype)
        new_inits.append(numpy_helper.from_array(array, node.output[0]))
    for init in g.initializer:
        array = numpy_helper.to_array(init)
        if array.dtype.kind == "f" and array.size > 1:
            init.CopyFrom(numpy_helper.from_array(_random(rng, array.shape, array.dtype), init.name))
    del g.node[:]
    g.node.extend(keep)
    g.initializer.extend(new_inits)
    if model.ir_version < 4:  # before IR 4 every initializer must also be a graph input
        g.input.extend(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in new_inits)
    onnx.save(model, dst)
    return dst


def _expose(model_path: str, tensors) -> bytes:
    """The model, serialised, with ``tensors`` (memplan Tensors: name, dtype, shape) added as
    graph outputs."""
    import onnx

    model = onnx.load(model_path)
    present = {o.name for o in model.graph.output}
    model.graph.output.extend(
        onnx.helper.make_tensor_value_info(t.name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), list(t.shape))
        for t in tensors if t.name not in present)
    return model.SerializeToString()


def _constant_of_shape(node, consts):
    if node.op_type != "ConstantOfShape" or node.input[0] not in consts:
        return None
    return consts[node.input[0]]


def _random(rng, shape, dtype) -> np.ndarray:
    if len(shape) >= 2:
        fan_in = math.prod(shape[1:])
        values = rng.standard_normal(shape, dtype=np.float32) * np.float32(math.sqrt(1.0 / max(fan_in, 1)))
    else:
        values = rng.uniform(0.5, 1.5, shape)
    return values.astype(dtype, copy=False)


def reference_outputs(model_path: str, inputs: dict[str, np.ndarray], *,
                      extra: tuple = ()) -> dict[str, np.ndarray]:
    """onnxruntime's outputs for ``inputs`` (CPU, basic graph optimisations only: constant
    folding and redundant-node removal, which change no result). ``extra`` names intermediate tensors to return too:
    they are added as graph outputs of a copy of the model."""
    import onnxruntime as ort

    if isinstance(model_path, str) and not os.path.exists(model_path):
        raise ModelError(f"{model_path}: no such file")
    if extra:
        model_path = _expose(model_path, extra)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
        names = [o.name for o in session.get_outputs()]
        feeds = {i.name: inputs[i.name] for i in session.get_inputs() if i.name in inputs}
        return dict(zip(names, session.run(names, feeds)))
    except Exception as exc:  # onnxruntime raises its own unrelated types
        raise ModelError(f"{model_path}: onnxruntime could not run the model: {str(exc).splitlines()[0][:200]}") from None
