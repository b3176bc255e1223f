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

Ops outside the default ONNX domain that onnxruntime implements (``com.microsoft`` contrib
ops) are opaque to ONNX's inference: when a round folds nothing, `contrib` runs each such
node whose inputs became static in onnxruntime and writes its output shapes into
``value_info``, and the loop goes on.

The other parts live next door: `control_flow` (If inlining, Loop/Scan unrolling),
`fold_eval` (running a sub-model at plan time) and `dynamic_errors` (what to say about
what stays dynamic).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Callable, Mapping

import numpy as np

from ..errors import ModelError
from .contrib import add_contrib_shapes, has_contrib
from .control_flow import check_guards, expand_control_flow, has_control_flow, referenced_names
from .dynamic_errors import depends_on_inputs, first_dynamic_error  # noqa: F401  (their old home: onnx, verify.inputs)
from .fold_eval import _short, evaluate

RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                        "Multinomial", "Bernoulli"})


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
    if not input_values and not has_control_flow(model.graph) and not has_contrib(model.graph) and \
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
            if add_contrib_shapes(work, inferred, source):  # ops ONNX's inference does not know
                continue
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
