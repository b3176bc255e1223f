"""The exact order: the smallest peak any topological order allows, with a proof.

Method (after Serenity, MLSys 2020, and HMCOS, DAC 2022):

1. **Single-node cuts.** An op comparable with every other op (each is its ancestor or its
   descendant) splits every order in two: its ancestors, then it, then its descendants. The
   ops run so far are then the same set in every order, so the live bytes are too
   (`MemoryModel` makes them a function of that set), and the segments between consecutive
   cuts are optimised independently: the peak is the max over segments. ResNet, DenseNet
   and every chain of blocks fall apart into small segments.
2. **Bounds first** (`memplan.order.bounds`). A segment's peak is at least the bytes live
   when it starts and, for each of its ops, the *crossing bound* (its inputs and outputs
   plus every storage that is live across it in every order) and, where that falls short
   of the heuristic peak, the *cut bound*: the fewest bytes live before the op over every
   set of run ops that allows it, one maximum flow per op. A segment whose heuristic order
   (beam search) meets the largest bound of any segment is optimal without search.
   A segment that is series-parallel with no storage shared by parallel branches (Liu's
   in-trees, Kayaaslan et al.'s series-parallel graphs) gets its optimal order in polynomial
   time (`memplan.order.series_parallel`, which says when that is exact); the others are searched.
3. **Branch and bound over down-sets.** Depth-first over the set of ops run, children by
   increasing step cost, memoising for every set the lowest peak it was reached with (a set
   reached again with no better peak is dominated: the future depends on the set alone; a
   set whose whole subtree found nothing below the best peak is dead at any peak), and
   cutting every branch that reaches the best peak known or whose *state bound* does: the
   largest, over the unrun ops, of the op's cut bound, its crossing bound with the storages
   that ops run in parallel to it have already made, and (switch ``STATE_CUTS``, off by
   default) for the unrun ops with the largest cut bounds, the cut bound recomputed with
   the run ops fixed. Zero-allocation and other safe moves run first (`schedule.free_moves`).
4. **Time limit.** The search stops at ``time_limit`` seconds and returns its best order,
   ``stats["status"] = "timeout"`` and ``stats["bound"]``: the largest of the proven
   segment optima and, for unfinished segments, their bounds.

``stats`` also reports ``segments``, ``searched`` (segments that needed a search),
``polynomial`` (segments ordered by `memplan.order.series_parallel`) and ``states`` (down-sets visited).
Worst case exponential in the width of a segment; a state costs O(unrun ops) plus
``STATE_CUTS`` maximum flows. The randomly wired stages of up to 160 ops are proven
optimal in seconds without sharing (see BENCHMARKS.md); with in-place writes the cut bound
is weaker (a write over a dying input may or may not happen) and some still time out.
"""
from __future__ import annotations

import sys
import time

from ..graph.ir import Graph, topological_order
from ..memory_model import MemoryModel
from .bounds import CrossingBound, CutBound, bits, ancestors_descendants
from .series_parallel import SeriesParallel
from .heuristic import Frontier, Schedule, _model, free_moves, heuristic_order, ready_after


# Unrun ops (highest cut bound first) whose cut bound is recomputed per state, one maximum
# flow each. Off: on the randomly wired benchmarks a flow costs more than the states it saves
# (32-node seed 0 proven in 5 s with 0, times out with 1; seed 1 needs 4.5 s with 0, 0.2 s with 1).
STATE_CUTS = 0


class _Timeout(Exception):
    pass


def cut_ops(graph: Graph, frontier: Frontier) -> list[int]:
    """Ops comparable with every other op, in execution order."""
    n = frontier.n
    from ..graph.ir import topological_order

    topo = topological_order(graph.ops) or list(range(n))
    anc = [0] * n
    for i in topo:
        a = 0
        m = frontier.pred_mask[i]
        while m:
            low = m & -m
            p = low.bit_length() - 1
            a |= anc[p] | low
            m ^= low
        anc[i] = a
    desc = [0] * n
    for i in reversed(topo):
        d = 0
        for s in frontier.succ[i]:
            d |= desc[s] | (1 << s)
        desc[i] = d
    full = (1 << n) - 1
    return [i for i in topo if (anc[i] | desc[i] | (1 << i)) == full]


def exact_order(graph: Graph, *, time_limit: float = 10.0, progress: bool | None = None, **options) -> Schedule:
    start = time.perf_counter()
    deadline = start + time_limit
    model = _model(graph, options)
    frontier = Frontier(graph)
    n = frontier.n
    if n == 0:
        return Schedule((), "exact", {"peak": model.initial, "bound": model.initial, "status": "optimal",
                                      "seconds": 0.0, "segments": 0, "searched": 0, "states": 0})
    heur = heuristic_order(graph, model=model, time_limit=max(time_limit / 4, 0.1))
    ends = _segment_ends(graph, frontier)
    seg_orders, seg_peaks, seg_starts = _split(model, heur.order, ends)
    anc, desc = ancestors_descendants(frontier.pred_mask, frontier.succ, topological_order(graph.ops) or list(range(n)))
    crossing = CrossingBound(model, anc, desc)
    seg_bounds = [max([l0] + [crossing.static[v] for v in bits(end & ~d0)]) for (d0, l0), end in zip(seg_starts, ends)]
    bounds: dict[int, _SegmentBounds] = {}
    for k, end in enumerate(ends):  # cut bounds (max flows) only where the cheap ones fall short
        if seg_peaks[k] > max(seg_bounds):
            bounds[k] = _SegmentBounds(model, frontier, crossing, anc, desc, seg_starts[k][0], end)
            seg_bounds[k] = max(seg_bounds[k], bounds[k].top())
    floor = max(seg_bounds)
    status, states, searched, polynomial = "optimal", 0, 0, 0
    sp = SeriesParallel(model, anc, desc)
    proven = list(seg_bounds)
    bar = _progress(progress, len(ends))
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 4 * n + 1000))
    try:
        for k, end in enumerate(ends):
            tree = sp.order(end & ~seg_starts[k][0]) if seg_peaks[k] > floor else None
            if tree is not None:  # the series-parallel optimum (memplan.order.series_parallel)
                seg_orders[k], seg_peaks[k] = tree, _split(model, tree, [end], *seg_starts[k])[1][0]
                proven[k], polynomial = seg_peaks[k], polynomial + 1
            elif seg_peaks[k] > floor and status == "optimal":
                searched += 1
                search = _Search(model, frontier, bounds[k], end, seg_peaks[k], floor, deadline)
                try:
                    order, peak, visited = search.run(*seg_starts[k])
                    states += visited
                    if order is not None:
                        seg_orders[k], seg_peaks[k] = order, peak
                    proven[k] = seg_peaks[k]
                except _Timeout as exc:
                    states += exc.args[1]
                    if exc.args[0] is not None:
                        seg_orders[k], seg_peaks[k] = exc.args[0]
                    status = "timeout"
            elif seg_peaks[k] <= floor:
                proven[k] = max(seg_peaks[k], seg_bounds[k])
            if bar:
                bar[0].update(bar[1], advance=1, description=f"exact order: {states:,} states")
    finally:
        sys.setrecursionlimit(old_limit)
        if bar:
            bar[0].stop()
    order = [op for seq in seg_orders for op in seq]
    peak = model.peak(order)
    bound = peak if status == "optimal" else min(peak, max(proven))
    return Schedule(tuple(order), "exact", {
        "peak": peak, "bound": bound, "status": status, "seconds": time.perf_counter() - start,
        "segments": len(ends), "searched": searched, "polynomial": polynomial, "states": states, "heuristic_peak": heur.peak})


def _segment_ends(graph: Graph, frontier: Frontier) -> list[int]:
    """The ops run at the end of each segment: up to and including each cut, then all."""
    ends, prev = [], 0
    for c in cut_ops(graph, frontier):
        ends.append(prev | _closure(frontier, c, prev))
        prev = ends[-1]
    full = (1 << frontier.n) - 1
    if not ends or ends[-1] != full:
        ends.append(full)
    return ends


def _split(model: MemoryModel, order, ends: list[int], done: int = 0, live: int | None = None):
    """Each segment's part of ``order`` (which passes through every cut), its peak, and the
    (ops run, bytes live) it starts from; ``order`` starts after ``done`` (``live`` bytes)."""
    seg_orders, seg_peaks, seg_starts = [], [], []
    live, k = model.initial if live is None else live, 0
    step_peak, seg_seq = 0, []
    for op in order:
        during, after = model.step(done, live, op)
        if not seg_seq:
            seg_starts.append((done, live))
            step_peak = live
        seg_seq.append(op)
        step_peak = max(step_peak, during)
        done |= 1 << op
        live = after
        if done == ends[k]:
            seg_orders.append(seg_seq)
            seg_peaks.append(step_peak)
            seg_seq, k = [], k + 1
    return seg_orders, seg_peaks, seg_starts


def _closure(frontier: Frontier, cut: int, done: int) -> int:
    """``cut`` and all its ancestors not in ``done``."""
    mask, stack = 1 << cut, [cut]
    while stack:
        i = stack.pop()
        m = frontier.pred_mask[i] & ~done & ~mask
        while m:
            low = m & -m
            mask |= low
            stack.append(low.bit_length() - 1)
            m ^= low
    return mask


class _Search:
    """Branch and bound over the down-sets of one segment (see the module docstring)."""

    def __init__(self, model: MemoryModel, frontier: Frontier, bounds: "_SegmentBounds", end: int,
                 best_peak: int, target: int, deadline: float):
        self.model, self.frontier, self.bounds, self.end = model, frontier, bounds, end
        self.best: list = [None, best_peak]
        self.target, self.deadline = target, deadline
        self.memo: dict[int, int] = {}
        self.visited = 0
        self.path: list[int] = []

    def run(self, done0: int, live0: int):
        """(order or None if none beats the initial best peak, its peak, states visited)."""
        born = self.bounds.crossing.born_after(done0)
        self.go(ready_after(self.frontier, done0), done0, live0, live0, born)
        return self.best[0], self.best[1], self.visited

    def go(self, ready: frozenset[int], done: int, live: int, peak: int, born: int) -> bool:
        """Explore from a state; True once an order within ``target`` is found (stop)."""
        self.visited += 1
        if self.visited & 1023 == 0 and time.perf_counter() > self.deadline:
            raise _Timeout(None if self.best[0] is None else (self.best[0], self.best[1]), self.visited)
        path, mark = self.path, len(self.path)
        ready, done, live = free_moves(self.model, self.frontier, ready, done, live, path, self.end, peak)
        born |= self.bounds.born_by(path[mark:])
        try:
            if done & self.end == self.end:
                if peak < self.best[1]:
                    self.best[0], self.best[1] = list(path), peak
                return peak <= self.target
            seen = self.memo.get(done)
            if seen is not None and seen <= peak:
                return False
            if self.bounds.state(done, born, self.best[1]) >= self.best[1]:
                self.memo[done] = 0
                return False
            self.memo[done] = peak
            before = self.best[1]
            if self.branch(ready, done, live, peak, born):
                return True
            if self.best[1] == before:  # no completion beats ``before``: dead at any peak
                self.memo[done] = 0
            return False
        finally:
            del path[mark:]

    def branch(self, ready: frozenset[int], done: int, live: int, peak: int, born: int) -> bool:
        moves = []
        for op in ready:
            during, after = self.model.step(done, live, op)
            p2 = max(peak, during)
            if p2 < self.best[1]:
                moves.append((p2, after, op))
        moves.sort()
        for p2, after, op in moves:
            if p2 >= self.best[1]:
                break
            d2 = done | (1 << op)
            self.path.append(op)
            if self.go(self.frontier.advance(ready, d2, op), d2, after, p2, born | self.bounds.out_bits[op]):
                return True
            self.path.pop()
        return False


class _SegmentBounds:
    """Per-op lower bounds of one segment and the bound of a search state: the largest, over
    the unrun ops, of the op's cut bound and its crossing bound with the storages born so far
    (`memplan.order.bounds`)."""

    def __init__(self, model: MemoryModel, frontier: Frontier, crossing: CrossingBound, anc: list[int],
                 desc: list[int], done0: int, end: int):
        cuts = CutBound(model, frontier.pred_mask, done0, end)
        self.cuts, self.anc, self.desc = cuts, anc, desc
        self.crossing = crossing
        self.end = end
        self.cut = {v: max(cuts.at(v, 0, anc[v], desc[v]), crossing.static[v]) for v in cuts.ops}
        self.by_cut = sorted(self.cut, key=lambda v: -self.cut[v])
        self.out_bits = [sum(1 << r for r in model.out_roots[op]) for op in range(model.n)]

    def born_by(self, ops) -> int:
        born = 0
        for op in ops:
            born |= self.out_bits[op]
        return born

    def top(self) -> int:
        return self.cut[self.by_cut[0]] if self.by_cut else 0

    def state(self, done: int, born: int, best: int) -> int:
        """A lower bound on the peak of every completion of ``done``; stops once >= ``best``."""
        top = [v for v in self.by_cut if not (done >> v) & 1][:STATE_CUTS]
        if top and self.cut[top[0]] >= best:
            return self.cut[top[0]]
        b = self.crossing.state(done, born, self.end & ~done, best - 1)
        for v in top:
            if b >= best:
                break
            b = max(b, self.cuts.at(v, done, self.anc[v], self.desc[v]))
        return b


def _progress(progress: bool | None, total: int):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=Console(stderr=True), transient=True)
    bar.start()
    return bar, bar.add_task("exact order", total=total)
