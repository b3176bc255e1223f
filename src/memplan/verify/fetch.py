"""On-demand weights really fetched slice by slice during an arena run (issue 17's proof).

The weights a tiered plan reads in part (`graph.weight_access`; mode ``on-demand``, or read in
place) are hidden from the executor: their views in its weights blob are filled with 0xFF
(NaN), so any read the plan did not foresee corrupts the output. Before each Gather that reads
one, the rows (or, for a routed expert table, each selected expert once) its indices name at
run time are copied from a separate *weights image* (every weight at its plan offset, as
stored in flash or ROM) into a staging array of only those slices, and the Gather runs on the
staging array with its indices renumbered. Every byte copied is counted; the count for an
input is what the plan's ``bytes_read`` says for it (rows: every index; experts: each distinct
expert, k for one token). ``GatherElements`` fetches single elements into an otherwise
poisoned copy. Experts computed under a mask (`graph.masked_experts`) and weights gathered
through a view are not fetched: they run from the blob and are listed in ``unfetched``.
"""
from __future__ import annotations

import numpy as np

from ..errors import PlanError
from ..graph.weight_access import analyze

POISON = 0xFF


class Fetcher:
    """Counts ``fetched`` bytes; ``weights`` are the names it fetches."""

    def __init__(self, graph, plan, modes, values):
        access = analyze(graph)
        self.graph = graph
        gathered = {g.op for a in access.values() for g in a.reads}
        partial = {w for w, m in modes.items() if m in ("on-demand", "in-place") and access[w].partial}
        self.weights = {w for w in partial if access[w].reads
                        and all(r.op in gathered and graph.ops[r.op].inputs[0] == w for r in access[w].reads)}
        self.unfetched = partial - self.weights  # masked experts, views: run whole, not fetched
        self.expected = sum(access[w].expected for w in self.weights)  # the plan's figures for them
        self.worst = sum(access[w].worst for w in self.weights)
        self.access = access
        self.image = np.zeros(plan.weights_bytes, dtype=np.uint8)
        self.tables = {}
        for slot in plan.weights:
            t = graph.tensors[slot.name]
            raw = self.image[slot.offset: slot.offset + t.nbytes]
            raw[...] = np.ascontiguousarray(values[slot.name]).view(np.uint8).reshape(-1)
            if slot.name in self.weights:
                self.tables[slot.name] = raw.view(np.dtype(t.dtype)).reshape(t.shape)
        self.fetched = 0
        self.by_op = {r.op: (w, r) for w in self.weights for r in access[w].reads}

    def hide(self, views) -> None:
        """Poison the executor's own copy of every fetched weight."""
        for w in self.weights:
            views[w].view(np.uint8)[...] = POISON

    def inputs(self, index: int, op, ins):
        """The op's inputs with a fetched weight replaced by its staging array."""
        if index not in self.by_op:
            return ins
        w, read = self.by_op[index]
        table, idx = self.tables[w], np.asarray(ins[1]).astype(np.int64)
        if op.op_type == "GatherElements":
            return [self._elements(table, idx, op)] + list(ins[1:])
        axis = read.axis
        if op.op_type == "GatherND":
            idx = idx[..., 0]
        idx = np.where(idx < 0, idx + table.shape[axis], idx)
        picks = list(dict.fromkeys(idx.reshape(-1).tolist())) if read.k else idx.reshape(-1).tolist()
        staging = np.take(table, picks, axis=axis)  # one slice per pick, copied from the image
        if staging.nbytes > read.worst:
            raise PlanError(f"node {op.name!r}: fetched {staging.nbytes} bytes of {w!r}, the plan's staging "
                            f"slot holds {read.worst}")
        self.fetched += staging.nbytes
        where = {p: i for i, p in enumerate(picks)}
        renumbered = np.array([where[p] for p in idx.reshape(-1).tolist()] if read.k else
                              range(len(picks)), dtype=np.int64).reshape(idx.shape)
        if op.op_type == "GatherND":
            renumbered = renumbered[..., None]
        return [staging, renumbered] + list(ins[2:])

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
