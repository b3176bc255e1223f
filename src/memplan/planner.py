"""Graph -> Plan: order, lifetimes, offsets, weights layout, then the validator.

``plan(graph)`` is the whole pipeline as one pure function; the CLI is a thin shell over it.
The `Plan` is immutable and carries everything the plan JSON says (steps inclusive).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Mapping

from . import alloc
from .units import align_up
from .errors import PlanError
from .graph.ir import Graph
from .lifetimes import Buffer, buffers as make_buffers
from .memory_model import MemoryModel, Sharing
from .problem import Block, Problem
from .order.schedule import Schedule, order_and_storage
from .planner_branches import place_branch_weights, plan_branches, region_bytes, with_regions


@dataclass(frozen=True)
class PlacedBuffer:
    id: int
    offset: int
    size: int
    first_step: int
    last_step: int
    tensors: tuple[tuple[str, int], ...]  # (tensor name, byte offset inside the buffer)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.tensors)


@dataclass(frozen=True)
class WeightSlot:
    name: str
    offset: int
    size: int


@dataclass(frozen=True)
class Plan:
    """``naive_bytes`` is the arena with no reuse and no sharing: every activation tensor in
    the arena its own bytes, padded to the alignment, summed — an upper bound for every plan,
    and what `memplan zoo` and `memplan study` call naive too. ``sharing_only_bytes`` is
    the arena when sharing is the only saving: every buffer (tensors that share storage
    counted once) padded and summed, what ``algorithm="naive"`` places.

    ``tensor_offsets`` are absolute arena offsets; a buffer's ``tensors`` carry each one's
    offset inside the buffer (``offsets_in_buffer`` in the plan JSON)."""

    model: str
    order: tuple[str, ...]
    algorithm: str
    alignment: int
    arena_bytes: int
    lower_bound_bytes: int
    naive_bytes: int
    buffers: tuple[PlacedBuffer, ...]
    weights_bytes: int
    weights: tuple[WeightSlot, ...]
    order_method: str = "file"
    status: str = "heuristic"
    io_in_arena: bool = True
    stats: Mapping[str, float] = field(default_factory=dict)
    sharing: str = "none"  # the sharing rules applied: "views+inplace+concat", ..., "none"
    order_stats: Mapping = field(default_factory=dict)  # the scheduler's: peak, status, bound, seconds
    sharing_only_bytes: int = 0
    subplans: Mapping = field(default_factory=dict)  # If name -> planner_branches.IfPlan
    # The model's shape constants (`Graph.shape_constant_bytes`, ``len(Graph.shape_constants)``):
    # computed at plan time from the input shapes, so in neither the arena nor the weights.
    shape_constant_bytes: int = 0
    shape_constants: int = 0

    @cached_property
    def tensor_offsets(self) -> Mapping[str, int]:
        """Absolute arena offset of every activation tensor."""
        return {name: b.offset + rel for b in self.buffers for name, rel in b.tensors}

    @cached_property
    def buffer_of(self) -> Mapping[str, int]:
        """Tensor name -> id of the buffer that holds it."""
        return {name: b.id for b in self.buffers for name, _ in b.tensors}

    @cached_property
    def weight_offsets(self) -> Mapping[str, int]:
        return {w.name: w.offset for w in self.weights}

    def live_at(self, step: int) -> list[PlacedBuffer]:
        return [b for b in self.buffers if b.first_step <= step <= b.last_step]

    @cached_property
    def peak_step(self) -> int:
        """The step with the most live bytes (the first such step)."""
        live = [0] * (len(self.order) or 1)
        for b in self.buffers:
            for s in range(b.first_step, b.last_step + 1):
                live[s] += b.size
        return max(range(len(live)), key=lambda s: (live[s], -s))


def to_problem(bufs: tuple[Buffer, ...], alignment: int, capacity: int | None = None) -> Problem:
    """Buffers (inclusive steps) -> the pure problem (half-open lifetimes)."""
    blocks = tuple(Block(str(b.id), b.size, b.first, b.last + 1, alignment) for b in bufs)
    return Problem(blocks, capacity=capacity)


def naive_bytes(graph: Graph, bufs: tuple[Buffer, ...], alignment: int) -> int:
    """No reuse, no sharing: each activation tensor the arena holds, aligned, summed."""
    return sum(align_up(graph.tensors[name].nbytes, alignment) for b in bufs for name, _ in b.tensors)


def layout_weights(graph: Graph, alignment: int) -> tuple[tuple[WeightSlot, ...], int]:
    """Weights in first-use order, each aligned, in one contiguous read-only blob."""
    slots, top = [], 0
    for name in graph.weights:
        top = align_up(top, alignment)
        size = graph.tensors[name].nbytes
        slots.append(WeightSlot(name, top, size))
        top += size
    return tuple(slots), top


def plan(graph: Graph, *, algorithm: str = "best", alignment: int = 16, order: str = "heuristic",
         io_in_arena: bool = True, model: str | None = None, schedule: Schedule | None = None,
         sharing: Sharing | None = None, order_options: Mapping | None = None, **options) -> Plan:
    """Plan ``graph``: every activation gets an arena offset, every weight a blob offset.

    ``sharing`` (default: all rules on, `Sharing()`; `Sharing.off()` for one buffer per
    tensor) says which tensors may share storage; the order is chosen under it.
    ``order_options`` go to the scheduler (e.g. ``time_limit``, ``progress``), ``options`` to
    the allocator (e.g. ``time_limit``, ``seed``). An If planned per branch gets a nested plan
    per branch, with the same options, and a region buffer (`planner_branches`)."""
    if alignment < 1 or alignment & (alignment - 1):
        raise PlanError(f"alignment must be a power of two, got {alignment}")
    sharing = Sharing() if sharing is None else sharing
    if schedule is not None:
        storage = MemoryModel(graph, sharing=sharing, io_in_arena=io_in_arena)
        sched = schedule
    else:
        sched, storage = order_and_storage(graph, order, sharing=sharing, io_in_arena=io_in_arena,
                                           **dict(order_options or {}))
    bufs = make_buffers(graph, sched, io_in_arena=io_in_arena, model=storage)
    nested = plan_branches(graph, lambda g, **kw: plan(
        g, algorithm=algorithm, alignment=alignment, order=order, sharing=sharing,
        order_options=order_options, **kw, **options))
    bufs, subplans = with_regions(graph, sched.order, bufs, nested)
    problem = to_problem(bufs, alignment)
    solution = alloc.solve(problem, algorithm, **options)
    placed = tuple(PlacedBuffer(b.id, off, b.size, b.first, b.last, b.tensors)
                   for b, off in zip(bufs, solution.offsets))
    slots, weight_bytes = layout_weights(graph, alignment)
    result = Plan(
        model=model or graph.source or graph.name,
        order=tuple(graph.ops[i].name for i in sched.order),
        algorithm=solution.algorithm, alignment=alignment,
        arena_bytes=solution.height(problem), lower_bound_bytes=solution.bound,
        naive_bytes=naive_bytes(graph, bufs, alignment) + region_bytes(subplans, alignment),
        buffers=placed, weights_bytes=weight_bytes,
        weights=slots, order_method=sched.method, status=solution.status, io_in_arena=io_in_arena,
        stats=dict(solution.stats), sharing=sharing.label(), order_stats=dict(sched.stats or {}),
        sharing_only_bytes=sum(align_up(b.size, alignment) for b in bufs), subplans=subplans,
        shape_constant_bytes=graph.shape_constant_bytes, shape_constants=len(graph.shape_constants))
    if subplans:
        result = place_branch_weights(result, alignment)
    from .verify.check import check_plan

    findings = check_plan(graph, result)
    if findings:
        raise PlanError(f"the plan failed validation (a bug, nothing written): {findings[0]}")
    return result
