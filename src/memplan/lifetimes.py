"""Schedule -> Buffers: when each activation is live, and which tensors share storage.

A tensor is live from the step that produces it to the last step that reads it, inclusive
(graph inputs from step 0, graph outputs to the last step; a tensor nobody reads lives only
at its own step). An op reads its inputs and writes its outputs at the same step, so they
overlap unless a sharing rule puts them in one buffer on purpose.

Each `Buffer` is what gets an arena address; it lists its tensors with their byte offset
inside it. Without sharing every tensor is its own buffer.

Which tensors share storage, and how, is `memory_model`'s business: this module only
reads its storages and unions the in-place writes the order fires.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .graph.ir import Graph
from .memory_model import NO_SHARING, MemoryModel, Sharing
from .order.schedule import Schedule

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


def buffers(graph: Graph, schedule: Schedule, *, io_in_arena: bool = True,
            sharing: Sharing = NO_SHARING, model: MemoryModel | None = None) -> tuple[Buffer, ...]:
    """One buffer per storage, in the order their first tensor appears (inputs, then by step).

    Without sharing that is one buffer per tensor. ``model`` reuses an analysis already made
    for the same graph, sharing and ``io_in_arena``."""
    spans = tensor_intervals(graph, schedule, io_in_arena=io_in_arena)
    if model is None:
        model = MemoryModel(graph, sharing=sharing, io_in_arena=io_in_arena)
    root = list(range(len(model.root_size)))
    offset = dict(model.offset)  # tensor -> offset inside its (final) root
    members = {r: list(ts) for r, ts in enumerate(model.root_members)}

    def find(r: int) -> int:
        while root[r] != r:
            r = root[r]
        return r

    done = 0
    for op_index in schedule.order:
        fired = model.discount(done, op_index)
        if fired is not None:
            rx, ry, x = fired
            fx, fy = find(rx), find(ry)
            base = offset[x]  # x sits at offset 0 of a whole storage; keep the general form
            for t in members.pop(fy):
                offset[t] += base
                members[fx].append(t)
            root[fy] = fx
        done |= 1 << op_index
    by_root: dict[int, list[str]] = {}
    for t in spans:
        by_root.setdefault(find(model.root_of[t]), []).append(t)
    result = []
    for i, (r, names) in enumerate(by_root.items()):
        first = min(spans[t][0] for t in names)
        last = max(spans[t][1] for t in names)
        result.append(Buffer(i, model.root_size[r], first, last, tuple((t, offset[t]) for t in names)))
    return tuple(result)
