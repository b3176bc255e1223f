"""Offset assignment: every algorithm is a plain function ``Problem -> Solution``,
registered in ``ALGORITHMS``. ``solve`` runs one by name, validates its result and marks
it ``optimal`` when its cost meets the proven lower bound, whichever algorithm made it.

Importing this package loads no compiled code: ``exact`` imports its numba kernel when it
first runs."""
from __future__ import annotations

import inspect
import time
from typing import Callable

from ..errors import PlanError
from ..problem import Problem, Solution
from .bounds import lower_bound
from .greedy import best_fit, greedy_by_conflicts, greedy_by_size, tflm_greedy
from .hill_climb import hill_climb
from .naive import naive
from .exact import exact
from .best import best

ALGORITHMS: dict[str, Callable[..., Solution]] = {
    "naive": naive,
    "greedy_by_size": greedy_by_size,
    "greedy_by_conflicts": greedy_by_conflicts,
    "hill_climb": hill_climb,
    "tflm_greedy": tflm_greedy,
    "best_fit": best_fit,
    "exact": exact,
    "best": best,
}


def get_algorithm(name: str) -> Callable[..., Solution]:
    try:
        return ALGORITHMS[name]
    except KeyError:
        raise PlanError(f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}") from None


def _accepted(fn, options: dict) -> dict:
    """The options ``fn`` takes: callers pass the common ones (``time_limit``, ``seed``,
    ``progress``) to any algorithm, and heuristics that have no use for them ignore them."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return options
    return {k: v for k, v in options.items() if k in params}


def solve(problem: Problem, algorithm: str = "greedy_by_size", **options) -> Solution:
    """Run ``algorithm`` and validate its result; an invalid result is a bug and raises."""
    from ..verify.check import check_solution

    fn = get_algorithm(algorithm)
    start = time.perf_counter()
    solution = fn(problem, **_accepted(fn, options))
    elapsed = time.perf_counter() - start
    if solution.offsets or not problem.blocks:
        findings = check_solution(problem, solution)
        if findings:
            raise PlanError(f"algorithm {algorithm!r} produced an invalid plan (a bug): {findings[0]}")
    stats = dict(solution.stats)
    stats.setdefault("seconds", elapsed)
    bound = max(solution.bound, lower_bound(problem))
    status = solution.status
    if status in ("heuristic", "feasible") and (solution.offsets or not problem.blocks) \
            and solution.cost(problem) <= bound and _bound_applies(problem, options):
        status = "optimal"
    return Solution(solution.offsets, solution.algorithm, status, bound, stats, solution.pools, solution.notes)


def _bound_applies(problem: Problem, options: dict) -> bool:
    """The bound is on the height, or with pools on their total: it proves nothing about
    the first pool's size alone (``pool_objective="first"``)."""
    return not problem.pools or options.get("pool_objective", "total") == "total"
