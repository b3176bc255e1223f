"""Lower bounds on the arena height of a `Problem`.

For lifetimes the classic bound is exact for the *live-bytes* view: the largest total size of
blocks live at one step (a sweep, O(n log n)). Alignment can only add to it. For explicit
conflict lists (no time axis) the height is at least the weight of any clique of the
conflict graph; we take the best of a greedy clique grown from each of the heaviest blocks.
"""
from __future__ import annotations

import numpy as np

from ..problem import Problem


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
    best = int(max((b.size for b in problem.blocks), default=0))
    if problem.has_lists or not problem.all_timed:
        return max(best, _greedy_clique_bound(problem))
    _, live = live_bytes_profile(problem)
    return max(best, int(live.max(initial=0)))


def _greedy_clique_bound(problem: Problem, tries: int = 32) -> int:
    adj = [set(s) for s in problem.pair_conflicts()]
    sizes = problem.sizes
    order = np.argsort(-sizes, kind="stable")
    best = 0
    for seed in order[:tries].tolist():
        clique, cand = [seed], set(adj[seed])
        while cand:
            nxt = max(cand, key=lambda j: (sizes[j], -j))
            clique.append(nxt)
            cand &= adj[nxt]
        best = max(best, int(sizes[clique].sum()))
    return best
