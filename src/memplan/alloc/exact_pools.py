"""`exact` on problems with pools: the joint choice of pool and offset.

Objective (``pool_objective``): ``"total"`` (default) minimises the sum of the pools'
sizes; ``"first"`` minimises the first declared pool's size first, then the total.

* **One candidate per block** (one pool, or every block bound to one pool, as TVM's
  ``global_workspace`` lists): the pools are independent problems. Each is minimised by the
  canonical search of ``exact`` (interval graphs and lifetimes included) under its limit;
  both objectives are then the same. Time is shared out by pool size.
* **Several candidates**: CP-SAT (``ortools``) on the joint model: one Boolean per
  (block, candidate pool), an aligned offset per block, each pool's size at least the end
  of every block in it and at most its limit, and for every conflicting pair and common
  pool "if both are there, one ends before the other starts". The best heuristic plan is
  the hint. Up to ``MAX_PAIRS`` conflicting pairs; above that the hint is returned as it is
  (status ``timeout``, the bound beside it).

The bound is the one of ``bounds`` (on the total; for ``"first"`` only the CP-SAT proof
says ``optimal``).
"""
from __future__ import annotations

import dataclasses
import math
import time

from ..errors import PlanError
from ..problem import Problem, Solution
from .bounds import lower_bound, split_by_pool

OBJECTIVES = ("total", "first")
MAX_PAIRS = 20000


def check_objective(pool_objective: str) -> None:
    if pool_objective not in OBJECTIVES:
        raise PlanError(f"pool objective {pool_objective!r}: choose one of {', '.join(OBJECTIVES)}")


def exact_pools(problem: Problem, solve_arena, *, time_limit: float, seed: int, hint=None, hint_pools=(),
                pool_objective: str = "total") -> Solution:
    """``solve_arena(problem, time_limit, hint)`` is ``exact`` on one pool-less problem."""
    check_objective(pool_objective)
    parts = split_by_pool(problem)
    if parts is not None:
        return _independent(problem, parts, solve_arena, time_limit, hint)
    return _joint(problem, time_limit, hint, hint_pools, pool_objective)


def _independent(problem: Problem, parts, solve_arena, time_limit: float, hint) -> Solution:
    deadline = time.perf_counter() + time_limit
    offsets = [0] * len(problem.blocks)
    pools = [""] * len(problem.blocks)
    statuses, bound = [], 0
    weights = [max(1, int(part.sizes.sum())) for _, part in parts]
    for k, (p, part) in enumerate(parts):
        share = (deadline - time.perf_counter()) * weights[k] / sum(weights[k:])
        keep = [problem.index[b.id] for b in part.blocks]
        part_hint = [hint[i] for i in keep] if hint is not None else None
        sol = _within_limit(part, solve_arena, share, part_hint)
        statuses.append(sol.status)
        bound += sol.bound
        if not sol.offsets:
            return Solution((), "exact", sol.status, bound)
        for i, off in zip(keep, sol.offsets):
            offsets[i], pools[i] = off, problem.pools[p][0]
    status = "optimal" if all(s == "optimal" for s in statuses) else \
        "timeout" if "timeout" in statuses else "feasible"
    return Solution(tuple(offsets), "exact", status, bound, pools=tuple(pools))


def _within_limit(part: Problem, solve_arena, share: float, hint) -> Solution:
    """The smallest plan of one pool within its limit (``part.capacity``)."""
    limit = part.capacity
    free = dataclasses.replace(part, capacity=None)
    if hint is not None and limit is not None and _height(part, hint) > limit:
        hint = None
    began = time.perf_counter()
    sol = solve_arena(free, share if limit is None or hint is not None else share / 2, hint)
    if limit is None or (sol.offsets and _height(part, sol.offsets) <= limit):
        return sol
    if sol.status == "optimal":
        return Solution((), "exact", "infeasible", sol.bound)
    return solve_arena(part, max(share - (time.perf_counter() - began), 0.05), None)


def _height(problem: Problem, offsets) -> int:
    return max((o + b.size for o, b in zip(offsets, problem.blocks)), default=0)


def _joint(problem: Problem, time_limit: float, hint, hint_pools, pool_objective: str) -> Solution:
    bound = lower_bound(problem)
    pairs = [(i, j) for i, js in enumerate(problem.pair_conflicts()) for j in js if i < j
             and problem.blocks[i].size and problem.blocks[j].size]
    if len(pairs) > MAX_PAIRS:
        if hint is None:
            return Solution((), "exact", "timeout", bound)
        return Solution(tuple(hint), "exact", "timeout", bound, {"too_large": len(pairs)}, tuple(hint_pools))
    return _cp_sat(problem, pairs, time_limit, hint, hint_pools, pool_objective, bound)


def _cp_sat(problem: Problem, pairs, time_limit: float, hint, hint_pools, pool_objective: str, bound: int
            ) -> Solution:
    from ortools.sat.python import cp_model

    from .cpsat import solve_cp

    deadline = time.perf_counter() + time_limit
    names = [name for name, _ in problem.pools]
    total = int(problem.sizes.sum()) + sum(b.alignment for b in problem.blocks)
    cap = [limit if limit is not None else total for _, limit in problem.pools]
    m = cp_model.CpModel()
    size = [m.NewIntVar(0, c, f"pool{p}") for p, c in enumerate(cap)]
    x, off, steps = [], [], []
    for i, b in enumerate(problem.blocks):
        cands = [names.index(q) for q in b.pools] if b.pools else list(range(len(names)))
        x.append({p: m.NewBoolVar(f"x{i}_{p}") for p in cands if b.size <= cap[p]})
        if not x[i]:
            raise PlanError(f"block {b.id!r} ({b.size} bytes) fits in none of its pools")
        m.AddExactlyOne(x[i].values())
        k = m.NewIntVar(0, max(cap) // b.alignment, f"k{i}")
        steps.append(k)
        off.append(k * b.alignment)
        for p, lit in x[i].items():
            m.Add(size[p] >= off[i] + b.size).OnlyEnforceIf(lit)
    for i, j in pairs:
        common = [p for p in x[i] if p in x[j]]
        if not common:
            continue
        below, above = m.NewBoolVar(""), m.NewBoolVar("")
        m.Add(off[i] + problem.blocks[i].size <= off[j]).OnlyEnforceIf(below)
        m.Add(off[j] + problem.blocks[j].size <= off[i]).OnlyEnforceIf(above)
        for p in common:
            m.AddBoolOr([below, above, x[i][p].Not(), x[j][p].Not()])
    if hint is not None:
        for i, b in enumerate(problem.blocks):
            p = names.index(hint_pools[i])
            for q, lit in x[i].items():
                m.AddHint(lit, q == p)
            m.AddHint(steps[i], hint[i] // b.alignment)
    phases = [size[0], sum(size)] if pool_objective == "first" else [sum(size)]
    solver = status = None
    for k, objective in enumerate(phases):
        m.Minimize(objective)
        share = deadline if k == len(phases) - 1 else time.perf_counter() + (deadline - time.perf_counter()) / 2
        solver, status = solve_cp(m, share)
        if status not in ("optimal", "feasible"):
            break
        if k < len(phases) - 1:
            m.Add(objective <= int(solver.ObjectiveValue()))
            if status != "optimal":
                break  # phase 1 not proved: its best is kept, the total is not minimised further
    if status not in ("optimal", "feasible"):
        if status == "infeasible":
            return Solution((), "exact", "infeasible", bound)
        return Solution(tuple(hint) if hint is not None else (), "exact", "timeout", bound, pools=tuple(hint_pools))
    offsets = tuple(int(solver.Value(o)) for o in off)
    chosen = tuple(names[next(p for p, lit in x[i].items() if solver.Value(lit))] for i in range(len(off)))
    proved = status == "optimal" and k == len(phases) - 1
    if pool_objective == "total":
        bound = max(bound, math.ceil(solver.BestObjectiveBound() - 1e-6))
    sol = Solution(offsets, "exact", "optimal" if proved else "timeout", bound, pools=chosen)
    if hint is not None and sol.cost(problem) > _cost(problem, hint, hint_pools):
        return Solution(tuple(hint), "exact", "timeout", bound, pools=tuple(hint_pools))
    return sol


def _cost(problem: Problem, offsets, pools) -> int:
    return Solution(tuple(offsets), "", pools=tuple(pools)).cost(problem)
