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
reproduced bit for bit, so ``seed=0`` is TVM's sequence; nothing global. Deliberate
differences: where TVM would spin for ever (every candidate swap partner is the picked block
itself) the draw stops after one try; where TVM's greedy would place a block misaligned or
over a block that lists it (asymmetric lists), it is placed validly and noted
(``tvm_literal``).

Cost: ``max_attempts`` greedy passes, each O(n log n + pairs log); it needs the conflict
lists (``Problem.own_conflicts``), so it suits TVM-sized inputs (thousands of buffers).
The result is the *accepted* plan of the last accepted attempt, which TVM also returns even
when an earlier one was smaller.
"""
from __future__ import annotations

from ..errors import PlanError
from ..problem import Problem, Solution
from .greedy import _State, no_room, pool_candidates, tvm_gap_offset, tvm_lists, tvm_size_order
from .tvm_literal import Departures, check_literal, gap_literal, note

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


def greedy_pass(problem: Problem, order: list[int], own, cands, limits, pair=None, own_sets=None
                ) -> tuple[_State, bool, Departures]:
    """One placement in ``order``; a block that fits no pool gets NULL_POOL (TVM's null
    PoolInfo) and is ignored by later blocks. TVM's literal choice is kept wherever it is
    valid; elsewhere the block goes where the same rule finds room among ``pair`` (either
    side's list, own alignment) and the departure is noted."""
    pair = pair if pair is not None else problem.pair_conflicts()
    own_sets = own_sets if own_sets is not None else [set(o) for o in own]
    s = _State(problem)
    departures = Departures("hill_climb")
    could_not_fit = False
    for i in order:
        s.pool[i], s.offset[i] = NULL_POOL, 0
        literal = gap_literal(s, i, own[i], cands[i], limits)
        reason = check_literal(problem, s, i, literal, own_sets[i], pair[i], readmits=False)
        chosen = literal if reason is None else _valid_gap(s, i, pair[i], cands[i], limits)
        if chosen is None:
            could_not_fit = True
            continue
        if reason is not None:
            departures.add(note(problem, i, literal, chosen, reason))
        s.pool[i], s.offset[i] = chosen
    return s, could_not_fit, departures


def _valid_gap(s: _State, i: int, pair_i, cands_i, limits) -> tuple[int, int] | None:
    for p in cands_i:
        off = tvm_gap_offset(s, i, [j for j in pair_i if s.pool[j] == p], limits[p], 0)
        if off is not None:
            return p, off
    return None


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
    pair, own_sets = problem.pair_conflicts(), [set(o) for o in own]
    cands, limits = pool_candidates(problem)
    rnd = GlibcRand(seed)
    total_size, swap_1, swap_2 = 0, -1, -1
    current = result = notes = result_notes = None

    def swap(k1: int, k2: int) -> None:
        if k1 != k2:
            b1, b2 = order[k1], order[k2]
            order[k1], order[k2] = b2, b1
            pos[b1], pos[b2] = k2, k1

    attempts = 0
    for attempts in range(max_attempts):
        rollback, rollback_notes = current, notes
        current, could_not_fit, notes = greedy_pass(problem, order, own, cands, limits, pair, own_sets)
        tops = pool_tops(current)
        if not tops:
            raise PlanError("hill_climb: no block fits any pool; raise the pool limits")
        total = sum(tops.values())
        if not total_size or (not could_not_fit and (
                total_size > total or rnd() % 100 < 50 * (total - total_size) // total // attempts)):
            result, result_notes = current, notes
            if not could_not_fit:
                total_size = total
                if total_size <= problem.memory_pressure:
                    break
        else:
            swap(swap_2, swap_1)
            current, notes = rollback, rollback_notes
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
    return _final(problem, result, attempts + 1, result_notes)


def _final(problem: Problem, s: _State, attempts: int, departures: Departures) -> Solution:
    for i, p in enumerate(s.pool):
        if p == NULL_POOL:
            raise no_room(problem, i)
    names = tuple(problem.pools[p][0] for p in s.pool) if problem.pools else ()
    return Solution(tuple(s.offset), "hill_climb", pools=names, stats={"attempts": attempts},
                    notes=departures.result())
