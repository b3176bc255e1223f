"""Receptive fields: which input rows and columns each output patch of a stage needs.

A *stage* is every runtime op that the stage's last op (``until``) depends on, back to the
graph inputs (MCUNetV2's per-patch stage). It can be tiled when every op in it maps output
rows/columns to input rows/columns on its own, axis by axis, in NCHW:

- ``Conv``, ``MaxPool``, ``AveragePool``: output position ``o`` reads input positions
  ``o*s - pad_begin + [0, (k-1)*d]``; a patch's input region is the hull of those, clipped
  to the tensor, and the part that fell outside becomes the patch's own padding (so border
  patches keep the original padding on their border sides and interior sides get none);
- pointwise ops (activations, BatchNormalization, LRN across channels, Dropout, elementwise
  ``Add``/``Mul``/``Sum``… of same-sized tensors, ``Concat`` along channels): the same region;
- a channel shuffle (``Reshape``/``Transpose`` that keep the last two axes): the same region;
- a layout change ``Transpose(perm=[0,3,1,2])`` (NHWC -> NCHW, as tf2onnx and keras2onnx
  models start) of a graph input: output rows/columns read the same rows/columns of the
  input's axes 1 and 2 (``Stage.axes``), so a patch slices the input there. A Transpose
  that swaps rows and columns or moves a batch/channel axis into space stays untileable.

Rows and columns propagate independently (every supported op is separable), so a grid
``gh x gw`` costs ``gh + gw`` backward passes, not ``gh * gw``. Intervals are half-open
``[start, end)`` in the tensor's own coordinates.

Anything else ends the stage: a global pool, Gemm, Softmax, Resize, Reshape, Transpose…
see the whole tensor or move data between positions, so they cannot run on a patch.

Example: a 3x3 stride-1 pad-1 conv producing rows [8, 16) of a 32-row tensor needs input
rows [7, 17) with no padding; rows [0, 8) need input rows [0, 9) with one padded row on top.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import ModelError
from ..graph.ir import Graph, Op

Interval = tuple[int, int]

WINDOW_OPS = frozenset({"Conv", "MaxPool", "AveragePool"})
SHUFFLE_OPS = frozenset({"Reshape", "Transpose"})  # when they keep the spatial axes (channel shuffle)
POINTWISE_OPS = frozenset({
    "Relu", "LeakyRelu", "PRelu", "Elu", "Selu", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softplus",
    "Softsign", "Clip", "Mish", "Gelu", "Erf", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil",
    "Round", "Sign", "Cast", "Identity", "Dropout", "BatchNormalization", "LRN",
    "Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Pow", "Concat",
})
WHOLE_TENSOR_OPS = {
    "GlobalAveragePool": "a global pool sees the whole tensor",
    "GlobalMaxPool": "a global pool sees the whole tensor",
    "GlobalLpPool": "a global pool sees the whole tensor",
    "ReduceMean": "a reduction sees the whole tensor", "ReduceMax": "a reduction sees the whole tensor",
    "ReduceSum": "a reduction sees the whole tensor",
    "Gemm": "a fully connected layer sees the whole tensor",
    "MatMul": "a matrix product mixes every position",
    "Softmax": "Softmax normalises over a whole axis",
    "Resize": "Resize maps positions by a scale",
    "Upsample": "Upsample maps positions by a scale",
    "Flatten": "Flatten moves elements between positions",
    "InstanceNormalization": "a normalisation over the whole spatial extent",
}


@dataclass(frozen=True)
class Window:
    """One spatial axis of a Conv or pool, with explicit padding (auto_pad resolved)."""

    kernel: int
    stride: int
    dilation: int
    pad_begin: int
    pad_end: int

    def needs(self, out: Interval, size_in: int) -> tuple[Interval, int, int]:
        """(input region, padding before, padding after) that output rows ``out`` read."""
        lo = out[0] * self.stride - self.pad_begin
        hi = (out[1] - 1) * self.stride - self.pad_begin + (self.kernel - 1) * self.dilation + 1
        return (max(lo, 0), min(hi, size_in)), max(0, -lo), max(0, hi - size_in)


@dataclass(frozen=True)
class Stage:
    """The ops of a tiled stage (indices into ``graph.ops``, topological), its output and the
    graph inputs it reads."""

    until: str
    ops: tuple[int, ...]
    output: str
    inputs: tuple[str, ...]
    windows: Mapping[int, tuple[Window, Window]]  # op index -> (rows, cols), window ops only
    steps: tuple = ()  # (op index, output, activation inputs), backwards: what `propagate` walks
    axes: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # stage inputs not NCHW: (rows, cols) axes


def spatial(graph: Graph, name: str) -> tuple[int, int]:
    shape = graph.tensors[name].shape
    return shape[-2], shape[-1]


def spatial_axes(graph: Graph, stage: Stage, name: str) -> tuple[int, int]:
    """The (rows, cols) axes of stage tensor ``name``: the last two, except for a graph input
    that a layout Transpose reads (NHWC: axes 1 and 2)."""
    rank = len(graph.tensors[name].shape)
    return stage.axes.get(name, (rank - 2, rank - 1))


def layout_axes(op: Op) -> tuple[int, int] | None:
    """For a rank-4 Transpose that does not keep the last two axes: the input axes its
    output rows and columns come from (``perm[2]``, ``perm[3]``); None otherwise."""
    perm = op.attrs.get("perm") if op.op_type == "Transpose" else None
    if perm is None or len(perm) != 4 or list(perm[2:]) == [2, 3]:
        return None
    return int(perm[2]), int(perm[3])


def activation_inputs(graph: Graph, op: Op) -> list[str]:
    return [t for t in dict.fromkeys(op.inputs) if t and graph.tensors[t].kind != "weight"]


def why_untileable(graph: Graph, op: Op) -> str | None:
    """None when ``op`` can run on a patch; otherwise the reason, for the error message."""
    kind = op.op_type
    if kind in WHOLE_TENSOR_OPS:
        return WHOLE_TENSOR_OPS[kind]
    if kind in SHUFFLE_OPS:
        return _why_not_shuffle(graph, op)
    if kind not in WINDOW_OPS and kind not in POINTWISE_OPS:
        return f"{kind} has no receptive-field rule"
    out = op.outputs[0]
    if not out or len(graph.tensors[out].shape) != 4 or any(op.outputs[1:]):
        return f"{kind} here is not a single 4-D NCHW output"
    ins = activation_inputs(graph, op)
    if any(len(graph.tensors[t].shape) != 4 for t in ins):
        return f"{kind} here reads a tensor that is not 4-D NCHW"
    if kind == "Concat" and int(op.attrs.get("axis", 1)) % 4 != 1:
        return "Concat along a spatial axis"
    if kind in POINTWISE_OPS and any(spatial(graph, t) != spatial(graph, out) for t in ins):
        return f"{kind} broadcasts a tensor over space"
    if kind == "AveragePool" and op.attrs.get("ceil_mode", 0) and op.attrs.get("count_include_pad", 0):
        return "AveragePool with ceil_mode and count_include_pad"
    if kind == "Conv" and ins[0] != op.inputs[0]:
        return "Conv whose data input is a weight"
    if kind in WINDOW_OPS and ins[1:]:
        return f"{kind} with a computed weight"
    return None


def _why_not_shuffle(graph: Graph, op: Op) -> str | None:
    """Reshape/Transpose are tileable when they leave the last two (spatial) axes alone, as a
    channel shuffle does (``[1,C,H,W] -> [1,g,C/g,H,W] -> transpose -> [1,C,H,W]``): a patch
    is then the same op on its own rows and columns."""
    ins = activation_inputs(graph, op)
    out = op.outputs[0]
    if len(ins) != 1 or not out or any(op.outputs[1:]):
        return f"{op.op_type} here has more than one data input or output"
    x, y = graph.tensors[ins[0]].shape, graph.tensors[out].shape
    if layout_axes(op) is not None:
        return _why_not_layout(graph, op)
    if len(x) < 3 or len(y) < 3 or x[-2:] != y[-2:]:
        return f"{op.op_type} moves elements between spatial positions"
    if op.op_type == "Transpose":
        perm = list(op.attrs.get("perm") or range(len(x))[::-1])
        if perm[-2:] != [len(x) - 2, len(x) - 1]:
            return "Transpose moves the spatial axes"
    elif len(op.inputs) < 2 or graph.tensors[op.inputs[1]].kind != "weight":
        return "Reshape with a computed shape"
    return None


def _why_not_layout(graph: Graph, op: Op) -> str | None:
    """A Transpose that changes the layout is tileable only from NHWC to NCHW-ordered
    spatial axes (``perm[2:] == [1, 2]``), on a graph input no other op reads in NCHW: the
    other ops of a stage work on the last two axes."""
    rows, cols = layout_axes(op)
    if 0 in (rows, cols):
        return "Transpose moves the batch axis into space"
    if sorted((rows, cols)) in ([1, 2], [2, 3]) and rows > cols:
        return "Transpose swaps rows and columns"
    if (rows, cols) != (1, 2):
        return "Transpose mixes a spatial axis with the channel axis"
    x = op.inputs[0]
    if x in graph.producer:
        return "Transpose changes the layout of a computed tensor (only a graph input's can change)"
    for c in graph.consumers.get(x, ()):
        other = graph.ops[c]
        if other.op_type != "Transpose" or layout_axes(other) != (rows, cols):
            return f"graph input {x!r} is also read in another layout, by node {other.name!r}"
    return None


def windows(graph: Graph, op: Op) -> tuple[Window, Window]:
    """The (rows, cols) windows of a Conv/pool, its auto_pad turned into explicit pads."""
    a = op.attrs
    kernel = list(a.get("kernel_shape") or graph.tensors[op.inputs[1]].shape[2:])
    strides = list(a.get("strides") or [1, 1])
    dilations = list(a.get("dilations") or [1, 1])
    in_hw, out_hw = spatial(graph, op.inputs[0]), spatial(graph, op.outputs[0])
    auto = a.get("auto_pad", "NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    pads = list(a.get("pads") or [0, 0, 0, 0])
    result = []
    for ax in range(2):
        k, s, d = int(kernel[ax]), int(strides[ax]), int(dilations[ax])
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            total = max(0, (out_hw[ax] - 1) * s + (k - 1) * d + 1 - in_hw[ax])
            small, big = total // 2, total - total // 2
            begin, end = (small, big) if auto == "SAME_UPPER" else (big, small)
        elif auto == "VALID":
            begin = end = 0
        else:
            begin, end = int(pads[ax]), int(pads[ax + 2])
        result.append(Window(k, s, d, begin, end))
    return result[0], result[1]


class Facts:
    """Per-op facts of one graph, computed once (the search asks for hundreds of stages)."""

    def __init__(self, graph: Graph):
        from ..graph.costs import op_macs

        self.index = {op.name: i for i, op in enumerate(graph.ops)}
        self.ins = [tuple(activation_inputs(graph, op)) for op in graph.ops]
        self.reason = [why_untileable(graph, op) for op in graph.ops]
        self.windows = {i: windows(graph, op) for i, op in enumerate(graph.ops)
                        if op.op_type in WINDOW_OPS and self.reason[i] is None}
        self.macs = [op_macs(graph, op) for op in graph.ops]


def find_stage(graph: Graph, until: str, facts: Facts | None = None) -> Stage:
    """The stage ending at node ``until``; a one-line `ModelError` naming the node otherwise."""
    facts = facts or Facts(graph)
    index = facts.index
    if until not in index:
        raise ModelError(f"--until {until!r}: no such node in {graph.source or graph.name}")
    last = graph.ops[index[until]]
    reason = facts.reason[index[until]]
    if reason:
        raise ModelError(f"--until {until!r} cannot end a tiled stage: {last.op_type} ({reason})")
    if len(graph.tensors[last.outputs[0]].shape) != 4:
        raise ModelError(f"--until {until!r} cannot end a tiled stage: its output is not 4-D NCHW")
    members = ancestors(graph, index[until])
    for i in sorted(members):
        op = graph.ops[i]
        reason = facts.reason[i]
        if reason:
            raise ModelError(f"--until {until!r} cannot end a tiled stage: it depends on node {op.name!r}, "
                             f"{op.op_type} ({reason})")
    output = last.outputs[0]
    if output in graph.inputs:
        raise ModelError(f"--until {until!r}: its output is a graph input")
    for i in sorted(members):
        for t in graph.ops[i].outputs:
            if t and t != output and (t in graph.outputs or any(c not in members for c in graph.consumers.get(t, ()))):
                raise ModelError(f"--until {until!r} cannot end a tiled stage: tensor {t!r} inside it is "
                                 f"also read after it (split after the branch joins)")
    inputs = tuple(dict.fromkeys(t for i in sorted(members) for t in facts.ins[i] if t not in graph.producer))
    ops = tuple(sorted(members))
    wins = {i: facts.windows[i] for i in ops if i in facts.windows}
    steps = tuple((i, graph.ops[i].outputs[0], facts.ins[i]) for i in reversed(ops))
    axes = {graph.ops[i].inputs[0]: layout_axes(graph.ops[i]) for i in ops if layout_axes(graph.ops[i])}
    return Stage(until, ops, output, inputs, wins, steps, axes)


def ancestors(graph: Graph, last: int) -> set[int]:
    """``last`` and every runtime op it depends on."""
    seen, todo = {last}, [last]
    while todo:
        op = graph.ops[todo.pop()]
        for t in op.inputs:
            p = graph.producer.get(t)
            if p is not None and p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def split_axis(size: int, parts: int) -> list[Interval]:
    """``parts`` near-equal intervals covering ``[0, size)`` (the first ones one longer)."""
    base, extra = divmod(size, parts)
    bounds = [0]
    for k in range(parts):
        bounds.append(bounds[-1] + base + (1 if k < extra else 0))
    return [(bounds[k], bounds[k + 1]) for k in range(parts)]


@dataclass(frozen=True)
class AxisNeeds:
    """One backward pass along one axis for one output interval: the interval of every stage
    tensor the patch computes (``extent``), and per (op index, input tensor) the interval that
    op reads, with the op's own padding (``pads``: op index -> (before, after))."""

    extent: Mapping[str, Interval]
    reads: Mapping[tuple[int, str], Interval]
    pads: Mapping[int, tuple[int, int]]


def propagate(graph: Graph, stage: Stage, axis: int, out: Interval) -> AxisNeeds:
    """Backward through the stage along ``axis`` (0 = rows, 1 = cols) from ``out``."""
    extent: dict[str, Interval] = {stage.output: out}
    reads: dict[tuple[int, str], Interval] = {}
    pads: dict[int, tuple[int, int]] = {}
    sizes = {}
    for i, out_name, ins in stage.steps:
        region = extent.get(out_name)
        if region is None:  # only reachable through tensors no stage op reads
            raise ModelError(f"node {graph.ops[i].name!r}: output not used inside the stage")
        window = stage.windows.get(i)
        if window is not None:
            size = sizes.get(ins[0]) or sizes.setdefault(ins[0], graph.tensors[ins[0]].shape[-2 + axis])
            need, before, after = window[axis].needs(region, size)
            pads[i] = (before, after)
            wanted = ((ins[0], need),)
        else:
            wanted = tuple((t, region) for t in ins)
        for t, need in wanted:
            if need[0] >= need[1]:
                raise ModelError(f"node {graph.ops[i].name!r}: a patch would read no "
                                 f"{'rows' if axis == 0 else 'columns'} of {t!r}; use a coarser grid")
            reads[(i, t)] = need
            old = extent.get(t)
            extent[t] = need if old is None or old == need else (min(old[0], need[0]), max(old[1], need[1]))
    return AxisNeeds(extent, reads, pads)


def check_grid(graph: Graph, stage: Stage, grid: tuple[int, int]) -> None:
    rows, cols = spatial(graph, stage.output)
    gh, gw = grid
    if gh < 1 or gw < 1 or gh * gw < 2:
        raise ModelError(f"--grid {gh}x{gw}: need at least two patches")
    if gh > rows or gw > cols:
        raise ModelError(f"--grid {gh}x{gw}: the output of {stage.until!r} is {rows}x{cols}; "
                         f"a grid cannot have more patches than rows or columns")


def grid_needs(graph: Graph, stage: Stage, grid: tuple[int, int], memo: dict | None = None
               ) -> tuple[list[AxisNeeds], list[AxisNeeds]]:
    """The backward passes for every row band and every column band of ``grid``; ``memo``
    keeps passes for reuse by other grids of the same stage (strips and squares share rows)."""
    check_grid(graph, stage, grid)
    rows, cols = spatial(graph, stage.output)
    memo = {} if memo is None else memo

    def run(axis, iv):
        if (axis, iv) not in memo:
            memo[(axis, iv)] = propagate(graph, stage, axis, iv)
        return memo[(axis, iv)]

    return ([run(0, iv) for iv in split_axis(rows, grid[0])], [run(1, iv) for iv in split_axis(cols, grid[1])])


def stage_macs(graph: Graph, stage: Stage, row_needs, col_needs, facts: Facts | None = None) -> tuple[int, int]:
    """(MACs of the stage untiled, MACs of all its patches): every op here costs MACs in
    proportion to its output's size (``memplan.graph.costs``), so a patch costs its share of area."""
    from ..graph.costs import op_macs

    whole = tiled = 0
    for i, out, _ in stage.steps:
        macs = facts.macs[i] if facts else op_macs(graph, graph.ops[i])
        shape = graph.tensors[out].shape
        span_r = sum(n.extent[out][1] - n.extent[out][0] for n in row_needs)
        span_c = sum(n.extent[out][1] - n.extent[out][0] for n in col_needs)
        whole += macs
        tiled += -(-macs * span_r * span_c // (shape[-2] * shape[-1]))
    return whole, tiled
