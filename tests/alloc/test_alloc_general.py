"""`best` and `exact` on every problem the formats express: conflict lists (interval graphs
recognised, general graphs searched), pools with limits and candidate pools; the bound for
conflict graphs and its name; ``optimal`` for any algorithm whose plan meets the bound."""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from memplan.alloc import ALGORITHMS, solve
from memplan.alloc.bounds import bound_name, lower_bound
from memplan.alloc.conflict_graph import heaviest_clique, interval_order, intervals, is_chordal, lex_bfs
from memplan.alloc.exact import as_intervals
from memplan.errors import PlanError
from memplan.problem import Block, Problem
from memplan.verify.check import check_solution

from test_alloc_tvm import MOBILENET_CONFLICTS, MOBILENET_SIZES, RESNET_CONFLICTS, RESNET_SIZES, tvm_problem


def as_lists(problem: Problem, seed: int = 0, directed: bool = False) -> Problem:
    """The same conflicts written as (shuffled) lists, no lifetimes; directed keeps one side."""
    rng = random.Random(seed)
    pair = problem.pair_conflicts()
    blocks = []
    for i, b in enumerate(problem.blocks):
        names = [problem.blocks[j].id for j in pair[i] if not directed or j > i]
        rng.shuffle(names)
        blocks.append(Block(b.id, b.size, alignment=b.alignment, conflicts=tuple(names)))
    rng.shuffle(blocks)
    return Problem(tuple(blocks), directed=directed)


def brute_clique(adj, w):
    n, best = len(adj), 0
    for mask in range(1, 1 << n):
        vs = [v for v in range(n) if mask >> v & 1]
        if all(u in adj[v] for k, v in enumerate(vs) for u in vs[k + 1:]):
            best = max(best, sum(w[v] for v in vs))
    return best


# ------------------------------------------------------------------ the conflict graph


@st.composite
def interval_graphs(draw):
    n = draw(st.integers(1, 12))
    spans = [(lo, lo + draw(st.integers(1, 6))) for lo in draw(st.lists(st.integers(0, 15), min_size=n, max_size=n))]
    perm = draw(st.permutations(range(n)))
    adj = [set() for _ in range(n)]
    for a in range(n):
        for b in range(a + 1, n):
            if spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]:
                adj[perm[a]].add(perm[b])
                adj[perm[b]].add(perm[a])
    return adj


@settings(max_examples=60, deadline=None)
@given(interval_graphs(), st.randoms(use_true_random=False))
def test_interval_graphs_are_recognised_and_reproduced(adj, rng):
    order = interval_order(adj)
    assert order is not None
    spans = intervals(adj, order)
    for a in range(len(adj)):
        for b in range(a + 1, len(adj)):
            assert (spans[a][0] < spans[b][1] and spans[b][0] < spans[a][1]) == (b in adj[a])
    weights = [rng.randint(1, 50) for _ in adj]
    assert heaviest_clique(adj, weights) == (brute_clique(adj, weights), True)


def test_a_four_cycle_is_not_chordal_and_not_interval():
    adj = [{1, 3}, {0, 2}, {1, 3}, {2, 0}]
    assert not is_chordal(adj)
    assert interval_order(adj) is None
    assert heaviest_clique(adj, [5, 1, 5, 1]) == (6, False)


def test_a_chordal_graph_that_is_no_interval_graph_has_an_exact_clique_bound():
    # a claw with subdivided arms (a tree): chordal, not an interval graph
    edges = [(0, 1), (1, 2), (0, 3), (3, 4), (0, 5), (5, 6)]
    adj = [set() for _ in range(7)]
    for a, b in edges:
        adj[a].add(b)
        adj[b].add(a)
    assert is_chordal(adj) and interval_order(adj) is None
    assert heaviest_clique(adj, [1, 2, 9, 1, 1, 1, 1]) == (11, True)


def test_lex_bfs_visits_every_vertex_once():
    adj = [{1, 2}, {0}, {0, 3}, {2}, set()]
    assert sorted(lex_bfs(adj)) == list(range(5))


# ------------------------------------------------------------------ bounds and names


def test_bound_names():
    timed = Problem((Block("a", 4, 0, 2), Block("b", 4, 1, 3)))
    assert bound_name(timed) == "live bytes (heaviest step)"
    assert bound_name(as_lists(timed)).startswith("heaviest clique (exact: chordal")
    cycle = Problem((Block("a", 5, conflicts=("b", "d")), Block("b", 1, conflicts=("c",)),
                     Block("c", 5, conflicts=("d",)), Block("d", 1)))
    assert bound_name(cycle).startswith("heaviest clique found (greedy")
    assert lower_bound(cycle) == 6


# ------------------------------------------------------------------ lists: best and exact


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("directed", [False, True])
def test_exact_on_lists_matches_exact_on_lifetimes(seed, directed):
    rng = random.Random(seed)
    blocks = []
    for k in range(14):
        lo = rng.randint(0, 10)
        blocks.append(Block(f"b{k}", rng.randint(1, 40), lo, lo + rng.randint(1, 5), alignment=rng.choice([1, 4])))
    timed = Problem(tuple(blocks))
    lists = as_lists(timed, seed, directed)
    assert as_intervals(lists) is not None
    on_time, on_lists = solve(timed, "exact", time_limit=20), solve(lists, "exact", time_limit=20)
    assert on_time.status == on_lists.status == "optimal"
    assert on_lists.height(lists) == on_time.height(timed)
    assert on_lists.stats["interval_graph"] is True
    assert solve(lists, "best", time_limit=20).height(lists) == on_time.height(timed)


def test_exact_on_a_general_graph():
    # five-cycle with a chord-free heavy pair: not chordal; optimum by hand = 10
    # (a,b,c,d,e) sizes 5,5,5,5,5: a 5-cycle needs 3 colours of 5 bytes: 15
    names = "abcde"
    blocks = tuple(Block(n, 5, conflicts=(names[(k + 1) % 5],)) for k, n in enumerate(names))
    p = Problem(blocks)
    assert as_intervals(p) is None
    s = solve(p, "exact", time_limit=10)
    assert s.status == "optimal" and s.height(p) == 15
    assert solve(p, "best", time_limit=10).height(p) == 15


# ------------------------------------------------------------------ pools


def test_one_global_workspace_plans_at_the_bound():
    p = tvm_problem(RESNET_SIZES, RESNET_CONFLICTS, alignment=16, pools=(("global_workspace", None),))
    for name in ("exact", "best"):
        s = solve(p, name, time_limit=10)
        assert s.status == "optimal"
        assert s.pool_sizes(p) == {"global_workspace": 7200256}
        assert s.bound == 7200256


def test_hill_climb_reports_optimal_at_the_bound():
    p = tvm_problem(RESNET_SIZES, RESNET_CONFLICTS, alignment=16, pools=(("global_workspace", None),))
    s = solve(p, "hill_climb")
    assert s.cost(p) == s.bound == 7200256 and s.status == "optimal"
    assert solve(p, "greedy_by_size").status == "heuristic"  # 7920256 > bound


MOBILENET_POOLS = (("fast_memory", 200704), ("slow_memory", None))


@pytest.mark.parametrize("name", ["exact", "best"])
def test_joint_pool_choice_minimises_the_total(name):
    p = tvm_problem(MOBILENET_SIZES, MOBILENET_CONFLICTS, alignment=16, pools=MOBILENET_POOLS,
                    candidates=("fast_memory", "slow_memory"))
    s = solve(p, name, time_limit=20)
    assert not check_solution(p, s)
    # sid_8 + PaddedInput_7 + Conv2dOutput_7 conflict pairwise: 802816 + 314646 + 256
    assert s.cost(p) == s.bound == 1117718 and s.status == "optimal"
    assert s.cost(p) < solve(p, "greedy_by_size").cost(p)  # TVM: 200704 + 1418528


def test_pool_objective_first():
    p = tvm_problem(MOBILENET_SIZES, MOBILENET_CONFLICTS, alignment=16, pools=MOBILENET_POOLS,
                    candidates=("fast_memory", "slow_memory"))
    s = solve(p, "exact", time_limit=20, pool_objective="first")
    assert s.pool_sizes(p)["fast_memory"] == 0 and s.cost(p) == 1117718 and s.status == "optimal"
    with pytest.raises(PlanError, match="pool objective"):
        solve(p, "best", pool_objective="smallest")


def test_bounded_pools_with_a_single_candidate_each():
    blocks = (Block("a", 60, 0, 2, pools=("sram",)), Block("b", 50, 1, 3, pools=("sram",)),
              Block("c", 70, 0, 3, pools=("dram",)), Block("d", 30, 1, 2, pools=("dram",)))
    p = Problem(blocks, pools=(("sram", 110), ("dram", None)))
    s = solve(p, "exact", time_limit=10)
    assert s.status == "optimal" and s.pool_sizes(p) == {"sram": 110, "dram": 100}
    tight = Problem(blocks, pools=(("sram", 100), ("dram", None)))
    assert solve(tight, "exact", time_limit=10).status == "infeasible"


@st.composite
def pool_problems(draw):
    n = draw(st.integers(1, 7))
    pools = (("p0", draw(st.sampled_from([None, 40, 80]))), ("p1", None))
    blocks = []
    for k in range(n):
        lo = draw(st.integers(0, 5))
        conf = tuple(str(j) for j in draw(st.sets(st.integers(0, n - 1), max_size=2)) if j != k)
        cands = draw(st.sampled_from([(), ("p0",), ("p1",), ("p1", "p0")]))
        blocks.append(Block(str(k), draw(st.integers(0, 30)), lo, lo + draw(st.integers(0, 4)),
                            draw(st.sampled_from([1, 4])), conf, cands))
    return Problem(tuple(blocks), directed=draw(st.booleans()), pools=pools)


@settings(max_examples=25, deadline=None)
@given(pool_problems())
def test_best_and_exact_on_random_pool_problems(problem):
    heuristic_costs = []
    for name in ALGORITHMS:
        if name in ("naive", "best", "exact"):
            continue
        try:
            heuristic_costs.append(solve(problem, name).cost(problem))
        except PlanError:
            pass  # no room under this heuristic's pool choice
    for name in ("exact", "best"):
        s = solve(problem, name, time_limit=10)
        assert s.status in ("optimal", "infeasible")
        if s.status == "optimal":
            assert s.cost(problem) <= min(heuristic_costs, default=s.cost(problem))
            assert s.cost(problem) >= lower_bound(problem)


# ------------------------------------------------------------------ generated exact fits


@pytest.mark.parametrize("seed", range(3))
def test_generated_exact_fits_are_full_packings_and_solved(seed):
    from memplan.alloc.instances import exact_fit
    from memplan.problem import Solution

    problem, packing = exact_fit(seed, 12, capacity=1024, horizon=1024, grid=64)
    assert len(problem.blocks) == 12
    assert not check_solution(problem, Solution(packing, "generator"))
    assert lower_bound(problem) == problem.capacity == 1024  # every step is full
    assert sum(b.size * (b.upper - b.lower) for b in problem.blocks) == 1024 * 1024
    assert solve(problem, "exact", time_limit=30).status in ("feasible", "optimal")
