"""The sort orders of the greedy allocators (see ``greedy`` for where each comes from):
TVM's size and conflict-count orders with its name tie-break, TFLite Micro's size order,
XLA's spatial and temporal orders. Each returns block indices, first placed first."""
from __future__ import annotations

import numpy as np

from ..problem import Problem


def tvm_lists(problem: Problem) -> list[list[int]]:
    """Each block's conflict list as TVM's ``BufferInfo.conflicts`` would hold it: the
    block's own list as written (self-mentions and repeats kept), then every other block
    it must avoid that the list does not name."""
    own = problem.own_conflicts()
    index = problem.index
    lists = []
    for i, b in enumerate(problem.blocks):
        raw = [index[c] for c in b.conflicts]
        named = set(raw)
        lists.append(raw + [j for j in own[i] if j not in named])
    return lists


def conflict_counts(problem: Problem) -> np.ndarray:
    """``conflicts.size()`` of every block, as TVM counts it (see ``tvm_lists``)."""
    if _timed_only(problem):
        return _overlap_counts(problem)
    own = problem.own_conflicts()
    extra = [len(b.conflicts) - len(set(b.conflicts) - {b.id}) for b in problem.blocks]
    return np.array([len(o) + e for o, e in zip(own, extra)], dtype=np.int64)


def _overlap_counts(problem: Problem) -> np.ndarray:
    """Blocks whose non-empty [lower, upper) meets each block's, by two binary searches."""
    lo, hi = _compressed_times(problem)
    live = hi > lo
    starts, ends = np.sort(lo[live]), np.sort(hi[live])
    counts = np.searchsorted(starts, hi, "left") - np.searchsorted(ends, lo, "right") - 1
    return np.where(live, counts, 0)


def _name_rank(problem: Problem) -> np.ndarray:
    """Rank of each id in ascending string order (TVM compares ``std::string``s)."""
    order = sorted(range(len(problem.blocks)), key=lambda i: problem.blocks[i].id)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def _durations(problem: Problem) -> np.ndarray:
    return np.array([(b.upper - b.lower) if b.timed else 0 for b in problem.blocks], dtype=np.int64)


def tvm_size_order(problem: Problem) -> list[int]:
    """TVM GreedySize: size, then conflict count, then name, all descending."""
    keys = (-_name_rank(problem), -conflict_counts(problem), -problem.sizes)
    return np.lexsort(keys).tolist()


def tvm_conflicts_order(problem: Problem) -> list[int]:
    """TVM GreedyConflicts: conflict count, then size, then name, all descending."""
    keys = (-_name_rank(problem), -problem.sizes, -conflict_counts(problem))
    return np.lexsort(keys).tolist()


def tflm_order(problem: Problem) -> list[int]:
    """TFLite Micro: size descending; ties to the higher index (tail fill + stable sort)."""
    index = np.arange(len(problem.blocks), dtype=np.int64)
    return np.lexsort((-index, -problem.sizes)).tolist()


def spatial_order(problem: Problem) -> list[int]:
    """XLA spatial: size desc, live duration desc, index asc."""
    index = np.arange(len(problem.blocks), dtype=np.int64)
    return np.lexsort((index, -_durations(problem), -problem.sizes)).tolist()


def temporal_order(problem: Problem) -> list[int]:
    """XLA temporal: live duration desc, size desc, index asc."""
    index = np.arange(len(problem.blocks), dtype=np.int64)
    return np.lexsort((index, -problem.sizes, -_durations(problem))).tolist()


def _timed_only(problem: Problem) -> bool:
    return problem.all_timed and not problem.has_lists and not problem.pools


def _compressed_times(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    lo = np.fromiter((b.lower for b in problem.blocks), dtype=np.int64, count=len(problem.blocks))
    hi = np.fromiter((b.upper for b in problem.blocks), dtype=np.int64, count=len(problem.blocks))
    steps = np.sort(np.concatenate([lo, hi]))
    keep = np.ones(len(steps), dtype=bool)
    keep[1:] = steps[1:] != steps[:-1]
    steps = steps[keep]
    return np.searchsorted(steps, lo), np.searchsorted(steps, hi)
