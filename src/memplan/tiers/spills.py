"""Which buffers leave a tier that is too small: the least bytes moved (or seconds) whose
arena the real allocator fits.

Spill selection (per tier, fastest first). Let ``x_i = 1`` when buffer ``i`` leaves the tier.
The real constraint is that the allocator's arena height for the kept buffers plus the fixed
blocks (stream buffers or the resident blob) fits the capacity; height >= the live bytes at
every step, so we solve the relaxation

    min  sum_i cost_i x_i   s.t.  sum_{i live at t} size_i (1 - x_i) + fixed_t <= capacity  (all t)

(a multi-dimensional knapsack) and then run the allocator on the kept set. If its height is
over the capacity, the kept set K is cut off (``sum_{i in K} x_i >= 1``: any superset of K
cannot fit either) and the relaxation is solved again. ``exact`` solves the relaxation with
OR-tools CP-SAT, so the result is minimal whenever the allocator packs every kept set it is
given as tightly as its live bytes (small cases are checked against brute force in the
tests). ``greedy`` (for large graphs, O(rounds * n * steps)) spills, while some step is over
the capacity, the buffer with the least cost per byte of overload it removes, then returns
spilled buffers that turn out unnecessary, most expensive first; if the allocator's height is
still over, the capacity it aims at shrinks by the excess and it runs again.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence


from .. import alloc
from ..errors import PlanError
from ..problem import Block, Problem
from ..alloc.cpsat import lazy_cuts, solve_cp

METHODS = ("auto", "exact", "greedy")
EXACT_LIMIT = 1500  # spillable buffers above which "auto" uses the greedy
SEARCH_ALLOC_SECONDS = 1.0  # per allocator run inside a search, for allocators with a time limit


@dataclass(frozen=True)
class SpillResult:
    spilled: frozenset[int]  # indices into the spillable list
    offsets: tuple[int, ...]  # of kept + fixed blocks, in that order (kept in index order)
    height: int
    bound: int
    method: str
    status: str  # "optimal" | "feasible" | "infeasible"
    rounds: int


def choose_spills(spillable: Sequence[Block], fixed: Sequence[Block], costs: Sequence[int], capacity: int, *,
                  algorithm: str = "greedy_by_size", method: str = "auto", time_limit: float = 10.0,
                  max_rounds: int = 30) -> SpillResult:
    """Which of ``spillable`` to move out so that the allocator's arena of the rest plus
    ``fixed`` fits ``capacity``, at the least total ``costs``. Pure; see the module docstring."""
    if method not in METHODS:
        raise PlanError(f"unknown spill method {method!r}; choose one of: {', '.join(METHODS)}")
    search = _Search(tuple(spillable), tuple(fixed), tuple(int(c) for c in costs), capacity, algorithm)
    kept_all = search.evaluate(frozenset())
    if kept_all[1] <= capacity:
        return SpillResult(frozenset(), *kept_all, "none", "optimal", 0)
    everything = frozenset(range(len(spillable)))
    floor = search.evaluate(everything)
    if floor[1] > capacity:  # even with everything spilled
        return SpillResult(everything, *floor, "none", "infeasible", 0)
    if method == "auto":
        method = "exact" if len(spillable) <= EXACT_LIMIT else "greedy"
    if method == "exact":
        return _exact(search, time_limit, max_rounds)
    return _greedy(search)


class _Search:
    """The allocator runs of one spill search, with the best feasible set found so far."""

    def __init__(self, spillable, fixed, costs, capacity, algorithm):
        self.spillable, self.fixed, self.costs = spillable, fixed, costs
        self.capacity, self.algorithm = capacity, algorithm
        self.spans, self.fixed_live, self.members = _live_sets(spillable, fixed)
        self.sizes = [b.size for b in spillable]
        self.best: tuple[int, frozenset[int], tuple] | None = None  # (cost, spilled, evaluation)
        self.runs = 0

    def cost(self, spilled) -> int:
        return sum(self.costs[i] for i in spilled)

    def evaluate(self, spilled: frozenset[int]) -> tuple[tuple[int, ...], int, int]:
        """(offsets of kept + fixed, height, bound) from the allocator; remembers the best fit."""
        self.runs += 1
        result = pack_kept(self.spillable, self.fixed, spilled, self.algorithm)
        if result[1] <= self.capacity:
            c = self.cost(spilled)
            if self.best is None or (c, len(spilled)) < (self.best[0], len(self.best[1])):
                self.best = (c, spilled, result)
        return result

    def repair(self, spilled: frozenset[int]) -> frozenset[int]:
        """Spill what sticks out above the capacity in the allocator's layout until it fits
        (monotone: the spilled set only grows)."""
        while True:
            offsets, height, _ = self.evaluate(spilled)
            if height <= self.capacity:
                return spilled
            kept = [i for i in range(len(self.spillable)) if i not in spilled]
            out = {i for i, o in zip(kept, offsets) if o + self.sizes[i] > self.capacity}
            if not out:  # only fixed blocks stick out: drop the highest kept block
                out = {max(zip(kept, offsets), key=lambda p: (p[1] + self.sizes[p[0]], p[0]))[0]}
            spilled = spilled | out

    def result(self, method: str, status: str, rounds: int) -> SpillResult:
        _, spilled, (offsets, height, bound) = self.best
        return SpillResult(spilled, offsets, height, bound, method, status, rounds)


def pack_kept(spillable, fixed, spilled: frozenset[int], algorithm: str) -> tuple[tuple[int, ...], int, int]:
    blocks = tuple(b for i, b in enumerate(spillable) if i not in spilled) + tuple(fixed)
    if not blocks:
        return (), 0, 0
    problem = Problem(blocks)
    solution = alloc.solve(problem, algorithm, time_limit=SEARCH_ALLOC_SECONDS)
    return solution.offsets, solution.height(problem), solution.bound


def _steps(spillable, fixed):
    """Compressed time: the distinct interval starts; per block the range of step indices."""
    import bisect

    points = sorted({b.lower for b in (*spillable, *fixed) if b.timed and b.upper > b.lower})

    def span(b):
        if not b.timed or b.upper <= b.lower:
            return range(0)
        return range(bisect.bisect_left(points, b.lower), bisect.bisect_left(points, b.upper))

    return len(points), [span(b) for b in spillable], [span(b) for b in fixed]


def _live_sets(spillable, fixed):
    import numpy as np

    n_steps, spans, fixed_spans = _steps(spillable, fixed)
    fixed_live = np.zeros(n_steps, dtype=np.int64)
    for b, s in zip(fixed, fixed_spans):
        fixed_live[s.start:s.stop] += b.size
    members: list[list[int]] = [[] for _ in range(n_steps)]
    for i, s in enumerate(spans):
        for t in s:
            members[t].append(i)
    return spans, fixed_live, members


def _exact(search: _Search, time_limit: float, max_rounds: int) -> SpillResult:
    """CP-SAT on the live-bytes relaxation; each answer the allocator cannot pack is repaired
    (an upper bound) and cut off; after a few cuts the relaxation's capacity shrinks by the
    excess instead (faster, no longer a proof). Stops when the relaxation cannot beat the best."""
    from ortools.sat.python import cp_model

    cap, n = search.capacity, len(search.spillable)
    deadline = time.perf_counter() + time_limit
    rows, seen = [], set()
    for t, m in enumerate(search.members):
        key = (int(search.fixed_live[t]), *m)
        if key not in seen:
            seen.add(key)
            rows.append((m, int(search.fixed_live[t]), sum(search.sizes[i] for i in m)))

    def solve(target, cuts):
        model = cp_model.CpModel()
        x = [model.NewBoolVar(f"x{i}") for i in range(n)]
        for m, fixed, total in rows:
            if total + fixed > target:
                model.Add(sum(search.sizes[i] * (1 - x[i]) for i in m) <= target - fixed)
        for kept in cuts:
            model.AddBoolOr([x[i] for i in kept])
        objective = sum(c * v for c, v in zip(search.costs, x))
        if search.best is not None:
            model.Add(objective < search.best[0])
            for i in range(n):
                model.AddHint(x[i], i in search.best[1])
        model.Minimize(objective)
        solver, status = solve_cp(model, deadline)
        if status not in ("optimal", "feasible"):
            return status, None
        return status, frozenset(i for i in range(n) if solver.Value(x[i]))

    def pack(spilled):
        _, height, _ = search.evaluate(spilled)
        if height > cap:
            search.repair(spilled)
        return height, [i for i in range(n) if i not in spilled]

    proven, rounds = lazy_cuts(solve, pack, cap, deadline, max_rounds)
    if search.best is None:
        search.repair(frozenset())
    return search.result("exact", "optimal" if proven else "feasible", rounds)


def _greedy(search: _Search) -> SpillResult:
    """Spill by least cost per byte of overload removed until every step fits, repair what the
    allocator cannot pack, then give back spilled buffers that are not needed."""
    import numpy as np

    cap = search.capacity
    sizes = np.array(search.sizes, dtype=np.int64)
    spans, members = search.spans, search.members
    live = search.fixed_live.copy()
    for i, s in enumerate(spans):
        live[s.start:s.stop] += sizes[i]
    spilled: set[int] = set()
    while True:
        excess = live - cap
        t = int(excess.argmax())
        if excess[t] <= 0:
            break
        over = excess.clip(min=0)
        best, best_score = None, None
        for i in members[t]:
            if i in spilled:
                continue
            gain = int(np.minimum(over[spans[i].start:spans[i].stop], sizes[i]).sum())
            score = (search.costs[i] / gain, -int(sizes[i]), i)
            if best_score is None or score < best_score:
                best, best_score = i, score
        if best is None:
            break
        spilled.add(best)
        live[spans[best].start:spans[best].stop] -= sizes[best]
    repaired = search.repair(frozenset(spilled))
    # give back, most expensive first, what the live bytes allow; keep it if the allocator agrees
    live = search.fixed_live.copy()
    for i, s in enumerate(spans):
        if i not in repaired:
            live[s.start:s.stop] += sizes[i]
    back = set(repaired)
    for i in sorted(repaired, key=lambda i: (-search.costs[i], i)):
        s = spans[i]
        if (live[s.start:s.stop] + sizes[i] <= cap).all():
            back.discard(i)
            live[s.start:s.stop] += sizes[i]
    if back != repaired:
        search.evaluate(frozenset(back))
    return search.result("greedy", "feasible", 1)
