"""`best`: a portfolio, like XLA's ChooseBestHeapAlgorithm or ExecuTorch's algorithm suite.

Every registered heuristic runs first, cheapest first as registered (all but ``best``,
``exact`` and ``naive``); each plan is validated, and one that reaches the lower bound ends
the portfolio with a proof of optimality. Otherwise ``exact`` gets the remaining time,
starting from the best heuristic plan, and may improve on it or prove it optimal. The
smallest valid plan wins; ties go to the earlier entry in ``ALGORITHMS`` (exact last), so
the result is deterministic for a given seed. With a capacity only plans that fit count;
if none does, ``exact`` decides whether any plan fits.

Cost: the sum of the heuristics (O(n log n) to O(n^2) each, hill_climb more) plus at most
the rest of ``time_limit`` in ``exact``.
"""
from __future__ import annotations

import dataclasses
import inspect
import time

from ..problem import Problem, Solution
from ..verify.check import check_offsets
from .bounds import lower_bound

SKIP = ("best", "exact", "naive")


def best(problem: Problem, *, time_limit: float = 10.0, seed: int = 0, progress: bool = False) -> Solution:
    from . import ALGORITHMS
    from .exact import exact

    start = time.perf_counter()
    bound = lower_bound(problem)
    heights: dict[str, int] = {}
    winner: tuple[int, str, Solution] | None = None
    for name, fn in ALGORITHMS.items():
        if name in SKIP:
            continue
        sol = _run_heuristic(fn, problem, seed)
        if check_offsets(problem, sol.offsets, limit=1):
            continue  # does not fit the capacity (or is invalid): not a candidate
        heights[name] = sol.height(problem)
        if winner is None or heights[name] < winner[0]:
            winner = (heights[name], name, sol)
        if winner[0] <= bound or time.perf_counter() - start >= time_limit:
            break
    exact_sol = None
    left = time_limit - (time.perf_counter() - start)
    if (winner is None or winner[0] > bound) and left > 0 and not problem.pools:
        exact_sol = _run_exact(exact, problem, winner, left, seed, progress)
        bound = max(bound, exact_sol.bound)
        if exact_sol.offsets:
            heights["exact"] = exact_sol.height(problem)
            if winner is None or heights["exact"] < winner[0]:
                winner = (heights["exact"], "exact", exact_sol)
    stats = {"winner": winner[1] if winner else None, "heights": heights, "seconds": time.perf_counter() - start}
    if winner is None:
        status = exact_sol.status if exact_sol is not None else "timeout"
        return Solution((), "best", status, bound, stats)
    height, name, sol = winner
    return Solution(sol.offsets, "best", _status(height, bound, exact_sol), min(bound, height), stats)


def _run_heuristic(fn, problem: Problem, seed: int) -> Solution:
    if "seed" in inspect.signature(fn).parameters:
        return fn(problem, seed=seed)
    return fn(problem)


def _run_exact(exact, problem: Problem, winner, left: float, seed: int, progress: bool) -> Solution:
    if winner is None:  # nothing fits the capacity yet: let exact decide
        return exact(problem, time_limit=left, seed=seed, progress=progress)
    # Minimise below the best plan; its height is within any capacity already.
    free = dataclasses.replace(problem, capacity=None)
    return exact(free, time_limit=left, seed=seed, progress=progress, hint=winner[2].offsets)


def _status(height: int, bound: int, exact_sol: Solution | None) -> str:
    if height <= bound:
        return "optimal"
    if exact_sol is not None and exact_sol.status == "timeout":
        return "timeout"
    return "feasible"
