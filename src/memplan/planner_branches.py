"""Nested plans for an ``If`` whose condition depends on input values (`graph.branches`), as
TensorFlow Lite Micro plans subgraphs: each branch gets a plan of its own (order, lifetimes,
offsets — the same `planner.plan`, recursively), and both branches share one *region* of the
outer arena, sized for the larger branch, live at the If's step only.

- A branch plan keeps the branch's inputs (outer tensors it reads) and outputs out of its
  region (``io_in_arena=False``): the inputs are read where the outer plan put them, and each
  branch output is written **directly into the If's output buffer** (no copy). The region
  holds only the branch's own intermediates, at offsets relative to the region's start.
- The outer plan sees the If as an op reading the outer tensors its branches read and
  writing its outputs, plus one buffer without tensors: the region (``IfPlan.region`` is its
  id). The allocator places it like any other buffer, so nothing live at that step overlaps
  it, and the lower bound counts it.
- One weights blob for the whole model: a weight the outer graph holds keeps its outer slot
  inside the branch plans; weights defined inside a branch (its ``Constant`` nodes and
  initializers) are appended after the outer ones (then branch first, recursively), and
  every plan's ``weights_bytes`` is the whole blob.

Cost: one plan per branch, so the branches cost what planning them as models would; the
outer order does not see the region's size (the If is scheduled as if it took none).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from .graph.branches import LABELS, branch_graphs, branch_weights, has_branches
from .graph.ir import Graph
from .lifetimes import Buffer
from .units import align_up


BRANCH_LABELS = tuple(LABELS.values())  # "then", "else"


@dataclass(frozen=True)
class IfPlan:
    """The nested plans of one If: ``branches`` maps ``"then"``/``"else"`` to the `Plan` of
    that branch (offsets relative to the region); ``region`` is the id of the outer buffer
    holding them; ``size`` the larger branch arena."""

    branches: Mapping[str, object]
    region: int
    size: int
    only_weights: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # label -> weights read only there


def plan_branches(graph: Graph, plan_fn: Callable) -> dict[str, dict[str, object]]:
    """If name -> {"then": Plan, "else": Plan}, each planned by ``plan_fn(branch_graph,
    model=...)`` (the caller's options bound) with inputs and outputs outside its region."""
    out = {}
    for op in graph.ops:
        if has_branches(op):
            out[op.name] = {label: plan_fn(g, io_in_arena=False, model=f"{op.name}/{label}")
                            for label, g in branch_graphs(op).items()}
    return out


def with_regions(graph: Graph, order: tuple[int, ...], bufs: tuple[Buffer, ...],
                 nested: Mapping[str, Mapping]) -> tuple[tuple[Buffer, ...], dict[str, IfPlan]]:
    """``bufs`` plus one region buffer per If, live at the If's step only."""
    step = {graph.ops[i].name: s for s, i in enumerate(order)}
    only: dict[str, dict[str, list[str]]] = {}
    for w, (name, label) in branch_weights(graph).items():
        only.setdefault(name, {}).setdefault(label, []).append(w)
    extra, plans = [], {}
    for name, branches in nested.items():
        size = max((p.arena_bytes for p in branches.values()), default=0)
        ident = len(bufs) + len(extra)
        extra.append(Buffer(ident, size, step[name], step[name], ()))
        weights = {label: tuple(ws) for label, ws in only.get(name, {}).items()}
        plans[name] = IfPlan(dict(branches), ident, size, weights)
    return bufs + tuple(extra), plans


def region_bytes(subplans: Mapping[str, IfPlan], alignment: int) -> int:
    """The regions' aligned bytes (what the naive figures add for them)."""
    return sum(align_up(p.size, alignment) for p in subplans.values())


def place_branch_weights(plan, alignment: int):
    """``plan`` with every branch plan's weights in the one blob (see the module doc)."""
    known = {w.name: w for w in plan.weights}
    subplans, top = _place(plan.subplans, known, plan.weights_bytes, alignment)
    return _set_blob(replace(plan, subplans=subplans), top)


def _place(subplans, known, top, alignment):
    out = {}
    for name, ip in subplans.items():
        branches = {}
        for label, p in ip.branches.items():
            scope = dict(known)  # a branch's own weights are not the other branch's
            slots = []
            for w in p.weights:
                if w.name not in scope:
                    top = align_up(top, alignment)
                    scope[w.name] = replace(w, offset=top)
                    top += w.size
                slots.append(scope[w.name])
            inner, top = _place(p.subplans, scope, top, alignment)
            branches[label] = replace(p, weights=tuple(slots), subplans=inner)
        out[name] = replace(ip, branches=branches)
    return out, top


def _set_blob(plan, blob: int):
    subplans = {name: replace(ip, branches={label: _set_blob(p, blob) for label, p in ip.branches.items()})
                for name, ip in plan.subplans.items()}
    return replace(plan, weights_bytes=blob, subplans=subplans)


def all_plans(plan, prefix: str = ""):
    """``(path, plan)`` for ``plan`` and every nested branch plan, depth first; paths like
    ``"If_32/then"`` (the outer plan is ``""``)."""
    yield prefix, plan
    for name, ip in plan.subplans.items():
        for label, p in ip.branches.items():
            yield from all_plans(p, f"{prefix}/{name}/{label}" if prefix else f"{name}/{label}")
