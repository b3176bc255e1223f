"""Schedule -> Buffers: when each activation is live, and which tensors share storage.

A tensor is live from the step that produces it to the last step that reads it, inclusive
(graph inputs from step 0, graph outputs to the last step; a tensor nobody reads lives only
at its own step). An op reads its inputs and writes its outputs at the same step, so they
overlap unless a sharing rule puts them in one buffer on purpose.

Each `Buffer` is what gets an arena address; it lists its tensors with their byte offset
inside it. Without sharing every tensor is its own buffer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .ir import Graph
from .schedule import Schedule


@dataclass(frozen=True)
class Buffer:
    """Live on steps ``[first, last]`` (inclusive, as in the plan JSON)."""

    id: int
    size: int
    first: int
    last: int
    tensors: tuple[tuple[str, int], ...]  # (tensor name, byte offset inside the buffer)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tensors)


def tensor_intervals(graph: Graph, schedule: Schedule, *, io_in_arena: bool = True) -> Mapping[str, tuple[int, int]]:
    """Inclusive ``(first, last)`` step of every tensor that needs arena space."""
    step = {op: s for s, op in enumerate(schedule.order)}
    last_step = max(len(schedule.order) - 1, 0)
    spans: dict[str, list[int]] = {}
    for t in graph.inputs:
        spans[t] = [0, 0]
    for op_index in schedule.order:
        s = step[op_index]
        op = graph.ops[op_index]
        for t in op.outputs:
            if t:
                spans[t] = [s, s]
        for t in op.inputs:
            if t in spans:
                spans[t][1] = max(spans[t][1], s)
    for t in graph.outputs:
        if t in spans:
            spans[t][1] = last_step
    skip = set() if io_in_arena else set(graph.inputs) | set(graph.outputs)
    return {t: (a, b) for t, (a, b) in spans.items() if t not in skip and graph.tensors[t].kind != "weight"}


def buffers(graph: Graph, schedule: Schedule, *, io_in_arena: bool = True) -> tuple[Buffer, ...]:
    """One buffer per tensor, in the order tensors appear (inputs, then outputs by step)."""
    spans = tensor_intervals(graph, schedule, io_in_arena=io_in_arena)
    return tuple(Buffer(i, graph.tensors[t].nbytes, *spans[t], ((t, 0),)) for i, t in enumerate(spans))
