"""Control flow made static: an ``If`` whose condition became a constant is replaced by the
taken branch (its nodes, initializers, outer-scope references; the branch outputs take the
``If``'s output names); a ``Loop`` whose trip count is a constant and a ``Scan`` whose
sequence length is static are unrolled, iteration ``i`` of body node ``n`` of node ``L``
becoming ``L/i/n`` (nested subgraphs are handled in the next rounds of `fold.make_static`).
Also the helpers that walk subgraphs (`referenced_names`), which folding shares."""
from __future__ import annotations

import numpy as np

from ..errors import ModelError

CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})
MAX_UNROLL = 4096  # iterations; beyond this an unrolled plan is not what the user wants


def referenced_names(graph) -> set[str]:
    """Every tensor name a node of ``graph`` reads, including outer-scope reads of subgraphs."""
    out = set()
    for node in graph.node:
        out.update(t for t in node.input if t)
        for sub in _subgraphs(node):
            out |= referenced_names(sub)
    return out


def _subgraphs(node):
    for a in node.attribute:
        if a.type == 5:
            yield a.g
        elif a.type == 10:
            yield from a.graphs


def expand_control_flow(model, shapes, guards, dynamic, source) -> bool:
    """Inline the first If with a known condition, or unroll the first Loop/Scan with a
    static trip count. One at a time: the caller re-infers shapes after each. Constants the
    unrolling creates (iteration numbers, conditions) join ``dynamic`` so what they feed folds."""
    g = model.graph
    wanted = {t for n in g.node if n.op_type in CONTROL_FLOW for t in n.input if t}
    if not wanted:
        return False
    consts = constant_values(g, wanted)
    for k, node in enumerate(g.node):
        if node.domain not in ("", "ai.onnx") or node.op_type not in CONTROL_FLOW:
            continue
        if node.op_type == "If" and node.input[0] in consts:
            new_nodes, new_inits = inline_if(node, consts[node.input[0]], _defined_names(g))
        elif node.op_type == "Loop" and _loop_is_static(node, consts):
            new_nodes, new_inits = unroll_loop(node, consts, model, guards, source)
            dynamic.update(node.input[1:2])  # so the per-iteration conditions fold and can be checked
        elif node.op_type == "Scan" and all(shapes.get(t) is not None for t in _scan_inputs(node)):
            new_nodes, new_inits = unroll_scan(node, shapes, model, source)
        else:
            continue
        nodes = list(g.node)
        del g.node[:]
        g.node.extend(nodes[:k] + new_nodes + nodes[k + 1:])
        g.initializer.extend(new_inits)
        dynamic.update(t.name for t in new_inits)
        return True
    return False


def has_control_flow(graph) -> bool:
    return any(n.op_type in CONTROL_FLOW for n in graph.node)


def constant_values(graph, names: set[str]) -> dict[str, np.ndarray]:
    """Values of ``names`` known without running anything: initializers, ``Constant`` nodes."""
    from onnx import helper, numpy_helper

    out = {t.name: numpy_helper.to_array(t) for t in graph.initializer if t.name in names}
    for node in graph.node:
        if node.op_type == "Constant" and node.domain in ("", "ai.onnx") and node.attribute and node.output[0] in names:
            a = node.attribute[0]
            value = helper.get_attribute_value(a)
            if a.name == "value":
                out[node.output[0]] = numpy_helper.to_array(value)
            elif a.name in ("value_int", "value_float", "value_ints", "value_floats"):
                kind = np.int64 if "int" in a.name else np.float32
                out[node.output[0]] = np.array(value, dtype=kind)
    return out


def _defined_names(graph) -> set[str]:
    return ({t for n in graph.node for t in n.output if t} | {i.name for i in graph.input}
            | {t.name for t in graph.initializer})


def _attr(node, name, default=None):
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _clone_body(body, prefix: str, bind: dict[str, str], node_prefix: str, taken: set[str] | None = None):
    """Copies of ``body``'s nodes and initializers with every tensor the body defines renamed
    ``prefix + name`` (except those in ``bind``, which map to the given names; with ``taken``,
    only names already taken are prefixed); reads of the outer scope are kept, also inside
    nested subgraphs."""
    import onnx

    defined = {t for n in body.node for t in n.output if t} | {t.name for t in body.initializer}
    mapping = dict(bind)
    for t in defined:
        mapping.setdefault(t, prefix + t if taken is None or t in taken else t)
    nodes = []
    for i, node in enumerate(body.node):
        new = onnx.NodeProto()
        new.CopyFrom(node)
        new.name = node_prefix + (node.name or f"{node.op_type}_{i}")
        _rename_io(new, mapping)
        nodes.append(new)
    inits = []
    for init in body.initializer:
        new = onnx.TensorProto()
        new.CopyFrom(init)
        new.name = mapping[init.name]
        inits.append(new)
    return nodes, inits, mapping


def _rename_io(node, mapping) -> None:
    for k, t in enumerate(node.input):
        if t in mapping:
            node.input[k] = mapping[t]
    for k, t in enumerate(node.output):
        if t in mapping:
            node.output[k] = mapping[t]
    for sub in _subgraphs(node):
        _rename_reads(sub, mapping)


def _rename_reads(graph, mapping) -> None:
    local = {t for n in graph.node for t in n.output} | {i.name for i in graph.input} | {t.name for t in graph.initializer}
    outer = {k: v for k, v in mapping.items() if k not in local}
    for node in graph.node:
        for k, t in enumerate(node.input):
            if t in outer:
                node.input[k] = outer[t]
        for sub in _subgraphs(node):
            _rename_reads(sub, outer)
    for o in graph.output:
        if o.name in outer:
            o.name = outer[o.name]


def _identity(src: str, dst: str, name: str):
    from onnx import helper

    return helper.make_node("Identity", [src], [dst], name=name)


def inline_if(node, cond: np.ndarray, taken: set[str]):
    """The taken branch in place of the If; the branch outputs take the If's output names,
    the other branch tensors keep theirs (prefixed ``<If name>/`` only on a clash)."""
    branch = _attr(node, "then_branch" if bool(np.asarray(cond).reshape(-1)[0]) else "else_branch")
    produced = {t for n in branch.node for t in n.output if t}
    bind = {o.name: out for o, out in zip(branch.output, node.output) if o.name in produced and out}
    nodes, inits, mapping = _clone_body(branch, f"{node.name}/", bind, f"{node.name}/", taken)
    for k, (o, out) in enumerate(zip(branch.output, node.output)):
        if out and o.name not in produced:  # the branch returns an outer tensor or an initializer
            nodes.append(_identity(mapping.get(o.name, o.name), out, f"{node.name}/out{k}"))
    # nodes of the branch keep their own names when they have one: the user's names
    for new, old in zip(nodes, branch.node):
        if old.name:
            new.name = old.name  # duplicates get ``__k`` in the importer, as in the file
    return nodes, inits


def _loop_is_static(node, consts) -> bool:
    m = node.input[0] if len(node.input) > 0 else ""
    cond = node.input[1] if len(node.input) > 1 else ""
    return bool(m) and m in consts and (not cond or cond in consts)


def unroll_loop(node, consts, model, guards, source):
    """Iteration i of the body as nodes ``L/i/...``; the loop-carried values chain, scan
    outputs are stacked on a new axis 0. Each iteration's condition output is a guard that
    must fold to true (checked at the end)."""
    from onnx import numpy_helper

    body = _attr(node, "body")
    trips = int(consts[node.input[0]].reshape(-1)[0])
    if trips > MAX_UNROLL:
        raise ModelError(f"{source}: node {node.name!r} (Loop) runs {trips} iterations; memplan unrolls at most "
                         f"{MAX_UNROLL}")
    cond = node.input[1] if len(node.input) > 1 and node.input[1] else ""
    if cond and not bool(consts[cond].reshape(-1)[0]):
        trips = 0
    carried = list(node.input[2:])
    n_carried = len(carried)
    n_scan = len(body.output) - 1 - n_carried
    nodes, new_inits, scans = [], [], [[] for _ in range(n_scan)]
    cond_name = cond
    for i in range(trips):
        prefix = f"{node.name}/{i}/"
        iter_name = prefix + body.input[0].name
        new_inits.append(numpy_helper.from_array(np.array(i, dtype=np.int64), iter_name))
        if not cond_name:
            cond_name = prefix + "cond"
            new_inits.append(numpy_helper.from_array(np.array(True), cond_name))
        bind = {body.input[0].name: iter_name, body.input[1].name: cond_name}
        bind.update({b.name: v for b, v in zip(body.input[2:], carried)})
        body_nodes, body_inits, mapping = _clone_body(body, prefix, bind, prefix)
        nodes += body_nodes
        new_inits += body_inits
        outs = [mapping.get(o.name, o.name) for o in body.output]
        cond_name = outs[0]
        if i < trips - 1:
            guards.append((cond_name, node.name, i))
        carried = outs[1:1 + n_carried]
        for j in range(n_scan):
            scans[j].append(outs[1 + n_carried + j])
    for k, (src, out) in enumerate(zip(carried, node.output[:n_carried])):
        if out:
            nodes.append(_identity(src, out, f"{node.name}/out{k}"))
    for j, out in enumerate(node.output[n_carried:]):
        if out:
            nodes += _stack(scans[j], out, 0, f"{node.name}/scan{j}", model, source)
    return nodes, new_inits


def _stack(parts, out, axis, name, model, source):
    """``out = Concat(Unsqueeze(p, axis) for p in parts, axis)``."""
    from onnx import helper, numpy_helper

    if not parts:
        raise ModelError(f"{source}: node {name.split('/')[0]!r} runs zero iterations; its scan output {out!r} "
                         f"would be empty")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    nodes, pieces = [], []
    for i, p in enumerate(parts):
        piece = f"{name}/{i}"
        if opset >= 13:
            axes = f"{name}/axes"
            if i == 0:
                model.graph.initializer.append(numpy_helper.from_array(np.array([axis], dtype=np.int64), axes))
            nodes.append(helper.make_node("Unsqueeze", [p, axes], [piece], name=piece))
        else:
            nodes.append(helper.make_node("Unsqueeze", [p], [piece], name=piece, axes=[axis]))
        pieces.append(piece)
    nodes.append(helper.make_node("Concat", pieces, [out], name=name, axis=axis))
    return nodes


def _scan_inputs(node) -> list[str]:
    m = _attr(node, "num_scan_inputs")
    return list(node.input[len(node.input) - m:])


def unroll_scan(node, shapes, model, source):
    """Scan (opset 9+): step t slices every scan input at t on its axis (Gather with a
    scalar index), states chain, per-step outputs are stacked on their output axes."""
    from onnx import helper, numpy_helper

    body = _attr(node, "body")
    m = _attr(node, "num_scan_inputs")
    n_state = len(node.input) - m
    scan_in = list(node.input[n_state:])
    in_axes = list(_attr(node, "scan_input_axes", [0] * m))
    in_dirs = list(_attr(node, "scan_input_directions", [0] * m))
    n_out = len(body.output) - n_state
    out_axes = list(_attr(node, "scan_output_axes", [0] * n_out))
    out_dirs = list(_attr(node, "scan_output_directions", [0] * n_out))
    ranks = [len(shapes[t]) for t in scan_in]
    in_axes = [a % r for a, r in zip(in_axes, ranks)]
    lengths = {shapes[t][a] for t, a in zip(scan_in, in_axes)}
    if len(lengths) != 1:
        raise ModelError(f"{source}: node {node.name!r} (Scan): its scan inputs have different lengths {sorted(lengths)}")
    steps = lengths.pop()
    if steps > MAX_UNROLL:
        raise ModelError(f"{source}: node {node.name!r} (Scan) runs {steps} steps; memplan unrolls at most {MAX_UNROLL}")
    nodes, inits, outs_per_step = [], [], [[] for _ in range(n_out)]
    states = list(node.input[:n_state])
    for t in range(steps):
        prefix = f"{node.name}/{t}/"
        bind = {b.name: s for b, s in zip(body.input[:n_state], states)}
        for j, (src, axis, direction) in enumerate(zip(scan_in, in_axes, in_dirs)):
            index = prefix + f"index{j}"
            elem = prefix + body.input[n_state + j].name
            inits.append(numpy_helper.from_array(np.array(steps - 1 - t if direction else t, dtype=np.int64), index))
            nodes.append(helper.make_node("Gather", [src, index], [elem], name=prefix + f"slice{j}", axis=axis))
            bind[body.input[n_state + j].name] = elem
        body_nodes, body_inits, mapping = _clone_body(body, prefix, bind, prefix)
        nodes += body_nodes
        inits += body_inits
        outs = [mapping.get(o.name, o.name) for o in body.output]
        states = outs[:n_state]
        for j in range(n_out):
            outs_per_step[j].append(outs[n_state + j])
    for k, (src, out) in enumerate(zip(states, node.output[:n_state])):
        if out:
            nodes.append(_identity(src, out, f"{node.name}/out{k}"))
    for j, out in enumerate(node.output[n_state:]):
        if out:
            parts = outs_per_step[j][::-1] if out_dirs[j] else outs_per_step[j]
            axis = out_axes[j]
            if axis < 0:
                tt = body.output[n_state + j].type.tensor_type
                axis += len(tt.shape.dim) + 1
            nodes += _stack(parts, out, axis, f"{node.name}/scan{j}", model, source)
    return nodes, inits


def check_guards(model, guards, source) -> None:
    """Each unrolled Loop iteration but the last must have a condition known to be true."""
    consts = constant_values(model.graph, {name for name, _, _ in guards})
    for name, loop, i in guards:
        if name not in consts:
            raise ModelError(f"{source}: node {loop!r} (Loop): whether iteration {i + 1} runs depends on values "
                             f"computed at run time (condition {name!r}); memplan plans loops with a static trip count only")
        if not bool(consts[name].reshape(-1)[0]):
            raise ModelError(f"{source}: node {loop!r} (Loop) stops early after iteration {i}; "
                             f"memplan plans loops that run their full trip count only")
