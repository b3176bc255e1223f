"""The search kernel of `exact`: a depth-first search over canonical placements.

Kept apart from `exact.py` because it is written in the subset of Python that numba
compiles (flat int64 arrays, no objects). With numba installed every function here is
compiled once (``cache=True``) and runs at roughly C++ speed; without it the same code runs
as plain Python, correct but about two orders of magnitude slower.

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

import os

import numpy as np

try:  # numba is an optional fast path; the code below is plain Python either way.
    if os.environ.get("MEMPLAN_NO_NUMBA"):
        raise ImportError("MEMPLAN_NO_NUMBA is set")
    from numba import njit

    HAVE_NUMBA = True

    def jit(fn):
        return njit(cache=True, nogil=True)(fn)
except ImportError:  # numba absent, or MEMPLAN_NO_NUMBA set
    HAVE_NUMBA = False

    def jit(fn):
        return fn

NOT_FOUND, FOUND, PAUSED = 0, 1, 2

# Slots of the int64 ``cnt`` array: counters, trail tops, the stack pointer and the value
# the last finished frame handed back to the one below it.
NODES, BACKTRACKS, LIMIT, PLACED, TRAIL, STRAIL, STAMP, CAP, NAFF, SP, RET, HAS_RET, POOL_TOP, META_TOP, \
    PRUNED = range(15)
N_COUNTERS = 15
# Columns of the ``frames`` stack. A NODE frame is one search node: its candidates are
# ordbuf[ROW, :K], I the one being tried, B/O the block placed and its offset. An AND
# frame solves independent pieces one after the other (pieces stored in the pools).
NODE, AND = 0, 1
(F_TYPE, F_ROW, F_K, F_I, F_LO, F_HI, F_LAST_OFF, F_LAST_RANK, F_MIN_HEIGHT, F_B, F_O, F_TRAIL, F_STRAIL,
 F_CUT, F_POOL, F_META, F_NP, F_P, F_HATLESS, F_TOP_TOTAL) = range(20)
N_FIELDS = 20
# Slots of the int64 ``opt`` array (the switches).
CANONICAL, SECTION_INFERENCE, DYNAMIC_ORDERING, DOMINANCE, UNALLOCATED_FLOOR, \
    MONOTONIC_FLOOR, DECOMPOSITION, HATLESS_PRUNING, RELEASE_BOUND, DYNAMIC_PREORDERING = range(10)
# Letters of a static order, as codes in ``order`` (see exact.PREORDERS).
KEY_WIDTH, KEY_AREA, KEY_TOTAL, KEY_SIZE = range(4)
BIG = np.int64(1) << np.int64(62)


@jit
def _sort_candidates(row, k, minoff, rank):
    """Insertion sort of row[:k] by (minimum offset, rank); the parent's order is almost
    sorted already, so this is close to linear."""
    for i in range(1, k):
        b = row[i]
        key_o, key_r = minoff[b], rank[b]
        j = i - 1
        while j >= 0 and (minoff[row[j]] > key_o or (minoff[row[j]] == key_o and rank[row[j]] > key_r)):
            row[j + 1] = row[j]
            j -= 1
        row[j + 1] = b


@jit
def _place(g, m, st, b, o):
    """Put block b at offset o; record every change on the trails. Returns whether b is
    "hatless": no unplaced block conflicts with it."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    off[b] = o
    cnt[PLACED] += 1
    end = o + size[b]
    cnt[STAMP] += 1
    stamp = cnt[STAMP]
    cnt[NAFF] = 0
    hatless = True
    for p in range(adj_ptr[b], adj_ptr[b + 1]):
        j = adj_idx[p]
        if off[j] >= 0:
            continue
        hatless = False
        a = align[j]
        v = (end + a - 1) // a * a
        if minoff[j] >= v:
            continue
        t = cnt[TRAIL]
        tb[t] = j
        tv[t] = minoff[j]
        cnt[TRAIL] = t + 1
        minoff[j] = v
        if opt[UNALLOCATED_FLOOR] or opt[RELEASE_BOUND]:
            for q in range(bsec_ptr[j], bsec_ptr[j + 1]):
                s = bsec_idx[q]
                if mark[s] != stamp:
                    mark[s] = stamp
                    aff[cnt[NAFF]] = s
                    cnt[NAFF] += 1
    for q in range(bsec_ptr[b], bsec_ptr[b + 1]):
        s = bsec_idx[q]
        _set_floor(m, s, max(floor[s], end))
        total[s] -= size[b]
    # Sections whose blocks moved up: raise their floors (unallocated_floor), prune early
    # on the cheap floor test, and keep in aff only those the release bound could fail.
    cnt[PRUNED] = 0
    n_release = 0
    for x in range(cnt[NAFF]):
        s = aff[x]
        lowest, highest = BIG, o
        for q in range(sec_ptr[s], sec_ptr[s + 1]):
            j = sec_idx[q]
            if off[j] < 0:
                lowest = min(lowest, minoff[j])
                highest = max(highest, minoff[j])
        if lowest == BIG:
            continue
        if opt[UNALLOCATED_FLOOR] and lowest > floor[s]:
            _set_floor(m, s, lowest)
        f = max(floor[s], o) if opt[MONOTONIC_FLOOR] else floor[s]
        if opt[SECTION_INFERENCE]:
            f += total[s]
        if f > cnt[CAP]:
            cnt[PRUNED] = 1
            break
        if opt[RELEASE_BOUND] and highest + total[s] > cnt[CAP]:
            aff[n_release] = s
            n_release += 1
    cnt[NAFF] = n_release
    return hatless


@jit
def _release_all(g, m, st, o):
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    for x in range(cnt[NAFF]):
        if not _release_ok(g, m, st, aff[x], o):
            return False
    return True


@jit
def _release_ok(g, m, st, s, o):
    """Can the unplaced blocks of section s still be stacked below the capacity, each at
    or above its release max(minimum offset, o)? Sorting by release and summing from the
    top gives the exact one-machine makespan bound (alignment ignored, so it is valid)."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    k = 0
    for q in range(sec_ptr[s], sec_ptr[s + 1]):
        j = sec_idx[q]
        if off[j] >= 0:
            continue
        r = max(minoff[j], o)
        x = k
        while x > 0 and rel[x - 1] > r:
            rel[x] = rel[x - 1]
            rsz[x] = rsz[x - 1]
            x -= 1
        rel[x] = r
        rsz[x] = size[j]
        k += 1
    acc = 0
    for x in range(k - 1, -1, -1):
        acc += rsz[x]
        if rel[x] + acc > cnt[CAP]:
            return False
    return True


@jit
def _set_floor(m, s, value):
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    t = cnt[STRAIL]
    ts[t] = s
    tf[t] = floor[s]
    cnt[STRAIL] = t + 1
    floor[s] = value


@jit
def _unplace(g, m, b, trail0, strail0):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    while cnt[STRAIL] > strail0:
        cnt[STRAIL] -= 1
        floor[ts[cnt[STRAIL]]] = tf[cnt[STRAIL]]
    while cnt[TRAIL] > trail0:
        cnt[TRAIL] -= 1
        minoff[tb[cnt[TRAIL]]] = tv[cnt[TRAIL]]
    for q in range(bsec_ptr[b], bsec_ptr[b + 1]):
        total[bsec_idx[q]] += size[b]
    off[b] = -1
    cnt[PLACED] -= 1


@jit
def _check(m, lo, hi, o):
    """Inference over the sections of the current sub-problem."""
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    cap = cnt[CAP]
    for s in range(lo, hi):
        if total[s] == 0:
            continue
        f = floor[s]
        if opt[MONOTONIC_FLOOR] and o > f:
            f = o
        if opt[SECTION_INFERENCE]:
            f += total[s]
        if f > cap:
            return False
    return True


@jit
def pieces(g, m, src, lo, hi):
    """Split the unplaced blocks of src at zero-cut section boundaries inside [lo, hi).
    Returns (piece lo, piece hi, block pointer, blocks) for the non-empty pieces."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    starts = [lo]
    for s in range(lo, hi - 1):
        if cuts[s] == 0:
            starts.append(s + 1)
    starts.append(hi)
    owner = np.full(hi - lo, -1, np.int64)
    for p in range(len(starts) - 1):
        for s in range(starts[p], starts[p + 1]):
            owner[s - lo] = p
    counts = np.zeros(len(starts), np.int64)
    for b in src:
        if off[b] < 0:
            counts[owner[blo[b] - lo] + 1] += 1
    ptr = np.cumsum(counts)
    fill = ptr.copy()
    blocks = np.empty(ptr[-1], np.int64)
    for b in src:
        if off[b] < 0:
            p = owner[blo[b] - lo]
            blocks[fill[p]] = b
            fill[p] += 1
    keep = [p for p in range(len(starts) - 1) if ptr[p + 1] > ptr[p]]
    plo = np.array([starts[p] for p in keep], np.int64)
    phi = np.array([starts[p + 1] for p in keep], np.int64)
    pptr = np.zeros(len(keep) + 1, np.int64)
    out = np.empty(ptr[-1], np.int64)
    w = 0
    for i in range(len(keep)):
        p = keep[i]
        for x in range(ptr[p], ptr[p + 1]):
            out[w] = blocks[x]
            w += 1
        pptr[i + 1] = w
    return plo, phi, pptr, out


@jit
def _enter(g, m, st, src, lo, hi, last_off, last_rank):
    """Open a search node over the unplaced blocks of src. With none left the node is a
    leaf: it hands FOUND straight back instead of pushing a frame."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
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
def _push_pieces(g, m, st, plo, phi, pptr, pblk):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
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
def _order_key(g, m, b, letter):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    if letter == KEY_WIDTH:
        return width[b]
    if letter == KEY_AREA:
        return width[b] * size[b]
    if letter == KEY_SIZE:
        return size[b]
    best = 0
    for q in range(bsec_ptr[b], bsec_ptr[b + 1]):
        best = max(best, total[bsec_idx[q]])
    return best


@jit
def _rerank(g, m, blocks):
    """MiniMalloc sorts each new piece again with the section totals of the moment: hand
    the piece's own rank values back out in that order (descending keys, then old rank)."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    k = len(blocks)
    keys = np.empty((k, 4), np.int64)
    for x in range(k):
        b = blocks[x]
        for c in range(3):
            keys[x, c] = -_order_key(g, m, b, order[c])
        keys[x, 3] = rank[b]
    idx = np.arange(k)
    for x in range(1, k):  # insertion sort of idx by the key rows
        y = idx[x]
        z = x - 1
        while z >= 0 and _row_less(keys, y, idx[z]):
            idx[z + 1] = idx[z]
            z -= 1
        idx[z + 1] = y
    values = np.sort(keys[:, 3])
    for x in range(k):
        rank[blocks[idx[x]]] = values[x]


@jit
def _row_less(keys, a, b):
    for c in range(4):
        if keys[a, c] != keys[b, c]:
            return keys[a, c] < keys[b, c]
    return False


@jit
def _pop(g, m, st, status):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
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
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    row = ordbuf[f[F_ROW]]
    while f[F_I] < f[F_K]:
        b = row[f[F_I]]
        o = minoff[b]
        if opt[CANONICAL] and (o < f[F_LAST_OFF] or (o == f[F_LAST_OFF] and rank[b] < f[F_LAST_RANK])):
            f[F_I] += 1
            continue
        if opt[DOMINANCE] and o >= f[F_MIN_HEIGHT]:
            if opt[DYNAMIC_ORDERING]:  # sorted by offset: every later one fails too
                f[F_I] = f[F_K]
                break
            f[F_I] += 1
            continue
        if o + size[b] > cnt[CAP]:
            f[F_I] += 1
            continue
        if opt[MONOTONIC_FLOOR] and opt[SECTION_INFERENCE] and o + f[F_TOP_TOTAL] > cnt[CAP]:
            # _check would fail on the fullest section (it holds b or keeps its total)
            if opt[DYNAMIC_ORDERING]:
                f[F_I] = f[F_K]
                break
            f[F_I] += 1
            continue
        trail0, strail0 = cnt[TRAIL], cnt[STRAIL]
        hatless = _place(g, m, st, b, o)
        if cnt[PRUNED] or not _check(m, f[F_LO], f[F_HI], o) or not _release_all(g, m, st, o):
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
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
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
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order = g
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
            f[F_I] = f[F_K]
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
