"""`best`: a portfolio, like XLA's ChooseBestHeapAlgorithm or ExecuTorch's algorithm suite.

The registered heuristics run first in registry order, except the slow ones (``hill_climb``,
500 greedy passes): each plan is validated, and one that reaches the lower bound ends the
portfolio with a proof of optimality. Then ``exact`` gets a short first slice (a tenth of
the time, at least 1 s), which on interval graphs and lifetimes usually closes the gap at
once; then the slow heuristics; then ``exact`` again with the time left, starting from the
best plan so far. The smallest valid plan wins; ties go to the earlier entry in
``ALGORITHMS`` (exact last), so the result is deterministic for a given seed. With a
capacity only plans that fit count; if none does, ``exact`` decides whether any plan fits.

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
SLOW = ("hill_climb",)


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
    state = {"winner": None, "exact": None, "bound": bound}

    def done() -> bool:
        w, e = state["winner"], state["exact"]
        return (w is not None and proves and w[2].cost(problem) <= state["bound"]) or \
            (e is not None and e.status in ("optimal", "infeasible")) or time.perf_counter() - start >= time_limit

    def offer(name: str, sol: Solution) -> None:
        key = _key(problem, sol, pool_objective)
        costs[name] = sol.cost(problem)
        if state["winner"] is None or key < state["winner"][0]:
            state["winner"] = (key, name, sol)

    def run_exact(share: float) -> None:
        sol = _run_exact(exact, problem, state["winner"], share, seed, progress, pool_objective)
        state["exact"] = sol
        state["bound"] = max(state["bound"], sol.bound)
        if sol.offsets:
            offer("exact", sol)

    heuristics = [name for name in ALGORITHMS if name not in SKIP]
    for group in ([n for n in heuristics if n not in SLOW], "probe", [n for n in heuristics if n in SLOW], "rest"):
        if done():
            break
        left = time_limit - (time.perf_counter() - start)
        if group == "probe":
            run_exact(min(left, max(1.0, time_limit / 10)))
        elif group == "rest":
            run_exact(left)
        else:
            for name in group:
                sol = _run_heuristic(ALGORITHMS[name], problem, seed)
                if sol is not None and not check_solution(problem, sol, limit=1):
                    offer(name, sol)  # else: no room in the pools, or over the capacity
                if done():
                    break
    winner, exact_sol, bound = state["winner"], state["exact"], state["bound"]
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
