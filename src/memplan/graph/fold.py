"""Static shape propagation and control flow: the ONNX model made static before import.

Once the input shapes are fixed (from the file or ``--input-shape``) and some inputs are
pinned to values (``--input-value``), every tensor that depends only on constants, on input
*shapes* and on pinned inputs is computed at plan time with real kernels (onnx's
``ReferenceEvaluator`` on an extracted sub-model: any op, no hand-written cases), and becomes
an initializer under its own name. Shape inference then runs again, since the new constants
(``Reshape``'s target shape built by ``Shape -> Gather -> Unsqueeze -> Concat``, ``Range``
limits, causal masks from ``Trilu``…) make more shapes static, which makes more ``Shape``
nodes foldable. The loop stops when a round folds nothing.

Control flow is removed on the way: an ``If`` whose condition became a constant is replaced
by the taken branch (its nodes, initializers, outer-scope references; the branch outputs take
the ``If``'s output names); a ``Loop`` whose trip count is a constant and a ``Scan`` whose
sequence length is static are unrolled, iteration ``i`` of body node ``n`` of node ``L``
becoming ``L/i/n`` (nested subgraphs are handled in the next rounds).

Nodes keep the user's names (an unnamed node gets ``<OpType>_<index in file>`` before
anything moves, as the importer would name it) and folded tensors keep theirs, so a plan
maps back to the model the user gave. Folded tensors that depend on an input's shape or a
pinned value are *shape constants*: known at plan time, not weights.

Cost: one shape inference per round (on the weight-stripped copy for big models) and one
evaluation of the foldable sub-graph; a model with nothing to fold (the zoo) costs one
shape inference, as before.

Example: ``x[1,T,64] -> Shape -> Gather(1) -> Unsqueeze -> Concat([1,-1,4,16]) -> Reshape``:
round 1 folds Shape..Concat into the constant ``[1,T,4,16]``; round 2 infers the Reshape
output ``[1,T,4,16]``; round 3 finds nothing new.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Mapping

import numpy as np

from ..errors import ModelError

RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                        "Multinomial", "Bernoulli"})
CONTROL_FLOW = frozenset({"If", "Loop", "Scan"})
# Ops whose output size depends on the values of their inputs, whatever the shapes.
VALUE_SIZED = frozenset({"NonZero", "Unique", "NonMaxSuppression", "Compress", "StringSplit",
                         "RegexFullMatch", "TfIdfVectorizer"})
MAX_UNROLL = 4096  # iterations; beyond this an unrolled plan is not what the user wants


@dataclass
class Folded:
    """The static model and what folding did to it."""

    model: object  # onnx.ModelProto
    inferred: object  # its shape-inferred GraphProto
    shape_constants: dict[str, int] = field(default_factory=dict)  # name -> bytes
    changed: bool = False  # False: ``model`` is the caller's, untouched


def make_static(model, *, input_values: Mapping[str, np.ndarray], infer: Callable, source: str) -> Folded:
    """Pin inputs, inline control flow and fold shape subgraphs until nothing changes.
    ``infer(model)`` is the importer's shape inference (returns the inferred GraphProto)."""
    import onnx

    inferred = infer(model)
    if not input_values and not has_control_flow(model.graph) and \
            not _fold_plan(model.graph, static_shapes(inferred), set())[2]:
        return Folded(model, inferred, {}, False)  # nothing to do (the zoo): no copy, one inference
    work = onnx.ModelProto()
    work.CopyFrom(model)
    name_nodes(work.graph)
    dynamic = pin_inputs(work, input_values, source)
    folded: dict[str, int] = {}
    guards: list[tuple[str, str, int]] = []
    fresh = not input_values  # the first inference still describes ``work``
    while True:
        inferred = inferred if fresh else infer_light(work, source)
        fresh = False
        shapes = static_shapes(inferred)
        if expand_control_flow(work, shapes, guards, dynamic, source):
            continue
        new = fold_once(work, shapes, dynamic, source)
        if not new:
            break
        folded.update(new)
    check_guards(work, guards, source)
    return Folded(work, inferred, folded, True)


def infer_light(model, source):
    """Shape inference on a copy that carries large float initializers as typed inputs
    only: their values never decide a shape, and serialising them every round would cost
    seconds on a 50 MB model. Built field by field so the big tensors are never copied."""
    import onnx

    g = model.graph
    lg = onnx.GraphProto(name=g.name)
    lg.node.extend(g.node)
    lg.input.extend(g.input)
    lg.output.extend(g.output)
    lg.value_info.extend(g.value_info)
    for t in g.initializer:
        if t.data_type in (1, 10, 11, 16) and len(t.dims) and int(np.prod(t.dims)) > 1024:
            lg.input.append(onnx.helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
        else:
            lg.initializer.append(t)
    light = onnx.ModelProto(ir_version=model.ir_version, graph=lg)
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    try:
        return onnx.shape_inference.infer_shapes(light, data_prop=True).graph
    except Exception as exc:  # onnx raises several unrelated types here
        raise ModelError(f"{source}: ONNX shape inference failed: {_short(exc)}") from None


# ---------------------------------------------------------------- names and pinned inputs

def name_nodes(graph) -> None:
    """Give unnamed nodes the name the importer would (``<OpType>_<index>``), before any
    node is removed or inserted, so the names do not depend on folding."""
    if all(n.name for n in graph.node):
        return
    for i, node in enumerate(graph.node):
        if not node.name:
            node.name = f"{node.op_type}_{i}"


def pin_inputs(model, values: Mapping[str, np.ndarray], source: str) -> set[str]:
    """Inputs with a value given become initializers; their names seed the shape constants."""
    from onnx import numpy_helper

    g = model.graph
    by_name = {i.name: i for i in g.input}
    inits = {t.name for t in g.initializer}
    for name, value in values.items():
        if name not in by_name or name in inits:
            known = ", ".join(i.name for i in g.input if i.name not in inits) or "none"
            raise ModelError(f"{source}: --input-value names unknown input {name!r} (inputs: {known})")
        tt = by_name[name].type.tensor_type
        array = _as_input_array(name, np.asarray(value), tt, source)
        g.initializer.append(numpy_helper.from_array(array, name))
        g.input.remove(by_name[name])
    return set(values)


def _as_input_array(name, value, tt, source) -> np.ndarray:
    import onnx

    dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type) if tt.elem_type else value.dtype
    dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim] if tt.HasField("shape") else None
    if dims is not None and all(d is not None for d in dims) and value.size == int(np.prod(dims, dtype=np.int64)):
        value = value.reshape(dims)
    elif dims is not None and len(dims) != value.ndim:
        raise ModelError(f"{source}: --input-value {name}: {value.size} value(s) do not fit the input's "
                         f"shape {['N' if d is None else d for d in dims]}")
    try:
        return value.astype(dtype)
    except (TypeError, ValueError):
        raise ModelError(f"{source}: --input-value {name}: cannot convert to {np.dtype(dtype).name}") from None


def static_shapes(inferred) -> dict[str, tuple[int, ...] | None]:
    """name -> static dims, or None where a dim (or the rank) is unknown."""
    out = {}
    for vi in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if t is None or not t.HasField("shape"):
            out[vi.name] = None
            continue
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None for d in t.shape.dim]
        out[vi.name] = None if any(d is None for d in dims) else tuple(dims)
    for init in inferred.initializer:
        out[init.name] = tuple(init.dims)
    return out


# ---------------------------------------------------------------- folding

def _has_subgraph(node) -> bool:
    return any(a.type in (5, 10) for a in node.attribute)  # GRAPH, GRAPHS


def _initializer_shapes(graph) -> dict[str, tuple[int, ...]]:
    return {t.name: tuple(t.dims) for t in graph.initializer}


def fold_once(model, shapes, dynamic: set[str], source: str) -> dict[str, int]:
    """One round: evaluate the nodes ``_fold_plan`` picks and make them initializers.
    Returns {folded tensor: bytes}."""
    foldable, targets, target_index, derived = _fold_plan(model.graph, shapes, dynamic)
    if not targets:
        return {}
    values = evaluate(model, foldable, targets, shapes, source)
    return replace_with_initializers(model, target_index, values, derived)


def _fold_plan(g, shapes, dynamic: set[str]):
    """The nodes computable now (``foldable``: constant inputs, or Shape/Size of a static
    shape) and, among them, the ``targets`` to fold: those that depend on input shapes or
    pinned values (``derived``), or whose output shape inference could not tell, or that
    feed the first node with an unknown output shape."""
    known = set(_initializer_shapes(g))
    derived = set(dynamic)  # tensors whose value depends on input shapes or pinned inputs
    foldable, targets, target_index, foldable_at = [], [], set(), {}
    for index, node in enumerate(g.node):
        if node.domain not in ("", "ai.onnx") or node.op_type in RANDOM_OPS or _has_subgraph(node):
            continue
        ins = [t for t in node.input if t]
        if node.op_type in ("Shape", "Size") and ins and ins[0] not in known:
            if shapes.get(ins[0]) is None:
                continue
            is_derived = True
        elif all(t in known for t in ins):
            is_derived = any(t in derived for t in ins)
        else:
            continue
        outs = [t for t in node.output if t]
        foldable.append(node)
        foldable_at[len(foldable) - 1] = index
        known.update(outs)
        if is_derived:
            derived.update(outs)
        if node.op_type == "Constant":
            continue
        if is_derived or any(shapes.get(t) is None for t in outs):
            targets.append(node)
            target_index.add(index)
    _add_shape_inputs(g, foldable, foldable_at, targets, target_index, shapes)
    return foldable, targets, target_index, derived


def _add_shape_inputs(g, foldable, foldable_at, targets, target_index, shapes) -> None:
    """Constant chains that ONNX data propagation does not see through (``Transpose``,
    ``Slice`` of a ``Concat``…) and that feed a node whose output shape is unknown: fold them
    too, so that node sees a constant (``Pad``'s pads, ``Reshape``'s shape)."""
    producer = {t: k for k, n in enumerate(foldable) for t in n.output if t}
    chosen = set(foldable_at.values())
    for index, node in enumerate(g.node):
        if index in chosen or all(shapes.get(t) is not None for t in node.output if t):
            continue
        if any(shapes.get(t) is None and t not in producer for t in node.input if t):
            continue  # dynamic because of a dynamic input, not of a constant it reads
        for t in node.input:
            k = producer.get(t)
            if k is not None and foldable[k].op_type != "Constant" and foldable_at[k] not in target_index:
                targets.append(foldable[k])
                target_index.add(foldable_at[k])


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


def replace_with_initializers(model, drop: set[int], values, derived) -> dict[str, int]:
    """Nodes at the indices ``drop`` give way to initializers holding their outputs.
    (Indices, not ``id()``: protobuf wrappers are transient and their ids get reused.)"""
    from onnx import numpy_helper

    g = model.graph
    _remove_nodes(g, drop)
    shape_constants = {}
    for name, value in values.items():
        g.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        shape_constants[name] = int(value.nbytes)
    _drop_dead_constants(g)
    return shape_constants


def _drop_dead_constants(g) -> None:
    """Constant nodes whose outputs nothing reads any more (their readers were folded)."""
    outputs = {o.name for o in g.output}
    while True:
        read = referenced_names(g) | outputs
        known = {t.name for t in g.initializer}
        dead = set()
        for index, n in enumerate(g.node):
            if _has_subgraph(n) or n.op_type in RANDOM_OPS or not all(t in known for t in n.input if t):
                continue
            known.update(t for t in n.output if t)
            if not any(t in read for t in n.output if t):
                dead.add(index)
        if not dead:
            return
        _remove_nodes(g, dead)


def _remove_nodes(g, drop: set[int]) -> None:
    keep = [n for k, n in enumerate(g.node) if k not in drop]
    del g.node[:]
    g.node.extend(keep)


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


# ---------------------------------------------------------------- control flow

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


# ---------------------------------------------------------------- errors for what stays dynamic

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
