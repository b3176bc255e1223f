"""The search kernel of `exact`: a depth-first search over canonical placements.

Kept apart from `exact.py` because it is written in the subset of Python that numba
compiles (flat int64 arrays, no objects). With numba installed every function here is
compiled once (``cache=True``) and runs at roughly C++ speed; without it the same code runs
as plain Python, correct but about two orders of magnitude slower. This module is the main
loop (the frames); ``exact_jit`` holds the numba switch and the state layout,
``exact_inference`` the placement and the pruning tests, ``exact_pieces`` the decomposition.

The method (after MiniMalloc, Moffitt 2023). Push every block of a valid plan down until it
rests on a conflicting block or on 0: the plan stays valid, and each block then sits at
``align_up(max end of its conflicts below it)``. List the blocks by (offset, rank): each
block's offset is its *minimum offset* given the blocks before it. So the search picks,
at each node, which unplaced block goes next, and puts it at its minimum offset; the
(offset, rank) sequence must not decrease (``canonical``). Pruning:

* ``section_inference``: a *section* is a set of blocks that pairwise conflict (a time
  cross-section, or a clique of a conflict list). Its unplaced blocks need their total
  size on top of the section's floor, so ``floor + unplaced total <= capacity``.
* ``monotonic_floor``: later blocks sit at or above the offset just used, so that offset
  is a floor for every section too.
* ``unallocated_floor``: a section's floor is also at least the smallest minimum offset of
  its unplaced blocks.
* ``release_bound``: stronger than the floor rules: in a section whose blocks had their
  minimum offsets raised, every unplaced block j still needs [r_j, r_j + size_j) with
  r_j = max(minimum offset, offset just used); sorted by r, each r_j plus the sizes of the
  blocks released at or after it must fit under the capacity.
* ``dominance``: if some unplaced block fits entirely below the offset about to be used, a
  later push-down would move it there, so that branch holds no canonical plan.
* ``decomposition`` (time axis only): once no unplaced block crosses the boundary between
  two sections, the two sides are independent sub-problems and are solved one after the
  other: a failure on one side needs no backtracking into the other.
* ``hatless_pruning`` (MiniMalloc's name): if the block b just tried conflicts with no
  unplaced block, its minimum offset can never change again. Candidates are tried in
  (offset, rank) order, so any later candidate c has a larger key than b, and a canonical
  plan that puts c first could never place b afterwards. So when b fails the node fails.
  Sound only with ``canonical`` and ``dynamic_ordering`` (it is off otherwise).
* ``dynamic_ordering``: try candidates by minimum offset, then rank (otherwise by rank).
* ``canonical_floor`` (ours): after (o, rank r) every later block sits at its minimum
  offset with a larger key, and minimum offsets only rise above o from then on; so an
  unplaced block whose minimum offset is below o, or at o with a rank below r, can only
  start above o. A section that needs a block at o (floor o plus its unplaced total is
  exactly the capacity) and has none that can still start there is dead; in the release
  bound such blocks get release o + 1.
* ``twins`` (ours): blocks with the same size, alignment and conflicts (counting each
  other) can swap places in any plan, so each class is placed in index order.

Point mode (``point_branching``, ours): when every section adds up to exactly the
capacity (an exact fit), no byte of a section may stay empty. The search then branches,
at each node, only over the blocks that can start at the lowest free point (the section
with the lowest floor; ties: the fewest such blocks), as perfect-packing searches do, and
fails a node whose lowest run of sections cannot be tiled in time by such blocks (see
``_point_candidates``). Its plans are not in canonical order, so the rules above that
assume it are off there; offsets still never decrease. ``exact`` runs point mode beside
the canonical search (neither wins on every instance).

Why each rule is sound: none ever cuts a branch that leads to a canonical plan, and a
canonical plan exists whenever any plan does; so each switch can be turned off alone
without changing an answer (tests/test_exact.py checks that on brute-forced instances).

The search is an explicit stack of frames (no recursion: numba's cache cannot hold
recursive functions), so it can pause at a node limit and resume where it stopped; the
driver interleaves three static orders this way instead of restarting them.

Worst case exponential; a node costs O(n + sections + the changed minimum offsets).
State changes are undone from trails, so a node allocates nothing except on a split.
"""
from __future__ import annotations

import numpy as np

from .exact_inference import _check, _place, _release_all, _sort_candidates, _unplace
from .exact_jit import (AND, BACKTRACKS, BIG, CANONICAL, CAP, DECOMPOSITION, DOMINANCE, DYNAMIC_ORDERING,
                        DYNAMIC_PREORDERING, F_B, F_CUT, F_HATLESS, F_HI, F_I, F_K, F_LAST_OFF, F_LAST_RANK, F_LO,
                        F_META, F_MIN_HEIGHT, F_NP, F_O, F_P, F_POOL, F_ROW, F_STRAIL, F_TOP_TOTAL, F_TRAIL,
                        F_TYPE, FOUND, HAS_RET, HATLESS_PRUNING, META_TOP, MONOTONIC_FLOOR, NODE, NODES,
                        NOT_FOUND, PLACED, POOL_TOP, PRUNED, RET, SECTION_INFERENCE, SP, STRAIL, TRAIL, TWINS, POINT, F_NC, jit)
from .exact_jit import HAVE_NUMBA, LIMIT, N_COUNTERS, N_FIELDS, PAUSED  # noqa: F401 (exact reads them here)
from .exact_pieces import _rerank, pieces


@jit
def _enter(g, m, st, src, lo, hi, last_off, last_rank):
    """Open a search node over the unplaced blocks of src. With none left the node is a
    leaf: it hands FOUND straight back instead of pushing a frame."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    cnt[NODES] += 1
    r = cnt[PLACED]
    row = ordbuf[r]
    k = 0
    for b in src:
        if off[b] < 0:
            row[k] = b
            k += 1
    if k == 0:
        cnt[RET] = FOUND
        cnt[HAS_RET] = 1
        return
    if opt[DYNAMIC_ORDERING]:
        _sort_candidates(row, k, minoff, rank)
    nc = _point_candidates(g, m, st, row, k, lo, hi, last_off) if opt[POINT] else k
    min_height = BIG
    for i in range(k):
        min_height = min(min_height, minoff[row[i]] + size[row[i]])
    top_total = 0
    for s in range(lo, hi):
        top_total = max(top_total, total[s])
    f = frames[cnt[SP]]
    cnt[SP] += 1
    f[F_TYPE] = NODE
    f[F_ROW] = r
    f[F_K] = k
    f[F_NC] = nc
    f[F_I] = 0
    f[F_LO] = lo
    f[F_HI] = hi
    f[F_LAST_OFF] = last_off
    f[F_LAST_RANK] = last_rank
    f[F_MIN_HEIGHT] = min_height
    f[F_TOP_TOTAL] = top_total
    f[F_B] = -1
    cnt[HAS_RET] = 0


@jit
def _point_candidates(g, m, st, row, k, lo, hi, last_off):
    """Point mode (every section exactly full at the capacity, as in an exact fit): the
    lowest free point of the sections must be covered by a block that starts there. Pick
    the section with the lowest floor (ties: the fewest blocks that can start at it),
    move those blocks to the front of row[:k], keeping their order, and return how many
    there are (0 when some lowest stretch cannot be tiled). Nothing else is a candidate.

    A block that can start at the lowest floor must have every one of its sections at
    that floor: a section below it would keep a gap (no byte may stay empty), one above
    it overlaps, and floors never go down. So with lifetimes, each maximal run of
    sections at the lowest floor must be tiled, left to right, by the lifetimes of such
    blocks lying inside the run; a run that cannot be fails the node."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    low = BIG
    for s in range(lo, hi):
        if total[s] > 0:
            low = min(low, max(floor[s], last_off))
    s = lo
    while s < hi:
        if total[s] > 0 and max(floor[s], last_off) == low:
            e = s
            while e < hi and total[e] > 0 and max(floor[e], last_off) == low:
                e += 1
            if not _run_tileable(g, m, st, s, e, low, last_off):
                return 0
            s = e
        else:
            s += 1
    best, best_count = -1, BIG
    for s in range(lo, hi):
        if total[s] > 0 and max(floor[s], last_off) == low:
            count = 0
            for q in range(sec_ptr[s], sec_ptr[s + 1]):
                j = sec_idx[q]
                if off[j] < 0 and minoff[j] == low and _flat(g, m, j, low, last_off):
                    count += 1
            if count < best_count:
                best, best_count = s, count
    if best < 0:
        return k
    front, back = 0, 0
    for i in range(k):
        j = row[i]
        if minoff[j] == low and _in_section(g, j, best) and _flat(g, m, j, low, last_off):
            row[front] = j
            front += 1
        else:
            rel[back] = j
            back += 1
    for i in range(back):
        row[front + i] = rel[i]
    return front


@jit
def _flat(g, m, j, low, last_off):
    """Is every section of block j at floor ``low``?"""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    for q in range(bsec_ptr[j], bsec_ptr[j + 1]):
        if max(floor[bsec_idx[q]], last_off) != low:
            return False
    return True


@jit
def _run_tileable(g, m, st, a, e, low, last_off):
    """Can the sections [a, e), all at floor ``low``, be tiled in time by unplaced blocks
    that can start at ``low`` and lie inside the run? True for conflict lists (no time)."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    first = sec_idx[sec_ptr[a]]
    if bhi[first] <= blo[first]:
        return True
    for x in range(e - a + 1):
        rsz[x] = 0
    rsz[0] = 1
    for s in range(a, e):
        if rsz[s - a] == 0:
            continue
        for q in range(sec_ptr[s], sec_ptr[s + 1]):
            j = sec_idx[q]
            if off[j] < 0 and blo[j] == s and bhi[j] <= e and minoff[j] == low:
                rsz[bhi[j] - a] = 1
    return rsz[e - a] == 1


@jit
def _in_section(g, j, s):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    if bhi[j] > blo[j]:  # time sections: a contiguous range
        return blo[j] <= s and s < bhi[j]
    for q in range(bsec_ptr[j], bsec_ptr[j + 1]):
        if bsec_idx[q] == s:
            return True
    return False


@jit
def _push_pieces(g, m, st, plo, phi, pptr, pblk):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    """Push an AND frame over the given pieces, copying them into the pools. Returns False
    (and pushes nothing) when the pools are full; the caller then searches without the split."""
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    n_pieces = len(plo)
    if cnt[POOL_TOP] + len(pblk) > len(pool) or cnt[META_TOP] + 4 * n_pieces > len(meta):
        return False
    f = frames[cnt[SP]]
    cnt[SP] += 1
    f[F_TYPE] = AND
    f[F_POOL] = cnt[POOL_TOP]
    f[F_META] = cnt[META_TOP]
    f[F_NP] = n_pieces
    f[F_P] = 0
    base = cnt[POOL_TOP]
    pool[base:base + len(pblk)] = pblk
    for p in range(n_pieces):
        q = cnt[META_TOP] + 4 * p
        meta[q] = plo[p]
        meta[q + 1] = phi[p]
        meta[q + 2] = base + pptr[p]
        meta[q + 3] = base + pptr[p + 1]
    for x in range(len(pblk)):
        saved_rank[base + x] = rank[pblk[x]]
    if opt[DYNAMIC_PREORDERING]:
        for p in range(n_pieces):
            _rerank(g, m, pool[base + pptr[p]:base + pptr[p + 1]])
    cnt[POOL_TOP] += len(pblk)
    cnt[META_TOP] += 4 * n_pieces
    cnt[HAS_RET] = 0
    return True



@jit
def _pop(g, m, st, status):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    cnt[SP] -= 1
    f = frames[cnt[SP]]
    if f[F_TYPE] == AND:
        for x in range(f[F_POOL], cnt[POOL_TOP]):
            rank[pool[x]] = saved_rank[x]
        cnt[POOL_TOP] = f[F_POOL]
        cnt[META_TOP] = f[F_META]
    cnt[RET] = status
    cnt[HAS_RET] = 1


@jit
def _step_and(g, m, st, f):
    """An AND frame: the piece just solved decides whether to go on to the next one."""
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    if cnt[HAS_RET]:
        cnt[HAS_RET] = 0
        if cnt[RET] != FOUND:
            _pop(g, m, st, cnt[RET])
            return
        f[F_P] += 1
    if f[F_P] == f[F_NP]:
        _pop(g, m, st, FOUND)
        return
    q = f[F_META] + 4 * f[F_P]
    _enter(g, m, st, pool[meta[q + 2]:meta[q + 3]], meta[q], meta[q + 1], -1, -1)


@jit
def _next_candidate(g, m, st, f):
    """Place the next candidate of NODE frame f that passes every rule; False if none."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    row = ordbuf[f[F_ROW]]
    while f[F_I] < f[F_NC]:
        b = row[f[F_I]]
        o = minoff[b]
        if opt[CANONICAL] and (o < f[F_LAST_OFF] or (o == f[F_LAST_OFF] and rank[b] < f[F_LAST_RANK])):
            f[F_I] += 1
            continue
        if opt[DOMINANCE] and o >= f[F_MIN_HEIGHT]:
            if opt[DYNAMIC_ORDERING]:  # sorted by offset: every later one fails too
                f[F_I] = f[F_NC]
                break
            f[F_I] += 1
            continue
        if o + size[b] > cnt[CAP]:
            f[F_I] += 1
            continue
        if opt[TWINS] and twin[b] >= 0 and off[twin[b]] < 0:
            f[F_I] += 1  # interchangeable with an unplaced block that must go first
            continue
        if opt[MONOTONIC_FLOOR] and opt[SECTION_INFERENCE] and o + f[F_TOP_TOTAL] > cnt[CAP]:
            # _check would fail on the fullest section (it holds b or keeps its total)
            if opt[DYNAMIC_ORDERING]:
                f[F_I] = f[F_NC]
                break
            f[F_I] += 1
            continue
        trail0, strail0 = cnt[TRAIL], cnt[STRAIL]
        hatless = _place(g, m, st, b, o)
        if cnt[PRUNED] or not _check(g, m, f[F_LO], f[F_HI], o, rank[b]) or not _release_all(g, m, st, o, rank[b]):
            _unplace(g, m, b, trail0, strail0)
            f[F_I] += 1
            continue
        f[F_B] = b
        f[F_O] = o
        f[F_TRAIL] = trail0
        f[F_STRAIL] = strail0
        f[F_HATLESS] = hatless
        return True
    return False


@jit
def _descend(g, m, st, f):
    """After f placed a block: open the child node, or an AND frame if the placement split
    the remaining blocks into independent pieces."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    b, lo, hi = f[F_B], f[F_LO], f[F_HI]
    src = ordbuf[f[F_ROW], :f[F_K]]
    f[F_CUT] = 0
    if opt[DECOMPOSITION]:
        f[F_CUT] = 1
        split = False
        for s in range(blo[b], bhi[b] - 1):
            cuts[s] -= 1
            if cuts[s] == 0 and lo <= s and s < hi - 1:
                split = True
        if split:
            plo, phi, pptr, pblk = pieces(g, m, src, lo, hi)
            if len(plo) == 1:  # the other side is empty: keep the canonical order going
                _enter(g, m, st, pblk, plo[0], phi[0], f[F_O], rank[b])
                return
            if len(plo) > 1 and _push_pieces(g, m, st, plo, phi, pptr, pblk):
                return
    _enter(g, m, st, src, lo, hi, f[F_O], rank[b])


@jit
def _step_node(g, m, st, f):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    if cnt[HAS_RET]:  # the child of f is done: take its block back
        cnt[HAS_RET] = 0
        b = f[F_B]
        if f[F_CUT]:
            for s in range(blo[b], bhi[b] - 1):
                cuts[s] += 1
        _unplace(g, m, b, f[F_TRAIL], f[F_STRAIL])
        f[F_B] = -1
        if cnt[RET] == FOUND:
            sol[b] = f[F_O]
            _pop(g, m, st, FOUND)
            return
        f[F_I] += 1
        if opt[HATLESS_PRUNING] and f[F_HATLESS]:
            # b changed nothing for the others, so no other choice here can succeed either
            f[F_I] = f[F_NC]
    if _next_candidate(g, m, st, f):
        _descend(g, m, st, f)
    else:
        cnt[BACKTRACKS] += 1
        _pop(g, m, st, NOT_FOUND)


@jit
def start(g, m, st, src, n_sections):
    """Reset nothing, push the root: an AND frame over the static pieces (one piece, all
    sections, when decomposition is off). The state arrays must be freshly initialised."""
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    if opt[DECOMPOSITION]:
        plo, phi, pptr, pblk = pieces(g, m, src, 0, n_sections)
    else:
        plo = np.zeros(1, np.int64)
        phi = np.full(1, n_sections, np.int64)
        pptr = np.array([0, len(src)], np.int64)
        pblk = src.copy()
    if not _push_pieces(g, m, st, plo, phi, pptr, pblk):
        raise MemoryError("exact: piece pool too small for the root")


@jit
def resume(g, m, st):
    """Run until the search ends (FOUND / NOT_FOUND) or the node count reaches
    cnt[LIMIT] (PAUSED; call again with a higher limit to go on where it stopped)."""
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    while cnt[SP] > 0:
        if cnt[NODES] >= cnt[LIMIT]:
            return PAUSED
        f = frames[cnt[SP] - 1]
        if f[F_TYPE] == AND:
            _step_and(g, m, st, f)
        else:
            _step_node(g, m, st, f)
    return cnt[RET]
