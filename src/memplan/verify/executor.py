"""Run a model inside the memory its plan describes — the proof that convinces.

One ``uint8`` arena of ``plan.arena_bytes`` and one weights blob of ``plan.weights_bytes``
are allocated; every activation is a NumPy view at its planned offset (no other activation
storage exists, except graph inputs/outputs when the plan keeps them outside the arena); the
ops run in the plan's order, each writing its outputs into their planned views — in-place
ops really overwrite their input, views really alias, a concat built in place finds its
inputs already sitting in its slices.

Before every step, every arena byte that does not hold a tensor still needed is filled with
``0xFF`` (a NaN in every float format, -1 in signed integers), so a plan that lets a tensor be
overwritten too early cannot pass by luck. Which tensors are "still needed" is recomputed
here from the graph and the order, not taken from the planner.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from ..errors import PlanError
from ..graph.branches import branch_graphs, has_branches
from .check import tensor_spans
from .ops import KernelError, run_op

POISON = 0xFF


@dataclass(frozen=True)
class ArenaRun:
    outputs: dict[str, np.ndarray]
    seconds: float
    poisoned_bytes: int


def weight_values(graph) -> dict[str, np.ndarray]:
    """Every weight's value: the initializers, then the constant ops run once, in file order."""
    values = dict(graph.initializers)
    for op in graph.const_ops:
        ins = [values[t] if t else None for t in op.inputs]
        outs = [_empty(graph.tensors[t]) if t else None for t in op.outputs]
        _run(op, ins, outs, graph.opset)
        values.update({t: o for t, o in zip(op.outputs, outs) if t})
    return values


def run_in_arena(graph, plan, inputs: dict[str, np.ndarray], *, poison: bool = True,
                 observe: Callable[[str, np.ndarray], None] | None = None, fetch=None) -> ArenaRun:
    """Run the ops in plan order inside one arena. ``observe(name, value)`` sees every
    output right after the op that writes it (to compare intermediates with a reference).
    ``fetch``: a `verify.fetch.Fetcher`; the weights it fetches on demand are poisoned in the
    blob and each Gather reading one gets a staging array of the slices it names instead."""
    start = time.perf_counter()
    arena = np.zeros(plan.arena_bytes, dtype=np.uint8)
    blob = np.zeros(plan.weights_bytes, dtype=np.uint8)
    views = _weight_views(graph, plan, blob)
    if fetch is not None:
        fetch.hide(views, arena)
    offsets = plan.tensor_offsets
    for name, t in graph.tensors.items():
        if t.kind != "weight":
            views[name] = _view(arena, offsets[name], t) if name in offsets else _empty(t)
    for name in graph.inputs:
        views[name][...] = inputs[name]
    poisoned = _run_steps(graph, plan, arena, blob, views, poison, observe, fetch)
    outputs = {name: views[name].copy() for name in graph.outputs}
    return ArenaRun(outputs, time.perf_counter() - start, poisoned)


def _run_steps(graph, plan, arena, blob, views, poison, observe, fetch=None) -> int:
    """The ops of ``plan`` in order, each writing into ``views``; returns the bytes poisoned.
    ``fetch`` stages the weights fetched on demand (rows: ops of its graph; branch weights:
    at each If)."""
    spans = tensor_spans(graph, plan)
    op_index = {op.name: i for i, op in enumerate(graph.ops)}
    offsets = plan.tensor_offsets
    by_name = {op.name: op for op in graph.ops}
    poisoned = 0
    for step, op_name in enumerate(plan.order):
        if poison:
            poisoned += _poison_free(arena, graph, offsets, spans, step)
        op = by_name[op_name]
        if poison:
            poisoned += _poison_outputs(arena, graph, plan, op)
        if has_branches(op):
            poisoned += _run_if(op, plan, arena, blob, views, poison, observe, fetch)
        else:
            ins = [views[t] if t else None for t in op.inputs]
            if fetch is not None:
                ins = fetch.inputs(op_index[op_name], op, ins)
            _run(op, ins, [views[t] if t else None for t in op.outputs], graph.opset)
        if observe is not None:
            for t in op.outputs:
                if t:
                    observe(t, views[t])
    return poisoned


def _run_if(op, plan, arena, blob, views, poison, observe, fetch=None) -> int:
    """An If kept in the graph: the condition picks a branch, whose ops run inside the If's
    region of the same arena (offsets relative to it), read the outer tensors where the outer
    plan put them and write the If's outputs in place (`planner_branches`)."""
    ip = plan.subplans[op.name]
    label = "then" if bool(np.asarray(views[op.inputs[0]]).reshape(-1)[0]) else "else"
    g, p = branch_graphs(op)[label], ip.branches[label]
    start = next(b.offset for b in plan.buffers if b.id == ip.region)
    region = arena[start: start + ip.size]
    inner = _weight_views(g, p, blob)
    inner.update({t: views[t] for t in g.inputs})
    inner.update({t: views[out] for t, out in zip(g.outputs, op.outputs) if out})
    offsets = p.tensor_offsets
    for name, t in g.tensors.items():
        if t.kind != "weight" and name not in inner:
            inner[name] = _view(region, offsets[name], t) if name in offsets else _empty(t)
    if fetch is not None:  # the weights read only in one branch: only the taken one's fetched
        fetch.enter_if(op, label, inner)
    return _run_steps(g, p, region, blob, inner, poison, observe, fetch)


def _run(op, ins, outs, opset):
    try:
        run_op(op.kernel_key, dict(op.attrs), ins, outs, opset=opset)
    except KernelError as exc:
        raise PlanError(f"node {op.name!r}: {exc}") from None


def _weight_views(graph, plan, blob) -> dict[str, np.ndarray]:
    values = weight_values(graph)
    views = {}
    for w in plan.weights:
        views[w.name] = _view(blob, w.offset, graph.tensors[w.name])
        views[w.name][...] = values[w.name]
    for name, value in values.items():
        views.setdefault(name, value)
    return views


def _numpy_dtype(tensor) -> np.dtype:
    try:
        return np.dtype(tensor.dtype)
    except TypeError:
        raise PlanError(f"tensor {tensor.name!r}: the arena executor cannot hold dtype {tensor.dtype}") from None


def _view(buffer: np.ndarray, offset: int, tensor) -> np.ndarray:
    dtype = _numpy_dtype(tensor)
    raw = buffer[offset: offset + tensor.nbytes]
    if offset % dtype.itemsize:  # an unaligned view is legal NumPy but slow; keep it exact
        raise PlanError(f"tensor {tensor.name!r} at offset {offset} is not aligned to its {dtype.itemsize}-byte type")
    return raw.view(dtype).reshape(tensor.shape)


def _empty(tensor) -> np.ndarray:
    return np.empty(tensor.shape, dtype=_numpy_dtype(tensor))


def _poison_free(arena, graph, offsets, spans, step) -> int:
    """Fill every byte not held by a tensor written before ``step`` and read at or after it."""
    held = sorted((offsets[t], offsets[t] + graph.tensors[t].nbytes)
                  for t, (first, last) in spans.items()
                  if t in offsets and (first < step or (first == step and t in graph.inputs)) and last >= step)
    filled, cursor = 0, 0
    for lo, hi in held + [(len(arena), len(arena))]:
        if lo > cursor:
            arena[cursor:lo] = POISON
            filled += lo - cursor
        cursor = max(cursor, hi)
    return filled


def _poison_outputs(arena, graph, plan, op) -> int:
    """An output holds nothing until its op writes it, so poison it first — except where the
    plan says it shares a buffer with one of the op's inputs (in place, view, concat slot).
    A real kernel that writes over an input it still reads would produce garbage; our NumPy
    kernels compute into temporaries, so this is what makes such an overlap visible."""
    buffer_of = plan.buffer_of
    shared = {buffer_of.get(t) for t in op.inputs if t}
    filled = 0
    for t in op.outputs:
        if t and t in plan.tensor_offsets and buffer_of[t] not in shared:
            lo = plan.tensor_offsets[t]
            arena[lo: lo + graph.tensors[t].nbytes] = POISON
            filled += graph.tensors[t].nbytes
    return filled


def corrupt(plan):
    """A deliberately wrong plan: buffer b moved onto buffer a, which is still live when b is
    written (preferably read again later), so a's value is clobbered before its last read."""
    candidates = [(a, b) for a in plan.buffers for b in plan.buffers
                  if a.size and b.size and a.first_step < b.first_step <= a.last_step]
    if not candidates:
        raise PlanError("no two buffers are live together in this plan; nothing to corrupt")
    # an If's branches read only on the taken path: prefer a clobbered buffer read after b by a plain op
    if_steps = {s for s, name in enumerate(plan.order) if name in (plan.subplans or {})}
    a, b = max(candidates, key=lambda p: (p[1].first_step < p[0].last_step and p[0].last_step not in if_steps,
                                          p[1].first_step < p[0].last_step, min(p[0].size, p[1].size),
                                          -p[0].id, -p[1].id))
    moved = tuple(replace(x, offset=a.offset) if x.id == b.id else x for x in plan.buffers)
    arena = max(plan.arena_bytes, a.offset + b.size)
    return replace(plan, buffers=moved, arena_bytes=arena), (a.id, b.id)
