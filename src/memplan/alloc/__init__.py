"""Offset assignment: every algorithm is a plain function ``Problem -> Solution``,
registered in ``ALGORITHMS``. ``solve`` runs one by name, validates its result and marks
it ``optimal`` when its cost meets the proven lower bound, whichever algorithm made it.

Importing this package is cheap: ``ALGORITHMS`` knows every name up front and imports an
algorithm's module (numpy, and for ``exact`` the numba kernel) when it is first looked up,
so listing the names (``memplan --help``) loads no algorithm at all."""
from __future__ import annotations

import importlib
import time
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from ..errors import PlanError

if TYPE_CHECKING:
    from ..problem import Problem, Solution

# name -> module of alloc that defines a function of that name; registry order is the
# portfolio order of `best` and its tie-break.
_REGISTRY = {
    "naive": "naive",
    "greedy_by_size": "greedy",
    "greedy_by_conflicts": "greedy",
    "hill_climb": "hill_climb",
    "tflm_greedy": "greedy",
    "best_fit": "greedy",
    "exact": "exact",
    "best": "best",
}


class _Algorithms(Mapping):
    """A read-only mapping name -> function that imports each function on first lookup."""

    def __init__(self, registry: dict[str, str]):
        self._registry = registry
        self._loaded: dict[str, Callable] = {}

    def __getitem__(self, name: str) -> Callable[..., "Solution"]:
        if name not in self._loaded:
            module = importlib.import_module(f".{self._registry[name]}", __name__)
            self._loaded[name] = getattr(module, name)
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._registry)

    def __len__(self) -> int:
        return len(self._registry)

    def __contains__(self, name) -> bool:
        return name in self._registry


ALGORITHMS: Mapping[str, Callable[..., "Solution"]] = _Algorithms(_REGISTRY)


def get_algorithm(name: str) -> Callable[..., "Solution"]:
    if name not in ALGORITHMS:
        raise PlanError(f"unknown algorithm {name!r}; choose one of: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]


def _accepted(fn, options: dict) -> dict:
    """The options ``fn`` takes: callers pass the common ones (``time_limit``, ``seed``,
    ``progress``) to any algorithm, and heuristics that have no use for them ignore them."""
    import inspect

    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return options
    return {k: v for k, v in options.items() if k in params}


def solve(problem: "Problem", algorithm: str = "greedy_by_size", **options) -> "Solution":
    """Run ``algorithm`` and validate its result; an invalid result is a bug and raises."""
    from ..problem import Solution
    from ..verify.check import check_solution
    from .bounds import lower_bound

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


def _bound_applies(problem: "Problem", options: dict) -> bool:
    """The bound is on the height, or with pools on their total: it proves nothing about
    the first pool's size alone (``pool_objective="first"``)."""
    return not problem.pools or options.get("pool_objective", "total") == "total"
