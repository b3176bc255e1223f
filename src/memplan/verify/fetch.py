"""On-demand weights really fetched slice by slice during an arena run (issue 17's proof).

The weights a tiered plan reads in part (`graph.weight_access`; mode ``on-demand``, or read in
place) are hidden from the executor: their views in its weights blob are filled with 0xFF
(NaN), so any read the plan did not foresee corrupts the output. Before each Gather that reads
one, the rows (or, for a routed expert table, each selected expert once) its indices name at
run time are copied from a separate *weights image* (every weight at its plan offset, as
stored in flash or ROM) into the weight's slot of the step's staging buffer (read in place:
into an array of their own, the op's read of the home tier), and the Gather runs on that
slot with its indices renumbered. Given a tiered plan (`tiered_fetcher`), the executor runs
in the tiered layout: one byte space holding every writable tier's arena in turn, each
buffer at its tier's address and the staging buffer ``d@s`` at the fast-tier offset the
placement gave it, so a staging slot that overlaps a live activation clobbers it (the proof
fails) as it would on the device. Without one, each Gather gets a staging array of its own.
Every byte copied is counted; the count for an input is what the plan's ``bytes_read`` says
for it (rows: every index; experts: each distinct expert, k for one token).
``GatherElements`` fetches single elements into an otherwise poisoned copy of the table (not
into the staging slot). Experts computed under a mask (`graph.masked_experts`) and weights
gathered through a view are not fetched: they run from the blob and are listed in
``unfetched``. A weight read only in one branch of an If (access ``branch``) is poisoned in
every branch's weights and, when the If takes that branch (`enter_if`), fetched whole from
the image (into its staging slot when on demand): the count is the taken branch's bytes.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import PlanError
from ..graph.weight_access import analyze, total_read
from ..units import align_up

POISON = 0xFF


class Fetcher:
    """Counts ``fetched`` bytes; ``weights`` are the names it fetches."""

    def __init__(self, graph, plan, modes, values, staging=None):
        """``staging``: step -> (byte address of its staging buffer in the run's arena,
        {weight: offset of its slot in the buffer}), from `tiered_fetcher`."""
        access = analyze(graph)
        self.graph = graph
        gathered = {g.op for a in access.values() for g in a.reads}
        partial = {w for w, m in modes.items() if m in ("on-demand", "in-place") and access[w].partial}
        self.weights = {w for w in partial if access[w].reads
                        and all(r.op in gathered and graph.ops[r.op].inputs[0] == w for r in access[w].reads)}
        self.branch = {w: access[w].branch for w in partial if access[w].kind == "branch"}
        self.unfetched = partial - self.weights - set(self.branch)  # masked experts, views: run whole
        # the plan's figures for them (an If's worst case: its larger branch)
        self.expected, self.worst = total_read(access, self.weights | set(self.branch))
        self.access = access
        self.image = np.zeros(plan.weights_bytes, dtype=np.uint8)
        self.tables = {}
        for slot in plan.weights:
            t = graph.tensors[slot.name]
            raw = self.image[slot.offset: slot.offset + t.nbytes]
            raw[...] = np.ascontiguousarray(values[slot.name]).view(np.uint8).reshape(-1)
            if slot.name in self.weights or slot.name in self.branch:
                self.tables[slot.name] = raw.view(np.dtype(t.dtype)).reshape(t.shape)
        self.fetched = 0
        self.by_op = {r.op: (w, r) for w in self.weights for r in access[w].reads}
        self.staging = staging
        self.staged = {w for w in self.weights | set(self.branch) if modes[w] == "on-demand"}  # not in place
        self.step_of = {name: s for s, name in enumerate(plan.order)}
        self.arena = None

    def hide(self, views, arena=None) -> None:
        """Poison the executor's own copy of every fetched weight; ``arena``: the run's bytes,
        which hold the staging buffers when the fetcher has them."""
        self.arena = arena
        for w in self.weights | set(self.branch):
            views[w].view(np.uint8)[...] = POISON

    def inputs(self, index: int, op, ins):
        """The op's inputs with a fetched weight replaced by its staging array."""
        if index not in self.by_op or self.graph.ops[index] is not op:  # not an op of a branch
            return ins
        w, read = self.by_op[index]
        table, idx = self.tables[w], np.asarray(ins[1]).astype(np.int64)
        if op.op_type == "GatherElements":
            return [self._elements(table, idx, op)] + list(ins[1:])
        axis = read.axis
        if op.op_type == "GatherND":
            idx = idx[..., 0]
        idx = np.where(idx < 0, idx + table.shape[axis], idx)
        bad = idx[(idx < 0) | (idx >= table.shape[axis])]
        if bad.size:  # e.g. indices overwritten by a misplaced staging buffer
            raise PlanError(f"node {op.name!r}: index {int(bad[0])} is outside {w!r} (axis {axis} has "
                            f"{table.shape[axis]})")
        picks = list(dict.fromkeys(idx.reshape(-1).tolist())) if read.k else idx.reshape(-1).tolist()
        shape = table.shape[:axis] + (len(picks),) + table.shape[axis + 1:]
        nbytes = int(np.prod(shape)) * table.itemsize
        if nbytes > read.worst:
            raise PlanError(f"node {op.name!r}: fetched {nbytes} bytes of {w!r}, the plan's staging "
                            f"slot holds {read.worst}")
        staging = self._slot(op, w, shape, table.dtype)
        np.take(table, picks, axis=axis, out=staging)  # one slice per pick, copied from the image
        self.fetched += nbytes
        where = {p: i for i, p in enumerate(picks)}
        renumbered = np.array([where[p] for p in idx.reshape(-1).tolist()] if read.k else
                              range(len(picks)), dtype=np.int64).reshape(idx.shape)
        if op.op_type == "GatherND":
            renumbered = renumbered[..., None]
        return [staging, renumbered] + list(ins[2:])

    def enter_if(self, op, label: str, views) -> None:
        """The If ``op`` takes branch ``label``, whose weights are ``views`` (just filled from
        the blob): poison every weight read only in one branch, then fetch the ones read only
        in this branch from the image, into their staging slot when the If's step has one."""
        for w, where in self.branch.items():
            if w not in views:
                continue
            views[w].view(np.uint8)[...] = POISON
            if where != (op.name, label):
                continue
            table = self.tables[w]
            if w in self.staged and self.staging is not None and op.name in self.step_of:
                views[w] = self._slot(op, w, table.shape, table.dtype)
            views[w][...] = table
            self.fetched += table.nbytes

    def _slot(self, op, w, shape, dtype) -> np.ndarray:
        """Where the slices of ``w`` go: its slot in the staging buffer of the op's step, or
        a fresh array when the fetcher has no staging buffers or ``w`` is read in place."""
        if self.staging is None or w not in self.staged:
            return np.empty(shape, dtype=dtype)
        step = self.step_of[op.name]
        if step not in self.staging or w not in self.staging[step][1]:
            raise PlanError(f"node {op.name!r}: the plan has no staging slot for {w!r} at step {step}")
        start = self.staging[step][0] + self.staging[step][1][w]
        nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
        if start + nbytes > self.arena.size:
            raise PlanError(f"node {op.name!r}: the staging slot of {w!r} [{start}, {start + nbytes}) ends past "
                            f"the arena ({self.arena.size} bytes)")
        return self.arena[start: start + nbytes].view(dtype).reshape(shape)

    def _elements(self, table, idx, op):
        axis = int(op.attrs.get("axis", 0)) % table.ndim
        idx = np.where(idx < 0, idx + table.shape[axis], idx)
        staging = np.full(table.shape, 0, dtype=table.dtype)
        staging.view(np.uint8)[...] = POISON
        grid = list(np.indices(idx.shape))
        grid[axis] = idx
        staging[tuple(grid)] = table[tuple(grid)]
        self.fetched += idx.size * table.itemsize
        return staging


def tiered_fetcher(graph, tp, values) -> tuple[object, Fetcher]:
    """(the plan to run, its Fetcher) for a tiered plan ``tp`` (`tiers.placement.TieredPlan`):
    the run's arena is every writable tier's arena in turn (the fast tier first, each from
    address 0 of its tier, the weights stored in a writable tier included), every buffer at
    its tier's address plus its offset there, and the fetcher writes into the staging
    buffers at their fast-tier offsets."""
    plan, align = tp.plan, tp.plan.alignment
    starts, bases, top = {}, {}, 0
    for use in tp.tiers:
        if not use.writable:
            continue
        stored = plan.weights_bytes if use.name == tp.weights_home else 0
        starts[use.name], bases[use.name] = top, align_up(stored, align) if stored else 0
        top = align_up(top + bases[use.name] + use.arena_bytes, align)
    buffers = tuple(replace(b, offset=starts[tp.buffer_tier[b.id]] + tp.buffer_offset[b.id]) for b in plan.buffers)
    run_plan = replace(plan, buffers=buffers, arena_bytes=max(top, max((b.offset + b.size for b in buffers),
                                                                        default=0)))
    fast = next(u.name for u in tp.tiers if u.writable)
    staging = {s.step: (starts[fast] + bases[fast] + s.offset, dict(s.weights)) for s in tp.staging}
    return run_plan, Fetcher(graph, run_plan, tp.weight_modes, values, staging=staging)
