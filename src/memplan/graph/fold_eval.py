"""Evaluating the foldable part of an ONNX graph at plan time: the target nodes and the
constant nodes they need, as a sub-model of their own, run with onnx's reference kernels
(onnxruntime where they fail). Shape/Size of a static shape become Constants first."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError


def evaluate(model, foldable, targets, shapes, source) -> dict[str, np.ndarray]:
    """Run the target nodes and the constant nodes they need on a sub-model of their own."""
    from onnx import helper

    needed = _ancestors(foldable, targets)
    inits = {t.name: t for t in model.graph.initializer}
    computed = {t for n in foldable if id(n) in needed for t in n.output if t}
    nodes, used_inits = [], set()
    for node in foldable:
        if id(node) not in needed:
            continue
        if node.op_type in ("Shape", "Size") and node.input[0] not in inits and node.input[0] not in computed:
            nodes.append(_shape_node(node, shapes[node.input[0]]))
            continue
        nodes.append(node)
        used_inits.update(t for t in node.input if t in inits)
    outputs = [t for n in targets for t in n.output if t]
    graph = helper.make_graph(nodes, "fold", [], [helper.ValueInfoProto(name=t) for t in outputs],
                              [inits[t] for t in sorted(used_inits)])
    sub = helper.make_model(graph, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    try:
        results = _run(sub)
    except Exception as exc:  # the reference kernels raise many unrelated types
        culprit = _first_failing(sub) or targets[0]
        raise ModelError(f"{source}: node {culprit.name!r} ({culprit.op_type}) depends only on constants and "
                         f"input shapes, but evaluating it at plan time failed: {_short(exc)}") from None
    return dict(zip(outputs, results))


def _run(sub) -> list[np.ndarray]:
    """onnx's reference kernels (every op, every opset); onnxruntime where they fail (the
    reference GatherElements cannot broadcast, for one)."""
    import warnings

    from onnx.reference import ReferenceEvaluator

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return [np.asarray(v) for v in ReferenceEvaluator(sub).run(None, {})]
        except Exception as exc:
            first = exc
        try:
            return _run_onnxruntime(sub)
        except Exception:
            raise first from None


def _run_onnxruntime(sub) -> list[np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(sub.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return [np.asarray(v) for v in session.run(None, {})]


def _first_failing(sub):
    """The first node of ``sub`` that the reference evaluator cannot run (for the message)."""
    from onnx import helper

    g = sub.graph
    for k, node in enumerate(g.node):
        outs = [t for t in node.output if t]
        part = helper.make_graph(list(g.node[:k + 1]), "f", [], [helper.ValueInfoProto(name=t) for t in outs],
                                 list(g.initializer))
        try:
            _run(helper.make_model(part, opset_imports=list(sub.opset_import), ir_version=sub.ir_version))
        except Exception:
            return node
    return None


def _short(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _ancestors(foldable, targets) -> set[int]:
    producer = {t: n for n in foldable for t in n.output if t}
    seen, stack = set(), list(targets)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type in ("Shape", "Size") and node.input[0] not in producer:
            continue
        stack.extend(producer[t] for t in node.input if t in producer)
    return seen


def _shape_node(node, dims):
    """Shape/Size of a tensor with a static shape, as a Constant (its value is the shape)."""
    from onnx import helper, numpy_helper

    if node.op_type == "Size":
        value = np.array(int(np.prod(dims, dtype=np.int64)), dtype=np.int64)
    else:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        value = np.array(list(dims)[slice(attrs.get("start", 0), attrs.get("end", None))], dtype=np.int64)
    return helper.make_node("Constant", [], [node.output[0]], name=node.name,
                            value=numpy_helper.from_array(value, node.output[0]))
