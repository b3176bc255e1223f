"""Optimal orders of series-parallel regions in polynomial time (Liu 1987; Kayaaslan,
Lambert, Marchal and Uçar, TCS 2018).

A set of ops ``X`` is *series-parallel* when it is one op, or splits into parts that run one
after the other (every op of a part precedes every op of the next: the components of the
incomparability graph), or into parts with no order between them (the components of the
comparability graph), each part series-parallel again.

Memory is *additive* over a parallel split when no storage is needed by two of its parts
(its producers and readers inside ``X`` lie in one part): the bytes live are a constant plus
one term per part, each depending only on how far that part has run. In memplan's model (an
op's outputs are allocated while its inputs are live; a storage is freed after its last
reader) that is Kayaaslan et al.'s model with a storage as an edge's file, and their
algorithm gives a minimum-peak order:

- series: the parts' optimal orders one after the other;
- parallel: each part's optimal order (recursively) is a chain. A part starts from the bytes
  it inherits (a fork's per-branch outputs) and may free them, so its profile can dip below
  its start, where Liu's hill–valley merge alone is not optimal (about a third of random
  small instances in brute-force checks). Instead cut every chain at its lowest point (the
  first of equals): together these make a minimum cut, and some optimal order passes
  through it. The heads, run backwards from the cut (same peak: a step's bytes are the
  same read either way), and the tails, run forwards, never go below their start, which is
  Liu's setting: cut each into segments (the highest step, then the lowest point after it,
  the last of equals, repeated), whose hill − valley never increases along a chain, and run
  all segments by non-increasing hill − valley (ties: part, then position). The order is
  the merged heads reversed, then the merged tails. Liu's in-trees are the case whose
  chains never dip (the heads are empty).

`SeriesParallel.order` is exact under those conditions, and returns None, so that the caller
searches instead, when:

- some storage is needed by two parallel parts — the usual ONNX fork (one tensor read by
  several branches), a graph input read by several branches, and a concat built in place by
  several branches: whichever part runs last frees or completes it, which couples the parts;
- an op of a parallel split may write in place over a dying input (its cost depends on the
  order of other ops, so the memory is not additive);
- ``X`` is not series-parallel (an N-shaped dependency: randomly wired graphs, NAS cells).

Views need no special case: they change storages, and the tests are on storages. So the fast
path fires on tree-shaped regions whose leaves read only weights and on series-parallel
regions whose forks write one tensor per branch (Split); ONNX forks that hand one tensor to
several branches go to the search. Checked against brute force on 2,289 random graphs of up
to 12 ops (single- and multi-tensor forks, skip tensors, many equal sizes) and against the
exact search on 800 of 10–47 ops, with no disagreement (``tests/test_sp_order.py`` keeps
359 of the small ones and 4 larger ones).
Cost: O(n²) mask operations for the decomposition, O(n · storages) for the profiles.
"""
from __future__ import annotations

from ..memory_model import MemoryModel
from .bounds import bits


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
        if len(parts) == 1 or not self._additive(parts) or any(self.model.dynamic[u] for u in bits(ops)):
            return None
        subs = [self.order(p) for p in parts]
        if any(s is None for s in subs):
            return None
        done = 0
        for u in bits(ops):
            done |= self.anc[u]
        return self._merge(done & ~ops, subs)

    def _additive(self, parts: list[int]) -> bool:
        for span in self.model.span:
            if sum(1 for p in parts if span & p) > 1:
                return False
        return True

    def _merge(self, done: int, subs: list[list[int]]) -> list[int]:
        """The parts' orders merged from the state where all ancestors of the parts ran: each
        cut at its lowest point, the heads merged backwards, then the tails forwards."""
        live = live_after(self.model, done)
        heads, tails = [], []
        for sub in subs:
            steps = chain_steps(self.model, done, live, sub)
            low = lowest_point(steps)
            heads.append(reversed_chain(sub[:low], steps[:low]))
            tails.append((sub[low:], steps[low:]))
        return liu_merge(heads)[::-1] + liu_merge(tails)


def chain_steps(model: MemoryModel, done: int, live: int, order: list[int]) -> list[tuple[int, int]]:
    """(during, after) of each step of ``order`` run alone from (``done``, ``live``), less ``live``."""
    steps, start = [], live
    for op in order:
        during, after = model.step(done, live, op)
        steps.append((during - start, after - start))
        done |= 1 << op
        live = after
    return steps


def lowest_point(steps: list[tuple[int, int]]) -> int:
    """How many steps run before the chain's lowest point (the first of equals; 0 = its start)."""
    best, at = 0, 0
    for i, (_, after) in enumerate(steps):
        if after < best:
            best, at = after, i + 1
    return at


def reversed_chain(ops: list[int], steps: list[tuple[int, int]]) -> tuple[list[int], list[tuple[int, int]]]:
    """The chain run backwards from its end: the same ``during`` values, the points between
    them in reverse, relative to the end point."""
    points = [0] + [after for _, after in steps]
    end = points[-1]
    back = [(steps[i][0] - end, points[i] - end) for i in range(len(steps) - 1, -1, -1)]
    return ops[::-1], back


def liu_merge(chains: list[tuple[list[int], list[tuple[int, int]]]]) -> list[int]:
    """Liu's merge: every chain's hill-valley segments, by non-increasing hill − valley."""
    segments = []
    for k, (ops, steps) in enumerate(chains):
        for j, (hill, valley, start, end) in enumerate(hill_valley(steps)):
            segments.append((valley - hill, k, j, ops[start:end]))
    segments.sort(key=lambda s: s[:3])
    return [op for *_, seq in segments for op in seq]


def hill_valley(steps: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Liu's segments of a chain's (during, after) steps: (hill, valley, start, end), the
    highest step, then the lowest point after it (the last of equals), repeated."""
    out, start = [], 0
    while start < len(steps):
        hill = max(d for d, _ in steps[start:])
        top = max(i for i in range(start, len(steps)) if steps[i][0] == hill)
        valley = min(a for _, a in steps[top:])
        end = max(i for i in range(top, len(steps)) if steps[i][1] == valley)
        out.append((hill, valley, start, end + 1))
        start = end + 1
    return out
