"""Greedy allocators: each is a sort order (a key) plus a placement rule (a gap choice).

Blocks are placed one at a time in the order; a rule looks only at the already placed
blocks that conflict with the new one, in the same pool, and picks an offset. The orders
live in ``greedy_orders``, the rules in ``greedy_rules``; this module places and names them:

=====================  ===============================  ====================================
algorithm              order (first placed first)       rule
=====================  ===============================  ====================================
greedy_by_size         size, conflicts, id (all desc)   ``stack``: above every placed conflict
greedy_by_conflicts    conflicts, size, id (all desc)   ``stack``
tflm_greedy            size desc, then higher index     ``first_fit``: lowest gap that fits
best_fit               size desc, duration desc, index  ``best_fit``: smallest gap that fits
                       (``order="temporal"``: duration
                       desc, size desc, index)
=====================  ===============================  ====================================

Where each follows its original:

- TVM USMP, ``src/tir/usmp/algo/greedy.cc`` (apache/tvm, the version that knows workspace and
  constant pools; unchanged in this respect up to the removal of USMP after v0.19):
  ``GreedySize`` / ``GreedyConflicts`` sort with ``std::sort`` on (size, ``conflicts.size()``,
  ``name_hint`` with ``>``), so ties fall to the *larger* name. ``PostSortAllocation`` puts a
  buffer at the largest end of its placed conflicts, each end rounded up to *that conflict's*
  alignment: it never uses a gap below a placed conflict (no "leading gap"; TVM's own tests
  rely on it: mobilenet's slow pool is 1418528 bytes with greedy_by_size, 1117462 with
  hill_climb, whose private greedy does use gaps). Pools: a buffer goes to its first
  candidate pool whose limit it fits under (``SelectPlacementPool``), else TVM's error.
  Byte-exact wherever TVM's plan is valid; where TVM would emit a misaligned or overlapping
  plan (mixed alignments, a pool re-admitted by ``operator[]``, asymmetric lists) the block
  is placed validly instead and the Solution carries a one-line note (``tvm_literal``).
- TFLite Micro, ``tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc``: buffers
  enter the sort array from the tail (so in reverse index order) and a stable sort by size
  descending follows, hence ties go to the *higher* index. Each buffer scans the placed,
  simultaneously live buffers in offset order and takes the first gap at least its size
  (a buffer that fits below the first placed one goes there). TFLM has no per-buffer
  alignment; here a candidate offset is rounded up to the block's alignment.
- XLA, ``GlobalDecreasingSizeBestFitHeap`` in ``xla/service/heap_simulator``:
  spatial order (size desc, duration desc, buffer asc) or temporal (duration desc, size desc,
  buffer asc); ``FindChunkCandidate`` walks the overlapping chunks by offset and keeps the
  *smallest* free gap that fits (the lowest on ties), counting the free space between the
  last overlapping chunk and the current heap top; if none fits, the buffer goes on top and
  the heap grows. Zero-size buffers sit at offset 0.

Conflicts are ``Problem.pair_conflicts`` (overlapping lifetimes, or either side's list);
TVM's literal rule reads ``Problem.own_conflicts`` as TVM would. ``conflicts.size()`` in
the TVM sort keys counts the list as TVM would see it, self-mentions and repeats included.

Complexity: with conflict lists, O(n log n + pairs log). For problems with lifetimes only
(no lists, no pools) the pair lists are never built: ``stack`` keeps the highest end per
time step (a range max and a range raise per block, O(span) for short lifetimes and
O(span / 32) chunks for long ones,
sqrt-decomposed over chunks of steps); the gap rules find the placed blocks live in the same window through time
buckets (O(n * live) on realistic inputs). None is optimal: a greedy never revisits a
choice, and a large early block can strand space that only a reordering would recover
(see ``hill_climb``).

Capacity: without declared pools ``problem.capacity`` is the caller's target, not a
placement constraint (the plans are the same either way for these rules); the caller
compares the height. Declared pool limits are constraints, as in TVM.

Example (sizes 10/20/30/40/50 on [0,2) [1,3) [2,4) [3,5) [0,2), TFLM's "medium" test)::

    time  0    1    2    3    4
    off 0 [e50 ][e50 ][d40 ][d40 ]      tflm_greedy: e=0, d=0, c=40, b=70, a=50
        40          [c30 ][c30 ]        height 90
        50 [a10 ][a10 ]
        70      [b20 ][b20 ]
"""
from __future__ import annotations

import numpy as np

from ..errors import PlanError
from ..problem import Problem, Solution
from ..units import align_up
from .greedy_orders import (_compressed_times, _timed_only, conflict_counts, spatial_order,  # noqa: F401
                            temporal_order, tflm_order, tvm_conflicts_order, tvm_lists, tvm_size_order)
from .greedy_rules import (Rule, _State, best_fit_offset, first_fit_offset, stack_offset,  # noqa: F401
                           tvm_gap_offset)
from .tvm_literal import Departures, check_literal, note, stack_literal

# ---------------------------------------------------------------- the placement loop


def place(problem: Problem, order: list[int], rule: Rule, *, tvm: str | None = None) -> Solution:
    """Place blocks in ``order`` with ``rule``; each block takes its first candidate pool
    where the rule finds room (TVM's SelectPlacementPool), else PlanError. ``tvm`` (the
    algorithm's name) follows TVM's literal rule wherever its choice is valid and notes
    each departure (``tvm_literal``); only for the ``stack`` rule."""
    departures = Departures(tvm) if tvm else None
    if _timed_only(problem):
        if rule is stack_offset:
            s = _place_stack_timed(problem, order, departures)
        else:
            s = _place_timed(problem, order, rule)
    else:
        s = _place_lists(problem, order, rule, departures)
    names = tuple(problem.pools[p][0] for p in s.pool) if problem.pools else ()
    return Solution(tuple(s.offset), "", pools=names, notes=departures.result() if departures else ())


def pool_candidates(problem: Problem) -> tuple[list[list[int]], list[int | None]]:
    """Candidate pool indices per block and the limit of each pool. Without declared
    pools: one unbounded pool (the capacity is checked by the caller)."""
    if not problem.pools:
        return [[0]] * len(problem.blocks), [None]
    index = {name: k for k, (name, _) in enumerate(problem.pools)}
    every = list(range(len(problem.pools)))
    cands = [[index[p] for p in b.pools] if b.pools else every for b in problem.blocks]
    return cands, [limit for _, limit in problem.pools]


def no_room(problem: Problem, i: int) -> PlanError:
    b = problem.blocks[i]
    pools = list(b.pools) or [name for name, _ in problem.pools] or ["the arena"]
    return PlanError(f"block {b.id!r} ({b.size} bytes) fits in none of its pools {pools}: "
                     f"the space available is exceeded; raise the pool limits")


def _place_lists(problem: Problem, order: list[int], rule: Rule, departures: Departures | None = None) -> _State:
    s = _State(problem)
    pair = problem.pair_conflicts()
    cands, limits = pool_candidates(problem)
    tops = [0] * len(limits)
    if departures is not None:
        lists, own = tvm_lists(problem), [set(o) for o in problem.own_conflicts()]
    for i in order:
        literal = reason = None
        if departures is not None:
            literal = stack_literal(s, i, lists[i], cands[i], limits)
            reason = check_literal(problem, s, i, literal, own[i], pair[i], readmits=True)
        if literal is not None and reason is None:
            p, off = literal
        else:
            chosen = _rule_choice(s, i, rule, pair[i], cands[i], limits, tops)
            if chosen is None:
                raise no_room(problem, i)
            p, off = chosen
            if reason is not None:
                departures.add(note(problem, i, literal, chosen, reason))
        s.offset[i], s.pool[i] = off, p
        tops[p] = max(tops[p], off + s.size[i])
    return s


def _rule_choice(s: _State, i: int, rule: Rule, pair_i, cands_i, limits, tops) -> tuple[int, int] | None:
    """The first candidate pool where ``rule`` finds room among the placed conflicts."""
    for p in cands_i:
        off = rule(s, i, [j for j in pair_i if s.pool[j] == p], limits[p], tops[p])
        if off is not None:
            return p, off
    return None


def _place_stack_timed(problem: Problem, order: list[int], departures: Departures | None = None) -> _State:
    """``stack`` on lifetimes: the highest aligned end over the placed blocks live at each
    compressed step (``_StepMax``); a block goes at the max over its steps, rounded up to
    its alignment (where TVM would not round, a departure is noted)."""
    s = _State(problem)
    lo, hi = _compressed_times(problem)
    steps = _StepMax(max(1, int(hi.max(initial=0))))
    size, align, offset = s.size, s.align, s.offset
    top, floor, chunk_max, c = steps.top, steps.floor, steps.chunk_max, steps.CHUNK
    for i, a, b in zip(order, lo[order].tolist(), hi[order].tolist()):
        if a == b:
            offset[i] = 0
            continue
        k, chunk = align[i], a // c
        if chunk == (b - 1) // c:  # inside one chunk: the common, short case, inlined
            seg = top[a:b]
            low = max(max(seg), floor[chunk])
            off = align_up(low, k)
            v = align_up(off + size[i], k)
            top[a:b] = [v if t < v else t for t in seg]
            if chunk_max[chunk] < v:
                chunk_max[chunk] = v
        else:
            low = steps.highest(a, b)
            off = align_up(low, k)
            steps.raise_to(a, b, align_up(off + size[i], k))
        if off != low and departures is not None:
            departures.add(note(problem, i, (0, low), (0, off), f"not a multiple of its alignment {k}"))
        offset[i] = off
    s.pool = [0] * len(offset)
    return s


class _StepMax:
    """Range max / range chmax over steps in plain lists: chunks of ``CHUNK`` steps keep
    their max and a pending floor, so a short lifetime costs its length and a long one
    its number of chunks (sqrt decomposition; faster than numpy calls for short ranges)."""

    CHUNK = 32

    def __init__(self, n: int):
        chunks = n // self.CHUNK + 1
        self.top, self.chunk_max, self.floor = [0] * n, [0] * chunks, [0] * chunks

    def highest(self, a: int, b: int) -> int:
        c, top = self.CHUNK, self.top
        ca, cb = a // c, (b - 1) // c
        if ca == cb:
            return max(max(top[a:b]), self.floor[ca])
        best = max(max(top[a:(ca + 1) * c]), self.floor[ca], max(top[cb * c:b]), self.floor[cb])
        if cb > ca + 1:
            best = max(best, max(self.chunk_max[ca + 1:cb]))
        return best

    def raise_to(self, a: int, b: int, v: int) -> None:
        c = self.CHUNK
        ca, cb = a // c, (b - 1) // c
        if ca == cb:
            self._raise_part(a, b, ca, v)
            return
        self._raise_part(a, (ca + 1) * c, ca, v)
        self._raise_part(cb * c, b, cb, v)
        floor, chunk_max = self.floor, self.chunk_max
        for k in range(ca + 1, cb):
            if floor[k] < v:
                floor[k] = v
                if chunk_max[k] < v:
                    chunk_max[k] = v

    def _raise_part(self, a: int, b: int, chunk: int, v: int) -> None:
        top = self.top
        top[a:b] = [v if t < v else t for t in top[a:b]]
        if self.chunk_max[chunk] < v:
            self.chunk_max[chunk] = v



def _place_timed(problem: Problem, order: list[int], rule: Rule) -> _State:
    """Gap rules on lifetimes: the placed blocks live in a window come from time buckets."""
    s = _State(problem)
    lo, hi = _compressed_times(problem)
    index = _TimeBuckets(lo, hi)
    top = 0
    for i in order:
        off = rule(s, i, index.overlapping(i), None, top)
        s.offset[i], s.pool[i] = off, 0
        top = max(top, off + s.size[i])
        index.add(i)
    return s


class _TimeBuckets:
    """Placed blocks by time bucket; blocks spanning many buckets are kept apart in one
    list checked on every query. Queries return each overlapping placed block once."""

    SPREAD = 16  # a block touching more buckets than this is "long"
    WIDTH = 8  # bucket width, in median lifetimes

    def __init__(self, lo: np.ndarray, hi: np.ndarray):
        spans = (hi - lo)[hi > lo]
        self.width = max(1, self.WIDTH * int(np.median(spans)) if spans.size else 1)
        self.lo, self.hi = lo.tolist(), hi.tolist()
        self.first = (lo // self.width).tolist()
        self.last = (np.maximum(hi - 1, lo) // self.width).tolist()
        self.buckets: list[list[int]] = [[] for _ in range(max(self.last, default=0) + 1)]
        self.long: list[int] = []
        self.placed: list[int] = []

    def add(self, j: int) -> None:
        self.placed.append(j)
        if self.lo[j] == self.hi[j]:
            return
        if self.last[j] - self.first[j] >= self.SPREAD:
            self.long.append(j)
        else:
            for b in range(self.first[j], self.last[j] + 1):
                self.buckets[b].append(j)

    def overlapping(self, i: int) -> list[int]:
        a, b, lo, hi = self.first[i], self.last[i], self.lo, self.hi
        lo_i, hi_i = lo[i], hi[i]
        if lo_i == hi_i:
            return []
        if b - a >= self.SPREAD:
            pool = self.placed
        elif a == b:
            pool = self.long + self.buckets[a]
        else:
            pool = self.long + list(dict.fromkeys(j for k in range(a, b + 1) for j in self.buckets[k]))
        return [j for j in pool if lo[j] < hi_i and hi[j] > lo_i]


# ---------------------------------------------------------------- the algorithms


def _run(problem: Problem, name: str, order: list[int], rule: Rule, *, tvm: bool = False) -> Solution:
    solution = place(problem, order, rule, tvm=name if tvm else None)
    return Solution(solution.offsets, name, pools=solution.pools, notes=solution.notes)


def greedy_by_size(problem: Problem, *, seed: int = 0) -> Solution:
    """TVM USMP greedy_by_size (deterministic; ``seed`` is accepted and ignored)."""
    return _run(problem, "greedy_by_size", tvm_size_order(problem), stack_offset, tvm=True)


def greedy_by_conflicts(problem: Problem, *, seed: int = 0) -> Solution:
    """TVM USMP greedy_by_conflicts (deterministic; ``seed`` is ignored)."""
    return _run(problem, "greedy_by_conflicts", tvm_conflicts_order(problem), stack_offset, tvm=True)


def tflm_greedy(problem: Problem, *, seed: int = 0) -> Solution:
    """TFLite Micro's GreedyMemoryPlanner (deterministic; ``seed`` is ignored)."""
    return _run(problem, "tflm_greedy", tflm_order(problem), first_fit_offset)


def best_fit(problem: Problem, *, seed: int = 0, order: str = "spatial") -> Solution:
    """XLA's GlobalDecreasingSizeBestFitHeap; ``order`` is "spatial" (XLA's default) or
    "temporal" (deterministic; ``seed`` is ignored)."""
    orders = {"spatial": spatial_order, "temporal": temporal_order}
    if order not in orders:
        raise PlanError(f"best_fit order {order!r}: choose 'spatial' or 'temporal'")
    return _run(problem, "best_fit", orders[order](problem), best_fit_offset)
