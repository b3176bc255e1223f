"""Layer-pipelined execution: cost every layer, simulate batches flowing through the layers
as a diagonal wavefront, and measure it against the closed forms.

**Layers.** A layer is what one processing element of a dataflow accelerator runs. With
``fused=True`` (the default) a runtime op joins its producer's layer when it is a cheap
follower an accelerator fuses — BatchNorm, an activation, a view, or an elementwise op with
one activation input (``Add(x, bias)``, densenet's ``Mul(x, scale)``) — and it is the only
reader of that producer's output. A residual ``Add``/``Sum`` of two activations stays a layer
of its own (kind ``res``): it is a join, and waits for both branches. ResNet-50's 176 runtime
ops become 72 layers: 53 conv (the stem's conv+BN+relu is one), 16 res, 2 pool, 1 fc+softmax. Tensors inside a
fused layer stay in the processing element; only tensors between layers use the arena.
``fused=False`` makes every runtime op a layer.

**Costs.** Per batch, from ``costs.op_cost`` and a device profile (``devices``):
``in = latency + activation bytes / read bandwidth of the activation tier (the first writable
tier) + latency + weight bytes * weight_reads / read bandwidth of the weight tier`` (the first
tier that holds all the model's weights, else the last); ``compute = MACs /
compute_macs_per_s`` (``compute_macs_per_s_int8`` for ops writing int8); ``out = latency +
bytes written / write bandwidth``. A CSV
``layer,in,compute,out`` (seconds; a blank cell keeps the model's value) overrides them.

**The simulator.** A layer runs in, compute and out one after another for a batch, and
accepts a new batch every ``II_l = max(in, compute, out)`` (its three units overlap across
batches). With ``s[l][b]`` the start of layer l's in for batch b::

    s[l][b] = max(admit[b], end[p][b] for every predecessor p, s[l][b-1] + II_l)
    end[l][b] = s[l][b] + in_l + compute_l + out_l
    admit[b] = max(b * pace, exit[b - depth])       # exit = the last sink's end

``pace`` is the rate batches are offered at: by default the bottleneck ``II* = max_l II_l``
(the pipeline is fed as fast as it can sustain), 0 for a backlog where every batch waits at
the input. ``depth`` bounds the batches in flight (admitted, not yet out). It is one tight
loop, O(batches * (layers + edges)); 1,000 batches through ResNet-50 take about 0.1 s.

**Closed forms** (exact for chains, and for any DAG fed at ``pace >= II*``: every batch then
follows the first batch's timeline shifted by its admission time). With ``L`` the critical
path (the sum of in+compute+out along the longest path; the plain sum on a chain):
initiation interval ``II = max(II*, pace, L / depth)``, throughput ``1 / II``, latency ``L``,
makespan of N batches ``(N - 1) * II + L`` (depth unbounded). A backlog (``pace = 0``) has
the same II, but the first layers run ahead and latency grows with every batch. Full throughput needs
``depth >= ceil(L / II*)`` batches in flight. Layer l is busy ``N * II_l`` of the makespan;
the bubble fraction is the idle share of ``layers * makespan``. For K equal layers it is
GPipe's ``(K - 1) / (N + K - 1)``; unequal layers add an imbalance bubble on top.

Stage partitioning (``balance``) and the memory of the pipeline (``pipeline_memory``) build
on the values here.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from typing import Mapping

import numpy as np

from ..graph.costs import VIEW_OPS, OpCost, op_cost
from ..tiers.devices import Device
from ..errors import InputError, PlanError
from ..graph.ir import Graph, topological_order

FOLLOWER_OPS = frozenset({
    "BatchNormalization", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid",
    "HardSwish", "Elu", "Selu", "Softplus", "Gelu", "Softmax", "LogSoftmax", "Add", "Sub", "Mul", "Div",
    "Sum"}) | VIEW_OPS
KINDS = {"Conv": "conv", "ConvTranspose": "conv", "MaxPool": "pool", "AveragePool": "pool", "LpPool": "pool",
         "GlobalAveragePool": "pool", "GlobalMaxPool": "pool", "Add": "res", "Sum": "res", "Gemm": "fc",
         "MatMul": "fc", "Concat": "concat", "BatchNormalization": "norm"}


@dataclass(frozen=True)
class Layer:
    """One pipeline layer (or a stage of several). Times are seconds per batch.

    ``inputs``: arena tensors it reads; ``outputs``: arena tensors it writes for other layers
    or the graph outputs; ``preds``: indices of the layers it waits for."""

    name: str
    kind: str
    ops: tuple[str, ...]
    preds: tuple[int, ...]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    macs: int
    read_bytes: int
    weight_bytes: int
    write_bytes: int
    t_in: float
    t_compute: float
    t_out: float

    @property
    def interval(self) -> float:
        return max(self.t_in, self.t_compute, self.t_out)

    @property
    def latency(self) -> float:
        return self.t_in + self.t_compute + self.t_out


@dataclass(frozen=True)
class Pipeline:
    """Layers in a topological order, plus what the memory plan needs: tensor sizes and the
    graph's inputs and outputs."""

    name: str
    layers: tuple[Layer, ...]
    tensor_bytes: Mapping[str, int]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    device: str = ""

    @property
    def bottleneck_interval(self) -> float:
        return max(l.interval for l in self.layers)

    @property
    def critical_path(self) -> float:
        """Latency of one batch alone: the longest path of in+compute+out."""
        done = [0.0] * len(self.layers)
        for i, l in enumerate(self.layers):
            done[i] = l.latency + max((done[p] for p in l.preds), default=0.0)
        return max(done, default=0.0)

    @property
    def is_chain(self) -> bool:
        return all(l.preds == ((i - 1,) if i else ()) for i, l in enumerate(self.layers))


def group_ops(graph: Graph, *, fused: bool = True) -> list[list[int]]:
    """Runtime op indices per layer, layers in topological order (see the module doc)."""
    order = topological_order(graph.ops)
    layer_of: dict[int, int] = {}
    groups: list[list[int]] = []
    for i in order:
        p = _fuse_target(graph, i) if fused else None
        if p is None:
            groups.append([])
            layer_of[i] = len(groups) - 1
        else:
            layer_of[i] = layer_of[p]
        groups[layer_of[i]].append(i)
    return groups


def _fuse_target(graph: Graph, i: int) -> int | None:
    op = graph.ops[i]
    if op.op_type not in FOLLOWER_OPS:
        return None
    acts = [t for t in dict.fromkeys(op.inputs) if t and graph.tensors[t].kind != "weight"]
    if len(acts) != 1 or acts[0] not in graph.producer:
        return None
    t = acts[0]
    if graph.consumers.get(t) != (i,) or t in graph.outputs:
        return None
    return graph.producer[t]


def build_pipeline(graph: Graph, device: Device, *, fused: bool = True, weight_reads: float = 1.0,
                   weight_tier: str | None = None) -> Pipeline:
    """Layers of ``graph`` with their costs on ``device`` (see the module doc)."""
    if weight_reads < 0:
        raise InputError(f"weight_reads must be >= 0, got {weight_reads}")
    groups = group_ops(graph, fused=fused)
    layer_of = {i: k for k, g in enumerate(groups) for i in g}
    owner = {o: layer_of[i] for i, op in enumerate(graph.ops) for o in op.outputs if o}
    act_tier = next(t for t in device.tiers if t.writable)
    w_tier = device.tier(weight_tier) if weight_tier else _weight_tier(graph, device)
    layers = []
    for k, g in enumerate(groups):
        ops = [graph.ops[i] for i in g]
        inside = list(dict.fromkeys(o for op in ops for o in op.outputs if o))
        reads = [t for op in ops for t in dict.fromkeys(op.inputs)
                 if t and t not in inside and graph.tensors[t].kind != "weight"]
        reads = list(dict.fromkeys(reads))
        writes = [t for t in inside
                  if t in graph.outputs or any(layer_of[c] != k for c in graph.consumers.get(t, ()))]
        costs = [op_cost(graph, op) for op in ops]
        work = sum(costs, OpCost(0, 0, 0, 0))
        t_compute = sum(c.macs / device.macs_per_s(_out_dtype(graph, op)) for c, op in zip(costs, ops))
        read_bytes = sum(graph.tensors[t].nbytes for t in reads)
        write_bytes = sum(graph.tensors[t].nbytes for t in writes)
        t_in = act_tier.read_seconds(read_bytes) + w_tier.read_seconds(round(work.weight_bytes * weight_reads))
        layers.append(Layer(
            name=ops[0].name, kind=KINDS.get(ops[0].op_type, ops[0].op_type.lower()),
            ops=tuple(op.name for op in ops), preds=tuple(sorted({owner[t] for t in reads if t in owner})),
            inputs=tuple(reads), outputs=tuple(writes), macs=work.macs,
            read_bytes=read_bytes, weight_bytes=work.weight_bytes, write_bytes=write_bytes, t_in=t_in,
            t_compute=t_compute, t_out=act_tier.write_seconds(write_bytes)))
    sizes = {t: graph.tensors[t].nbytes for t in graph.activations}
    return Pipeline(graph.source or graph.name, tuple(layers), sizes, graph.inputs, graph.outputs, device.name)


def _out_dtype(graph: Graph, op) -> str:
    """The dtype an op produces, which picks its compute rate (int8 kernels run faster)."""
    first = next((t for t in op.outputs if t), None)
    return graph.tensors[first].dtype if first else "float32"


def _weight_tier(graph: Graph, device: Device):
    total = graph.weight_bytes
    return next((t for t in device.tiers if t.capacity >= total), device.tiers[-1])


# --- per-layer overrides ---------------------------------------------------------------------

OVERRIDE_FIELDS = ("in", "compute", "out")


def read_overrides(path: str) -> dict[str, tuple[float | None, float | None, float | None]]:
    """``layer,in,compute,out`` in seconds; a blank cell keeps the model's value."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except OSError as exc:
        raise InputError(f"{path}: cannot read costs CSV ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: costs CSV is not text") from None
    if not rows or [c.strip().lower() for c in rows[0]] != ["layer", *OVERRIDE_FIELDS]:
        raise InputError(f"{path}: costs CSV must start with the header layer,in,compute,out")
    out = {}
    for n, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 4:
            raise InputError(f"{path}:{n}: expected 4 cells (layer,in,compute,out), got {len(row)}")
        out[row[0].strip()] = tuple(_seconds(c, f"{path}:{n}: {f}") for c, f in zip(row[1:], OVERRIDE_FIELDS))
    return out


def _seconds(text: str, where: str) -> float | None:
    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError(f"{where}: {text.strip()!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise InputError(f"{where}: seconds must be finite and >= 0, got {text.strip()}")
    return value


def apply_overrides(pipe: Pipeline, overrides: Mapping[str, tuple]) -> Pipeline:
    """A new pipeline with the measured times of the named layers."""
    names = {l.name for l in pipe.layers}
    unknown = sorted(set(overrides) - names)
    if unknown:
        sample = ", ".join(l.name for l in pipe.layers[:5])
        raise InputError(f"costs CSV names unknown layer {unknown[0]!r} ({len(unknown)} unknown); "
                         f"layers are named by their first op, e.g. {sample}")
    layers = []
    for l in pipe.layers:
        t = overrides.get(l.name, (None, None, None))
        layers.append(replace(l, t_in=_pick(t[0], l.t_in), t_compute=_pick(t[1], l.t_compute),
                              t_out=_pick(t[2], l.t_out)))
    return replace(pipe, layers=tuple(layers))


def _pick(value, default):
    return default if value is None else value


# --- the simulator ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """The simulated schedule: ``start[l, b]`` is when layer l's in stage begins batch b;
    its compute begins at ``start + t_in``, its out at ``start + t_in + t_compute``."""

    pipe: Pipeline
    start: np.ndarray  # (layers, batches)
    depth: int | None
    pace: float

    @property
    def batches(self) -> int:
        return self.start.shape[1]

    def _col(self, attr: str) -> np.ndarray:
        return np.array([getattr(l, attr) for l in self.pipe.layers])[:, None]

    @property
    def in_end(self) -> np.ndarray:
        return self.start + self._col("t_in")

    @property
    def out_start(self) -> np.ndarray:
        return self.in_end + self._col("t_compute")

    @property
    def end(self) -> np.ndarray:
        return self.out_start + self._col("t_out")

    @property
    def entry(self) -> np.ndarray:
        """Per batch, when its first in stage begins."""
        return self.start.min(axis=0)

    @property
    def exit(self) -> np.ndarray:
        """Per batch, when its last out stage ends."""
        return self.end.max(axis=0)


def simulate(pipe: Pipeline, batches: int, *, depth: int | None = None, pace: float | None = None) -> Timeline:
    """Event-level schedule of ``batches`` batches (see the recurrence in the module doc)."""
    if batches < 1:
        raise PlanError(f"--batches must be at least 1, got {batches}")
    if depth is not None and depth < 1:
        raise PlanError(f"depth (batches in flight) must be at least 1, got {depth}")
    layers = pipe.layers
    ii = [l.interval for l in layers]
    lat = [l.latency for l in layers]
    preds = [l.preds for l in layers]
    fed = {p for l in layers for p in l.preds}
    sinks = [i for i in range(len(layers)) if i not in fed]
    pace = max(ii) if pace is None else pace
    rows, exits, prev = [], [], None
    for b in range(batches):
        admit = b * pace
        if depth is not None and b >= depth and exits[b - depth] > admit:
            admit = exits[b - depth]
        s, e = [0.0] * len(layers), [0.0] * len(layers)
        for i in range(len(layers)):
            t = admit
            for p in preds[i]:
                if e[p] > t:
                    t = e[p]
            if prev is not None and prev[i] + ii[i] > t:
                t = prev[i] + ii[i]
            s[i], e[i] = t, t + lat[i]
        exits.append(max(e[k] for k in sinks))
        rows.append(s)
        prev = s
    return Timeline(pipe, np.array(rows, dtype=float).T.copy(), depth, pace)


@dataclass(frozen=True)
class Stats:
    """What a timeline achieved, and the closed forms it should match (module doc)."""

    batches: int
    depth: int | None
    interval: float  # steady-state spacing of batch exits
    throughput: float  # batches per second
    first_latency: float
    steady_latency: float
    makespan: float
    utilisation: tuple[float, ...]  # per layer: N * II_l / makespan
    bottleneck: str
    bubble: float
    closed_interval: float
    closed_latency: float
    closed_makespan: float | None  # only for unbounded depth, fed at pace >= II*


def stats(tl: Timeline) -> Stats:
    pipe, n = tl.pipe, tl.batches
    entry, exit_ = tl.entry, tl.exit
    makespan = float(exit_.max() - entry.min())
    span = _steady_span(n, tl.depth)
    interval = float(exit_[-1] - exit_[-1 - span]) / span if span else float(exit_[0] - entry[0])
    half = slice(n // 2, n)
    ii = np.array([l.interval for l in pipe.layers])
    busy = n * ii / makespan if makespan > 0 else np.zeros_like(ii)
    L, star = pipe.critical_path, pipe.bottleneck_interval
    closed = max(star, tl.pace, L / tl.depth if tl.depth else 0.0)
    return Stats(
        batches=n, depth=tl.depth, interval=interval, throughput=1.0 / interval if interval > 0 else math.inf,
        first_latency=float(exit_[0] - entry[0]), steady_latency=float((exit_ - entry)[half].mean()),
        makespan=makespan, utilisation=tuple(float(u) for u in busy),
        bottleneck=pipe.layers[int(np.argmax(ii))].name,
        bubble=float(1.0 - busy.mean()) if makespan > 0 else 0.0,
        closed_interval=closed, closed_latency=L,
        closed_makespan=(n - 1) * closed + L if tl.depth is None and tl.pace >= star else None)


def _steady_span(batches: int, depth: int | None) -> int:
    """How many exit gaps to average over: the last half, in whole periods of ``depth``."""
    period = depth or 1
    return (batches // 2) // period * period if batches > 1 else 0


def gpipe_bubble(stages: int, batches: int) -> float:
    """GPipe's fill-and-drain bubble for equal stages: (K - 1) / (M + K - 1)."""
    return (stages - 1) / (batches + stages - 1)


def full_rate_depth(pipe: Pipeline) -> int:
    """Fewest batches in flight that reach the bottleneck throughput: ceil(L / II*)."""
    star = pipe.bottleneck_interval
    return max(1, math.ceil(pipe.critical_path / star - 1e-9)) if star > 0 else 1
