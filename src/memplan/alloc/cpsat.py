"""CP-SAT helpers shared by the joint pool search (`exact_pools`) and the placement searches
(spills, weight modes).

Both solve a relaxation — live bytes per step must fit — whose answers the real allocator
may still fail to pack (fragmentation). ``lazy_cuts`` is the loop around it: solve, pack,
and when the packing is too tall, forbid that answer (a cut) or, after a few cuts, shrink
the relaxation's capacity by the excess (faster, but no longer a proof of optimality).
"""
from __future__ import annotations

import time
from typing import Callable


def solve_cp(model, deadline: float):
    """CP-SAT on one worker with a fixed seed (reproducible plans), until ``deadline``.
    Returns (solver, status) with status "optimal" | "feasible" | "infeasible" | "unknown"."""
    from ortools.sat.python import cp_model

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 0.05)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 0
    status = solver.Solve(model)
    names = {cp_model.OPTIMAL: "optimal", cp_model.FEASIBLE: "feasible", cp_model.INFEASIBLE: "infeasible"}
    return solver, names.get(status, "unknown")


def lazy_cuts(solve: Callable, pack: Callable, capacity: int, deadline: float, max_rounds: int,
              max_cuts: int = 8) -> tuple[bool, int]:
    """Run the relaxation loop; returns (proved optimal, rounds).

    ``solve(target, cuts)`` -> (status, answer): status "optimal" | "feasible" | "infeasible"
    (nothing beats the best packed answer so far) | "unknown" (answer None).
    ``pack(answer)`` -> (height, cut): the allocator's height for the answer, and the cut
    that forbids it (falsy when none can be stated)."""
    proven, tightened, target, cuts, rounds = True, False, capacity, [], 0
    for rounds in range(1, max_rounds + 1):
        status, answer = solve(target, cuts)
        if status == "infeasible":
            break
        if answer is None:
            proven = False
            break
        proven = proven and status == "optimal"
        height, cut = pack(answer)
        if height <= capacity:
            if status == "optimal":
                break  # the relaxation's optimum packs: nothing cheaper exists
            continue
        if len(cuts) < max_cuts and cut:
            cuts.append(cut)
        else:
            target -= height - capacity
            tightened = True
        if time.perf_counter() > deadline:
            proven = False
            break
    else:
        proven = False
    return proven and not tightened, rounds
