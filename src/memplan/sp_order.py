"""Optimal orders of in-tree-like series-parallel regions in polynomial time (Liu 1987).

A set of ops ``X`` is *series-parallel* when it is one op, or splits into parts that run one
after the other (every op of a part precedes every op of the next: the components of the
incomparability graph), or into parts with no order between them (the components of the
comparability graph), each part series-parallel again. In-trees (each op's outputs read by
one op, its parent) are the case Liu solved: a node is the parallel split of its children's
subtrees followed, in series, by the node.

Memory is *additive* over a parallel split when no storage is needed by two of its parts
(its producers and readers inside ``X`` lie in one part): the bytes live are a constant plus
one term per part, each depending only on how far that part has run. Merging fixed part
orders to minimise the peak of such a sum is solved by Liu's hill–valley rule: cut each
part's profile into segments (the highest step, then the lowest point after it, the last of
equals, repeated on the rest), whose hill − valley never increases along a part, and run
all segments by non-increasing hill − valley. Liu proved that doing this bottom-up is
optimal when every part *starts from nothing* (his subtrees allocate everything they free),
which in memplan's model (an op's outputs are allocated while its inputs are live; a
storage is freed after its last reader) is his in-tree model with the op's outputs as the
node's file.

`SeriesParallel.order` applies it exactly under those conditions and returns None, so that
the caller searches instead, when:

- some storage is needed by two parallel parts — the usual ONNX fork (one tensor read by
  several branches) and a concat built in place by several branches: whichever part runs
  last frees or completes it, which couples the parts;
- a storage live before a parallel split dies inside it (the parts do not start from
  nothing: a graph input or a fork's per-branch outputs read by the branches). Kayaaslan,
  Lambert, Marchal and Uçar (2018) solve that series-parallel case with a more involved
  algorithm; the plain bottom-up merge is measurably not optimal there (about a third of
  random small instances in brute-force checks), so memplan does not use it;
- ``X`` is not series-parallel (an N-shaped dependency: randomly wired graphs, NAS cells).

Views and in-place writes need no special case: they change storages, and the tests are on
storages. So in practice the fast path fires on tree-shaped regions whose leaves read only
weights; real ONNX graphs, which all descend from a graph input, go to the search. Cost:
O(n²) mask operations for the decomposition, O(n · storages) for the profiles.
"""
from __future__ import annotations

from .lifetimes import MemoryModel
from .order_bounds import bits


def live_after(model: MemoryModel, done: int) -> int:
    """Bytes live once exactly the ops in ``done`` have run."""
    total = 0
    for r, cost in enumerate(model.root_cost):
        born = model.prod[r] == 0 or model.prod[r] & done
        if born and (model.keep[r] or model.span[r] & ~done):
            total += cost
    return total


def _components(ops: int, adjacent) -> list[int]:
    """Connected components (as masks) of the graph on ``ops`` whose neighbours are ``adjacent(u)``."""
    comps, left = [], ops
    while left:
        low = left & -left
        comp, grow = low, low
        while grow:
            nxt = 0
            for u in bits(grow):
                nxt |= adjacent(u)
            grow = nxt & ops & ~comp
            comp |= grow
        comps.append(comp)
        left &= ~comp
    return comps


class SeriesParallel:
    """Optimal orders of the series-parallel regions of one model (see the module docstring)."""

    def __init__(self, model: MemoryModel, anc: list[int], desc: list[int]):
        self.model, self.anc, self.desc = model, anc, desc

    def order(self, ops: int) -> list[int] | None:
        """An order of ``ops`` (a convex set) of minimum peak, or None where not exact."""
        if ops & (ops - 1) == 0:
            return [ops.bit_length() - 1]
        parts = _components(ops, lambda u: ops & ~(self.anc[u] | self.desc[u] | (1 << u)))
        if len(parts) > 1:  # series: order the parts by precedence
            parts.sort(key=lambda p: bin(self.anc[(p & -p).bit_length() - 1] & ops).count("1"))
            out: list[int] = []
            for p in parts:
                sub = self.order(p)
                if sub is None:
                    return None
                out += sub
            return out
        parts = _components(ops, lambda u: self.anc[u] | self.desc[u])
        done = 0
        for u in bits(ops):
            done |= self.anc[u]
        done &= ~ops
        if len(parts) == 1 or not self._additive(parts) or self._inherits(done, ops):
            return None
        subs = [self.order(p) for p in parts]
        if any(s is None for s in subs):
            return None
        return self._merge(done, subs)

    def _additive(self, parts: list[int]) -> bool:
        for span in self.model.span:
            if sum(1 for p in parts if span & p) > 1:
                return False
        return True

    def _inherits(self, done: int, ops: int) -> bool:
        """Some storage live when ``ops`` start dies among them (the parts would not start
        from nothing, as Liu's subtrees do)."""
        m = self.model
        for r, span in enumerate(m.span):
            if m.root_cost[r] and (m.prod[r] == 0 or m.prod[r] & done) and not m.keep[r]:
                rest = span & ~done
                if rest and rest & ~ops == 0:
                    return True
        return False

    def _merge(self, done: int, subs: list[list[int]]) -> list[int]:
        """Liu's merge of the parts' orders, from the state where all ancestors of the parts ran."""
        live = live_after(self.model, done)
        segments = []
        for k, sub in enumerate(subs):
            for j, (hill, valley, seq) in enumerate(hill_valley(self.model, done, live, sub)):
                segments.append((valley - hill, k, j, seq))
        segments.sort(key=lambda s: s[:3])
        return [op for *_, seq in segments for op in seq]


def hill_valley(model: MemoryModel, done: int, live: int, order: list[int]) -> list[tuple[int, int, list[int]]]:
    """Liu's segments of ``order`` run alone from (``done``, ``live``): (hill, valley, ops),
    the highest step, then the lowest point after it (the last of equals), repeated."""
    steps = []
    for op in order:
        during, after = model.step(done, live, op)
        steps.append((during, after))
        done |= 1 << op
        live = after
    out, start = [], 0
    while start < len(order):
        hill = max(d for d, _ in steps[start:])
        top = max(i for i in range(start, len(order)) if steps[i][0] == hill)
        valley = min(a for _, a in steps[top:])
        end = max(i for i in range(top, len(order)) if steps[i][1] == valley)
        out.append((hill, valley, order[start:end + 1]))
        start = end + 1
    return out
