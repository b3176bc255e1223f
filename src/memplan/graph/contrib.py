"""Ops outside the default ONNX domain that onnxruntime implements (``com.microsoft``
contrib ops, which quantisers and transformer exporters emit): which ones memplan accepts,
and their output shapes.

ONNX's shape inference knows nothing about these ops, so their outputs (and everything
downstream) would stay shapeless. Two well-kept tools could fill the gap:

* onnxruntime's ``SymbolicShapeInference`` has hand-written rules for ~40 contrib ops
  (attention, layer norms, ``MatMulInteger16``…), but none for others real models use —
  ``DynamicQuantizeLSTM`` of the quantised ddddocr CRNN among them — and it works on the
  whole model, beside ONNX's own inference, with its own notion of symbolic dims;
* onnxruntime itself implements every op it accepts, with the shape logic of its kernel.

memplan uses the second: once a contrib node's inputs all have static shapes (the fold loop
of `fold.make_static` gets them there), the node alone — its constant inputs with their
values, the others as graph inputs of their static shape — runs in onnxruntime on seeded
inputs, and its output shapes and types go into the model's ``value_info``; ONNX's
inference then carries them downstream in the next round. One tiny session per contrib node,
not a run of the whole model. The node runs twice, on two different seeded inputs: an output
shape that changes with the input values is data-dependent, and memplan says so instead of
planning a shape that holds for one input only. The set of ops accepted is onnxruntime's
own CPU kernel registry, so "unknown op" and "cannot be run by the reference" coincide.

Example: ``DynamicQuantizeLSTM`` with X of static shape (64, 1, 512) and ``hidden_size=512``,
bidirectional: Y (64, 2, 1, 512), Y_h and Y_c (2, 1, 512).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from ..errors import ModelError

DEFAULT_DOMAINS = ("", "ai.onnx")


def is_contrib(node) -> bool:
    return node.domain not in DEFAULT_DOMAINS


def has_contrib(graph) -> bool:
    return any(is_contrib(n) for n in graph.node)


@lru_cache(maxsize=1)
def onnxruntime_ops() -> frozenset[tuple[str, str]]:
    """(domain, op type) of every op onnxruntime's CPU provider has a kernel for."""
    from onnxruntime.capi import onnxruntime_pybind11_state as ort_c

    return frozenset((k.domain, k.op_name) for k in ort_c.get_all_opkernel_def()
                     if k.provider == "CPUExecutionProvider")


def check_contrib(node, index: int, source: str) -> None:
    """A node outside the default domain is accepted only if onnxruntime implements it."""
    if (node.domain, node.op_type) not in onnxruntime_ops():
        raise ModelError(f"{source}: node {node.name or index!r} uses op {node.domain}.{node.op_type}, outside the "
                         f"default ONNX domain and not implemented by onnxruntime either; memplan cannot infer "
                         f"its shapes")


def add_contrib_shapes(model, inferred, source: str) -> bool:
    """Give the outputs of contrib nodes whose inputs are static but whose outputs are not a
    ``value_info`` with their static shape. Returns whether anything was added."""
    from onnx import helper

    g = model.graph
    types = _known_types(inferred)
    declared = _known_types(g)  # what an earlier round already wrote (inference may not echo it)
    inits = {t.name: t for t in g.initializer}
    added = False
    for node in g.node:
        if not is_contrib(node):
            continue
        outs = [t for t in node.output if t]
        if all(_static(types.get(t)) or _static(declared.get(t)) for t in outs):
            continue
        ins = [t for t in node.input if t]
        if not all(t in inits or _static(types.get(t)) for t in ins):
            continue  # a later round, once its inputs are static
        check_contrib(node, 0, source)
        shapes = _run_node(model, node, types, inits, source)
        for name, (elem, dims) in shapes.items():
            _declare(g, helper.make_tensor_value_info(name, elem, list(dims)))
            added = True
    return added


def _declare(g, info) -> None:
    """The shape of a graph output goes on the output itself, any other in ``value_info``."""
    for slot in (g.output, g.value_info):
        old = next((vi for vi in slot if vi.name == info.name), None)
        if old is not None:
            old.CopyFrom(info)
            return
    g.value_info.append(info)


def _static(entry) -> bool:
    return entry is not None and entry[1] is not None


def _known_types(inferred) -> dict[str, tuple[int, tuple[int, ...] | None]]:
    """name -> (ONNX element type, static dims or None)."""
    out = {}
    for vi in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        if not vi.type.HasField("tensor_type"):
            continue
        t = vi.type.tensor_type
        if _static(out.get(vi.name)):
            continue  # an output declared without a shape does not hide the shape value_info gives
        dims = None
        if t.HasField("shape") and all(d.HasField("dim_value") and d.dim_value >= 0 for d in t.shape.dim):
            dims = tuple(d.dim_value for d in t.shape.dim)
        out[vi.name] = (t.elem_type, dims)
    for init in inferred.initializer:
        out[init.name] = (init.data_type, tuple(init.dims))
    return out


def _run_node(model, node, types, inits, source) -> dict[str, tuple[int, tuple[int, ...]]]:
    """The node alone in onnxruntime, twice on different seeded inputs: its output shapes."""
    from onnx import helper

    feeds_names = [t for t in dict.fromkeys(node.input) if t and t not in inits]
    inputs = [helper.make_tensor_value_info(t, types[t][0], list(types[t][1])) for t in feeds_names]
    outs = [t for t in node.output if t]
    graph = helper.make_graph([node], "contrib", inputs, [helper.ValueInfoProto(name=t) for t in outs],
                              [inits[t] for t in dict.fromkeys(node.input) if t in inits])
    sub = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    runs = [_session_run(sub, {t: _seeded(types[t], seed) for t in feeds_names}, node, source) for seed in (0, 1)]
    for t, a, b in zip(outs, *runs):
        if a.shape != b.shape:
            raise ModelError(f"{source}: the shape of tensor {t!r} (output of node {node.name!r} "
                             f"({node.domain}.{node.op_type})) depends on input values ({list(a.shape)} for one "
                             f"input, {list(b.shape)} for another); memplan plans static shapes only")
    return {t: (helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for t, a in zip(outs, runs[0])}


def _seeded(entry, seed: int) -> np.ndarray:
    from onnx import helper

    elem, dims = entry
    dtype = helper.tensor_dtype_to_np_dtype(elem)
    rng = np.random.default_rng(seed)
    if dtype.kind == "f":
        return rng.standard_normal(dims).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, dims).astype(bool)
    return rng.integers(0, 10, dims).astype(dtype)


def _session_run(sub, feeds, node, source) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(sub.SerializeToString(), options, providers=["CPUExecutionProvider"])
        return [np.asarray(v) for v in session.run(None, feeds)]
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own unrelated types
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ModelError(f"{source}: node {node.name!r} ({node.domain}.{node.op_type}): onnxruntime could not run "
                         f"it to find its output shapes: {text}") from None
