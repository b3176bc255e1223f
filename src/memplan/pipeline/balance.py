"""Stage partitioning: cut the layers (in their topological order) into K contiguous stages
so that the slowest stage is as fast as possible — PipeDream's partitioning problem without
replication — optionally with a per-stage memory capacity.

A stage runs its layers' in, compute and out parts one after another on one processing
element, so its times are sums: ``in_S = sum in_l``, ``compute_S = sum compute_l``,
``out_S = sum out_l``, and it accepts a batch every ``II_S = max(in_S, compute_S, out_S)``.
Its memory is its weights plus ``in_flight`` batches (default 2: double buffering) of the
largest working set among its layers (activation bytes read + written by one layer).

Exact dynamic program over prefixes, O(K * n^2) with numpy rows::

    best[k][j] = min over i < j of max(best[k-1][i], II(layers i..j-1))    best[0][0] = 0

Ties go to the earliest cut, so the result is deterministic. The stage graph of a DAG stays
a DAG: every edge goes forward in the topological order, and skip edges (a residual
shortcut that jumps over a cut) become edges between non-adjacent stages.

Example (compute times only, K = 2): for 4, 1, 1, 4 the even split [4, 1 | 1, 4] is
already optimal (II 5); for 3, 3, 1, 1, 1, 1 the even split [3, 3, 1 | 1, 1, 1] gives 7 and
the DP finds [3, 3 | 1, 1, 1, 1] with 6.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PlanError
from .simulate import Layer, Pipeline, Timeline
from ..units import format_size


@dataclass(frozen=True)
class Partition:
    """Stages as half-open layer ranges ``[first, last + 1)``, in order."""

    bounds: tuple[tuple[int, int], ...]
    interval: float  # the slowest stage's II
    memory: tuple[int, ...]  # bytes per stage
    method: str

    @property
    def stages(self) -> int:
        return len(self.bounds)


def stage_interval(layers: tuple[Layer, ...], first: int, stop: int) -> float:
    part = layers[first:stop]
    return max(sum(l.t_in for l in part), sum(l.t_compute for l in part), sum(l.t_out for l in part))


def stage_memory(layers: tuple[Layer, ...], first: int, stop: int, in_flight: int = 2) -> int:
    part = layers[first:stop]
    return sum(l.weight_bytes for l in part) + in_flight * max(l.read_bytes + l.write_bytes for l in part)


def make_partition(pipe: Pipeline, bounds, *, method: str, in_flight: int = 2) -> Partition:
    bounds = tuple((int(i), int(j)) for i, j in bounds)
    return Partition(bounds, max(stage_interval(pipe.layers, i, j) for i, j in bounds),
                     tuple(stage_memory(pipe.layers, i, j, in_flight) for i, j in bounds), method)


def one_per_layer(pipe: Pipeline, *, in_flight: int = 2) -> Partition:
    return make_partition(pipe, [(i, i + 1) for i in range(len(pipe.layers))], method="one per layer",
                          in_flight=in_flight)


def even_split(pipe: Pipeline, stages: int, *, in_flight: int = 2) -> Partition:
    """K stages of (nearly) equal layer counts."""
    n = _check_stages(pipe, stages)
    cuts = [k * n // stages for k in range(stages + 1)]
    return make_partition(pipe, list(zip(cuts, cuts[1:])), method="even split", in_flight=in_flight)


def balance(pipe: Pipeline, stages: int, *, capacity: int | None = None, in_flight: int = 2) -> Partition:
    """The exact min-max partition into ``stages`` contiguous stages (module doc)."""
    n = _check_stages(pipe, stages)
    cost = _interval_matrix(pipe.layers)
    if capacity is not None:
        cost[_memory_matrix(pipe.layers, in_flight) > capacity] = np.inf
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    choice = np.zeros((stages + 1, n + 1), dtype=np.int64)
    for k in range(1, stages + 1):
        cand = np.maximum(best[:, None], cost)
        choice[k] = np.argmin(cand, axis=0)
        best = cand[choice[k], np.arange(n + 1)]
    if not np.isfinite(best[n]):
        raise PlanError(_infeasible(pipe, stages, capacity, in_flight))
    cuts = [n]
    for k in range(stages, 0, -1):
        cuts.append(int(choice[k][cuts[-1]]))
    cuts.reverse()
    method = "balanced (DP)" + (f", <= {format_size(capacity)} per stage" if capacity is not None else "")
    return make_partition(pipe, list(zip(cuts, cuts[1:])), method=method, in_flight=in_flight)


def _check_stages(pipe: Pipeline, stages: int) -> int:
    n = len(pipe.layers)
    if not 1 <= stages <= n:
        raise PlanError(f"--stages must be between 1 and the number of layers ({n}), got {stages}")
    return n


def _interval_matrix(layers: tuple[Layer, ...]) -> np.ndarray:
    """cost[i, j] = II of the stage of layers [i, j); inf where j <= i."""
    n = len(layers)
    times = np.array([[l.t_in, l.t_compute, l.t_out] for l in layers], dtype=float).reshape(n, 3)
    cost = np.full((n + 1, n + 1), np.inf)
    for i in range(n):
        cost[i, i + 1:] = np.cumsum(times[i:], axis=0).max(axis=1)
    return cost


def _memory_matrix(layers: tuple[Layer, ...], in_flight: int) -> np.ndarray:
    n = len(layers)
    weights = np.array([l.weight_bytes for l in layers], dtype=np.int64)
    work = np.array([l.read_bytes + l.write_bytes for l in layers], dtype=np.int64)
    mem = np.zeros((n + 1, n + 1), dtype=np.int64)
    for i in range(n):
        mem[i, i + 1:] = np.cumsum(weights[i:]) + in_flight * np.maximum.accumulate(work[i:])
    return mem


def _infeasible(pipe: Pipeline, stages: int, capacity: int, in_flight: int) -> str:
    worst = max(range(len(pipe.layers)), key=lambda i: stage_memory(pipe.layers, i, i + 1, in_flight))
    need = stage_memory(pipe.layers, worst, worst + 1, in_flight)
    if need > capacity:
        return (f"layer {pipe.layers[worst].name!r} alone needs {need:,} bytes (weights + {in_flight} batches "
                f"in flight), more than --stage-memory {capacity:,}")
    return f"no split into {stages} stages fits --stage-memory {capacity:,} bytes per stage; try more stages"


def merge_stages(pipe: Pipeline, partition: Partition) -> Pipeline:
    """A pipeline whose layers are the stages: times and bytes add up."""
    stage_of = stage_index(partition)
    read_by: dict[str, set[int]] = {}
    for i, l in enumerate(pipe.layers):
        for t in l.inputs:
            read_by.setdefault(t, set()).add(stage_of[i])
    stages = []
    for k, (a, b) in enumerate(partition.bounds):
        part = pipe.layers[a:b]
        made = {t for l in part for t in l.outputs}
        main = max(part, key=lambda l: l.interval)
        stages.append(Layer(
            name=part[0].name if len(part) == 1 else f"{part[0].name}..{part[-1].name}", kind=main.kind,
            ops=tuple(o for l in part for o in l.ops),
            preds=tuple(sorted({stage_of[p] for l in part for p in l.preds} - {k})),
            inputs=tuple(dict.fromkeys(t for l in part for t in l.inputs if t not in made)),
            outputs=tuple(t for l in part for t in l.outputs if read_by.get(t, set()) - {k} or t in pipe.outputs),
            macs=sum(l.macs for l in part), read_bytes=sum(l.read_bytes for l in part),
            weight_bytes=sum(l.weight_bytes for l in part), write_bytes=sum(l.write_bytes for l in part),
            t_in=sum(l.t_in for l in part), t_compute=sum(l.t_compute for l in part),
            t_out=sum(l.t_out for l in part)))
    return Pipeline(pipe.name, tuple(stages), pipe.tensor_bytes, pipe.inputs, pipe.outputs, pipe.device)


def stage_index(partition: Partition) -> dict[int, int]:
    """Layer index -> stage index."""
    return {i: k for k, (a, b) in enumerate(partition.bounds) for i in range(a, b)}


def expand(stage_timeline: Timeline, pipe: Pipeline, partition: Partition) -> Timeline:
    """The layer-level timeline inside simulated stages: a stage runs its layers one after
    another, each in -> compute -> out, so layer l starts at its stage's start plus the
    latencies of the stage's layers before it. The memory plan of a stage pipeline uses it,
    so tensors passed inside a stage live only as long as they must."""
    offsets = np.zeros(len(pipe.layers))
    for a, b in partition.bounds:
        offsets[a:b] = np.cumsum([0.0] + [l.latency for l in pipe.layers[a:b - 1]])
    rows = [stage_timeline.start[k] for k in (stage_index(partition)[i] for i in range(len(pipe.layers)))]
    return Timeline(pipe, np.array(rows) + offsets[:, None], stage_timeline.depth, stage_timeline.pace)
