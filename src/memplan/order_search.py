"""The exact order: the smallest peak any topological order allows, with a proof.

Method (after Serenity, MLSys 2020, and HMCOS, DAC 2022):

1. **Single-node cuts.** An op comparable with every other op (each is its ancestor or its
   descendant) splits every order in two: its ancestors, then it, then its descendants. The
   ops run so far are then the same set in every order, so the live bytes are too
   (`MemoryModel` makes them a function of that set), and the segments between consecutive
   cuts are optimised independently: the peak is the max over segments. ResNet, DenseNet
   and every chain of blocks fall apart into small segments.
2. **Bounds first.** A segment's peak is at least the bytes live when it starts and, for each
   of its ops, the storages that op touches (`MemoryModel.op_bound`); the whole graph's
   optimum is at least the largest of these. A segment whose heuristic order (beam search)
   already meets either bound is optimal without search.
3. **Branch and bound over down-sets.** Depth-first over the set of ops run, children by
   increasing step cost, memoising for every set the lowest peak it was reached with (a set
   reached again with no better peak is dominated: the future depends on the set alone),
   and cutting every branch that reaches the best peak known. Zero-allocation ops run
   first (see `schedule.free_moves`).
4. **Time limit.** The search stops at ``time_limit`` seconds and returns its best order,
   ``stats["status"] = "timeout"`` and ``stats["bound"]``: the largest of the proven
   segment optima and, for unfinished segments, their bounds.

``stats`` also reports ``segments``, ``searched`` (segments that needed a search) and
``states`` (down-sets visited). Worst case exponential in the width of a segment.
"""
from __future__ import annotations

import sys
import time

from .ir import Graph
from .lifetimes import MemoryModel
from .schedule import Frontier, Schedule, _model, beam_search, free_moves, heuristic_order, ready_after


class _Timeout(Exception):
    pass


def cut_ops(graph: Graph, frontier: Frontier) -> list[int]:
    """Ops comparable with every other op, in execution order."""
    n = frontier.n
    from .ir import topological_order

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
    cuts = cut_ops(graph, frontier)
    # segments: ops after the previous cut up to and including the next cut (and a tail)
    ends = []
    prev = 0
    for c in cuts:
        ends.append(prev | _closure(frontier, c, prev))
        prev = ends[-1]
    full = (1 << n) - 1
    if not ends or ends[-1] != full:
        ends.append(full)
    # each segment's heuristic order and peak: the heuristic order passes through every cut
    seg_orders, seg_peaks, seg_starts = [], [], []
    done, live, k = 0, model.initial, 0
    step_peak, seg_seq = 0, []
    for op in heur.order:
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
    seg_bounds = []
    for (d0, l0), end in zip(seg_starts, ends):
        ops = end & ~d0
        b = l0
        while ops:
            low = ops & -ops
            b = max(b, model.op_bound(low.bit_length() - 1))
            ops ^= low
        seg_bounds.append(b)
    floor = max(seg_bounds)
    status, states, searched = "optimal", 0, 0
    proven = list(seg_bounds)
    bar = _progress(progress, len(ends))
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 4 * n + 1000))
    try:
        for k, end in enumerate(ends):
            target = max(floor, seg_bounds[k])
            if seg_peaks[k] > target and status == "optimal":
                searched += 1
                d0, l0 = seg_starts[k]
                try:
                    order, peak, visited = _search(model, frontier, d0, l0, end, seg_peaks[k], target, deadline)
                    states += visited
                    if order is not None:
                        seg_orders[k], seg_peaks[k] = order, peak
                    proven[k] = seg_peaks[k]
                except _Timeout as exc:
                    states += exc.args[1]
                    if exc.args[0] is not None:
                        seg_orders[k], seg_peaks[k] = exc.args[0]
                    status = "timeout"
            elif seg_peaks[k] <= target:
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
        "segments": len(ends), "searched": searched, "states": states, "heuristic_peak": heur.peak})


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


def _search(model: MemoryModel, frontier: Frontier, done0: int, live0: int, end: int, best_peak: int,
            target: int, deadline: float):
    """Branch and bound from ``done0`` until ``end`` has run; returns (order or None if none
    beats ``best_peak``, its peak, states visited). Stops early at a peak <= ``target``."""
    best: list = [None, best_peak]
    memo: dict[int, int] = {}
    visited = [0]
    path: list[int] = []

    def go(ready: frozenset[int], done: int, live: int, peak: int) -> bool:
        visited[0] += 1
        if visited[0] & 1023 == 0 and time.perf_counter() > deadline:
            raise _Timeout(None if best[0] is None else (best[0], best[1]), visited[0])
        mark = len(path)
        ready, done, live = free_moves(model, frontier, ready, done, live, path, end, peak)
        try:
            if done & end == end:
                if peak < best[1]:
                    best[0], best[1] = list(path), peak
                return peak <= target
            seen = memo.get(done)
            if seen is not None and seen <= peak:
                return False
            memo[done] = peak
            moves = []
            for op in ready:
                during, after = model.step(done, live, op)
                p2 = max(peak, during)
                if p2 < best[1]:
                    moves.append((p2, after, op))
            moves.sort()
            for p2, after, op in moves:
                if p2 >= best[1]:
                    break
                d2 = done | (1 << op)
                path.append(op)
                if go(frontier.advance(ready, d2, op), d2, after, p2):
                    return True
                path.pop()
            return False
        finally:
            del path[mark:]

    go(ready_after(frontier, done0), done0, live0, live0)
    return best[0], best[1], visited[0]


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
