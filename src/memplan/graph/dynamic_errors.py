"""Errors for what stays dynamic after folding: the first node, in file order, that is
control flow left in place or whose output shape depends on input values, named with the
graph inputs it depends on (and how to pin them)."""
from __future__ import annotations

from ..errors import ModelError
from .control_flow import CONTROL_FLOW, _subgraphs, referenced_names

# Ops whose output size depends on the values of their inputs, whatever the shapes.
VALUE_SIZED = frozenset({"NonZero", "Unique", "NonMaxSuppression", "Compress", "StringSplit",
                         "RegexFullMatch", "TfIdfVectorizer"})


def first_dynamic_error(model, shapes, source) -> None:
    """All graph inputs are static, yet something is not: raise for the first node, in file
    order, that is control flow left in place or whose output shape depends on input values
    (and not merely on another dynamic tensor)."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    for node in g.node:
        ins = [t for t in node.input if t]
        if any(t not in inits and shapes.get(t) is None for t in ins):
            continue  # not the first: an input is already dynamic
        if node.op_type == "If":
            continue  # planned with a nested plan per branch (`branches`)
        if node.op_type in CONTROL_FLOW:
            control_flow_error(g, node, source)
        outs = [t for t in node.output if t]
        if outs and any(shapes.get(t) is None for t in outs):
            value_dependence_error(g, node, shapes, inits, source)


def control_flow_error(g, node, source) -> None:
    """A control-flow node left in place: its condition/trip count depends on input values."""
    deciding = list(node.input[:1] if node.op_type == "If" else node.input[:2] if node.op_type == "Loop" else node.input)
    deps = ", ".join(depends_on_inputs(g, [t for t in deciding if t])) or "none"
    if node.op_type == "If":
        raise ModelError(f"{source}: node {node.name!r} (If): its condition {node.input[0]!r} depends on input "
                         f"values (inputs: {deps}); pin them with --input-value NAME=V to choose the branch")
    if node.op_type == "Loop":
        raise ModelError(f"{source}: node {node.name!r} (Loop): its trip count is not known statically "
                         f"(it depends on inputs: {deps}); memplan plans loops with a static trip count "
                         f"only — pin them with --input-value NAME=V")
    raise ModelError(f"{source}: node {node.name!r} (Scan): its sequence length is not static; "
                     f"pass --input-shape for the inputs it depends on ({deps})")


def value_dependence_error(g, node, shapes, inits, source) -> None:
    """``node``'s inputs have static shapes but an output does not: say why, if we can."""
    ins = [t for t in node.input if t]
    bad = next(t for t in node.output if t and shapes.get(t) is None)
    deps = ", ".join(depends_on_inputs(g, _reads(node))) or "none"
    where = f"{source}: shape of tensor {bad!r} (output of node {node.name!r} ({node.op_type}))"
    if node.op_type in VALUE_SIZED:
        raise ModelError(f"{where} depends on input values ({node.op_type}'s output size is data-dependent; "
                         f"inputs: {deps}); memplan plans static shapes only — pin the inputs with "
                         f"--input-value NAME=V, or cut the model before this node")
    runtime = [t for t in ins[1:] if t not in inits]
    if runtime:
        deps = ", ".join(depends_on_inputs(g, runtime)) or "none"
        raise ModelError(f"{where} depends on input values (through {runtime[0]!r}, computed at run time "
                         f"from inputs: {deps}); pin them with --input-value NAME=V, or re-export the "
                         f"model with that value constant")
    # otherwise an op ONNX shape inference does not know: the importer's own message says so


def depends_on_inputs(graph, tensors: list[str]) -> list[str]:
    """Graph inputs (not initializers) that ``tensors`` are computed from."""
    inits = {t.name for t in graph.initializer}
    inputs = [i.name for i in graph.input if i.name not in inits]
    producer = {t: n for n in graph.node for t in n.output if t}
    seen, stack, found = set(), list(tensors), set()
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        if t in inputs:
            found.add(t)
        elif t in producer:
            stack.extend(_reads(producer[t]))
    return [t for t in inputs if t in found]


def _reads(node) -> list[str]:
    out = [t for t in node.input if t]
    for sub in _subgraphs(node):
        out += list(referenced_names(sub))
    return out
