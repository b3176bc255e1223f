"""Lower bounds on the peak of any order that completes a set of run ops.

A storage is live while an op ``v`` runs, in *every* order, when it is born by then and not
dead yet: some op producing it is ``v`` or an ancestor of ``v`` (or it holds a graph input),
and some op still needing it (a reader, a later producer of a concat slice) is ``v`` or a
descendant of ``v`` (or it holds a graph output). Summed over storages that is the
*crossing bound* of ``v``: its own inputs and outputs plus every skip connection that
stays live across it. It is at least `MemoryModel.op_bound` and usually much more on wide
graphs (randomly wired stages, U-Nets), where many tensors wait for readers far ahead.

After a set ``done`` of ops has run, storages already born by an op *parallel* to ``v`` join
the bound of every unrun ``v`` that one of their readers follows (`CrossingBound.state`):
the bound of a state is the largest such sum over its unrun ops. Both are exact lower
bounds (never above the peak of an order that extends ``done``), which is what lets the
branch and bound in `memplan.order.exact` cut a branch before it reaches the best peak.

Order-dependent in-place writes lower only the step of the op making them: that op's bound
subtracts the largest storage it could write over, as `MemoryModel.op_bound` does.

Cost: building is O(n · storages) bit operations; a state bound is O(unrun ops · storages
born by parallel ops), in practice a few dozen additions per op.
"""
from __future__ import annotations

from ..memory_model import MemoryModel


def bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def ancestors_descendants(pred_mask: list[int], succ: list[list[int]], topo: list[int]) -> tuple[list[int], list[int]]:
    """Strict ancestor and descendant masks of every op."""
    n = len(pred_mask)
    anc, desc = [0] * n, [0] * n
    for i in topo:
        a = 0
        for p in bits(pred_mask[i]):
            a |= anc[p] | (1 << p)
        anc[i] = a
    for i in reversed(topo):
        d = 0
        for s in succ[i]:
            d |= desc[s] | (1 << s)
        desc[i] = d
    return anc, desc


class CrossingBound:
    """Per-op crossing bounds of one `MemoryModel`, and the bound of a state."""

    def __init__(self, model: MemoryModel, anc: list[int], desc: list[int]):
        self.model = model
        n = model.n
        roots = range(len(model.root_size))
        cost = model.root_cost
        self.cost = cost
        self.prod = model.prod
        needed = []  # storages still needed at or after op v
        born = []  # storages born by the time op v runs, in every order
        for v in range(n):
            after = desc[v] | (1 << v)
            upto = anc[v] | (1 << v)
            needed.append(sum(1 << r for r in roots if cost[r] and (model.keep[r] or model.span[r] & after)))
            born.append(sum(1 << r for r in roots if cost[r] and (model.prod[r] == 0 or model.prod[r] & upto)))
        self.needed, self.born = needed, born
        discount = [max((cost[ry] for _, _, ry, _ in model.dynamic[v]), default=0) for v in range(n)]
        self.static = [sum(cost[r] for r in bits(needed[v] & born[v])) - discount[v] for v in range(n)]

    def state(self, done: int, born_mask: int, todo: int, floor: int) -> int:
        """The largest bound over the unrun ops in ``todo``, given the storages ``born_mask``
        born after ``done``; stops early once it exceeds ``floor``."""
        best = 0
        cost = self.cost
        for v in bits(todo):
            b = self.static[v]
            extra = self.needed[v] & born_mask & ~self.born[v]
            for r in bits(extra):
                b += cost[r]
            if b > best:
                best = b
                if best > floor:
                    return best
        return best

    def born_after(self, done: int) -> int:
        """Storages born once the ops in ``done`` have run."""
        return sum(1 << r for r, p in enumerate(self.prod) if p == 0 or p & done)


_INF = 1 << 60


class CutBound:
    """The *cut bound* of every op of a segment, by minimum cut.

    While ``v`` runs, the ops run so far are a down-set ``D`` holding ``v``'s ancestors and
    none of its descendants, and the bytes live are ``live(D)`` plus ``v``'s new outputs,
    where ``live(D)`` sums the storages born in ``D`` (a producer in ``D``) and not dead
    (something needing them outside ``D``). The smallest such total over all ``D`` is a lower
    bound on ``v``'s step in every order, and ``live`` is a cut function: storage ``r`` is one
    arc of capacity ``cost(r)`` from a node its producers point to (infinite arcs) to a node
    pointing at everything needing it (infinite arcs); every op points at its predecessors
    (a down-set closes under them). So the bound is one maximum flow (OR-Tools) per op:
    O(n) flows on a network of O(n + storages) nodes, each fast in practice (~1 ms at 150
    ops). ``done`` ops are fixed in ``D``, ops outside ``end`` fixed out of it: the bounds
    of a segment, or of a state of the search (`at`).
    """

    def __init__(self, model: MemoryModel, pred_mask: list[int], done: int, end: int):
        from ortools.graph.python import max_flow

        self.model, self.done, self.end = model, done, end
        n = model.n
        self.source, self.sink = n, n + 1
        self.flow = max_flow.SimpleMaxFlow()
        self.ops = [u for u in range(n) if (end >> u) & 1 and not (done >> u) & 1]
        self._node = [self.source if (done >> u) & 1 else u if (end >> u) & 1 else self.sink for u in range(n)]
        for u in self.ops:
            for p in bits(pred_mask[u]):
                self._arc(u, p, _INF)
        self._storages(n + 2)
        self.to_source = {u: self.flow.add_arc_with_capacity(self.source, u, 0) for u in self.ops}
        self.to_sink = {u: self.flow.add_arc_with_capacity(u, self.sink, 0) for u in self.ops}

    def _arc(self, a: int, b: int, capacity: int) -> None:
        a, b = self._node[a] if a < self.model.n else a, self._node[b] if b < self.model.n else b
        if a != b and a != self.sink and b != self.source:
            self.flow.add_arc_with_capacity(a, b, capacity)

    def _storages(self, k: int) -> None:
        m = self.model
        for r, c in enumerate(m.root_cost):
            if not c:
                continue
            born, need = k, k + 1
            k += 2
            for p in bits(m.prod[r]):
                self._arc(p, born, _INF)
            if m.prod[r] == 0:
                self._arc(self.source, born, _INF)
            self._arc(born, need, c)
            if m.keep[r]:
                self._arc(need, self.sink, _INF)
            for u in bits(m.span[r]):
                self._arc(need, u, _INF)

    def at(self, v: int, done: int = 0, anc: int = 0, desc: int = 0) -> int:
        """The cut bound of ``v`` once ``done`` (beyond the segment start) has run; ``anc`` and
        ``desc`` are ``v``'s strict ancestors and descendants."""
        m = self.model
        fixed_out = (desc | (1 << v)) & self.end
        new = sum(m.root_cost[r] for r in m.out_roots[v] if m.prod[r] & ~desc == 1 << v)  # born at v
        best = self._min_live(anc | done, fixed_out) + new
        for others, _, ry, _ in m.dynamic[v]:  # the write fires only once the other readers ran
            if others & fixed_out == 0:
                best = min(best, self._min_live(anc | done | others, fixed_out) + new - m.root_cost[ry])
        return best

    def _min_live(self, fixed_in: int, fixed_out: int) -> int:
        fixed_in &= ~self.done & self.end
        for u in self.ops:
            self.flow.set_arc_capacity(self.to_source[u], _INF if (fixed_in >> u) & 1 else 0)
            self.flow.set_arc_capacity(self.to_sink[u], _INF if (fixed_out >> u) & 1 else 0)
        self.flow.solve(self.source, self.sink)
        return self.flow.optimal_flow()
