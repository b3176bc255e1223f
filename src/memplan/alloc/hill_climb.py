"""TVM USMP's hill climb: repeated greedy passes over a permuted order, a step at a time.

Follows ``src/tir/usmp/algo/hill_climb.cc`` (apache/tvm, the version with the empty-input
guard, unchanged up to the removal of USMP after v0.19) step by step, so that the same
input and seed give TVM's offsets:

1. Sort as greedy_by_size (size, conflict count, name; all descending).
2. Up to 500 attempts: place every block with the hill climb's own greedy (conflicts taken
   in offset order; a block stays in a gap below a conflict when it fits there; a pool is
   dropped as soon as one conflict's end plus the block passes the pool's limit), then sum
   the pools' heights. Accept the first pass, any smaller total, or a larger one with
   probability ``50 * (total - best) / total / attempt`` percent; otherwise undo the last
   swap (TVM undoes the indices of the *last swap made*, even when the previous attempt made
   none; kept). Stop once the total is at or below ``problem.memory_pressure``.
3. Pick a random block among those at the top of a pool; its conflicts placed earlier are
   the first level, the conflicts of every conflict placed before that conflict the second
   level (a multiset, as in TVM). Swap a random first-level block with a random one drawn
   from the second level (three times in four) or the first.

Randomness is glibc's ``rand_r`` on an explicit ``seed`` (TVM's ``_seedp = 0`` on Linux),
reproduced bit for bit, so ``seed=0`` is TVM's sequence; nothing global. One deliberate
difference: where TVM would spin for ever (every candidate swap partner is the picked block
itself) the draw stops after one try.

Cost: ``max_attempts`` greedy passes, each O(n log n + pairs log); it needs the conflict
lists (``Problem.own_conflicts``), so it suits TVM-sized inputs (thousands of buffers).
The result is the *accepted* plan of the last accepted attempt, which TVM also returns even
when an earlier one was smaller.
"""
from __future__ import annotations

from ..errors import PlanError
from ..problem import Problem, Solution
from .greedy import _State, no_room, pool_candidates, tvm_gap_offset, tvm_lists, tvm_size_order

NULL_POOL = -2


class GlibcRand:
    """glibc ``rand_r``: three steps of the LCG 1103515245 * x + 12345, 31 bits out."""

    def __init__(self, seed: int = 0):
        self.state = seed & 0xFFFFFFFF

    def __call__(self) -> int:
        nxt = self.state
        nxt = (nxt * 1103515245 + 12345) & 0xFFFFFFFF
        result = (nxt >> 16) % 2048
        nxt = (nxt * 1103515245 + 12345) & 0xFFFFFFFF
        result = (result << 10) ^ ((nxt >> 16) % 1024)
        nxt = (nxt * 1103515245 + 12345) & 0xFFFFFFFF
        result = (result << 10) ^ ((nxt >> 16) % 1024)
        self.state = nxt
        return result


def greedy_pass(problem: Problem, order: list[int], own, cands, limits) -> tuple[_State, bool]:
    """One placement in ``order``; a block that fits no pool gets NULL_POOL (TVM's null
    PoolInfo) and is ignored by later blocks."""
    s = _State(problem)
    could_not_fit = False
    for i in order:
        s.pool[i], s.offset[i] = NULL_POOL, 0
        for p in cands[i]:
            off = tvm_gap_offset(s, i, [j for j in own[i] if s.pool[j] == p], limits[p], 0)
            if off is not None:
                s.pool[i], s.offset[i] = p, off
                break
        else:
            could_not_fit = True
    return s, could_not_fit


def pool_tops(s: _State) -> dict[int, int]:
    tops: dict[int, int] = {}
    for j, p in enumerate(s.pool):
        if p != NULL_POOL:
            tops[p] = max(tops.get(p, 0), s.offset[j] + s.size[j])
    return tops


def neighbours(node: int, lists, pos) -> tuple[list[int], list[int]]:
    """TVM's collect_neighbor_lists, both sorted by position."""
    first, second = [], []
    for c1 in lists[node]:
        if pos[node] > pos[c1]:
            first.append(c1)
        second.extend(c2 for c2 in lists[c1] if pos[c1] > pos[c2])
    return sorted(first, key=pos.__getitem__), sorted(second, key=pos.__getitem__)


def hill_climb(problem: Problem, *, seed: int = 0, max_attempts: int = 500) -> Solution:
    """TVM USMP hill_climb; ``seed`` seeds ``rand_r`` (0 = TVM's), ``max_attempts`` = TVM's 500."""
    n = len(problem.blocks)
    if n == 0:
        return Solution((), "hill_climb")
    order = tvm_size_order(problem)
    pos = [0] * n
    for k, i in enumerate(order):
        pos[i] = k
    lists, own = tvm_lists(problem), problem.own_conflicts()
    cands, limits = pool_candidates(problem)
    rnd = GlibcRand(seed)
    total_size, swap_1, swap_2 = 0, -1, -1
    current = result = None

    def swap(k1: int, k2: int) -> None:
        if k1 != k2:
            b1, b2 = order[k1], order[k2]
            order[k1], order[k2] = b2, b1
            pos[b1], pos[b2] = k2, k1

    attempts = 0
    for attempts in range(max_attempts):
        rollback = current
        current, could_not_fit = greedy_pass(problem, order, own, cands, limits)
        tops = pool_tops(current)
        if not tops:
            raise PlanError("hill_climb: no block fits any pool; raise the pool limits")
        total = sum(tops.values())
        if not total_size or (not could_not_fit and (
                total_size > total or rnd() % 100 < 50 * (total - total_size) // total // attempts)):
            result = current
            if not could_not_fit:
                total_size = total
                if total_size <= problem.memory_pressure:
                    break
        else:
            swap(swap_2, swap_1)
            current = rollback
            tops = pool_tops(current)
        at_top = [j for j in range(n) if current.pool[j] != NULL_POOL
                  and current.offset[j] + current.size[j] == tops[current.pool[j]]]
        at_top.sort(key=pos.__getitem__)
        node = at_top[rnd() % len(at_top)]
        first, second = neighbours(node, lists, pos)
        if not first:
            continue
        buf_1 = buf_2 = first[rnd() % len(first)]
        stuck = all(c == buf_1 for c in first + second)
        while buf_2 == buf_1:
            if second and (not first or rnd() % 100 > 25):
                buf_2 = second[rnd() % len(second)]
            else:
                buf_2 = first[rnd() % len(first)]
            if (len(second) < 2 and len(first) < 2) or stuck:
                break
        if buf_1 == buf_2:
            continue
        swap_1, swap_2 = pos[buf_1], pos[buf_2]
        swap(swap_1, swap_2)
    return _final(problem, result, attempts + 1)


def _final(problem: Problem, s: _State, attempts: int) -> Solution:
    for i, p in enumerate(s.pool):
        if p == NULL_POOL:
            raise no_room(problem, i)
    names = tuple(problem.pools[p][0] for p in s.pool) if problem.pools else ()
    return Solution(tuple(s.offset), "hill_climb", pools=names, stats={"attempts": attempts})
