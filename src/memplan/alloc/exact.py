"""`exact`: the smallest arena, with a proof, or the best plan and its gap at the time limit.

Decision mode (a ``capacity`` is given, or ``problem.capacity``): find any plan whose blocks
all end at or below the capacity, or prove that none exists. Minimisation mode (no
capacity): a heuristic plan gives an upper bound, the live-bytes / clique bound a lower
one, and decision searches close the gap: first at the lower bound (usually the optimum),
then by bisection. Each probe that fits lowers the best height, each proof of
infeasibility raises the bound; at the time limit the result is ``"timeout"`` with the best
plan and ``bound`` (gap = height - bound).

Each decision search is MiniMalloc's canonical-solution search (see ``exact_search`` for the
method and its pruning rules), run like MiniMalloc's round robin: a node limit that doubles
each round, shared by three static orders of the blocks (width/area/section total in
different priority), so a lucky order finishes early and no order starves. A proof of
infeasibility from any order is final, as every order searches all canonical plans.
When every section's blocks add up to exactly the capacity (an exact fit: no byte may
stay empty), three point-mode searches join the rotation: they branch on which block
covers the lowest free point (``exact_search``); they are complete too.

Why this and not CP-SAT ``NoOverlap2D``: the geometric model does not know that a plan can
be pushed down; the canonical search never looks at a non-canonical offset and its section
inference is exact bookkeeping, which solved every MiniMalloc instance where CP-SAT solved
one in four (measured in this project). Why numba: a node is a few hundred array
operations; interpreted Python does about 100 times fewer nodes per second. numba is an
optional fast path: the kernel is the same Python code without it.

Conflict lists (no time axis): when the conflict graph is an interval graph (recognised by
LexBFS, ``conflict_graph.interval_order``; every list that liveness over one schedule
produces is one) the blocks get equivalent lifetimes and the search runs with time
sections and decomposition. Otherwise the same search runs on the graph itself: the
sections are cliques grown greedily from every block (any clique gives a valid inference)
and temporal decomposition is off.

Pools: see ``exact_pools`` (independent pools by this search, a joint pool choice by CP-SAT).

Example::

    >>> from memplan.problem import Block, Problem
    >>> p = Problem((Block("a", 4, 0, 3), Block("b", 4, 3, 9), Block("c", 4, 0, 9)))
    >>> exact(p).status, exact(p).bound
    ('optimal', 8)
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, fields

import numpy as np

from ..errors import PlanError
from ..problem import Block, Problem, Solution
from .bounds import lower_bound
from ..units import align_up
from .conflict_graph import interval_order, intervals
from .exact_instance import _Instance, _instance, _ranks


class _LazyKernel:
    """``exact_search`` (numba and the compiled kernel) imported on first use, so that
    importing memplan, or running any other algorithm, never loads it."""

    def __getattr__(self, name):
        from . import exact_search

        return getattr(exact_search, name)


ks = _LazyKernel()

# MiniMalloc's default static orders: W = lifetime width, A = area, T = largest section total.
PREORDERS = ("WAT", "TAW", "TWA")


@dataclass(frozen=True)
class Switches:
    """One boolean per search rule, all on by default (MiniMalloc's ``SolverParams``).
    Turning one off never changes an answer, only the work needed to reach it."""

    canonical: bool = True  # only canonical plans: (offset, rank) never decreases
    section_inference: bool = True  # prune when floor + unplaced sizes > capacity in a section
    dynamic_ordering: bool = True  # try blocks by minimum offset, then rank
    dominance: bool = True  # prune when an unplaced block fits below the next offset
    unallocated_floor: bool = True  # raise section floors to their lowest minimum offset
    monotonic_floor: bool = True  # the offset just used is a floor for every section
    decomposition: bool = True  # solve independent time pieces separately
    hatless_pruning: bool = True  # a failed block with no unplaced conflicts ends its node
    release_bound: bool = True  # per section, release-date bound on the unplaced blocks
    dynamic_preordering: bool = True  # sort each new time piece again by current totals
    round_robin: bool = True  # rotate three static orders under a doubling node limit
    canonical_floor: bool = True  # a full section needs a block that can still start at its floor
    twins: bool = True  # interchangeable blocks (same size and conflicts) go in index order
    point_branching: bool = True  # every section exactly full: branch on the lowest free point

    @classmethod
    def from_kwargs(cls, options: dict) -> "Switches":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise PlanError(f"unknown exact switch {unknown[0]!r}; choose from: {', '.join(sorted(names))}")
        return cls(**{k: bool(v) for k, v in options.items()})

    def kernel_flags(self) -> np.ndarray:
        return np.array([self.canonical, self.section_inference, self.dynamic_ordering, self.dominance,
                         self.unallocated_floor, self.monotonic_floor, self.decomposition,
                         # sound only with sorted candidates: see exact_search's docstring
                         self.hatless_pruning and self.dynamic_ordering, self.release_bound,
                         self.dynamic_preordering, self.canonical_floor and self.canonical, self.twins, False], np.int64)


class _Searcher:
    """One pausable decision search: one static order, one capacity, its own state."""

    def __init__(self, inst: _Instance, order: str, ranks: np.ndarray, flags: np.ndarray, capacity: int):
        n, S = inst.n, inst.n_sections
        cuts = np.zeros(max(S - 1, 0), np.int64)
        for lo, hi in zip(inst.blo.tolist(), inst.bhi.tolist()):
            cuts[lo:hi - 1] += 1
        trail = len(inst.adj_idx) + n + 1
        strail = len(inst.bsec_idx) + n * S + 1
        self.cnt = np.zeros(ks.N_COUNTERS, np.int64)
        self.cnt[ks.CAP] = capacity
        self.sol = np.full(n, -1, np.int64)
        self.m = (np.full(n, -1, np.int64), np.zeros(n, np.int64), np.zeros(S, np.int64), inst.section_totals(),
                  cuts, self.sol, np.zeros(trail, np.int64), np.zeros(trail, np.int64),
                  np.zeros(strail, np.int64), np.zeros(strail, np.int64), np.zeros(S, np.int64),
                  np.zeros(S + 1, np.int64), self.cnt, flags)
        depth = min(n, 64)
        self.st = (np.zeros((n + 1, max(n, 1)), np.int64), np.zeros((2 * n + 4, ks.N_FIELDS), np.int64),
                   np.zeros(n * (depth + 1), np.int64), np.zeros(4 * (S + 2) * (depth + 1), np.int64),
                   np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64), np.zeros(n * (depth + 1), np.int64))
        self.g = (inst.size, inst.align, ranks, inst.adj_ptr, inst.adj_idx, inst.bsec_ptr, inst.bsec_idx,
                  inst.sec_ptr, inst.sec_idx, inst.blo, inst.bhi, inst.width,
                  np.array(["WATZ".index(c) for c in order], np.int64), inst.twin)
        ks.start(self.g, self.m, self.st, np.argsort(ranks, kind="stable").astype(np.int64), S)
        self.ranks = ranks
        self.status = ks.PAUSED

    @property
    def nodes(self) -> int:
        return int(self.cnt[ks.NODES])

    @property
    def backtracks(self) -> int:
        return int(self.cnt[ks.BACKTRACKS])

    def advance(self, node_limit: int) -> int:
        """Search on until ``node_limit`` nodes in all (or the end); returns the status."""
        if self.status == ks.PAUSED:
            self.cnt[ks.LIMIT] = node_limit
            self.status = int(ks.resume(self.g, self.m, self.st))
        return self.status


class _Kernel:
    """The instance, its static orders and the switches; counts work over every search."""

    def __init__(self, inst: _Instance, switches: Switches, seed: int):
        self.inst = inst
        self.flags = switches.kernel_flags()
        self.orders = PREORDERS if switches.round_robin else PREORDERS[:1]
        self.ranks = [_ranks(inst, o, seed) for o in self.orders]
        self.totals = inst.section_totals()
        self.point_branching = switches.point_branching
        self.nodes = 0
        self.backtracks = 0

    def searchers(self, capacity: int) -> list[_Searcher]:
        out = [_Searcher(self.inst, o, r.copy(), self.flags, capacity) for o, r in zip(self.orders, self.ranks)]
        if self.point_branching and len(self.totals) and (self.totals == capacity).all():
            # Both searches are complete, so either may answer; neither wins everywhere.
            flags = point_flags(self.flags)
            out += [_Searcher(self.inst, o, r.copy(), flags, capacity) for o, r in zip(self.orders, self.ranks)]
        return out


def point_flags(flags: np.ndarray) -> np.ndarray:
    """The switches for point mode. When every section's blocks add up to exactly the
    capacity, no byte of any section may stay empty: the lowest free point (the section
    with the lowest floor) must be covered by a block that starts there, so the search
    branches only over those blocks (the bottom-left rule of perfect packing). Its plans
    are not built in canonical (offset, rank) order, so the rules that assume that order
    are off; offsets still never decrease, so the floors and section inference hold."""
    from . import exact_jit as kj  # loaded with the kernel, not on import

    out = flags.copy()
    for slot in (kj.CANONICAL, kj.DOMINANCE, kj.HATLESS_PRUNING, kj.CANONICAL_FLOOR):
        out[slot] = 0
    out[kj.POINT] = 1
    return out


@dataclass
class _Decision:
    status: str  # "feasible" | "infeasible" | "timeout"
    offsets: tuple[int, ...] | None = None


def _decide(problem: Problem, kernel: _Kernel, capacity: int, deadline: float, tick) -> _Decision:
    """Is there a plan of height <= capacity? MiniMalloc's round robin over the static
    orders with a node limit that doubles each round, except that a paused search resumes
    where it stopped instead of starting again. Work goes in slices of about 0.2 s (at the
    measured node rate) so the deadline and the progress line are kept."""
    inst = kernel.inst
    if any(b.size > capacity for b in problem.blocks) or kernel.totals.max(initial=0) > capacity:
        return _Decision("infeasible")
    if inst.n == 0:
        return _Decision("feasible", _full_offsets(problem, inst, np.zeros(0, np.int64)))
    searchers = kernel.searchers(capacity)
    limit, rate = max(inst.n, 64), 2000.0
    try:
        while True:
            limit *= 2
            for s in searchers:
                while s.status == ks.PAUSED and s.nodes < limit:
                    if time.perf_counter() >= deadline:
                        return _Decision("timeout")
                    started, before = time.perf_counter(), s.nodes
                    s.advance(min(limit, before + max(100, int(rate * 0.2))))
                    spent = time.perf_counter() - started
                    if spent > 0.01:
                        rate = (s.nodes - before) / spent
                    tick()
                if s.status == ks.FOUND:
                    return _Decision("feasible", _full_offsets(problem, inst, s.sol))
                if s.status == ks.NOT_FOUND:
                    return _Decision("infeasible")
    finally:
        kernel.nodes += sum(s.nodes for s in searchers)
        kernel.backtracks += sum(s.backtracks for s in searchers)


def _full_offsets(problem: Problem, inst: _Instance, sol: np.ndarray) -> tuple[int, ...]:
    offsets = [0] * len(problem.blocks)
    for k, i in enumerate(inst.keep.tolist()):
        offsets[i] = int(sol[k])
    return tuple(offsets)


def _height(problem: Problem, offsets) -> int:
    return max((o + b.size for o, b in zip(offsets, problem.blocks)), default=0)


def min_offset_greedy(problem: Problem) -> tuple[int, ...]:
    """The search's first dive without a capacity: repeatedly place the unplaced block with
    the lowest minimum offset (ties: larger area first) on top of its placed conflicts.
    O(n^2 + pairs); used as the starting upper bound."""
    conflicts = problem.pair_conflicts()
    n = len(problem.blocks)
    minoff = [0] * n
    offsets: list[int | None] = [None] * n
    area = [b.size * ((b.upper - b.lower) if b.timed else 1) for b in problem.blocks]
    for _ in range(n):
        i = min((k for k in range(n) if offsets[k] is None), key=lambda k: (minoff[k], -area[k], k))
        offsets[i] = minoff[i]
        end = minoff[i] + problem.blocks[i].size
        for j in conflicts[i]:
            if offsets[j] is None:
                minoff[j] = max(minoff[j], align_up(end, problem.blocks[j].alignment))
    return tuple(offsets)  # type: ignore[arg-type]


class _Progress:
    """A rich progress line with the best height and bound; a no-op when disabled."""

    def __init__(self, enabled: bool, time_limit: float):
        self.bar = None
        if enabled:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("exact"), BarColumn(), TimeElapsedColumn(),
                                TextColumn("{task.fields[info]}"), transient=False)
            self.task = self.bar.add_task("exact", total=time_limit, info="")
            self.bar.start()
        self.start = time.perf_counter()

    def update(self, best: int | None, bound: int, kernel: _Kernel, capacity: int) -> None:
        if self.bar is not None:
            info = f"best {best if best is not None else '-'}  bound {bound}  probe {capacity}  " \
                   f"nodes {kernel.nodes:,}  backtracks {kernel.backtracks:,}"
            self.bar.update(self.task, completed=time.perf_counter() - self.start, info=info)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def exact(problem: Problem, *, capacity: int | None = None, time_limit: float = 60.0, seed: int = 0,
          progress: bool = False, hint=None, hint_pools=(), pool_objective: str = "total", **switches) -> Solution:
    """Optimal offsets with a proof, or the best found and its bound at ``time_limit``.

    ``capacity`` (default ``problem.capacity``) selects decision mode. ``hint``: offsets of
    a valid plan to start minimisation from (``best`` passes its winner; with pools also
    ``hint_pools``). ``pool_objective``: ``"total"`` or ``"first"`` (see ``exact_pools``).
    ``switches``: the fields of `Switches`, e.g. ``dominance=False``."""
    options = Switches.from_kwargs(switches)
    if problem.pools:
        from .exact_pools import exact_pools

        def arena(part, limit, part_hint):
            return exact(part, time_limit=limit, seed=seed, progress=progress, hint=part_hint, **switches)

        if hint is None:
            hint, hint_pools = _pool_hint(problem)
        return exact_pools(problem, arena, time_limit=time_limit, seed=seed, hint=hint, hint_pools=hint_pools,
                           pool_objective=pool_objective)
    interval_form = as_intervals(problem)
    if interval_form is not None:
        sol = exact(interval_form, capacity=capacity, time_limit=time_limit, seed=seed, progress=progress,
                    hint=hint, **switches)
        return dataclasses.replace(sol, stats=dict(sol.stats, interval_graph=True))
    compile_seconds = warm_up()
    start = time.perf_counter()
    deadline = start + time_limit
    cap = capacity if capacity is not None else problem.capacity
    kernel = _Kernel(_instance(problem), options, seed)
    bar = _Progress(progress, time_limit)
    try:
        if cap is not None:
            sol = _solve_decision(problem, kernel, cap, deadline, bar)
        else:
            sol = _solve_minimise(problem, kernel, deadline, bar, hint)
    finally:
        bar.close()
    stats = dict(sol.stats, nodes=kernel.nodes, backtracks=kernel.backtracks,
                 seconds=time.perf_counter() - start, numba=ks.HAVE_NUMBA, compile_seconds=compile_seconds)
    return Solution(sol.offsets, "exact", sol.status, sol.bound, stats)


def as_intervals(problem: Problem) -> Problem | None:
    """The same problem with lifetimes instead of lists when its conflict graph is an
    interval graph (blocks in the same order, no lists); None for lifetimes only or when
    the graph is not recognised as one."""
    if problem.all_timed and not problem.has_lists:
        return None
    if "intervals" not in problem.memo:
        adj = [set(s) for s in problem.pair_conflicts()]
        order = interval_order(adj)
        problem.memo["intervals"] = None if order is None else Problem(
            tuple(Block(b.id, b.size, lo, hi, b.alignment) for b, (lo, hi) in zip(problem.blocks, intervals(adj, order))),
            capacity=problem.capacity)
    return problem.memo["intervals"]


def _pool_hint(problem: Problem):
    """A valid plan to start from: the first TVM greedy that places every block."""
    from .greedy import greedy_by_conflicts, greedy_by_size

    for fn in (greedy_by_size, greedy_by_conflicts):
        try:
            sol = fn(problem)
        except PlanError:
            continue
        return sol.offsets, sol.pools
    return None, ()


_WARM = False


def warm_up() -> float:
    """Compile (or load from numba's cache) the kernel once per process, outside any time
    limit: a cold compile takes tens of seconds. Returns the seconds it took."""
    global _WARM
    if _WARM or not ks.HAVE_NUMBA:
        return 0.0
    _WARM = True
    began = time.perf_counter()
    tiny = Problem((Block("a", 2, 0, 2), Block("b", 1, 1, 3), Block("c", 1, 1, 3)))
    kernel = _Kernel(_instance(tiny), Switches(), 0)
    _decide(tiny, kernel, 4, time.perf_counter() + 1e9, lambda: None)
    return time.perf_counter() - began


def _solve_decision(problem: Problem, kernel: _Kernel, cap: int, deadline: float, bar: _Progress) -> Solution:
    lb = lower_bound(problem)
    result = _decide(problem, kernel, cap, deadline, lambda: bar.update(None, lb, kernel, cap))
    if result.status == "feasible":
        height = _height(problem, result.offsets)
        return Solution(result.offsets, "exact", "optimal" if height <= lb else "feasible", lb)
    if result.status == "infeasible":
        return Solution((), "exact", "infeasible", cap + 1)
    return Solution((), "exact", "timeout", lb)


def _solve_minimise(problem: Problem, kernel: _Kernel, deadline: float, bar: _Progress, hint) -> Solution:
    from .greedy import greedy_by_size

    candidates = [min_offset_greedy(problem), greedy_by_size(problem).offsets]
    if hint is not None:
        candidates.append(tuple(int(o) for o in hint))
    best = min(candidates, key=lambda offs: _height(problem, offs))
    bound = lower_bound(problem)
    height = _height(problem, best)
    lo, probes = bound, 0
    while lo < height:
        capacity = lo if probes == 0 else (lo + height - 1) // 2
        probes += 1
        # The last probe may use all the time; others leave half for the rest of the bisection.
        share = deadline if capacity == height - 1 else time.perf_counter() + (deadline - time.perf_counter()) / 2
        result = _decide(problem, kernel, capacity, share,
                         lambda: bar.update(height, bound, kernel, capacity))
        if result.status == "feasible":
            best, height = result.offsets, _height(problem, result.offsets)
        elif result.status == "infeasible":
            lo = bound = capacity + 1
        else:
            lo = capacity + 1  # unknown below: look higher, the bound stays
            if time.perf_counter() >= deadline:
                break
        bar.update(height, bound, kernel, capacity)
    status = "optimal" if height <= bound else "timeout"
    return Solution(best, "exact", status, min(bound, height), {"probes": probes})

