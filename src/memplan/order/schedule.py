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
  (`memplan.order.series_parallel`). O(n · beam · ready); thousands of ops in seconds;
- ``exact`` — the smallest peak of any topological order, with a proof (`memplan.order.exact`).

Every scheduler measures the peak with `memory_model.MemoryModel`, the same model that
`lifetimes.buffers` uses, so the order minimises the peak the plan really has. Two moves are
free and always taken first: an op that allocates nothing (a view, an in-place write) never
raises the peak, and running it as soon as it is ready never hurts any later step.

Why greedy is not optimal: after op 1 makes a Large tensor read by branches 2a→3a (Medium
result) and 2b→3b (Small), greedy may finish branch a first and hold Large and Medium together;
running 2a, 2b, 3b, 3a frees Large first (the seed test in ``tests/test_schedule.py``).
"""
from __future__ import annotations

from typing import Callable

from ..errors import PlanError
from ..graph.ir import Graph
from ..memory_model import NO_SHARING, MemoryModel, Sharing
from .heuristic import (Frontier, Schedule, _model, beam_search, check_topological, file_order, free_moves,
                        greedy_order, heuristic_order, ready_after)

__all__ = ["Schedule", "Frontier", "SCHEDULERS", "schedule", "order_and_storage", "check_topological",
           "file_order", "greedy_order", "heuristic_order", "exact_order", "beam_search", "free_moves",
           "ready_after"]


def exact_order(graph: Graph, **options) -> Schedule:
    from .exact import exact_order as search

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
