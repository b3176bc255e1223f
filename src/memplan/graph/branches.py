"""An ``If`` whose condition depends on input values: one op of the outer graph, each branch a
`Graph` of its own (as TensorFlow Lite Micro plans a subgraph).

The op is ``If(cond, *reads) -> outputs`` with ``attrs = {"then_branch": Graph,
"else_branch": Graph}`` (the ONNX attribute names). ``reads`` are the outer-scope tensors the
branches read — activations and weights, in first-use order — so the outer lifetimes keep
them alive up to the If, and the outer weights blob holds every weight a branch reads.

Each branch is imported like a model of its own (``load``, i.e. `onnx.from_model`: static
folding, inlining of Ifs with a known condition, nested data-dependent Ifs the same way):
its inputs are the outer *activations* it reads (same names), the outer initializers it
reads are copied in as its own initializers (their values may decide shapes inside it), and
its outputs correspond to the If's outputs by position. A branch that returns an outer
tensor or a constant gets an ``Identity`` named ``<If>/out<k>``, so every branch output is
written by a branch op — straight into the If's output buffer (see `planner_branches`).
Both branches must give each output the same static shape and dtype.

Example: openWakeWord's ``If_32`` reads ``x.1`` and ten ``verifier_model.*`` weights in its
then branch (a 29-op MLP), ``p1.1`` in its else branch (one Identity); the op is
``If_32(onnx::If_52, x.1, verifier_model.1.weight, …, p1.1) -> 53``.
"""
from __future__ import annotations

from typing import Callable, Mapping

from ..errors import ModelError
from .control_flow import _subgraphs
from .ir import Graph, Op

BRANCHES = ("then_branch", "else_branch")
LABELS = {"then_branch": "then", "else_branch": "else"}


def has_branches(op: Op) -> bool:
    """An If kept in the graph, its branches planned apart."""
    return op.op_type == "If" and isinstance(op.attrs.get("then_branch"), Graph)


def branch_graphs(op: Op) -> dict[str, Graph]:
    """``{"then": Graph, "else": Graph}`` of an If kept in the graph."""
    return {LABELS[k]: op.attrs[k] for k in BRANCHES}


def free_names(graph) -> list[str]:
    """Names a GraphProto reads (nested subgraphs included) that it does not define, in
    first-use order: what a branch takes from the outer scope."""
    defined = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    seen: dict[str, None] = {}
    for node in graph.node:
        reads = [t for t in node.input if t]
        for sub in _subgraphs(node):
            reads += free_names(sub)
        for t in reads:
            if t not in defined:
                seen.setdefault(t)
        defined.update(t for t in node.output if t)
    for o in graph.output:
        if o.name not in defined:
            seen.setdefault(o.name)
    return list(seen)


def if_op(node, name: str, model, value_infos: Mapping, load: Callable, source: str) -> Op:
    """The Op for If ``node`` (named ``name``), its branches imported with ``load(model,
    source=...)``; ``value_infos``: outer tensor name -> inferred ValueInfoProto."""
    attrs = {a.name: a.g for a in node.attribute if a.name in BRANCHES}
    if set(attrs) != set(BRANCHES):
        raise ModelError(f"{source}: node {name!r} (If) lacks a then_branch or an else_branch")
    outputs = [t for t in node.output]
    inits = {t.name: t for t in model.graph.initializer}
    graphs, reads = {}, {}
    for key in BRANCHES:
        free = free_names(attrs[key])
        reads.update(dict.fromkeys(free))
        where = f"{source}: node {name!r} (If), {LABELS[key]} branch"
        sub = _branch_model(attrs[key], name, free, model, inits, value_infos, len(outputs), where)
        graphs[key] = load(sub, source=where)
    _check_outputs(graphs, outputs, name, source)
    return Op(name, "If", (node.input[0], *reads), tuple(outputs), graphs)


def _branch_model(branch, if_name, free, model, inits, value_infos, n_outputs, where):
    """The branch as a model: outer activations it reads as typed inputs, outer initializers
    it reads copied in, every output written by one of its nodes."""
    import onnx
    from onnx import helper

    if len(branch.output) != n_outputs:
        raise ModelError(f"{where}: gives {len(branch.output)} outputs, the If has {n_outputs}")
    g = onnx.GraphProto(name=f"{if_name}/{branch.name or 'branch'}")
    g.node.extend(branch.node)
    g.initializer.extend(branch.initializer)
    for t in free:
        if t in inits:
            g.initializer.append(inits[t])
        elif t in value_infos:
            g.input.append(value_infos[t])
        else:
            raise ModelError(f"{where}: reads {t!r}, which the outer graph does not define")
    produced = {t for n in branch.node for t in n.output if t}
    for k, out in enumerate(branch.output):
        if out.name in produced:
            g.output.append(out)
            continue
        name = f"{if_name}/out{k}"  # the branch returns an outer tensor or a constant
        g.node.append(helper.make_node("Identity", [out.name], [name], name=name))
        copy = onnx.ValueInfoProto()
        copy.CopyFrom(out)
        copy.name = name
        g.output.append(copy)
    sub = helper.make_model(g, opset_imports=list(model.opset_import), ir_version=model.ir_version)
    sub.functions.extend(model.functions)
    return sub


def _check_outputs(graphs: Mapping[str, Graph], outputs, name: str, source: str) -> None:
    """Both branches give each If output the same static shape and dtype."""
    then, other = graphs["then_branch"], graphs["else_branch"]
    for k, out in enumerate(outputs):
        a, b = then.tensors[then.outputs[k]], other.tensors[other.outputs[k]]
        if (a.shape, a.dtype) != (b.shape, b.dtype):
            raise ModelError(f"{source}: node {name!r} (If): output {out!r} is {list(a.shape)} {a.dtype} in the then "
                             f"branch but {list(b.shape)} {b.dtype} in the else branch; memplan plans an If "
                             f"whose branches give the same static shape and type only")


def output_infos(op: Op) -> dict[str, tuple]:
    """The If's outputs as the importer's value infos (dtype, dims, labels), from the then
    branch (ONNX shape inference may leave them unknown when the branches are complex)."""
    then = op.attrs["then_branch"]
    return {out: (then.tensors[t].dtype, list(then.tensors[t].shape), None)
            for out, t in zip(op.outputs, then.outputs) if out}


def branch_weights(graph: Graph) -> dict[str, tuple[str, str]]:
    """Weight name -> ``(If name, "then" | "else")`` for every weight read only inside one
    branch (not by an op of the outer graph, nor by the other branch); a weight read only
    in a nested If's branch maps to the innermost one. Weights read on both sides, or
    outside any If, are not listed: every run needs them. The hook for loading only the
    weights the taken branch needs."""
    out: dict[str, tuple[str, str]] = {}
    outer = {t for op in graph.ops if not has_branches(op) for t in op.inputs if t}
    for op in graph.ops:
        if not has_branches(op):
            continue
        reads = {label: _all_weights(g) for label, g in branch_graphs(op).items()}
        for label, names in reads.items():
            other = set().union(*(v for k, v in reads.items() if k != label))
            for w in sorted(names - other - outer):
                out[w] = (op.name, label)
        for g in branch_graphs(op).values():
            out.update(branch_weights(g))
    return out


def _all_weights(graph: Graph) -> set[str]:
    """Weights a graph's ops read, its nested branches included."""
    names = set(graph.weights)
    for op in graph.ops:
        if has_branches(op):
            for g in branch_graphs(op).values():
                names |= _all_weights(g)
    return names
