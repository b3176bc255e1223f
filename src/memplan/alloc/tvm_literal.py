"""TVM USMP's placement rules taken literally, and the one place memplan departs from them.

``greedy_by_size``, ``greedy_by_conflicts`` and ``hill_climb`` place each block where TVM
v0.19 would (``src/tir/usmp/algo/greedy.cc``, ``hill_climb.cc``): byte-exact wherever
TVM's plan is valid. TVM's plan is invalid in three situations, and only there memplan
places the block by the valid rule instead and records a one-line note naming it:

* **misaligned**: TVM rounds a conflict's end up to the *conflict's* alignment, never to
  the block's own, so mixed alignments in one pool give offsets that are not multiples of
  the block's alignment. memplan also rounds up to the block's own alignment.
* **re-admitted pool** (greedy only): a conflict whose end leaves no room under a pool's
  limit erases the pool from the candidates, but a later conflict in that pool re-inserts
  it (``operator[]``) at that conflict's end, which may overlap the first. memplan keeps
  the pool out.
* **asymmetric lists**: TVM reads only the list of the block being placed, so a pair that
  only the other side lists may overlap. memplan's rule (one for every algorithm): a pair
  conflicts if either side lists it.

Checking the literal choice costs one pass over the block's conflicts, as the rule itself.
"""
from __future__ import annotations

from ..units import align_up

MAX_NOTES = 20


class Departures:
    """The notes of one placement pass: the first ``MAX_NOTES`` in full, then a count."""

    def __init__(self, algorithm: str):
        self.algorithm = algorithm
        self.notes: list[str] = []
        self.count = 0

    def add(self, text: str) -> None:
        self.count += 1
        if len(self.notes) < MAX_NOTES:
            self.notes.append(f"{self.algorithm}: {text}")

    def result(self) -> tuple[str, ...]:
        more = self.count - len(self.notes)
        return tuple(self.notes) + ((f"{self.algorithm}: ... and {more} more departures from TVM",) if more else ())


def _initial(s, i: int, cands, limits) -> dict[int, int]:
    """TVM: every candidate pool where the block fits at offset 0."""
    return {p: 0 for p in cands if limits[p] is None or s.size[i] <= limits[p]}


def _first(offs: dict[int, int], cands) -> tuple[int, int] | None:
    for p in cands:
        if p in offs:
            return p, offs[p]
    return None


def stack_literal(s, i: int, listed, cands, limits) -> tuple[int, int] | None:
    """greedy.cc ``PostSortAllocation`` for block ``i``: walk its list in order; a placed
    conflict's end (rounded to *its* alignment) raises the pool's offset if the block
    still fits under the limit, else erases the pool, which a later conflict in the same
    pool re-inserts. First candidate pool left wins; None = TVM's "space exceeded"."""
    size, offs = s.size[i], _initial(s, i, cands, limits)
    for j in listed:
        p = s.pool[j]
        if p < 0:
            continue  # not placed yet (or did not fit anywhere)
        nxt = align_up(s.offset[j] + s.size[j], s.align[j])
        if limits[p] is None or nxt + size <= limits[p]:
            offs[p] = max(offs.get(p, 0), nxt)
        else:
            offs.pop(p, None)
    return _first(offs, cands)


def gap_literal(s, i: int, own, cands, limits) -> tuple[int, int] | None:
    """hill_climb.cc's greedy for block ``i``: placed conflicts by offset; move above one
    only when the current offset would clash with it; an erased pool stays erased."""
    size, offs = s.size[i], _initial(s, i, cands, limits)
    for j in sorted((j for j in own if s.pool[j] >= 0), key=s.offset.__getitem__):
        p = s.pool[j]
        if p not in offs:
            continue
        nxt = align_up(s.offset[j] + s.size[j], s.align[j])
        if limits[p] is None or nxt + size <= limits[p]:
            if nxt > offs[p] and offs[p] + size > s.offset[j]:
                offs[p] = nxt
        else:
            del offs[p]
    return _first(offs, cands)


def clash(s, i: int, p: int, off: int, pair) -> int | None:
    """The first placed block that must not share bytes with ``i`` and would, at ``off`` in
    pool ``p``; None when there is none."""
    size = s.size[i]
    if not size:
        return None
    for j in pair:
        if s.pool[j] == p and s.size[j] and off < s.offset[j] + s.size[j] and s.offset[j] < off + size:
            return j
    return None


def check_literal(problem, s, i: int, literal, own_i, pair_i, readmits: bool) -> str | None:
    """Why TVM's choice ``literal`` = (pool, offset) for block ``i`` is invalid, or None."""
    if literal is None:
        return None
    p, off = literal
    blocks = problem.blocks
    if off % s.align[i]:
        return f"not a multiple of its alignment {s.align[i]}"
    j = clash(s, i, p, off, pair_i)
    if j is None:
        return None
    if j in own_i:
        why = " (TVM re-admits a pool that an earlier conflict ruled out)" if readmits else ""
        return f"over its conflict {blocks[j].id!r}{why}"
    return (f"over {blocks[j].id!r}, which lists it ({blocks[i].id!r} does not list {blocks[j].id!r}; "
            f"a pair that either side lists conflicts)")


def note(problem, i: int, literal, chosen, reason: str) -> str:
    """One line: the block, where memplan puts it, where TVM would, and why that is invalid."""
    pools = problem.pools
    where = lambda pl: f"{pl[1]} in pool {pools[pl[0]][0]!r}" if pools else str(pl[1])  # noqa: E731
    return (f"block {problem.blocks[i].id!r} placed at {where(chosen)}; TVM's rule would put it at "
            f"{where(literal)}, {reason}")
