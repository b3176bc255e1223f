"""Execution orders: which topological order of the runtime ops runs.

A `Schedule` is a tuple of op indices (``order[step] = op index``). ``file_order`` is the
stable topological sort with the file position as tie-break (the file's own order whenever
it is already topological, as ONNX requires).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import ModelError, PlanError
from .ir import Graph, topological_order


@dataclass(frozen=True)
class Schedule:
    order: tuple[int, ...]
    method: str
    stats: dict | None = None

    def __len__(self) -> int:
        return len(self.order)


def file_order(graph: Graph, **_options) -> Schedule:
    order = topological_order(graph.ops)
    if order is None:
        raise ModelError(f"{graph.source or graph.name}: the graph has a cycle")
    return Schedule(tuple(order), "file")


SCHEDULERS: dict[str, Callable[..., Schedule]] = {"file": file_order}


def schedule(graph: Graph, method: str = "file", **options) -> Schedule:
    try:
        fn = SCHEDULERS[method]
    except KeyError:
        raise PlanError(f"unknown order {method!r}; choose one of: {', '.join(SCHEDULERS)}") from None
    result = fn(graph, **options)
    check_topological(graph, result.order)
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
