"""The exact search's view of a problem: flat int64 arrays over its non-trivial blocks,
the sections the search's inference works on, and the static orders (ranks) it starts from.

Sections: with lifetimes, one per distinct end time (a block's sections are then a
contiguous range, which temporal decomposition needs); with conflict lists, a greedy
maximal clique grown from every block. Any set of pairwise conflicting blocks is a valid
section, so either choice keeps the search exact."""
from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from ..problem import Problem


@dataclass
class _Instance:
    """The problem as flat arrays over its non-trivial blocks (positive size, some conflict)."""

    keep: np.ndarray  # problem index of each kernel block
    size: np.ndarray
    align: np.ndarray
    width: np.ndarray
    adj_ptr: np.ndarray
    adj_idx: np.ndarray
    bsec_ptr: np.ndarray
    bsec_idx: np.ndarray
    sec_ptr: np.ndarray
    sec_idx: np.ndarray
    blo: np.ndarray  # first section of each block (time axis; 0 for conflict lists)
    bhi: np.ndarray  # one past its last section
    timed: bool
    twin: np.ndarray | None = None  # the previous interchangeable block (see `_twins`), or -1

    @property
    def n(self) -> int:
        return len(self.keep)

    @property
    def n_sections(self) -> int:
        return len(self.sec_ptr) - 1

    def section_totals(self) -> np.ndarray:
        return np.add.reduceat(self.size[self.sec_idx], self.sec_ptr[:-1]) if self.n_sections else np.zeros(0, np.int64)


def _csr(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    ptr = np.zeros(len(lists) + 1, np.int64)
    ptr[1:] = np.cumsum([len(x) for x in lists])
    idx = np.array([v for x in lists for v in x], np.int64)
    return ptr, idx


def _instance(problem: Problem) -> _Instance:
    conflicts = problem.pair_conflicts()
    keep = [i for i, b in enumerate(problem.blocks)
            if b.size > 0 and any(problem.blocks[j].size > 0 for j in conflicts[i])]
    local = {i: k for k, i in enumerate(keep)}
    adj = [[local[j] for j in conflicts[i] if j in local] for i in keep]
    blocks = [problem.blocks[i] for i in keep]
    timed = problem.all_timed and not problem.has_lists
    if timed:
        sections, blo, bhi = _time_sections(blocks)
        width = [b.upper - b.lower for b in blocks]
    else:
        sections = _clique_sections(adj, [b.size for b in blocks])
        blo, bhi = [0] * len(blocks), [0] * len(blocks)
        width = [len(a) for a in adj]
    members: list[list[int]] = [[] for _ in blocks]
    for s, sec in enumerate(sections):
        for k in sec:
            members[k].append(s)
    adj_ptr, adj_idx = _csr(adj)
    bsec_ptr, bsec_idx = _csr(members)
    sec_ptr, sec_idx = _csr(sections)
    arr = lambda xs: np.array(xs, np.int64)  # noqa: E731
    return _Instance(arr(keep), arr([b.size for b in blocks]), arr([b.alignment for b in blocks]), arr(width),
                     adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, arr(blo), arr(bhi), timed,
                     arr(_twins(adj, blocks)))


def _twins(adj: list[list[int]], blocks) -> list[int]:
    """For each block, the previous block (by index) it is interchangeable with, else -1:
    same size and alignment, and the same conflicts counting each other (equal closed
    neighbourhoods; with lifetimes, the same lifetime). In any plan such blocks can swap
    places, so the search may place each class in index order (``twins``)."""
    last: dict[tuple, int] = {}
    out = []
    for k, (a, b) in enumerate(zip(adj, blocks)):
        key = (b.size, b.alignment, frozenset(a) | {k})
        out.append(last.get(key, -1))
        last[key] = k
    return out


def _time_sections(blocks) -> tuple[list[list[int]], list[int], list[int]]:
    """One section per distinct end time t: the blocks live just before t (lower < t <= upper).
    A block's sections are then a contiguous range, as temporal decomposition needs."""
    ends = sorted({b.upper for b in blocks})
    blo = [bisect.bisect_right(ends, b.lower) for b in blocks]
    bhi = [bisect.bisect_right(ends, b.upper) for b in blocks]
    sections: list[list[int]] = [[] for _ in ends]
    for k, (lo, hi) in enumerate(zip(blo, bhi)):
        for s in range(lo, hi):
            sections[s].append(k)
    return sections, blo, bhi


def _clique_sections(adj: list[list[int]], sizes: list[int]) -> list[list[int]]:
    """A greedy maximal clique grown from every block (heaviest neighbour first), deduplicated.
    Every block is in at least one; O(n * degree^2)."""
    neighbours = [set(a) for a in adj]
    seen: set[tuple[int, ...]] = set()
    out: list[list[int]] = []
    for seed in range(len(adj)):
        clique, cand = [seed], set(neighbours[seed])
        while cand:
            nxt = max(cand, key=lambda j: (sizes[j], -j))
            clique.append(nxt)
            cand &= neighbours[nxt]
        key = tuple(sorted(clique))
        if key not in seen:
            seen.add(key)
            out.append(list(key))
    return out


def _ranks(inst: _Instance, order: str, seed: int) -> np.ndarray:
    """Rank of each block under a static order: keys by the letters of ``order``, descending;
    ties by index (seed 0) or a seeded permutation."""
    totals = inst.section_totals()
    best_total = np.zeros(inst.n, np.int64)
    for k in range(inst.n):
        secs = inst.bsec_idx[inst.bsec_ptr[k]:inst.bsec_ptr[k + 1]]
        best_total[k] = totals[secs].max(initial=0)
    key = {"W": inst.width, "A": inst.width * inst.size, "T": best_total, "Z": inst.size}
    tie = np.arange(inst.n) if seed == 0 else np.random.default_rng(seed).permutation(inst.n)
    columns = [tie] + [-key[c] for c in reversed(order)]
    order_idx = np.lexsort(columns)
    rank = np.empty(inst.n, np.int64)
    rank[order_idx] = np.arange(inst.n)
    return rank
