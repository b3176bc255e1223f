"""The exact search: optimality against brute force, infeasibility proofs, alignment,
conflict lists, each pruning switch, the `best` portfolio and MiniMalloc instances."""
from __future__ import annotations

import dataclasses
import os
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplan.alloc import ALGORITHMS, solve
from memplan.alloc import exact_search
from memplan.alloc.bounds import lower_bound
from memplan.alloc.exact import Switches, exact
from memplan.errors import PlanError
from memplan.problem import Block, Problem
from memplan.formats.problem_files import read_problem
from memplan.verify.check import check_offsets

# The public instances ship with the repository (benchmarks/data/minimalloc, Apache-2.0).
MINIMALLOC = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "data", "minimalloc")
SWITCHES = [f.name for f in dataclasses.fields(Switches)]


def random_timed(rng: random.Random, n: int, max_size: int = 4, horizon: int = 6, align: bool = False) -> Problem:
    blocks = []
    for i in range(n):
        lo = rng.randrange(horizon)
        hi = rng.randrange(lo + 1, horizon + 1)
        a = rng.choice([1, 1, 2, 4]) if align else 1
        blocks.append(Block(f"b{i}", rng.randint(1, max_size), lo, hi, alignment=a))
    return Problem(tuple(blocks))


def random_lists(rng: random.Random, n: int, max_size: int = 4, density: float = 0.5) -> Problem:
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n) if rng.random() < density]
    conflicts = {i: tuple(f"b{j}" for a, j in pairs if a == i) for i in range(n)}
    return Problem(tuple(Block(f"b{i}", rng.randint(1, max_size), conflicts=conflicts[i]) for i in range(n)))


def perfect_packing(rng: random.Random, n: int, width: int = 64, horizon: int = 40) -> Problem:
    """Cut a width x horizon rectangle into n pieces by random guillotine cuts (in time or
    in address): a plan of height ``width`` exists and uses every byte at every step, so
    capacity = LB and a search has to find the exact tiling."""
    pieces = [(0, horizon, 0, width)]
    while len(pieces) < n:
        k = max(range(len(pieces)), key=lambda i: rng.random() * (pieces[i][1] - pieces[i][0]) * (pieces[i][3] - pieces[i][2]))
        t0, t1, a0, a1 = pieces.pop(k)
        if (rng.random() < 0.5 and t1 - t0 > 1) or a1 - a0 < 2:
            cut = rng.randrange(t0 + 1, t1)
            pieces += [(t0, cut, a0, a1), (cut, t1, a0, a1)]
        else:
            cut = rng.randrange(a0 + 1, a1)
            pieces += [(t0, t1, a0, cut), (t0, t1, cut, a1)]
    rng.shuffle(pieces)
    blocks = tuple(Block(f"b{i}", a1 - a0, t0, t1) for i, (t0, t1, a0, a1) in enumerate(pieces))
    return Problem(blocks, capacity=width)


def brute_force_height(problem: Problem) -> int:
    """Smallest height by trying every offset vector on the alignment grid (tiny only);
    shares no code or theory with the search."""
    conflicts = problem.pair_conflicts()
    blocks = problem.blocks
    top = sum(b.size + b.alignment for b in blocks)
    best = top

    def extend(i: int, offsets: list[int], height: int) -> None:
        nonlocal best
        if height >= best:
            return
        if i == len(blocks):
            best = height
            return
        b = blocks[i]
        for o in range(0, best - b.size, b.alignment):
            if all(offsets[j] + blocks[j].size <= o or o + b.size <= offsets[j] for j in conflicts[i] if j < i):
                extend(i + 1, offsets + [o], max(height, o + b.size))

    extend(0, [], 0)
    return best


def assert_valid(problem: Problem, solution, capacity: int | None = None) -> None:
    target = dataclasses.replace(problem, capacity=capacity) if capacity is not None else problem
    assert check_offsets(target, solution.offsets) == []


# --- optimality ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(25))
def test_minimisation_matches_brute_force_on_tiny_timed(seed):
    problem = random_timed(random.Random(seed), n=5)
    sol = exact(problem, time_limit=20)
    assert sol.status == "optimal"
    assert_valid(problem, sol)
    assert sol.height(problem) == sol.bound == brute_force_height(problem)


@pytest.mark.parametrize("seed", range(12))
def test_minimisation_matches_brute_force_with_alignment(seed):
    problem = random_timed(random.Random(100 + seed), n=5, align=True)
    sol = exact(problem, time_limit=20)
    assert sol.status == "optimal"
    assert_valid(problem, sol)
    assert sol.height(problem) == brute_force_height(problem)


@pytest.mark.parametrize("seed", range(12))
def test_minimisation_matches_brute_force_on_conflict_lists(seed):
    problem = random_lists(random.Random(200 + seed), n=6)
    sol = exact(problem, time_limit=20)
    assert sol.status == "optimal"
    assert_valid(problem, sol)
    assert sol.height(problem) == brute_force_height(problem)


def test_decision_mode_proves_infeasible_just_below_the_optimum():
    for seed in range(10):
        problem = random_timed(random.Random(300 + seed), n=6)
        best = brute_force_height(problem)
        fits = exact(problem, capacity=best, time_limit=20)
        assert fits.status in ("feasible", "optimal")
        assert_valid(problem, fits, capacity=best)
        below = exact(problem, capacity=best - 1, time_limit=20)
        assert below.status == "infeasible" and below.offsets == () and below.bound == best


def test_lower_bound_is_not_always_reachable():
    # A triangle of conflicts, sizes 2/2/2, cut in time so that no moment holds all three:
    # live bytes never exceed 4, yet any plan needs 6? No: a and c never meet, so 4 fits.
    # The classic gap: a pentagon of unit blocks in a conflict list needs 3, clique bound 2.
    names = [f"p{i}" for i in range(5)]
    blocks = tuple(Block(n, 1, conflicts=(names[(i + 1) % 5],)) for i, n in enumerate(names))
    problem = Problem(blocks)
    assert lower_bound(problem) == 2
    sol = exact(problem)
    assert sol.status == "optimal" and sol.height(problem) == 3 and sol.bound == 3
    assert exact(problem, capacity=2).status == "infeasible"


def test_alignment_is_honoured_and_costs_space():
    # a (3 bytes) below b (alignment 4): b cannot start at 3, so the arena is 4 + 4.
    problem = Problem((Block("a", 3, 0, 2), Block("b", 4, 0, 2, alignment=4)))
    sol = exact(problem)
    assert_valid(problem, sol)
    assert sol.status == "optimal" and sol.height(problem) == 7  # b at 0, a at 4
    assert exact(problem, capacity=6).status == "infeasible"


def test_blocks_without_conflicts_and_empty_blocks_sit_at_zero():
    problem = Problem((Block("a", 5, 0, 1), Block("b", 0, 0, 3), Block("c", 2, 2, 3), Block("d", 3, 1, 3)))
    sol = exact(problem)
    assert sol.status == "optimal" and sol.height(problem) == 5
    decided = exact(problem, capacity=5)
    assert decided.status == "optimal" and decided.offsets[1] == 0  # b is empty: left out of the search
    assert_valid(problem, decided, capacity=5)


def test_unknown_switch_names_the_valid_ones():
    with pytest.raises(PlanError, match="dominance"):
        exact(Problem(()), dominanse=False)


# --- switches -------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
def test_every_switch_keeps_the_optimum(seed):
    problem = random_timed(random.Random(500 + seed), n=6, max_size=9, align=seed % 2 == 1)
    optimum = brute_force_height(problem)
    for name in SWITCHES:
        sol = exact(problem, time_limit=20, **{name: False})
        assert sol.status == "optimal" and sol.height(problem) == optimum, name
        assert_valid(problem, sol)
        assert exact(problem, capacity=optimum - 1, **{name: False}).status == "infeasible", name


# Where each rule pays, measured on MiniMalloc's instances (as MiniMalloc's own tests show
# each rule cutting backtracks): (instance, the other switches for the comparison).
CUTS = {
    "canonical": ("G", {}),
    "section_inference": ("K", {}),
    "dynamic_ordering": ("K", {}),
    "monotonic_floor": ("K", {}),
    "decomposition": ("K", {}),
    "release_bound": ("A", {}),
    "unallocated_floor": ("K", {"release_bound": False}),
    "dominance": ("I", {}),
}


@pytest.mark.skipif(not exact_search.HAVE_NUMBA, reason="the 1 MiB instances need the numba kernel")
@pytest.mark.parametrize("name", sorted(CUTS))
def test_switch_cuts_backtracks(name):
    instance, others = CUTS[name]
    problem = minimalloc(f"{instance}.1048576.csv", 1048576)
    on = exact(problem, time_limit=20, **others)
    # Off gets a multiple of on's own time, not a fixed budget: on a loaded machine a fixed
    # 2 s could stop it before it has done as much work as on did.
    off = exact(problem, time_limit=max(2.0, 3 * on.stats["seconds"]), **others, **{name: False})
    assert on.status == "optimal"
    assert off.status in ("optimal", "timeout")
    if off.offsets:
        assert_valid(problem, off)
    assert off.stats["backtracks"] > on.stats["backtracks"]


# --- properties -----------------------------------------------------------------------

timed_problems = st.builds(
    lambda seed, n: random_timed(random.Random(seed), n, max_size=16, horizon=12, align=True),
    st.integers(0, 10**6), st.integers(0, 12))


@settings(max_examples=40, deadline=None)
@given(timed_problems)
def test_exact_is_valid_bounded_and_beats_every_heuristic(problem):
    sol = solve(problem, "exact", time_limit=10)
    height = sol.height(problem)
    assert lower_bound(problem) <= sol.bound <= height
    assert sol.status == "optimal"
    for name, fn in ALGORITHMS.items():
        if name not in ("exact", "best"):
            assert height <= solve(problem, name).height(problem), name


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10**6), st.integers(1, 9))
def test_exact_on_conflict_lists_is_valid(seed, n):
    problem = random_lists(random.Random(seed), n)
    sol = solve(problem, "exact", time_limit=10)
    assert sol.status == "optimal" and lower_bound(problem) <= sol.height(problem)


# --- best -----------------------------------------------------------------------------

def test_best_stops_at_the_lower_bound_and_names_the_winner():
    problem = Problem((Block("a", 4, 0, 3), Block("b", 4, 3, 9), Block("c", 4, 0, 9)))
    sol = solve(problem, "best")
    assert sol.status == "optimal" and sol.height(problem) == 8
    assert sol.stats["winner"] in ALGORITHMS and sol.stats["winner"] != "exact"


def test_best_uses_exact_when_heuristics_fall_short():
    for seed in range(30):
        problem = perfect_packing(random.Random(400 + seed), n=25)
        sol = solve(problem, "best", time_limit=10)
        assert sol.status == "optimal"
        assert sol.height(problem) == problem.capacity
        heights = sol.stats["heights"]
        assert heights[sol.stats["winner"]] == min(heights.values())
        if sol.stats["winner"] == "exact":
            return
    pytest.fail("no instance where exact beat every heuristic")


def test_best_is_deterministic():
    problem = random_timed(random.Random(5), n=10, max_size=9)
    assert solve(problem, "best", seed=3).offsets == solve(problem, "best", seed=3).offsets


# --- MiniMalloc instances --------------------------------------------------------------

def minimalloc(name: str, capacity: int) -> Problem:
    # No skip when the file is missing: read_problem raises, and the test fails.
    return read_problem(os.path.join(MINIMALLOC, name), capacity=capacity)


def test_the_twelve_minimalloc_instances_ship_with_their_licence():
    files = sorted(os.listdir(MINIMALLOC))
    instances = [f for f in files if f.endswith(".csv")]
    assert len(instances) == 12 and "input.12.csv" in instances
    assert "LICENSE" in files and "Apache License" in open(os.path.join(MINIMALLOC, "LICENSE")).read()
    assert "github.com/google/minimalloc" in open(os.path.join(MINIMALLOC, "README.md")).read()


@pytest.mark.slow
@pytest.mark.skipif(not exact_search.HAVE_NUMBA, reason="the 1 MiB instances need the numba kernel")
@pytest.mark.parametrize("instance", "ABCDEFGHIJK")
def test_exact_solves_every_minimalloc_instance_at_its_capacity(instance):
    problem = minimalloc(f"{instance}.1048576.csv", 1048576)
    sol = solve(problem, "exact", time_limit=60)
    assert sol.status in ("optimal", "feasible") and sol.height(problem) <= 1048576


def test_minimalloc_input12():
    problem = minimalloc("input.12.csv", 12)
    sol = solve(problem, "exact")
    assert sol.status == "optimal" and sol.height(problem) == 12
    assert solve(problem, "exact", capacity=11).status == "infeasible"


@pytest.mark.skipif(not exact_search.HAVE_NUMBA, reason="the 1 MiB instances need the numba kernel")
def test_minimalloc_k_at_capacity():
    problem = minimalloc("K.1048576.csv", 1048576)
    sol = solve(problem, "exact", time_limit=30)
    assert sol.status == "optimal" and sol.height(problem) == 1048576
