"""Temporal decomposition in the exact search kernel: split the unplaced blocks into
independent pieces at zero-cut section boundaries, and (``dynamic_preordering``) rank each
new piece again by the section totals of the moment, as MiniMalloc does."""
from __future__ import annotations

import numpy as np

from .exact_jit import KEY_AREA, KEY_SIZE, KEY_WIDTH, jit


@jit
def pieces(g, m, src, lo, hi):
    """Split the unplaced blocks of src at zero-cut section boundaries inside [lo, hi).
    Returns (piece lo, piece hi, block pointer, blocks) for the non-empty pieces."""
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
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
def _order_key(g, m, b, letter):
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
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
    size, align, rank, adj_ptr, adj_idx, bsec_ptr, bsec_idx, sec_ptr, sec_idx, blo, bhi, width, order, twin = g
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

