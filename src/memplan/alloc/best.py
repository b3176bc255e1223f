"""`best`: a portfolio, like XLA's ChooseBestHeapAlgorithm or ExecuTorch's algorithm suite.

Every registered heuristic runs first, cheapest first as registered (all but ``best``,
``exact`` and ``naive``); each plan is validated, and one that reaches the lower bound ends
the portfolio with a proof of optimality. Otherwise ``exact`` gets the remaining time,
starting from the best heuristic plan, and may improve on it or prove it optimal. The
smallest valid plan wins; ties go to the earlier entry in ``ALGORITHMS`` (exact last), so
the result is deterministic for a given seed. With a capacity only plans that fit count;
if none does, ``exact`` decides whether any plan fits.

Every problem the formats express is accepted: lifetimes, conflict lists (directed or
not), pools with limits and candidate pools. With pools the cost is the pools' total size
(``pool_objective="total"``, the default) or the first pool's size, then the total
(``"first"``); a heuristic that finds no room for a block is simply not a candidate.

Cost: the sum of the heuristics (O(n log n) to O(n^2) each, hill_climb more) plus at most
the rest of ``time_limit`` in ``exact``.
"""
from __future__ import annotations

import dataclasses
import inspect
import time

from ..errors import PlanError
from ..problem import Problem, Solution
from ..verify.check import check_solution
from .bounds import lower_bound

SKIP = ("best", "exact", "naive")


def best(problem: Problem, *, time_limit: float = 10.0, seed: int = 0, progress: bool = False,
         pool_objective: str = "total") -> Solution:
    from . import ALGORITHMS
    from .exact import exact
    from .exact_pools import check_objective

    check_objective(pool_objective)
    start = time.perf_counter()
    bound = lower_bound(problem)
    proves = not problem.pools or pool_objective == "total"  # the bound is on the height / total
    costs: dict[str, int] = {}
    winner: tuple[tuple, str, Solution] | None = None
    for name, fn in ALGORITHMS.items():
        if name in SKIP:
            continue
        sol = _run_heuristic(fn, problem, seed)
        if sol is None or check_solution(problem, sol, limit=1):
            continue  # no room in the pools, or does not fit the capacity: not a candidate
        key = _key(problem, sol, pool_objective)
        costs[name] = sol.cost(problem)
        if winner is None or key < winner[0]:
            winner = (key, name, sol)
        if (proves and winner[2].cost(problem) <= bound) or time.perf_counter() - start >= time_limit:
            break
    exact_sol = None
    left = time_limit - (time.perf_counter() - start)
    if (winner is None or not proves or winner[2].cost(problem) > bound) and left > 0:
        exact_sol = _run_exact(exact, problem, winner, left, seed, progress, pool_objective)
        bound = max(bound, exact_sol.bound)
        if exact_sol.offsets:
            costs["exact"] = exact_sol.cost(problem)
            key = _key(problem, exact_sol, pool_objective)
            if winner is None or key < winner[0]:
                winner = (key, "exact", exact_sol)
    stats = {"winner": winner[1] if winner else None, "heights": costs, "seconds": time.perf_counter() - start}
    if winner is None:
        status = exact_sol.status if exact_sol is not None else "timeout"
        return Solution((), "best", status, bound, stats)
    _, name, sol = winner
    cost = sol.cost(problem)
    status = _status(cost <= bound and proves, exact_sol, name)
    return Solution(sol.offsets, "best", status, min(bound, cost), stats, sol.pools, sol.notes)


def _key(problem: Problem, sol: Solution, pool_objective: str) -> tuple:
    if problem.pools and pool_objective == "first":
        return sol.pool_sizes(problem).get(problem.pools[0][0], 0), sol.cost(problem)
    return (sol.cost(problem),)


def _run_heuristic(fn, problem: Problem, seed: int) -> Solution | None:
    try:
        if "seed" in inspect.signature(fn).parameters:
            return fn(problem, seed=seed)
        return fn(problem)
    except PlanError:
        if problem.pools:
            return None  # this heuristic found no room for some block in its pools
        raise


def _run_exact(exact, problem: Problem, winner, left: float, seed: int, progress: bool,
               pool_objective: str) -> Solution:
    if problem.pools:
        hint = (winner[2].offsets, winner[2].pools) if winner is not None else (None, ())
        return exact(problem, time_limit=left, seed=seed, progress=progress, hint=hint[0], hint_pools=hint[1],
                     pool_objective=pool_objective)
    if winner is None:  # nothing fits the capacity yet: let exact decide
        return exact(problem, time_limit=left, seed=seed, progress=progress)
    # Minimise below the best plan; its height is within any capacity already.
    free = dataclasses.replace(problem, capacity=None)
    return exact(free, time_limit=left, seed=seed, progress=progress, hint=winner[2].offsets)


def _status(at_bound: bool, exact_sol: Solution | None, name: str) -> str:
    if at_bound:
        return "optimal"
    if exact_sol is not None and name == "exact" and exact_sol.status == "optimal":
        return "optimal"  # proved by the search itself (e.g. CP-SAT on the joint pool choice)
    if exact_sol is not None and exact_sol.status == "timeout":
        return "timeout"
    return "feasible"
