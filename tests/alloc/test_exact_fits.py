"""`exact` on exact fits (issue #14): the generator, the interchangeable-block ("twins")
detection, and the soundness of the exact-fit rules (``canonical_floor``, ``twins``)
against a brute force that shares no code with the search, on tiny instances where every
byte of the box is used (the case those rules are for) and on tiny random ones."""
from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplan.alloc.exact import exact
from memplan.alloc.exact_instance import _instance
from memplan.alloc.instances import exact_fit
from memplan.problem import Block, Problem
from memplan.verify.check import check_offsets

NEW_RULES = ("canonical_floor", "twins")


def fits_somehow(problem: Problem, capacity: int) -> bool:
    """Is there any plan of height <= capacity? Tries every offset (tiny problems only)."""
    conflicts = problem.pair_conflicts()
    blocks = problem.blocks
    order = sorted(range(len(blocks)), key=lambda i: -blocks[i].size)
    offsets: dict[int, int] = {}

    def place(k: int) -> bool:
        if k == len(order):
            return True
        i = order[k]
        b = blocks[i]
        for o in range(0, capacity - b.size + 1, b.alignment):
            if all(offsets[j] + blocks[j].size <= o or o + b.size <= offsets[j] for j in conflicts[i] if j in offsets):
                offsets[i] = o
                if place(k + 1):
                    return True
                del offsets[i]
        return False

    return place(0)


def with_twins(problem: Problem, rng: random.Random, copies: int) -> Problem:
    """Split some blocks into equal halves in address: the halves are interchangeable,
    and the problem stays an exact fit."""
    blocks = list(problem.blocks)
    for c in range(copies):
        k = rng.randrange(len(blocks))
        b = blocks[k]
        if b.size % 2 == 0:
            half = dataclasses.replace(b, size=b.size // 2)
            blocks[k] = half
            blocks.append(dataclasses.replace(half, id=f"{b.id}t{c}"))
    return Problem(tuple(blocks), capacity=problem.capacity)


def assert_decides_like_brute_force(problem: Problem, capacity: int, **switches) -> None:
    sol = exact(problem, capacity=capacity, time_limit=30, **switches)
    if fits_somehow(problem, capacity):
        assert sol.status in ("feasible", "optimal"), switches
        assert check_offsets(dataclasses.replace(problem, capacity=capacity), sol.offsets) == []
    else:
        assert sol.status == "infeasible", switches


def test_exact_fit_is_a_packing_of_the_whole_box():
    problem, plan = exact_fit(3, 12, capacity=16, horizon=16, grid=1)
    assert len(problem.blocks) == 12 and check_offsets(problem, plan) == []
    area = sum(b.size * (b.upper - b.lower) for b in problem.blocks)
    assert area == 16 * 16


def test_twins_are_blocks_with_the_same_size_and_conflicts():
    blocks = (Block("a", 4, 0, 5), Block("b", 4, 0, 5), Block("c", 4, 0, 5), Block("d", 4, 0, 6),
              Block("e", 2, 0, 5), Block("f", 4, 0, 5, alignment=4), Block("g", 1, 5, 6))
    inst = _instance(Problem(blocks))
    # a-b-c form a chain; d also meets g, e is smaller, f is aligned differently.
    assert inst.twin.tolist() == [-1, 0, 1, -1, -1, -1, -1]
    lists = (Block("p", 3, conflicts=("q", "r", "s")), Block("q", 3, conflicts=("r", "s")),
             Block("r", 3), Block("s", 3))
    # p and q conflict with each other and with r and s: twins. r and s do not conflict.
    assert _instance(Problem(lists)).twin.tolist() == [-1, 0, -1, -1]


@pytest.mark.parametrize("seed", range(8))
def test_tiny_exact_fits_at_and_below_capacity(seed):
    rng = random.Random(seed)
    problem, _ = exact_fit(seed, rng.randint(4, 7), capacity=8, horizon=8, grid=1)
    problem = with_twins(problem, rng, 2)
    for switches in ({},) + tuple({name: False} for name in NEW_RULES):
        sol = exact(problem, capacity=8, time_limit=30, **switches)
        assert sol.status == "optimal" and check_offsets(problem, sol.offsets) == []
        assert exact(problem, capacity=7, time_limit=30, **switches).status == "infeasible"


tiny_fits = st.builds(lambda seed, n, twins: (seed, n, twins), st.integers(0, 10**6), st.integers(2, 7),
                      st.integers(0, 3))


@settings(max_examples=30, deadline=None)
@given(tiny_fits)
def test_exact_fits_with_a_block_changed_decide_like_brute_force(args):
    # Change one block's size or lifetime: the box is no longer exactly full, so the
    # answer at each capacity is "fits" or "does not" for reasons the rules must respect.
    seed, n, twins = args
    rng = random.Random(seed)
    problem, _ = exact_fit(seed, n, capacity=8, horizon=8, grid=1)
    problem = with_twins(problem, rng, twins)
    blocks = list(problem.blocks)
    k = rng.randrange(len(blocks))
    b = blocks[k]
    blocks[k] = dataclasses.replace(b, size=max(1, b.size + rng.choice([-1, 1])),
                                    upper=min(8, b.upper + rng.choice([0, 1])))
    problem = Problem(tuple(blocks))
    for capacity in (7, 8, 9):
        assert_decides_like_brute_force(problem, capacity)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10**6))
def test_random_tiny_problems_decide_like_brute_force(seed):
    rng = random.Random(seed)
    blocks = []
    for i in range(rng.randint(2, 7)):
        lo = rng.randrange(6)
        blocks.append(Block(f"b{i}", rng.choice([1, 2, 2, 3, 4]), lo, rng.randint(lo + 1, 6),
                            alignment=rng.choice([1, 1, 2])))
    if rng.random() < 0.5:  # a twin
        blocks.append(dataclasses.replace(blocks[0], id="twin"))
    problem = Problem(tuple(blocks))
    for capacity in (4, 5, 6, 7):
        assert_decides_like_brute_force(problem, capacity)


def test_new_rules_keep_the_answer_on_a_generated_fit():
    problem, _ = exact_fit(5, 40, capacity=64, horizon=64, grid=1)
    for switches in ({},) + tuple({name: False} for name in NEW_RULES):
        sol = exact(problem, capacity=64, time_limit=30, **switches)
        assert sol.status == "optimal", switches
        assert check_offsets(problem, sol.offsets) == []
    assert np.all(_instance(problem).twin >= -1)


# --- point mode (every section exactly full) -------------------------------------------

def padded_to_full(rng: random.Random, n: int) -> Problem:
    """Random blocks, then one filler block per time section so that every section's sizes
    add up to exactly the capacity: point mode applies, and the answer may be yes or no
    (the fillers need a contiguous gap of their size)."""
    blocks = []
    for i in range(n):
        lo = rng.randrange(5)
        blocks.append(Block(f"b{i}", rng.choice([1, 2, 3]), lo, rng.randint(lo + 1, 5)))
    ends = sorted({b.upper for b in blocks})
    totals = [sum(b.size for b in blocks if b.lower < e <= b.upper) for e in ends]
    capacity = max(totals) + rng.choice([0, 0, 1])
    for k, (e, total) in enumerate(zip(ends, totals)):
        if total < capacity:
            blocks.append(Block(f"fill{k}", capacity - total, ends[k - 1] if k else 0, e))
    return Problem(tuple(blocks), capacity=capacity)


def full_sections(count: int) -> list[Problem]:
    """The first ``count`` random tiny problems (seeded, some aligned) whose every time
    section adds up to the same total, with that total as the capacity: a mix of yes and
    no (found by rejection; alignment is what makes most of the no's)."""
    out = []
    seed = 0
    while len(out) < count:
        rng = random.Random(seed)
        seed += 1
        blocks = []
        for i in range(rng.randint(4, 8)):
            lo = rng.randrange(4)
            blocks.append(Block(f"b{i}", rng.choice([1, 2, 3]), lo, rng.randint(lo + 1, 4),
                                alignment=rng.choice([1, 1, 2])))
        ends = sorted({b.upper for b in blocks})
        totals = {sum(b.size for b in blocks if b.lower < e <= b.upper) for e in ends}
        if len(totals) == 1:
            out.append(Problem(tuple(blocks), capacity=totals.pop()))
    return out


FULL = full_sections(150)


@pytest.fixture
def only_point_mode(monkeypatch):
    """Keep only the point-mode searches of each decision (normally the canonical ones
    run beside them and often answer first)."""
    from memplan.alloc import exact as exact_module
    from memplan.alloc.exact_jit import POINT

    original = exact_module._Kernel.searchers

    def searchers(self, capacity):
        out = [s for s in original(self, capacity) if s.m[-1][POINT]]
        assert out, "point mode did not apply"
        return out

    monkeypatch.setattr(exact_module._Kernel, "searchers", searchers)


@pytest.mark.parametrize("seed", range(40))
def test_point_mode_alone_decides_like_brute_force(seed, only_point_mode):
    problem = padded_to_full(random.Random(seed), random.Random(seed).randint(2, 6))
    assert_decides_like_brute_force(problem, problem.capacity)
    assert_decides_like_brute_force(problem, problem.capacity, twins=False)


@pytest.mark.parametrize("seed", range(8))
def test_point_mode_alone_solves_tiny_exact_fits(seed, only_point_mode):
    rng = random.Random(seed)
    problem = with_twins(exact_fit(seed, rng.randint(4, 9), capacity=8, horizon=8, grid=1)[0], rng, 2)
    sol = exact(problem, capacity=8, time_limit=30)
    assert sol.status == "optimal" and check_offsets(problem, sol.offsets) == []


def test_full_sections_include_infeasible_ones():
    answers = [fits_somehow(p, p.capacity) for p in FULL]
    assert 0 < answers.count(False) < len(answers)


@pytest.mark.parametrize("k", range(0, 150, 3))
def test_full_sections_in_point_mode_alone_decide_like_brute_force(k, only_point_mode):
    for problem in FULL[k:k + 3]:
        assert_decides_like_brute_force(problem, problem.capacity)
        assert_decides_like_brute_force(problem, problem.capacity, twins=False)


@pytest.mark.parametrize("seed", range(20))
def test_full_sections_decide_alike_with_and_without_point_mode(seed):
    problem = padded_to_full(random.Random(1000 + seed), 6)
    assert_decides_like_brute_force(problem, problem.capacity)
    assert_decides_like_brute_force(problem, problem.capacity, point_branching=False)
    problem = FULL[seed]
    assert_decides_like_brute_force(problem, problem.capacity)
    assert_decides_like_brute_force(problem, problem.capacity, point_branching=False)
