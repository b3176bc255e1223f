"""Execution orders: which topological order of the runtime ops runs.

A `Schedule` is a tuple of op indices (``order[step] = op index``) plus how it was found and
what it costs (``stats["peak"]``: the largest live total under the sharing rules).

Registered orders (``SCHEDULERS``; ``memplan plan --order NAME``):

- ``file`` — the stable topological sort with the file position as tie-break (the file's
  own order whenever it is already topological, as ONNX requires);
- ``greedy`` — a list scheduler: run the ready op that makes the smallest peak now, then the
  one that leaves the fewest live bytes (ties: file position). O(n · ready) steps;
- ``heuristic`` — a beam search over the same moves (keep the ``beam`` best partial orders,
  ranked by peak so far then live bytes, duplicates of one set of run ops merged), and the
  best of it, ``greedy``, ``file`` and, where the graph is series-parallel with no storage
  shared by parallel branches, the optimal order of Liu / Kayaaslan et al.
  (`memplan.sp_order`). O(n · beam · ready); thousands of ops in seconds;
- ``exact`` — the smallest peak of any topological order, with a proof (`memplan.order_search`).

Every scheduler measures the peak with `lifetimes.MemoryModel`, the same model that
`lifetimes.buffers` uses, so the order minimises the peak the plan really has. Two moves are
free and always taken first: an op that allocates nothing (a view, an in-place write) never
raises the peak, and running it as soon as it is ready never hurts any later step.

Why greedy is not optimal: after op 1 makes a Large tensor read by branches 2a→3a (Medium
result) and 2b→3b (Small), greedy may finish branch a first and hold Large and Medium together;
running 2a, 2b, 3b, 3a frees Large first (the seed test in ``tests/test_schedule.py``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

from .errors import ModelError, PlanError
from .ir import Graph, topological_order
from .lifetimes import NO_SHARING, MemoryModel, Sharing


@dataclass(frozen=True)
class Schedule:
    order: tuple[int, ...]
    method: str
    stats: dict | None = None

    def __len__(self) -> int:
        return len(self.order)

    @property
    def peak(self) -> int | None:
        return (self.stats or {}).get("peak")


def file_order(graph: Graph, **_options) -> Schedule:
    order = topological_order(graph.ops)
    if order is None:
        raise ModelError(f"{graph.source or graph.name}: the graph has a cycle")
    return Schedule(tuple(order), "file")


class Frontier:
    """Successor lists and predecessor masks, shared by every search over one graph."""

    def __init__(self, graph: Graph):
        preds = graph.predecessors()
        self.n = len(graph.ops)
        self.pred_mask = [sum(1 << p for p in ps) for ps in preds]
        self.succ: list[list[int]] = [[] for _ in range(self.n)]
        for i, ps in enumerate(preds):
            for p in sorted(ps):
                self.succ[p].append(i)
        self.sources = tuple(i for i in range(self.n) if not preds[i])

    def advance(self, ready: frozenset[int], done: int, op: int) -> frozenset[int]:
        """The ready set after ``op`` runs (``done`` already includes ``op``)."""
        new = [s for s in self.succ[op] if self.pred_mask[s] & ~done == 0]
        return (ready - {op}) | frozenset(new) if new else ready - {op}


def free_moves(model: MemoryModel, frontier: Frontier, ready: frozenset[int], done: int, live: int,
               order: list[int], within: int = -1, peak: int = 0) -> tuple[frozenset[int], int, int]:
    """Run every ready op that is a safe move, smallest index first, until none is left.

    A move is safe when the op leaves no more bytes live than before (``after <= live``) and
    its own step costs no more than ``max(peak, live)`` (``peak``: the peak so far). Moving
    such an op ahead of any other ops changes each of their steps by ``after - live <= 0``
    and adds a step no higher than a peak already paid, so some optimal order takes it now.
    Views and in-place writes always qualify (they allocate nothing). Only ops in the mask
    ``within`` are run."""
    changed = True
    while changed and ready:
        changed = False
        for op in sorted(ready):
            if not (within >> op) & 1:
                continue
            during, after = model.step(done, live, op)
            if after <= live and during <= max(peak, live):
                done |= 1 << op
                live = after
                order.append(op)
                ready = frontier.advance(ready, done, op)
                changed = True
                break
    return ready, done, live


def ready_after(frontier: Frontier, done: int) -> frozenset[int]:
    return frozenset(i for i in range(frontier.n) if not (done >> i) & 1 and frontier.pred_mask[i] & ~done == 0)


def beam_search(model: MemoryModel, frontier: Frontier, width: int, *, done: int = 0, live: int | None = None,
                stop: int | None = None, deadline: float | None = None) -> tuple[list[int], int]:
    """(order, peak) of the best order the beam keeps; ``width=1`` is greedy.

    Starts after the ops in ``done`` (``live`` bytes live then) and ends when every op of
    the mask ``stop`` has run (default: all ops). The peak counts only the steps it runs,
    floored at ``live`` (any first step costs at least that)."""
    live = model.initial if live is None else live
    stop = (1 << frontier.n) - 1 if stop is None else stop
    order: list[int] = []
    ready, done, live = free_moves(model, frontier, ready_after(frontier, done), done, live, order)
    beam = [(live, live, done, ready, tuple(order))]  # (peak, live, done, ready, order)
    while any(s[2] & stop != stop for s in beam):
        children: dict[int, tuple] = {}
        for state in beam:
            peak, live_s, done_s, ready_s, order_s = state
            if done_s & stop == stop:
                children.setdefault(done_s, state)
                continue
            for op in ready_s:
                during, after = model.step(done_s, live_s, op)
                d2 = done_s | (1 << op)
                p2 = max(peak, during)
                prev = children.get(d2)
                if prev is None or (p2, after) < prev[:2]:
                    children[d2] = (p2, after, d2, (ready_s, op), order_s)
        nxt = []
        for p2, after, d2, ready_s, order_s in children.values():
            if isinstance(ready_s, tuple):
                ready_s, op = ready_s
                seq = list(order_s) + [op]
                ready_s, d2, after = free_moves(model, frontier, frontier.advance(ready_s, d2, op), d2, after, seq,
                                                 peak=p2)
                order_s = tuple(seq)
            nxt.append((p2, after, d2, ready_s, order_s))
        nxt.sort(key=lambda s: (s[0], s[1], s[4]))
        beam = nxt[:width]
        if deadline is not None and width > 1 and time.perf_counter() > deadline:
            width = 1
    best = min(beam, key=lambda s: (s[0], s[1], s[4]))
    return list(best[4]), best[0]


def _model(graph: Graph, options: dict) -> MemoryModel:
    model = options.get("model")
    if model is not None:
        return model
    return MemoryModel(graph, sharing=options.get("sharing") or NO_SHARING,
                       io_in_arena=options.get("io_in_arena", True))


def greedy_order(graph: Graph, **options) -> Schedule:
    start = time.perf_counter()
    model = _model(graph, options)
    order, peak = beam_search(model, Frontier(graph), 1)
    return Schedule(tuple(order), "greedy", {"peak": model.peak(order), "seconds": time.perf_counter() - start})


def heuristic_order(graph: Graph, *, beam: int | None = None, **options) -> Schedule:
    """Best of file order, greedy and a beam search (width ``beam``, default 16, narrower
    for very large graphs so that thousands of ops stay within seconds)."""
    start = time.perf_counter()
    model = _model(graph, options)
    frontier = Frontier(graph)
    n = len(graph.ops)
    width = beam if beam is not None else (16 if n <= 500 else 8 if n <= 2000 else 4)
    candidates = [(model.peak(o), o, "file") for o in [list(file_order(graph).order)]]
    tree = _series_parallel(graph, model, frontier)
    if tree is not None:
        candidates.append((model.peak(tree), tree, "series_parallel"))
    for w in dict.fromkeys((1, width)):
        order, _ = beam_search(model, frontier, w, deadline=start + options.get("time_limit", 60.0))
        candidates.append((model.peak(order), order, "greedy" if w == 1 else f"beam{w}"))
    peak, order, which = min(candidates, key=lambda c: c[0])
    return Schedule(tuple(order), "heuristic", {"peak": peak, "seconds": time.perf_counter() - start,
                                                "from": which, "beam": width})


def _series_parallel(graph: Graph, model: MemoryModel, frontier: Frontier) -> list[int] | None:
    """The series-parallel optimum where the whole graph is in that model (`memplan.sp_order`), else None."""
    from .order_bounds import ancestors_descendants
    from .sp_order import SeriesParallel

    anc, desc = ancestors_descendants(frontier.pred_mask, frontier.succ, topological_order(graph.ops) or [])
    return SeriesParallel(model, anc, desc).order((1 << frontier.n) - 1) if frontier.n else None


def exact_order(graph: Graph, **options) -> Schedule:
    from .order_search import exact_order as search

    return search(graph, **options)


SCHEDULERS: dict[str, Callable[..., Schedule]] = {
    "file": file_order, "greedy": greedy_order, "heuristic": heuristic_order, "exact": exact_order}


def schedule(graph: Graph, method: str = "file", **options) -> Schedule:
    """Run scheduler ``method``. ``options``: ``sharing`` (a `Sharing`, default none),
    ``io_in_arena``, ``time_limit``, ``progress`` and scheduler-specific ones. The result
    carries ``stats["peak"]`` under those sharing rules."""
    try:
        fn = SCHEDULERS[method]
    except KeyError:
        raise PlanError(f"unknown order {method!r}; choose one of: {', '.join(SCHEDULERS)}") from None
    result = fn(graph, **options)
    check_topological(graph, result.order)
    if result.peak is None:
        stats = dict(result.stats or {})
        stats["peak"] = _model(graph, options).peak(result.order)
        result = Schedule(result.order, result.method, stats)
    return result


def check_topological(graph: Graph, order) -> None:
    """Every op once, each after the producers of its inputs; raises PlanError otherwise."""
    if sorted(order) != list(range(len(graph.ops))):
        raise PlanError("order is not a permutation of the graph's ops")
    step = {op: s for s, op in enumerate(order)}
    for i, preds in enumerate(graph.predecessors()):
        for p in preds:
            if step[p] >= step[i]:
                raise PlanError(f"order runs {graph.ops[i].name!r} before its producer {graph.ops[p].name!r}")


def order_and_storage(graph: Graph, method: str = "file", *, sharing: Sharing = NO_SHARING,
                      io_in_arena: bool = True, **options) -> tuple[Schedule, MemoryModel]:
    """The order and the storage model the plan uses: ``method``'s order under ``sharing``.

    A concat built in place reserves its whole output from its first input's birth, which
    can raise the peak. So with ``sharing.concat`` the candidates are: ``method`` with every
    legal concat built in place; ``method`` with none; and for each of those two orders the
    model without the concats that reserve bytes at its peak (`MemoryModel.without_hosts`).
    The lowest peak wins; ties go to the most concats built in place."""
    model = MemoryModel(graph, sharing=sharing, io_in_arena=io_in_arena)
    sched = schedule(graph, method, model=model, **options)
    if not model.hosting:
        return sched, model
    plain = MemoryModel(graph, sharing=Sharing(sharing.views, sharing.inplace, False), io_in_arena=io_in_arena)
    plain_sched = schedule(graph, method, model=plain, **options)
    candidates = [(sched.peak, -len(model.hosting), 0, sched, model)]
    for base in (sched, plain_sched):
        fewer = model.without_hosts(base.order)
        if fewer is not None:
            again = Schedule(base.order, base.method, {**(base.stats or {}), "peak": fewer.peak(base.order)})
            candidates.append((again.peak, -len(fewer.hosting), len(candidates), again, fewer))
    candidates.append((plain_sched.peak, 0, len(candidates), plain_sched, plain))
    best = min(candidates, key=lambda c: c[:3])
    return best[3], best[4]
