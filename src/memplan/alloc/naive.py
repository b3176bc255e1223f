"""No reuse at all: every block gets its own bytes, stacked in problem order. The upper
reference every other allocator is measured against."""
from __future__ import annotations

from ..problem import Problem, Solution
from ..units import align_up


def naive(problem: Problem) -> Solution:
    offsets, top = [], 0
    for b in problem.blocks:
        top = align_up(top, b.alignment)
        offsets.append(top)
        top += b.size
    return Solution(tuple(offsets), "naive")
