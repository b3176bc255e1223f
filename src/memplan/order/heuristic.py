"""The building blocks of every order: `Schedule`, the file order, the greedy list scheduler and
the beam search (`heuristic`), and the moves and frontier the exact search shares with them.
`memplan.order.schedule` is the registry that names them; see its docstring for the methods.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import ModelError, PlanError
from ..graph.ir import Graph, topological_order
from ..memory_model import NO_SHARING, MemoryModel


@dataclass(frozen=True)
class Schedule:
    order: tuple[int, ...]
    method: str
    stats: dict | None = None

    def __len__(self) -> int:
        return len(self.order)

    @property
    def peak(self) -> int | None:
        return (self.stats or {}).get("peak")


def file_order(graph: Graph, **_options) -> Schedule:
    order = topological_order(graph.ops)
    if order is None:
        raise ModelError(f"{graph.source or graph.name}: the graph has a cycle")
    return Schedule(tuple(order), "file")


class Frontier:
    """Successor lists and predecessor masks, shared by every search over one graph."""

    def __init__(self, graph: Graph):
        preds = graph.predecessors()
        self.n = len(graph.ops)
        self.pred_mask = [sum(1 << p for p in ps) for ps in preds]
        self.succ: list[list[int]] = [[] for _ in range(self.n)]
        for i, ps in enumerate(preds):
            for p in sorted(ps):
                self.succ[p].append(i)
        self.sources = tuple(i for i in range(self.n) if not preds[i])

    def chained(self, groups: list[list[int]]) -> "Frontier":
        """A copy in which the groups run one after the other: each op of a group with no
        predecessor inside its group also waits for every op of the group before. This is how
        the patches of a tiled model run (`memplan.graph.patches`); it keeps the search from
        trying every interleaving of many independent patches. ``self`` when ``groups`` has
        fewer than two groups or the chaining would make a cycle."""
        if len(groups) < 2:
            return self
        out = Frontier.__new__(Frontier)
        out.n, out.pred_mask, out.succ = self.n, list(self.pred_mask), [list(s) for s in self.succ]
        for prev, group in zip(groups, groups[1:]):
            inside = sum(1 << i for i in group)
            prev_mask = sum(1 << p for p in prev)
            for i in group:
                if self.pred_mask[i] & inside == 0:
                    out.pred_mask[i] |= prev_mask
                    for p in prev:
                        out.succ[p].append(i)
        out.sources = tuple(i for i in range(out.n) if out.pred_mask[i] == 0)
        return out if out._acyclic() else self

    def _acyclic(self) -> bool:
        indeg = [bin(m).count("1") for m in self.pred_mask]
        stack, seen = list(self.sources), 0
        while stack:
            op = stack.pop()
            seen += 1
            for s in self.succ[op]:
                indeg[s] -= 1
                if indeg[s] == 0:
                    stack.append(s)
        return seen == self.n

    def advance(self, ready: frozenset[int], done: int, op: int) -> frozenset[int]:
        """The ready set after ``op`` runs (``done`` already includes ``op``)."""
        new = [s for s in self.succ[op] if self.pred_mask[s] & ~done == 0]
        return (ready - {op}) | frozenset(new) if new else ready - {op}


def free_moves(model: MemoryModel, frontier: Frontier, ready: frozenset[int], done: int, live: int,
               order: list[int], within: int = -1, peak: int = 0) -> tuple[frozenset[int], int, int]:
    """Run every ready op that is a safe move, smallest index first, until none is left.

    A move is safe when the op leaves no more bytes live than before (``after <= live``) and
    its own step costs no more than ``max(peak, live)`` (``peak``: the peak so far). Moving
    such an op ahead of any other ops changes each of their steps by ``after - live <= 0``
    and adds a step no higher than a peak already paid, so some optimal order takes it now.
    Views and in-place writes always qualify (they allocate nothing). Only ops in the mask
    ``within`` are run."""
    changed = True
    while changed and ready:
        changed = False
        for op in sorted(ready):
            if not (within >> op) & 1:
                continue
            during, after = model.step(done, live, op)
            if after <= live and during <= max(peak, live):
                done |= 1 << op
                live = after
                order.append(op)
                ready = frontier.advance(ready, done, op)
                changed = True
                break
    return ready, done, live


def ready_after(frontier: Frontier, done: int) -> frozenset[int]:
    return frozenset(i for i in range(frontier.n) if not (done >> i) & 1 and frontier.pred_mask[i] & ~done == 0)


def beam_search(model: MemoryModel, frontier: Frontier, width: int, *, done: int = 0, live: int | None = None,
                stop: int | None = None, deadline: float | None = None) -> tuple[list[int], int]:
    """(order, peak) of the best order the beam keeps; ``width=1`` is greedy.

    Starts after the ops in ``done`` (``live`` bytes live then) and ends when every op of
    the mask ``stop`` has run (default: all ops). The peak counts only the steps it runs,
    floored at ``live`` (any first step costs at least that)."""
    live = model.initial if live is None else live
    stop = (1 << frontier.n) - 1 if stop is None else stop
    order: list[int] = []
    ready, done, live = free_moves(model, frontier, ready_after(frontier, done), done, live, order)
    beam = [(live, live, done, ready, tuple(order))]  # (peak, live, done, ready, order)
    while any(s[2] & stop != stop for s in beam):
        children: dict[int, tuple] = {}
        for state in beam:
            peak, live_s, done_s, ready_s, order_s = state
            if done_s & stop == stop:
                children.setdefault(done_s, state)
                continue
            for op in ready_s:
                during, after = model.step(done_s, live_s, op)
                d2 = done_s | (1 << op)
                p2 = max(peak, during)
                prev = children.get(d2)
                if prev is None or (p2, after) < prev[:2]:
                    children[d2] = (p2, after, d2, (ready_s, op), order_s)
        nxt = []
        for p2, after, d2, ready_s, order_s in children.values():
            if isinstance(ready_s, tuple):
                ready_s, op = ready_s
                seq = list(order_s) + [op]
                ready_s, d2, after = free_moves(model, frontier, frontier.advance(ready_s, d2, op), d2, after, seq,
                                                 peak=p2)
                order_s = tuple(seq)
            nxt.append((p2, after, d2, ready_s, order_s))
        nxt.sort(key=lambda s: (s[0], s[1], s[4]))
        beam = nxt[:width]
        if deadline is not None and width > 1 and time.perf_counter() > deadline:
            width = 1
    best = min(beam, key=lambda s: (s[0], s[1], s[4]))
    return list(best[4]), best[0]


def _model(graph: Graph, options: dict) -> MemoryModel:
    model = options.get("model")
    if model is not None:
        return model
    return MemoryModel(graph, sharing=options.get("sharing") or NO_SHARING,
                       io_in_arena=options.get("io_in_arena", True))


def greedy_order(graph: Graph, **options) -> Schedule:
    start = time.perf_counter()
    model = _model(graph, options)
    order, peak = beam_search(model, patch_frontier(graph, Frontier(graph)), 1)
    return Schedule(tuple(order), "greedy", {"peak": model.peak(order), "seconds": time.perf_counter() - start})


def heuristic_order(graph: Graph, *, beam: int | None = None, **options) -> Schedule:
    """Best of file order, greedy and a beam search (width ``beam``, default 16, narrower
    for very large graphs so that thousands of ops stay within seconds). The greedy and beam
    searches run the patches of a tiled model patch after patch (`patch_frontier`; option
    ``chain_patches=False`` lets them interleave, as before: the benchmark's baseline)."""
    start = time.perf_counter()
    model = _model(graph, options)
    frontier = Frontier(graph)
    n = len(graph.ops)
    width = beam if beam is not None else (16 if n <= 500 else 8 if n <= 2000 else 4)
    candidates = [(model.peak(o), o, "file") for o in [list(file_order(graph).order)]]
    tree = _series_parallel(graph, model, frontier)
    if tree is not None:
        candidates.append((model.peak(tree), tree, "series_parallel"))
    patched = patch_frontier(graph, frontier) if options.get("chain_patches", True) else frontier
    for w in dict.fromkeys((1, width)):
        order, _ = beam_search(model, patched, w, deadline=start + options.get("time_limit", 60.0))
        candidates.append((model.peak(order), order, "greedy" if w == 1 else f"beam{w}"))
    peak, order, which = min(candidates, key=lambda c: c[0])
    return Schedule(tuple(order), "heuristic", {"peak": peak, "seconds": time.perf_counter() - start,
                                                "from": which, "beam": width})


def patch_frontier(graph: Graph, frontier: Frontier) -> Frontier:
    """``frontier`` with the patches of a tiled model chained patch after patch (the order
    within the stage that patch-based execution needs, as the tiled file lists it)."""
    from ..graph.patches import patch_groups

    return frontier.chained(list(patch_groups(graph).values()))


def _series_parallel(graph: Graph, model: MemoryModel, frontier: Frontier) -> list[int] | None:
    """The series-parallel optimum where the whole graph is in that model (`memplan.order.series_parallel`), else None."""
    from .bounds import ancestors_descendants
    from .series_parallel import SeriesParallel

    anc, desc = ancestors_descendants(frontier.pred_mask, frontier.succ, topological_order(graph.ops) or [])
    return SeriesParallel(model, anc, desc).order((1 << frontier.n) - 1) if frontier.n else None


def check_topological(graph: Graph, order) -> None:
    """Every op once, each after the producers of its inputs; raises PlanError otherwise."""
    if sorted(order) != list(range(len(graph.ops))):
        raise PlanError("order is not a permutation of the graph's ops")
    step = {op: s for s, op in enumerate(order)}
    for i, preds in enumerate(graph.predecessors()):
        for p in preds:
            if step[p] >= step[i]:
                raise PlanError(f"order runs {graph.ops[i].name!r} before its producer {graph.ops[p].name!r}")
