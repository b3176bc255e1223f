"""The tiled model as an ordinary ONNX file: each patch computes the stage on its region.

``tile(model, until, grid)`` replaces the stage's nodes by one copy per patch (names end in
``__p<row>_<col>``). A patch reads its part of each graph input through a ``Slice``; a
Conv/pool gets its own explicit ``pads`` (border sides keep the original padding, interior
sides none; ``auto_pad`` and ``ceil_mode`` are resolved into them; an NHWC graph input that
a layout Transpose reads is sliced along its axes 1 and 2). Where a tensor is computed
on a larger region than one of its readers needs (branches with different kernels), that
reader gets a ``Slice``. The patch outputs are assembled by ``Concat``: along columns into a
row, then rows along height into the stage output, which keeps its name, so the rest of the
graph is untouched. In NCHW a patch is not a contiguous part of the output, so these
concats copy: ``copy_bytes`` counts every byte they write.

Weights are shared by all patches (the same initializer or constant-node output).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ModelError
from ..graph.ir import Graph
from .receptive import AxisNeeds, Stage, activation_inputs, find_stage, grid_needs, spatial_axes, stage_macs


@dataclass(frozen=True)
class Tiled:
    """A rewritten model and what the rewrite cost."""

    model: object  # onnx.ModelProto
    until: str
    grid: tuple[int, int]
    copy_bytes: int  # bytes the assembling concats write
    stage_macs: int  # the stage untiled
    tiled_stage_macs: int  # all patches together
    stage_output: str = ""  # the tensor the patches assemble (same name as in the original)
    patches: tuple = ()  # ((rows, cols) of each patch of the stage output), row-major


def graph_of(model, source: str = "<model>") -> Graph:
    from ..graph.onnx import from_model

    return from_model(model, source=source)


def tile(model, until: str, grid: tuple[int, int], *, graph: Graph | None = None) -> Tiled:
    """``model`` (an onnx.ModelProto, unchanged) with the stage ending at node ``until``
    computed patch by patch on a ``grid`` of (rows, cols) patches."""
    import onnx

    graph = graph or graph_of(model)
    stage = find_stage(graph, until)
    row_needs, col_needs = grid_needs(graph, stage, grid)
    out = onnx.ModelProto()
    out.CopyFrom(model)
    g = out.graph
    nodes = list(g.node)
    names = _node_names(nodes)
    stage_names = {graph.ops[i].name for i in stage.ops}
    at = names.index(until)
    builder = _Builder(graph, stage, _opset(model), {n: nd for n, nd in zip(names, nodes)}, _Constants(model))
    patches = [[builder.patch(r, c, rn, cn) for c, cn in enumerate(col_needs)] for r, rn in enumerate(row_needs)]
    builder.assemble(patches)
    before = [nd for n, nd in zip(names[:at], nodes[:at]) if n not in stage_names]
    after = nodes[at + 1:]
    del g.node[:]
    g.node.extend(before + builder.nodes + after)
    g.initializer.extend(builder.initializers)
    gone = {t for i in stage.ops for t in graph.ops[i].outputs if t and t != stage.output}
    keep = [vi for vi in g.value_info if vi.name not in gone]
    del g.value_info[:]
    g.value_info.extend(keep)
    whole, tiled = stage_macs(graph, stage, row_needs, col_needs)
    rows = [n.extent[stage.output] for n in row_needs]
    cols = [n.extent[stage.output] for n in col_needs]
    return Tiled(out, until, tuple(grid), builder.copy_bytes, whole, tiled, stage.output,
                 tuple((r, c) for r in rows for c in cols))


def _node_names(nodes) -> list[str]:
    """The names memplan's importer gives (unnamed: ``<OpType>_<index>``, repeats ``__k``)."""
    used, names = set(), []
    for i, node in enumerate(nodes):
        name = node.name or f"{node.op_type}_{i}"
        base, k = name, 2
        while name in used:
            name, k = f"{base}__{k}", k + 1
        used.add(name)
        names.append(name)
    return names


def _opset(model) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)


class _Builder:
    """Accumulates the nodes and initializers of the patches and the assembly."""

    def __init__(self, graph: Graph, stage: Stage, opset: int, proto_nodes, constants):
        self.graph, self.stage, self.opset, self.proto = graph, stage, opset, proto_nodes
        self.constants = constants
        self.nodes, self.initializers, self.copy_bytes = [], [], 0

    def patch(self, r: int, c: int, rows: AxisNeeds, cols: AxisNeeds) -> str:
        """Emit one patch's nodes; return the name of its output tensor."""
        import onnx

        graph, stage = self.graph, self.stage
        tag = f"__p{r}_{c}"
        local: dict[str, str] = {}  # stage tensor -> this patch's tensor
        for i in stage.ops:
            op = graph.ops[i]
            node = onnx.NodeProto()
            node.CopyFrom(self.proto[op.name])
            node.name = op.name + tag
            for k, t in enumerate(node.input):
                if t and graph.tensors[t].kind != "weight":
                    node.input[k] = self._read(t, local, tag, (rows.reads[(i, t)], cols.reads[(i, t)]),
                                               (rows.extent.get(t), cols.extent.get(t)))
            del node.output[1:]
            local[op.outputs[0]] = node.output[0] = op.outputs[0] + tag
            if i in stage.windows:
                _set_pads(node, rows.pads[i], cols.pads[i])
            if op.op_type == "Reshape":
                node.input[1] = self._patch_shape(op, tag, rows.extent[op.outputs[0]], cols.extent[op.outputs[0]])
            self.nodes.append(node)
        return local[stage.output]

    def _read(self, t: str, local, tag, need, have) -> str:
        """The name a patch op reads ``t`` under: the patch's tensor, or a Slice of it (or of a
        graph input) when the op needs less than is there."""
        rank = len(self.graph.tensors[t].shape)
        axes = (rank - 2, rank - 1)
        if t in local:
            base, origin = local[t], (have[0][0], have[1][0])
            full = need == have
        else:
            base, origin = t, (0, 0)
            axes, shape = spatial_axes(self.graph, self.stage, t), self.graph.tensors[t].shape
            full = need == ((0, shape[axes[0]]), (0, shape[axes[1]]))
        if full:
            return base
        name = f"{t}{tag}__slice{len(self.nodes)}"
        starts = [need[0][0] - origin[0], need[1][0] - origin[1]]
        ends = [need[0][1] - origin[0], need[1][1] - origin[1]]
        self.nodes.append(self._slice(base, name, starts, ends, axes))
        return name

    def _patch_shape(self, op, tag, rows, cols) -> str:
        """A channel-shuffle Reshape's target shape with the patch's rows and columns."""
        from onnx import numpy_helper

        shape = np.array(self.constants(op.inputs[1]), dtype=np.int64).copy()
        full = self.graph.tensors[op.outputs[0]].shape
        if shape.ndim != 1 or len(shape) != len(full) or tuple(shape[-2:]) != tuple(full[-2:]):
            raise ModelError(f"node {op.name!r}: Reshape's shape {shape.tolist()} does not spell out the spatial size")
        shape[-2:] = (rows[1] - rows[0], cols[1] - cols[0])
        name = f"{op.inputs[1]}{tag}__{op.name}"
        self.initializers.append(numpy_helper.from_array(shape, name))
        return name

    def _slice(self, src: str, dst: str, starts, ends, axes: tuple[int, int]):
        import onnx
        from onnx import numpy_helper

        axes = list(axes)  # the spatial axes
        if self.opset < 10:
            return onnx.helper.make_node("Slice", [src], [dst], name=dst, starts=starts, ends=ends, axes=axes)
        names = [f"{dst}__{k}" for k in ("starts", "ends", "axes")]
        for n, v in zip(names, (starts, ends, axes)):
            self.initializers.append(numpy_helper.from_array(np.array(v, dtype=np.int64), n))
        return onnx.helper.make_node("Slice", [src] + names, [dst], name=dst)

    def assemble(self, patches: list[list[str]]) -> None:
        """Concat columns into rows, rows into the stage output (keeping its name)."""
        import onnx

        out = self.stage.output
        rows = []
        for r, row in enumerate(patches):
            if len(row) == 1:
                rows.append(row[0])
                continue
            name = out if len(patches) == 1 else f"{out}__row{r}"
            self.nodes.append(onnx.helper.make_node("Concat", row, [name], name=f"{self.stage.until}__row{r}", axis=3))
            rows.append(name)
        if len(rows) > 1:
            self.nodes.append(onnx.helper.make_node("Concat", rows, [out], name=f"{self.stage.until}__assemble",
                                                    axis=2))
        levels = (len(patches) > 1) + (len(patches[0]) > 1)
        self.copy_bytes = levels * self.graph.tensors[out].nbytes


class _Constants:
    """Values of initializers and Constant-node outputs, by tensor name (read on demand)."""

    def __init__(self, model):
        self.model = model

    def __call__(self, name: str):
        import onnx
        from onnx import numpy_helper

        for init in self.model.graph.initializer:
            if init.name == name:
                return numpy_helper.to_array(init)
        for node in self.model.graph.node:
            if node.op_type == "Constant" and node.output[0] == name:
                return numpy_helper.to_array(onnx.helper.get_attribute_value(node.attribute[0]))
        raise ModelError(f"tensor {name!r}: not a stored constant, so its value cannot be rewritten per patch")


def _set_pads(node, rows: tuple[int, int], cols: tuple[int, int]) -> None:
    """Explicit per-patch pads; auto_pad and ceil_mode are folded into them."""
    import onnx

    keep = [a for a in node.attribute if a.name not in ("pads", "auto_pad", "ceil_mode")]
    del node.attribute[:]
    node.attribute.extend(keep)
    node.attribute.append(onnx.helper.make_attribute("pads", [rows[0], cols[0], rows[1], cols[1]]))


def load_proto(path: str, input_shapes=None):
    """Read an ONNX file (with ``--input-shape`` overrides) as a ModelProto."""
    from ..graph.onnx_file import read_model
    from ..graph.onnx import _with_input_shapes

    return _with_input_shapes(read_model(path), input_shapes or {}, path)


def check_names(model, until: str) -> None:
    if until not in _node_names(list(model.graph.node)):
        raise ModelError(f"--until {until!r}: no such node")


__all__ = ["Tiled", "activation_inputs", "graph_of", "load_proto", "tile"]
