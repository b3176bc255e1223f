"""The placement rules of the greedy allocators (see ``greedy``): each picks an offset for
one block among its already placed conflicts in one pool.

A rule gets the placement state, the block ``i``, the placed conflicts ``js`` in one pool,
that pool's limit and its current top; it returns an offset, or None when the block does
not fit under the limit."""
from __future__ import annotations

from typing import Callable

from ..problem import Problem
from ..units import align_up


class _State:
    """Offsets and pool per block while placing; plain lists for speed."""

    def __init__(self, problem: Problem):
        self.size = problem.sizes.tolist()
        self.align = [b.alignment for b in problem.blocks]
        self.offset = [-1] * len(problem.blocks)
        self.pool = [-1] * len(problem.blocks)

    def end(self, j: int) -> int:
        return self.offset[j] + self.size[j]


def _fits(offset: int, size: int, limit: int | None) -> int | None:
    return offset if limit is None or offset + size <= limit else None


def stack_offset(s: _State, i: int, js, limit, top) -> int | None:
    """TVM greedy.cc: above every placed conflict (ends rounded to their alignment)."""
    off = 0
    for j in js:
        off = max(off, align_up(s.offset[j] + s.size[j], s.align[j]))
    return _fits(align_up(off, s.align[i]), s.size[i], limit)


def tvm_gap_offset(s: _State, i: int, js, limit, top) -> int | None:
    """TVM hill_climb.cc's greedy: conflicts by offset; move above one only when the current
    candidate would clash with it; a pool is ruled out as soon as any conflict's end plus
    the block passes its limit (even one the block could have stayed below)."""
    size, cand = s.size[i], 0
    if limit is not None and size > limit:
        return None
    for j in sorted(js, key=s.offset.__getitem__):
        nxt = align_up(align_up(s.offset[j] + s.size[j], s.align[j]), s.align[i])
        if limit is not None and nxt + size > limit:
            return None
        if nxt > cand and cand + size > s.offset[j]:
            cand = nxt
    return cand


def first_fit_offset(s: _State, i: int, js, limit, top) -> int | None:
    """TFLite Micro: the first gap (in address order) between live blocks that fits."""
    size, align, cand = s.size[i], s.align[i], 0
    for j in sorted(js, key=s.offset.__getitem__):
        if s.offset[j] - cand >= size:
            break
        cand = max(cand, align_up(s.offset[j] + s.size[j], align))
    return _fits(cand, size, limit)


def best_fit_offset(s: _State, i: int, js, limit, top) -> int | None:
    """XLA FindChunkCandidate: the smallest free gap that fits, the gap up to the heap top
    included; otherwise on top of the highest overlapping block."""
    size, align = s.size[i], s.align[i]
    if size == 0:
        return 0
    best, best_free, reach = None, None, 0
    for j in sorted(js, key=s.offset.__getitem__):
        start = align_up(reach, align)
        free = s.offset[j] - start
        if size <= free and (best_free is None or free < best_free):
            best, best_free = start, free
        reach = max(reach, s.offset[j] + s.size[j])
    start = align_up(reach, align)
    free = top - start
    if size <= free and (best_free is None or free < best_free):
        best = start
    return _fits(start if best is None else best, size, limit)


Rule = Callable[[_State, int, list, "int | None", int], "int | None"]
