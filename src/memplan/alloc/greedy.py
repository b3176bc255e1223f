"""Greedy allocators: a sort order plus a placement rule.

``greedy_by_size`` follows TVM USMP (``src/tir/usmp/algo/greedy.cc``, v0.19): blocks sorted
by size (descending), then number of conflicts (descending), then id (descending, as TVM's
``name_hint >``); each block scans its already-placed conflicts in offset order and stays at
the lowest offset that clears them: it keeps a gap below a placed conflict when it fits
there (the "leading gap"), otherwise jumps past the conflict's end, rounded up to the
conflict's alignment. O(n * conflicts * log).
"""
from __future__ import annotations

from math import lcm

from ..problem import Problem, Solution
from .common import align_up


def tvm_size_key(problem: Problem, i: int, n_conf: int):
    b = problem.blocks[i]
    return (-b.size, -n_conf, _desc(b.id))


def place_first_fit(problem: Problem, order: list[int]) -> list[int]:
    """TVM's PostSortAllocation on one unbounded pool."""
    conflicts = problem.own_conflicts()
    offsets: list[int | None] = [None] * len(problem.blocks)
    for i in order:
        b = problem.blocks[i]
        placed = sorted((offsets[j], j) for j in conflicts[i] if offsets[j] is not None)
        candidate = 0
        for off, j in placed:
            # TVM rounds to the conflict's alignment; the block's own must hold too.
            nxt = align_up(off + problem.blocks[j].size, lcm(problem.blocks[j].alignment, b.alignment))
            if nxt > candidate and candidate + b.size > off:
                candidate = nxt
        offsets[i] = candidate
    return offsets  # type: ignore[return-value]


def greedy_by_size(problem: Problem) -> Solution:
    conflicts = problem.own_conflicts()
    order = sorted(range(len(problem.blocks)), key=lambda i: tvm_size_key(problem, i, len(conflicts[i])))
    return Solution(tuple(place_first_fit(problem, order)), "greedy_by_size")


class _desc(str):
    """Sorts strings in descending order inside an ascending key tuple."""

    def __lt__(self, other):
        return str.__gt__(self, other)

    def __gt__(self, other):
        return str.__lt__(self, other)
