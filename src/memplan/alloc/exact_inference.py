"""Placing and taking back one block in the exact search kernel, and the pruning tests
that follow a placement (section inference, the floors, the release bound): see
``exact_search`` for the rules. State changes go on trails so ``_unplace`` undoes them."""
from __future__ import annotations

from .exact_jit import (BIG, CANONICAL_FLOOR, CAP, MONOTONIC_FLOOR, NAFF, PLACED, PRUNED, RELEASE_BOUND, SECTION_INFERENCE, STAMP,
                        STRAIL, TRAIL, UNALLOCATED_FLOOR, jit)


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
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
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
def _release_all(g, m, st, o, rb):
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    for x in range(cnt[NAFF]):
        if not _release_ok(g, m, st, aff[x], o, rb):
            return False
    return True


@jit
def _release_ok(g, m, st, s, o, rb):
    """Can the unplaced blocks of section s still be stacked below the capacity, each at
    or above its release max(minimum offset, o)? Sorting by release and summing from the
    top gives the exact one-machine makespan bound (alignment ignored, so it is valid)."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    ordbuf, frames, pool, meta, rel, rsz, saved_rank = st
    k = 0
    for q in range(sec_ptr[s], sec_ptr[s + 1]):
        j = sec_idx[q]
        if off[j] >= 0:
            continue
        r = max(minoff[j], o)
        if opt[CANONICAL_FLOOR] and (minoff[j] < o or (minoff[j] == o and rank[j] < rb)):
            r = o + 1  # it can no longer start at o (see _live_at)
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
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
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
def _check(g, m, lo, hi, o, rb):
    """Inference over the sections of the current sub-problem; b (rank rb) was just put at o."""
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
        if opt[CANONICAL_FLOOR] and f == cap and floor[s] <= o and not _live_at(g, m, s, o, rb):
            return False
    return True


@jit
def _live_at(g, m, s, o, rb):
    """``canonical_floor``: can any unplaced block of section s still start at or below o?
    Later blocks come after (o, rb) in (offset, rank) order and sit at their minimum offset,
    which only rises above o from now on (every later block starts at o or higher and has
    a positive size). So an unplaced block with minimum offset below o, or at o with a
    smaller rank, can only start above o: if every block of s is such, the section's floor
    is at least o + 1. Called only when floor o plus the unplaced total fills s exactly."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
    off, minoff, floor, total, cuts, sol, tb, tv, ts, tf, mark, aff, cnt, opt = m
    for q in range(sec_ptr[s], sec_ptr[s + 1]):
        j = sec_idx[q]
        if off[j] < 0 and (minoff[j] > o or (minoff[j] == o and rank[j] > rb)):
            return True
    return False
