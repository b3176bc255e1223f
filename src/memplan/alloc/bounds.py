"""Lower bounds on the arena height of a `Problem`, and the name of the bound used.

* Lifetimes only: the *live bytes*, the largest total size of blocks live at one step (a
  sweep, O(n log n)). It is the heaviest clique of an interval graph.
* Conflict lists (or blocks without lifetimes): the heaviest clique of the conflict graph.
  It is exact (the heaviest there is) when the graph is chordal, found from a LexBFS
  perfect elimination order (``conflict_graph``), which covers every interval graph, i.e.
  every list that a linear schedule's liveness produces; otherwise the best of greedy
  cliques grown from the heaviest blocks (a valid bound, maybe not the heaviest clique).
* Pools: the pools' total is at least the bound of the whole problem (stacking every pool
  on the next gives one valid arena); when every block has a single candidate pool, the
  sum of each pool's own bound.

Alignment can only add to any of them.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..problem import Problem
from .conflict_graph import heaviest_clique


def live_bytes_profile(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """(steps, bytes live on [steps[k], steps[k+1])) for the timed blocks."""
    events: dict[int, int] = {}
    for b in problem.blocks:
        if b.timed and b.upper > b.lower and b.size:
            events[b.lower] = events.get(b.lower, 0) + b.size
            events[b.upper] = events.get(b.upper, 0) - b.size
    if not events:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    steps = np.array(sorted(events), dtype=np.int64)
    live = np.cumsum([events[s] for s in steps.tolist()], dtype=np.int64)
    return steps, live


def lower_bound(problem: Problem) -> int:
    return _bound(problem)[0]


def bound_name(problem: Problem) -> str:
    """Which bound ``lower_bound`` is, in words (the CLI prints it)."""
    return _bound(problem)[1]


def _bound(problem: Problem) -> tuple[int, str]:
    if "bound" not in problem.memo:
        problem.memo["bound"] = _pooled_bound(problem) if problem.pools else _arena_bound(problem)
    return problem.memo["bound"]


def _arena_bound(problem: Problem) -> tuple[int, str]:
    biggest = int(max((b.size for b in problem.blocks), default=0))
    if problem.has_lists or not problem.all_timed:
        weight, exact = heaviest_clique([set(s) for s in problem.pair_conflicts()], problem.sizes)
        name = "heaviest clique (exact: chordal conflict graph)" if exact else \
            "heaviest clique found (greedy: conflict graph not chordal)"
        return max(biggest, weight), name
    _, live = live_bytes_profile(problem)
    return max(biggest, int(live.max(initial=0))), "live bytes (heaviest step)"


def _pooled_bound(problem: Problem) -> tuple[int, str]:
    whole = _arena_bound(problem)  # reads no pool: the whole problem as one arena
    parts = split_by_pool(problem)
    if parts is None:
        return whole[0], f"{whole[1]}, all pools together"
    total = sum(_arena_bound(part)[0] for _, part in parts)
    return max(total, whole[0]), f"{whole[1]}, summed over pools"


def split_by_pool(problem: Problem) -> list[tuple[int, Problem]] | None:
    """When every block can go to one pool only: (pool index, that pool's blocks as a
    problem of their own, its limit as the capacity) per pool; else None."""
    names = [name for name, _ in problem.pools]
    where = []
    for b in problem.blocks:
        cands = b.pools or tuple(names)
        if len(cands) != 1:
            return None
        where.append(names.index(cands[0]))
    parts = []
    for p, (_, limit) in enumerate(problem.pools):
        keep = [i for i, w in enumerate(where) if w == p]
        if keep:
            parts.append((p, sub_problem(problem, keep, limit)))
    return parts


def sub_problem(problem: Problem, keep: list[int], capacity: int | None) -> Problem:
    """The blocks ``keep`` as a pool-less problem; lists keep only members of ``keep`` and
    become symmetric (either side's list), so ``directed`` no longer matters."""
    pair = problem.pair_conflicts()
    kept = set(keep)
    blocks = []
    for i in keep:
        b = problem.blocks[i]
        listed = tuple(problem.blocks[j].id for j in pair[i] if j in kept) if (problem.has_lists or not b.timed) else ()
        blocks.append(dataclasses.replace(b, conflicts=listed, pools=()))
    return Problem(tuple(blocks), capacity=capacity)
