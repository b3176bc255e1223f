"""ONNX -> Graph. The only module that imports ``onnx``.

Steps: read the file (clear errors for a missing, non-ONNX or truncated file), apply
``--input-shape`` overrides, run ONNX shape inference (with data propagation, so shapes
computed by ``Shape -> Gather -> Concat`` chains resolve), then split the nodes into
*constant* ops — every input a weight, no randomness, or a ``Shape``/``Size`` of a tensor
whose shape is static — whose outputs become weights, and *runtime* ops. Every tensor a
runtime op touches must have a static, non-empty shape, or the import fails naming it.

Unnamed nodes get the stable name ``<OpType>_<index in file>``; a duplicate name gets
``__<k>`` appended. Outputs after the first that nothing reads (Dropout's mask, MaxPool's
indices) are dropped (``""``): they cost nothing.
"""
from __future__ import annotations

import os
from dataclasses import replace
from typing import Mapping

import numpy as np

from ..errors import ModelError
from .ir import Graph, Op, Tensor, tensor_kind, tensor_nbytes
from .onnx_file import dtype_name, read_model, short_error
from .contrib import check_contrib
from .fold import first_dynamic_error, has_control_flow, make_static, static_shapes
from .branches import has_branches, if_op, output_infos

RANDOM_OPS = frozenset({"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                        "Multinomial", "Bernoulli"})
SHAPE_OPS = frozenset({"Shape", "Size"})


def load(path: str | os.PathLike, *, input_shapes: Mapping[str, tuple[int, ...]] | None = None,
         name: str | None = None, input_values: Mapping[str, np.ndarray] | None = None) -> Graph:
    """Read an ONNX file into a `Graph` with static shapes. ``input_values`` pins inputs to
    values (they become constants: shape subgraphs and ``If`` conditions fold through them)."""
    model = read_model(str(path))
    return from_model(model, input_shapes=input_shapes, source=name or str(path), input_values=input_values)


def from_model(model, *, input_shapes=None, source: str = "<model>", input_values=None) -> Graph:

    _check_names(model.graph, source)
    model = _with_input_shapes(model, input_shapes or {}, source)
    static = make_static(model, input_values=input_values or {}, infer=lambda m: _infer_shapes(m, source),
                         source=source)
    model, inferred = static.model, static.inferred
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    initializers = {t.name: t for t in g.initializer}
    try:
        infos = _value_infos(g, inferred)
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from None
    _explain_dynamic(model, infos, static_shapes(inferred), source)
    ops = _ops(g, source, _branch_maker(model, inferred, source))
    for op in ops:
        if has_branches(op):
            infos.update(output_infos(op))
    _check_single_producer(g, source)
    weight_names, const_ops, runtime_ops = _split_constants(ops, set(initializers), infos)
    inputs = tuple(i.name for i in g.input if i.name not in initializers)
    outputs = tuple(o.name for o in g.output)
    runtime_ops = _drop_unused_outputs(runtime_ops, outputs)
    tensors = _tensors(runtime_ops, inputs, outputs, weight_names, infos, initializers, source)
    tensors.update(_const_tensors(const_ops, tensors, infos, source))
    arrays = {n: _to_array(initializers[n], source) for n in initializers if n in tensors}
    return Graph(
        name=g.name or os.path.basename(source), ops=tuple(runtime_ops), tensors=tensors,
        inputs=inputs, outputs=outputs, const_ops=tuple(const_ops), initializers=arrays,
        opset=opset, source=source, shape_constants=_parameters(static.shape_constants, tensors),
        shape_constant_bytes=sum(static.shape_constants.values()))


def _parameters(folded, tensors) -> frozenset[str]:
    """Folded tensors that are op parameters (shapes, axes, indices, pads: integer or bool)
    leave the weights blob; folded floating-point tensors (a causal mask, a slice of an
    embedding table) are data a kernel reads at run time, so they stay in it."""
    return frozenset(t for t in folded if t in tensors and not tensors[t].dtype.startswith(("float", "bfloat", "complex")))


def static_model(model, *, input_shapes=None, input_values=None, source: str = "<model>"):
    """The ModelProto memplan plans: input shapes fixed, pinned inputs made constants, shape
    subgraphs folded, control flow inlined or unrolled (to run in onnxruntime and compare)."""
    model = _with_input_shapes(model, input_shapes or {}, source)
    return make_static(model, input_values=input_values or {}, infer=lambda m: _infer_shapes(m, source),
                       source=source).model


def _explain_dynamic(model, infos, shapes, source) -> None:
    """What is still dynamic after folding, said once: a dynamic graph input first (the
    --input-shape hint), then control flow left in place, then the first tensor whose shape
    depends on input values."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    inputs = tuple(i.name for i in g.input if i.name not in inits)
    if not has_control_flow(g) and all(s is not None for s in shapes.values()):
        return
    for name in inputs:
        _static_tensor(name, "input", infos, "graph input", inputs, source)
    first_dynamic_error(model, shapes, source)


def _const_tensors(const_ops, known, infos, source) -> dict[str, Tensor]:
    """Weights that only feed constant ops: known so the weights can be computed at load
    time, but not in the weight blob (``Graph.weights`` lists only what runtime ops read)."""
    names = {t for op in const_ops for t in op.inputs + op.outputs if t and t not in known}
    return {t: _static_tensor(t, "weight", infos, "constant", (), source) for t in sorted(names)}


def _with_input_shapes(model, input_shapes, source):
    if not input_shapes:
        return model
    import onnx

    model = onnx.ModelProto.FromString(model.SerializeToString())
    from .model_io import onnx_ports, ports_text

    real = {p.name: p for p in onnx_ports(model)[0]}  # the inputs, not the weights
    by_name = {i.name: i for i in model.graph.input}
    for name, shape in input_shapes.items():
        if name not in real:
            raise ModelError(f"{source}: --input-shape names unknown input {name!r} "
                             f"(inputs: {ports_text(list(real.values()))})")
        if real[name].dims is not None and len(real[name].dims) != len(shape):
            raise ModelError(f"{source}: --input-shape {name}={','.join(map(str, shape))} gives {len(shape)} "
                             f"dims; input {real[name]} has {len(real[name].dims)}")
        tt = by_name[name].type.tensor_type
        declared = len(tt.shape.dim) if tt.HasField("shape") else None
        if declared is not None and declared != len(shape):
            raise ModelError(f"{source}: --input-shape {name}={','.join(map(str, shape))} has {len(shape)} "
                             f"dimensions, but input {name!r} has {declared}")
        tt.shape.ClearField("dim")
        for d in shape:
            tt.shape.dim.add().dim_value = int(d)
    for vi in list(model.graph.value_info):  # stale shapes would contradict the new ones
        model.graph.value_info.remove(vi)
    for out in model.graph.output:  # a symbolic output dim ('seqlen'), or Paddle's -1, would shadow the inferred one
        if any(d.HasField("dim_param") or (d.HasField("dim_value") and d.dim_value <= 0)
               for d in out.type.tensor_type.shape.dim):
            out.type.tensor_type.ClearField("shape")
    return model


def _infer_shapes(model, source):
    """ONNX shape inference on a copy without the bulk of the weights: large float
    initializers become typed graph inputs, so a 500 MB model is not serialised twice."""
    import onnx

    light = onnx.ModelProto()
    light.CopyFrom(model)
    if light.ByteSize() >= (64 << 20):
        _strip_weights(light)
    try:
        return onnx.shape_inference.infer_shapes(light, data_prop=True).graph
    except Exception as exc:  # onnx raises several unrelated types here
        raise ModelError(f"{source}: ONNX shape inference failed: {short_error(exc)}") from None


def _strip_weights(light) -> None:
    import onnx

    g = light.graph
    declared = {i.name for i in g.input}
    keep = []
    for init in g.initializer:
        if init.data_type in _FLOAT_TYPES and len(init.dims) and _numel(init.dims) > 1024:
            if init.name not in declared:
                g.input.append(onnx.helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)


_FLOAT_TYPES = (1, 10, 11, 16)  # float, float16, double, bfloat16


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= d
    return n


def _value_infos(g, inferred) -> dict[str, tuple]:
    """name -> (dtype name or None, dims list with None for unknown, raw dim labels)."""
    infos = {}
    for vi in list(inferred.input) + list(inferred.value_info) + list(inferred.output):
        t = vi.type.tensor_type if vi.type.HasField("tensor_type") else None
        if t is None:
            infos[vi.name] = (None, None, None)
            continue
        dtype = dtype_name(t.elem_type) if t.elem_type else None
        if not t.HasField("shape"):
            infos[vi.name] = (dtype, None, None)
            continue
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value >= 0 else None for d in t.shape.dim]
        labels = [d.dim_param if d.HasField("dim_param") else "?" for d in t.shape.dim]
        infos[vi.name] = (dtype, dims, labels)
    for init in g.initializer:
        infos[init.name] = (dtype_name(init.data_type), list(init.dims), None)
    return infos


def _branch_maker(model, inferred, source):
    """How `_ops` turns an If left in place (its condition depends on input values) into
    one op whose branches are graphs of their own (`branches.if_op`)."""
    infos = {vi.name: vi for vi in [*inferred.input, *inferred.value_info, *inferred.output]}
    return lambda node, name: if_op(node, name, model, infos, from_model, source)


def _ops(g, source, branch_op=None) -> list[Op]:
    ops, used = [], set()
    for i, node in enumerate(g.node):
        contrib = node.domain not in ("", "ai.onnx")
        if contrib:  # shapes from onnxruntime (graph.contrib), kernels keyed "domain.op"
            check_contrib(node, i, source)
        else:
            _check_known_op(node, i, source)
        name = node.name or f"{node.op_type}_{i}"
        base, k = name, 2
        while name in used:
            name, k = f"{base}__{k}", k + 1
        used.add(name)
        if node.op_type == "If" and branch_op is not None:
            ops.append(branch_op(node, name))
            continue
        attrs = {a.name: _attr_value(a, name, node.op_type, source) for a in node.attribute}
        ops.append(Op(name, node.op_type, tuple(node.input), tuple(node.output), attrs,
                      domain=node.domain if contrib else ""))
    return ops


def _check_known_op(node, i: int, source: str) -> None:
    """An op ONNX does not define cannot be shape-inferred or run, whatever the file declares."""
    import onnx

    if not onnx.defs.has(node.op_type):
        raise ModelError(f"{source}: node {node.name or i!r} uses op {node.op_type!r}, which is not an "
                         f"ONNX operator; memplan plans standard ONNX ops only")


def _check_names(g, source: str) -> None:
    """protobuf hands back ``bytes`` for a name that is not valid UTF-8 (a damaged file)."""
    named = [*g.input, *g.output, *g.value_info, *g.initializer]
    texts = [v.name for v in named] + [g.name]
    for node in g.node:
        texts += [node.name, node.op_type, node.domain, *node.input, *node.output]
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise ModelError(f"{source}: a name in the graph is not valid UTF-8 ({bad[:40]!r}); the file is damaged")


def _check_single_producer(g, source: str) -> None:
    """Each tensor has one writer: a graph input, an initializer or one node output."""
    writer = {i.name: "the graph input" for i in g.input}
    writer.update({t.name: "an initializer" for t in g.initializer})
    for i, node in enumerate(g.node):
        label = f"node {node.name or f'{node.op_type}_{i}'!r} ({node.op_type})"
        for t in node.output:
            if not t:
                continue
            if t in writer:
                raise ModelError(f"{source}: tensor {t!r} is written by both {writer[t]} and {label}; "
                                 f"each tensor must have one producer")
            writer[t] = label


def _attr_value(attr, node_name, op_type, source):
    import onnx

    if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        raise ModelError(f"{source}: node {node_name!r} ({op_type}) has a subgraph (control flow); "
                         f"memplan plans static graphs only")
    value = onnx.helper.get_attribute_value(attr)
    if value is None:  # an attribute type no ONNX version defines (a damaged file)
        raise ModelError(f"{source}: node {node_name!r} ({op_type}): attribute {attr.name!r} has no value of a "
                         f"known type")
    if isinstance(value, onnx.TensorProto):
        return _to_array(value, source)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [v.decode("utf-8", "replace") if isinstance(v, bytes)
                else _to_array(v, source) if isinstance(v, onnx.TensorProto) else v for v in value]
    return value


def _to_array(tensor, source: str = "<model>") -> np.ndarray:
    from onnx import numpy_helper

    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - data that does not match its dims or type (a damaged file)
        raise ModelError(f"{source}: tensor {tensor.name!r}: its stored data does not match its shape and type "
                         f"({short_error(exc)})") from None


def _split_constants(ops: list[Op], initializers: set[str], infos) -> tuple[set[str], list[Op], list[Op]]:
    """Constant ops run once at load; the rest run per inference. File order is kept."""
    weights = set(initializers)
    const_ops, runtime_ops = [], []
    for op in ops:
        if _is_constant(op, weights, infos):
            if op.op_type in SHAPE_OPS and not all(t in weights for t in op.inputs if t):
                op = _shape_as_constant(op, infos)
            const_ops.append(op)
            weights.update(t for t in op.outputs if t)
        else:
            runtime_ops.append(op)
    return weights, const_ops, runtime_ops


def _is_constant(op: Op, weights: set[str], infos) -> bool:
    if op.op_type in RANDOM_OPS:
        return False
    if op.op_type in SHAPE_OPS:
        src = op.inputs[0]
        dims = infos.get(src, (None, None, None))[1]
        return src in weights or (dims is not None and all(d is not None for d in dims))
    return all(t in weights for t in op.inputs if t)


def _shape_as_constant(op: Op, infos) -> Op:
    """Shape/Size of a static-shaped activation is known at plan time: fold it."""
    dims = infos[op.inputs[0]][1]
    if op.op_type == "Size":
        value = np.array(int(np.prod(dims)), dtype=np.int64)
    else:
        start, end = op.attrs.get("start", 0), op.attrs.get("end", None)
        value = np.array(dims[slice(start, end)], dtype=np.int64)
    return Op(op.name, "Constant", (), op.outputs, {"value": value})


def _drop_unused_outputs(ops: list[Op], graph_outputs: tuple[str, ...]) -> list[Op]:
    read = {t for op in ops for t in op.inputs} | set(graph_outputs)
    out = []
    for op in ops:
        outs = tuple(t if (k == 0 or t in read) else "" for k, t in enumerate(op.outputs))
        out.append(op if outs == op.outputs else replace(op, outputs=outs))
    return out


def _tensors(ops, inputs, outputs, weight_names, infos, initializers, source) -> dict[str, Tensor]:
    tensors: dict[str, Tensor] = {}
    where: dict[str, str] = {}
    for op in ops:
        for t in op.inputs:
            if t:
                where.setdefault(t, f"input of node {op.name!r} ({op.op_type})")
        for t in op.outputs:
            if t:
                where[t] = f"output of node {op.name!r} ({op.op_type})"
    for t in inputs:
        where[t] = "graph input"
    for t in outputs:
        where.setdefault(t, "graph output")
    out_set, in_set = set(outputs), set(inputs)
    produced = {t for op in ops for t in op.outputs if t}
    for t in where:
        kind = tensor_kind(t, constant=t in weight_names, inputs=in_set, outputs=out_set, produced=produced)
        if kind is None or (kind == "output" and t not in produced):
            raise ModelError(f"{source}: tensor {t!r} ({where[t]}) is neither produced by a node, "
                             f"nor a graph input, nor an initializer")
        tensors[t] = _static_tensor(t, kind, infos, where[t], inputs, source)
    return tensors


def _static_tensor(name, kind, infos, where, inputs, source) -> Tensor:
    dtype, dims, labels = infos.get(name, (None, None, None))
    hint = _shape_hint(inputs, infos)
    if dtype is None or dims is None:
        raise ModelError(f"{source}: shape of tensor {name!r} ({where}) could not be inferred; "
                         f"the op may be unknown to ONNX shape inference{hint}")
    if any(d is None for d in dims):
        k = next(k for k, d in enumerate(dims) if d is None)
        label = labels[k] if labels else "?"
        what = f"dimension {k} ('{label}')" if label and label != "?" else f"dimension {k}"
        raise ModelError(f"{source}: {what} of tensor {name!r} ({where}) is dynamic{hint}")
    shape = tuple(int(d) for d in dims)
    if kind != "weight" and 0 in shape:
        raise ModelError(f"{source}: tensor {name!r} ({where}) has zero elements (shape {list(shape)}); "
                         f"nothing to plan for it — check the input shapes")
    tensor_nbytes(shape, dtype)
    return Tensor(name, shape, dtype, kind)


def _shape_hint(inputs, infos) -> str:
    """Suggest --input-shape only when some graph input really is dynamic."""
    parts = []
    for name in inputs:
        dims = infos.get(name, (None, None, None))[1]
        if dims is not None and all(d is not None for d in dims):
            continue  # static (a scalar too): nothing to pass
        shown = name if name.isprintable() else repr(name)  # a damaged name must not break the line
        parts.append(f"{shown}=" + (",".join(str(d) if d is not None else "N" for d in dims)
                                    if dims is not None else "N,N,..."))
    if not parts:
        return ""
    return f"; pass --input-shape {' --input-shape '.join(parts)} with each N set to a number"
