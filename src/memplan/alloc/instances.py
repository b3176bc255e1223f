"""Generated exact-fit instances, after MiniMalloc's benchmark method (Moffitt 2023).

A full box, ``capacity`` bytes high and ``horizon`` time steps wide, is split recursively
into rectangles: pick a rectangle with probability proportional to its area, cut it across
time or across addresses (at random, among the cuts its size allows) at a uniform grid
point, until there are ``n`` rectangles. Each rectangle is a buffer: its time span is the
lifetime, its height the size. The buffers are shuffled, so their order says nothing about
the packing. Every instance is feasible at ``capacity`` by construction (the rectangles are
a plan that uses every byte at every step), so the decision "fits in ``capacity``?" is
always "yes", and finding that plan is the hard part. Sizes and times are multiples of
``grid`` (1 KiB for the 1 MiB box, as in MiniMalloc's public instances).

    >>> p, plan = exact_fit(seed=0, n=6, capacity=64, horizon=64, grid=8)
    >>> len(p.blocks), max(o + b.size for o, b in zip(plan, p.blocks))
    (6, 64)
"""
from __future__ import annotations

import random

from ..problem import Block, Problem


def exact_fit(seed: int, n: int, *, capacity: int = 1 << 20, horizon: int = 1 << 20, grid: int = 1024
              ) -> tuple[Problem, tuple[int, ...]]:
    """(the problem with ``capacity`` set, the offsets of the packing it was cut from)."""
    rng = random.Random(seed)
    cells_h, cells_w = capacity // grid, horizon // grid
    rects = [(0, cells_w, 0, cells_h)]  # (t0, t1, a0, a1) in grid cells, half-open
    while len(rects) < n:
        weights = [(t1 - t0) * (a1 - a0) if (t1 - t0 > 1 or a1 - a0 > 1) else 0 for t0, t1, a0, a1 in rects]
        if not any(weights):
            break
        k = rng.choices(range(len(rects)), weights)[0]
        t0, t1, a0, a1 = rects.pop(k)
        cuts = [axis for axis, span in (("time", t1 - t0), ("addr", a1 - a0)) if span > 1]
        if rng.choice(cuts) == "time":
            t = rng.randint(t0 + 1, t1 - 1)
            rects += [(t0, t, a0, a1), (t, t1, a0, a1)]
        else:
            a = rng.randint(a0 + 1, a1 - 1)
            rects += [(t0, t1, a0, a), (t0, t1, a, a1)]
    rng.shuffle(rects)
    blocks = tuple(Block(str(i), (a1 - a0) * grid, t0 * grid, t1 * grid) for i, (t0, t1, a0, a1) in enumerate(rects))
    return Problem(blocks, capacity=capacity), tuple(a0 * grid for _, _, a0, _ in rects)
