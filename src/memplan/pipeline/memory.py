"""The memory a pipeline really needs: with several batches in flight, activations of
different batches are live at once. Every arena tensor of every simulated batch becomes one
block of the allocation problem:

- a layer's output: from the start of its producer's out stage to the end of the in stage of
  its last reader (a graph output with no reader: to the end of the out stage — the host
  takes it then);
- a graph input: from the start of the first in stage that reads it to the end of the last.

For a pipeline of stages (``pipeline_balance``) the plan uses the layer-level timeline inside
the stages (``pipeline_balance.expand``).

Tensors inside a fused layer (conv -> BN -> relu) stay in the processing element and are not
in the arena. Times are rounded to picoseconds and replaced by their rank among all event
times, so the steps of the `Problem` are event indices and lifetimes are half-open: a tensor
whose last read ends exactly when another's write begins may share its bytes. The blocks go
to ``alloc.solve``, which validates every plan; the arena is the solution's height and the
lower bound the largest total of bytes live at one event.

**Depth table.** For D = 1, 2, … batches in flight, the pipeline is fed at II* with at most
D batches admitted, so (see ``pipeline``) II = max(II*, L / D) and every batch takes L.
4D + 4 batches are simulated: the schedule repeats with period D after the first D, so the
peak of the steady state is reached well inside. D = 1 is plain layer-by-layer execution of
one batch; beyond ``full_rate_depth`` more depth buys no throughput, only memory.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .. import alloc
from ..errors import InputError
from .simulate import Pipeline, Timeline, full_rate_depth, simulate, stats
from .balance import Partition, expand, merge_stages
from ..problem import Block, Problem, Solution

# XLA's best fit: on these long, periodic instances TVM's greedy_by_size (which never fills a
# gap below a placed block) needs up to 2.6x the lower bound; best fit stays within 7%.
ALGORITHM = "best_fit"


@dataclass(frozen=True)
class Span:
    """Tensor ``tensor`` of batch ``batch`` is in the arena on [lower, upper) seconds."""

    tensor: str
    batch: int
    size: int
    lower: float
    upper: float


def tensor_spans(tl: Timeline) -> list[Span]:
    """Every arena tensor of every batch with its lifetime (module doc)."""
    pipe = tl.pipe
    start, in_end, out_start, end = tl.start, tl.in_end, tl.out_start, tl.end
    readers: dict[str, list[int]] = {}
    for i, l in enumerate(pipe.layers):
        for t in l.inputs:
            readers.setdefault(t, []).append(i)
    lives: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for t in pipe.inputs:
        if t in readers:
            r = readers[t]
            lives[t] = (start[r].min(axis=0), in_end[r].max(axis=0))
    for i, l in enumerate(pipe.layers):
        for t in l.outputs:
            r = readers.get(t, [])
            ends = [in_end[r].max(axis=0)] if r else []
            if t in pipe.outputs or not r:
                ends.append(end[i])
            lives[t] = (out_start[i], np.maximum.reduce(ends))
    return [Span(t, b, pipe.tensor_bytes[t], float(lo[b]), float(hi[b]))
            for t, (lo, hi) in lives.items() for b in range(tl.batches)]


def memory_problem(tl: Timeline, *, alignment: int = 16) -> Problem:
    """The spans as an allocation problem whose steps are event indices."""
    spans = tensor_spans(tl)
    lo = np.round(np.array([s.lower for s in spans]) * 1e12).astype(np.int64)
    hi = np.round(np.array([s.upper for s in spans]) * 1e12).astype(np.int64)
    events = np.unique(np.concatenate([lo, hi]))
    lo_step, hi_step = np.searchsorted(events, lo), np.searchsorted(events, hi)
    hi_step = np.maximum(hi_step, lo_step + 1)
    return Problem(tuple(Block(f"{s.tensor}#{s.batch}", s.size, int(a), int(b), alignment)
                         for s, a, b in zip(spans, lo_step, hi_step)))


@dataclass(frozen=True)
class PipelineMemory:
    problem: Problem
    solution: Solution

    @property
    def arena_bytes(self) -> int:
        return self.solution.height(self.problem)

    @property
    def lower_bound(self) -> int:
        return self.solution.bound


def plan_memory(tl: Timeline, *, algorithm: str = ALGORITHM, alignment: int = 16,
                **options) -> PipelineMemory:
    """Offsets for every span of ``tl`` by ``algorithm``, validated by ``alloc.solve``."""
    problem = memory_problem(tl, alignment=alignment)
    return PipelineMemory(problem, alloc.solve(problem, algorithm, **options))


@dataclass(frozen=True)
class DepthRow:
    depth: int
    batches: int
    interval: float
    throughput: float
    latency: float
    arena_bytes: int
    lower_bound: int
    blocks: int
    seconds: float  # simulate + plan


def depth_table(pipe: Pipeline, depths, *, partition: Partition | None = None, algorithm: str = ALGORITHM,
                alignment: int = 16, **options) -> list[DepthRow]:
    """Throughput, latency and arena at each depth (batches in flight), for the layers of
    ``pipe`` or, with ``partition``, for its stages."""
    staged = merge_stages(pipe, partition) if partition else pipe
    rows = []
    for depth in depths:
        begin = time.perf_counter()
        tl = simulate(staged, 4 * depth + 4, depth=depth)
        st = stats(tl)
        inner = expand(tl, pipe, partition) if partition else tl
        mem = plan_memory(inner, algorithm=algorithm, alignment=alignment, **options)
        rows.append(DepthRow(depth, tl.batches, st.interval, st.throughput, st.steady_latency,
                             mem.arena_bytes, mem.lower_bound, len(mem.problem), time.perf_counter() - begin))
    return rows


def parse_depths(text: str, pipe: Pipeline) -> list[int]:
    """``1..8``, ``1,2,4``, ``auto`` (= ``full_rate_depth``), combinations like ``1..8,auto``;
    ``none`` for no table. Sorted, without repeats."""
    depths: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if part in ("none", ""):
            continue
        if part == "auto":
            depths.add(full_rate_depth(pipe))
            continue
        lo, sep, hi = part.partition("..")
        try:
            first, last = int(lo), int(hi if sep else lo)
        except ValueError:
            raise InputError(f"--depths {text!r}: write e.g. 1..8, 1,2,4, auto or none") from None
        if first < 1 or last < first or last > 256:
            raise InputError(f"--depths {text!r}: depths must be 1..256, low to high")
        depths.update(range(first, last + 1))
    return sorted(depths)
