"""Hand-solved cases for every greedy rule, TFLM's own planner tests, alignment, conflict
lists, directed lists, pools, and one property over every registered algorithm.

Pictures: time runs right, addresses run down; each cell is one step of [lower, upper).
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplan.alloc import ALGORITHMS, solve
from memplan.alloc.bounds import lower_bound
from memplan.alloc.greedy import best_fit, greedy_by_conflicts, greedy_by_size, tflm_greedy
from memplan.alloc.hill_climb import GlibcRand, hill_climb
from memplan.errors import PlanError
from memplan.problem import Block, Problem
from memplan.verify.check import check_solution


def timed(*specs, **kw):
    """specs: (size, lower, upper[, alignment]) per block, ids "0", "1", ..."""
    return Problem(tuple(Block(str(k), s[0], s[1], s[2], *(s[3:])) for k, s in enumerate(specs)), **kw)


def offsets(fn, problem, **kw):
    return list(fn(problem, **kw).offsets)


# --------------------------------------------------------------- the leading gap
#
#   time   0   1   2          A (100) lives [0,2), B (60) [1,3), C (40) [2,3).
#   0    [A  ][A  ][C  ]      A goes first at 0. B clashes with A: 100.
#   100       [B  ][B  ]      C fits below B (0..40 is free at step 2): first fit,
#                             best fit and TVM's hill-climb greedy put it at 0;
#                             TVM's greedy_by_size stacks it on B (160).
LEADING_GAP = timed((100, 0, 2), (60, 1, 3), (40, 2, 3))


@pytest.mark.parametrize("fn", [tflm_greedy, best_fit, hill_climb])
def test_leading_gap_is_used(fn):
    assert offsets(fn, LEADING_GAP) == [0, 100, 0]


def test_tvm_greedy_stacks_above_every_conflict():
    assert offsets(greedy_by_size, LEADING_GAP) == [0, 100, 160]


# --------------------------------------------------------------- TFLite Micro's tests


def test_tflm_medium():
    """TFLM greedy_memory_planner_test.cc TestGreedyMedium (inclusive times there)."""
    p = timed((10, 0, 2), (20, 1, 3), (30, 2, 4), (40, 3, 5), (50, 0, 2))
    s = tflm_greedy(p)
    assert list(s.offsets) == [50, 70, 40, 0, 0]
    assert s.height(p) == 90


def test_tflm_basics_and_overlap_case():
    assert offsets(tflm_greedy, timed((10, 0, 2), (20, 2, 4))) == [0, 0]
    p = timed((100, 0, 2), (50, 2, 4), (20, 1, 3))
    assert tflm_greedy(p).height(p) == 120


def test_tflm_ties_go_to_the_higher_index():
    """Equal sizes: TFLM fills its sort array from the tail, so index 1 is placed first."""
    p = timed((10, 0, 2), (10, 1, 3))
    assert offsets(tflm_greedy, p) == [10, 0]


def test_tflm_person_detection_plan_beats_the_sum():
    spans = [(9216, 0, 29), (3, 28, 29), (256, 27, 28), (2304, 26, 27), (2304, 25, 26), (2304, 24, 25),
             (1152, 23, 24)] + [(4608, t, t + 1) for t in range(22, 11, -1)] + [
        (2304, 11, 12), (9216, 10, 11), (9216, 9, 10), (9216, 8, 9), (4608, 7, 8), (18432, 6, 7),
        (18432, 5, 6), (18432, 4, 5), (9216, 3, 4), (36864, 2, 3), (18432, 1, 2), (18432, 0, 1)]
    p = timed(*[(s, a, b + 1) for s, a, b in spans])
    s = solve(p, "tflm_greedy")
    assert s.height(p) < 241027
    assert s.height(p) >= lower_bound(p)


# --------------------------------------------------------------- XLA best fit


def test_best_fit_takes_the_smallest_gap():
    # placed: X 50 on [0,1) at 0, Y 10 on [0,1) at 70 (Z 20 [1,2) forces heap 90), so at
    # step 0 the free gaps are [50,70) (20 bytes) and [80,90) (10 bytes, up to the heap top).
    # W (10 bytes, [0,1)) takes the smaller gap [80,90); first fit would take 50.
    p = Problem((Block("x", 50, 0, 1), Block("z", 90, 1, 2), Block("y", 10, 0, 1), Block("w", 10, 0, 1)))
    s = best_fit(p)
    assert dict(zip("xzyw", s.offsets)) == {"x": 0, "z": 0, "y": 50, "w": 60}
    q = Problem((Block("z", 90, 1, 2), Block("x", 50, 0, 1), Block("y", 20, 0, 1), Block("y2", 10, 0, 1),
                 Block("gap", 1, 5, 6)))
    assert list(best_fit(q).offsets) == [0, 0, 50, 70, 0]


def test_best_fit_orders():
    # spatial: size first; temporal: the long-lived small block first.
    p = timed((10, 0, 4), (30, 0, 1))
    assert offsets(best_fit, p) == [30, 0]
    assert offsets(best_fit, p, order="temporal") == [0, 10]
    with pytest.raises(PlanError):
        best_fit(p, order="random")


def test_best_fit_prefers_a_tight_gap_over_the_first_one():
    # a 40 [0,3) @0, b 20 [0,1) @40, c 30 [2,3) @40 ... then d 10 [0,3): gaps at step 0..2
    # are above 70 only (b and c end at 60 / 70): top. e 10 [1,2): free [40,100)?
    p = timed((40, 0, 3), (30, 0, 1), (20, 2, 3), (5, 1, 2))
    s = best_fit(p)
    assert list(s.offsets)[:3] == [0, 40, 40]
    # at step 1 the free space is [40, 70) up to the heap top 70: e goes at 40
    assert s.offsets[3] == 40


# --------------------------------------------------------------- alignment


@pytest.mark.parametrize("fn", [greedy_by_size, greedy_by_conflicts, tflm_greedy, best_fit, hill_climb])
def test_alignment_rounds_up(fn):
    p = timed((10, 0, 2, 16), (7, 0, 2, 16), (5, 1, 2, 8))
    s = fn(p)
    assert all(o % b.alignment == 0 for o, b in zip(s.offsets, p.blocks))
    assert not check_solution(p, s)


def test_tvm_rounds_to_the_conflicts_alignment():
    # TVM rounds a conflict's end up to *its* alignment: 10 -> 64, even for a 1-aligned block.
    p = Problem((Block("a", 10, alignment=64, conflicts=("b",)), Block("b", 5, conflicts=("a",))))
    assert list(greedy_by_size(p).offsets) == [0, 64]


# --------------------------------------------------------------- conflict lists


def test_conflict_lists_without_lifetimes():
    p = Problem((Block("a", 30, conflicts=("b",)), Block("b", 20, conflicts=("c",)), Block("c", 10)))
    # undirected: a-b and b-c conflict; a and c may share. a @0, b @30; c fits below b
    # (gap rules: height 50) or stacks on it (TVM's greedy_by_size: 60); greedy_by_conflicts
    # places b (two conflicts) first at 0, then a and c both at 20: 50.
    heights = {"greedy_by_size": 60, "greedy_by_conflicts": 50, "tflm_greedy": 50, "best_fit": 50,
               "hill_climb": 50}
    for name, height in heights.items():
        s = solve(p, name)
        assert s.height(p) == height
        assert not check_solution(p, s)


def test_lists_add_to_lifetimes():
    # disjoint lifetimes, but a list says they conflict
    p = Problem((Block("a", 10, 0, 1, conflicts=("b",)), Block("b", 10, 1, 2)))
    assert sorted(greedy_by_size(p).offsets) == [0, 10]
    q = Problem((Block("a", 10, 0, 1), Block("b", 10, 1, 2)))
    assert list(greedy_by_size(q).offsets) == [0, 0]


@pytest.mark.parametrize("name", ["greedy_by_size", "greedy_by_conflicts", "hill_climb"])
def test_directed_lists_conflict_if_either_side_lists_them(name):
    # b (placed second) does not list a: TVM's literal rule would put it on a's bytes.
    # memplan keeps the pair apart (a lists b) and says where it left TVM.
    blocks = (Block("a", 20, conflicts=("b",)), Block("b", 10))
    directed = solve(Problem(blocks, directed=True), name)
    assert list(directed.offsets) == [0, 20]
    assert directed.notes == (f"{name}: block 'b' placed at 20; TVM's rule would put it at 0, over 'a', "
                              f"which lists it ('b' does not list 'a'; a pair that either side lists conflicts)",)
    undirected = solve(Problem(blocks, directed=False), name)
    assert list(undirected.offsets) == [0, 20] and undirected.notes == ()


def test_directed_lists_keep_tvm_where_its_plan_is_valid():
    # c lists a; a (placed first, larger) does not list c. TVM places c above a: valid, no note.
    blocks = (Block("a", 20), Block("c", 10, conflicts=("a",)))
    s = solve(Problem(blocks, directed=True), "greedy_by_size")
    assert list(s.offsets) == [0, 20] and s.notes == ()


# --------------------------------------------------------------- pools


def pooled(limit_fast):
    return Problem((Block("big", 100, conflicts=("small", "mid")), Block("mid", 60, conflicts=("big",)),
                    Block("small", 30, conflicts=("big",))),
                   pools=(("fast", limit_fast), ("slow", None)))


@pytest.mark.parametrize("name", ["greedy_by_size", "greedy_by_conflicts", "tflm_greedy", "best_fit",
                                  "hill_climb"])
def test_pools_first_candidate_that_fits(name):
    s = solve(pooled(130), name)
    got = dict(zip(("big", "mid", "small"), zip(s.pools, s.offsets)))
    # big fits fast at 0; mid (60) would need 100..160 > 130 -> slow; small fits fast at 100.
    assert got == {"big": ("fast", 0), "mid": ("slow", 0), "small": ("fast", 100)}
    assert s.pool_sizes(pooled(130)) == {"fast": 130, "slow": 60}
    t = solve(pooled(120), name)  # now small (100..130) does not fit fast either
    assert t.pools == ("fast", "slow", "slow")


def test_pool_candidates_are_respected_and_errors_name_the_block():
    p = Problem((Block("a", 50, pools=("slow",)), Block("b", 50, conflicts=("a",), pools=("fast",))),
                pools=(("fast", 40), ("slow", None)))
    with pytest.raises(PlanError, match="'b'"):
        greedy_by_size(p)


def test_validator_rejects_a_block_outside_its_pools():
    p = pooled(120)
    s = greedy_by_size(p)  # big fast@0, mid slow@0, small slow@0
    same_pool = type(s)(s.offsets, s.algorithm, pools=("fast", "fast", "slow"))
    assert {f.kind for f in check_solution(p, same_pool)} == {"overlap"}
    q = Problem((Block("a", 10, pools=("slow",)),), pools=(("fast", 40), ("slow", None)))
    wrong = type(s)((0,), "x", pools=("fast",))
    assert [f.kind for f in check_solution(q, wrong)] == ["pool"]
    over = type(s)((35,), "x", pools=("slow",))
    assert check_solution(q, over) == []
    q2 = Problem((Block("a", 10),), pools=(("fast", 40),))
    assert [f.kind for f in check_solution(q2, type(s)((35,), "x", pools=("fast",)))] == ["capacity"]


def test_tvm_pool_ruled_out_once_stays_out():
    # TVM's greedy.cc can re-admit a pool erased by one conflict via a later one and
    # overlap; here the pool stays out: c (60) clashes with a [0,100) in a 150 pool.
    p = Problem((Block("a", 100, conflicts=("c",)), Block("b", 50, conflicts=("c",)),
                 Block("c", 60, conflicts=("a", "b"))), pools=(("p", 150), ("q", None)))
    s = solve(p, "greedy_by_size")
    assert s.pools[2] == "q"


# --------------------------------------------------------------- hill climb randomness


def test_glibc_rand_r_sequence():
    """First values of glibc rand_r with seed 0 (the C library's documented generator)."""
    r = GlibcRand(0)
    first = [r() for _ in range(3)]
    assert all(0 <= v < 2**31 for v in first)
    assert GlibcRand(0)() == first[0]
    assert first[0] == 1012484


def test_hill_climb_is_deterministic_per_seed():
    p = timed(*[(10 + (k * 37) % 90, k % 7, k % 7 + 1 + k % 3) for k in range(25)])
    a, b, c = hill_climb(p, seed=1), hill_climb(p, seed=1), hill_climb(p, seed=2)
    assert a.offsets == b.offsets
    assert not check_solution(p, c)


# --------------------------------------------------------------- properties


@st.composite
def problems(draw):
    n = draw(st.integers(1, 8))
    with_lists = draw(st.booleans())
    blocks = []
    for k in range(n):
        lo = draw(st.integers(0, 6))
        hi = draw(st.integers(lo, 8))
        size = draw(st.integers(0, 40))
        align = draw(st.sampled_from([1, 1, 4, 16]))
        conf = tuple(str(j) for j in draw(st.sets(st.integers(0, n - 1), max_size=3)) if with_lists and j != k)
        timed_block = not with_lists or draw(st.booleans())
        blocks.append(Block(str(k), size, lo if timed_block else None, hi if timed_block else None, align, conf))
    return Problem(tuple(blocks), directed=draw(st.booleans()))


FAST = [name for name in ALGORITHMS if name not in ("exact", "best")]


@settings(max_examples=40, deadline=None)
@given(problems())
def test_every_algorithm_is_valid_and_above_the_bound(problem):
    lb = lower_bound(problem)
    for name in ALGORITHMS:
        options = {"time_limit": 1.0} if name in ("exact", "best") else {}
        if name == "hill_climb":
            options = {"max_attempts": 30}
        s = solve(problem, name, **options)  # solve validates and raises on any finding
        if s.offsets:
            assert s.height(problem) >= lb


@st.composite
def timed_problems(draw):
    n = draw(st.integers(1, 12))
    specs = []
    for _ in range(n):
        lo = draw(st.integers(0, 8))
        specs.append((draw(st.integers(0, 50)), lo, draw(st.integers(lo, 10)), draw(st.sampled_from([1, 8]))))
    return timed(*specs)


@settings(max_examples=40, deadline=None)
@given(timed_problems())
def test_lifetime_fast_paths_match_the_list_path(problem):
    """Lifetimes only take the fast paths (time array, time buckets); the same conflicts
    written as lists take the general path; offsets must agree exactly."""
    own = problem.own_conflicts()
    listed = Problem(tuple(Block(b.id, b.size, b.lower, b.upper, b.alignment,
                                 tuple(problem.blocks[j].id for j in own[i]))
                           for i, b in enumerate(problem.blocks)))
    for fn in (greedy_by_size, greedy_by_conflicts, tflm_greedy, best_fit):
        assert fn(problem).offsets == fn(listed).offsets


@pytest.mark.parametrize("name", ["greedy_by_size", "greedy_by_conflicts", "tflm_greedy", "best_fit", "hill_climb"])
def test_empty_problem(name):
    assert solve(Problem(()), name).offsets == ()
