"""The reference side of the proof: seeded inputs, random-weight model variants, and
onnxruntime's outputs.

The zoo graphs build every weight as ``ConstantOfShape(..) = 0.02``: a plan that mixes up
two weights or two channels could still match. ``randomize_weights`` (in
``random_weights.py``) rewrites a model so every tensor used as a weight holds seeded random
values with sane scales, and every shape, scale or index tensor keeps its value.
"""
from __future__ import annotations

import os

import numpy as np

from ..errors import ModelError
from .random_weights import randomize_weights  # noqa: F401  (its old home, still used by the cli and tests)

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


def _expose(model_path: str, tensors) -> bytes:
    """The model, serialised, with ``tensors`` (memplan Tensors: name, dtype, shape) added as
    graph outputs — those its top-level graph computes: a tensor of an inlined ``If`` branch
    exists only inside the branch in the original file, so onnxruntime cannot return it."""
    import onnx

    model = onnx.load(model_path)
    present = {o.name for o in model.graph.output}
    computed = {t for n in model.graph.node for t in n.output if t}
    model.graph.output.extend(
        onnx.helper.make_tensor_value_info(t.name, onnx.helper.np_dtype_to_tensor_dtype(np.dtype(t.dtype)), list(t.shape))
        for t in tensors if t.name not in present and t.name in computed)
    return model.SerializeToString()


def reference_outputs(model_path: str, inputs: dict[str, np.ndarray], *,
                      extra: tuple = (), label: str | None = None) -> dict[str, np.ndarray]:
    """onnxruntime's outputs for ``inputs`` (CPU, basic graph optimisations only: constant
    folding and redundant-node removal, which change no result). ``extra`` names intermediate tensors to return too:
    they are added as graph outputs of a copy of the model."""
    import onnxruntime as ort

    label = label or str(model_path)  # the user's name for the model, not a temporary file
    if isinstance(model_path, str) and not os.path.exists(model_path):
        raise ModelError(f"{label}: no such file")
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
        text = (str(exc).splitlines() or [type(exc).__name__])[0]
        if isinstance(model_path, str):
            text = text.replace(model_path, label)
        raise ModelError(f"{label}: onnxruntime could not run the model: {text[:200]}") from None
