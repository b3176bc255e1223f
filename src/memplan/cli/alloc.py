"""`memplan alloc`: solve a pure allocation problem file (MiniMalloc CSV or memplan JSON).

The heuristics place every block and the height is then compared with ``--budget``;
algorithms that take a capacity themselves (the exact search) get it as their target.
Exit codes: 0 the plan fits (or no capacity was given), 3 it does not fit or none was
found; user errors raise ``MemplanError`` (the CLI prints them, exit 2).
"""
from __future__ import annotations

import inspect
import sys
from dataclasses import replace
from typing import TYPE_CHECKING

import click
from rich.console import Console
from rich.table import Table

from ..errors import InputError
from ..fileio import check_output
from ..units import format_size, parse_size

if TYPE_CHECKING:
    from ..problem import Problem, Solution
from .common import DEFAULT_ALGORITHM, DOES_NOT_FIT, FITS, SECONDS, _stdout, check_outputs, user_errors
from .vocabulary import budget_option, wrote

POOL_AWARE = {"greedy_by_size", "greedy_by_conflicts", "hill_climb", "tflm_greedy", "best_fit", "exact", "best"}


def alloc_command(path: str, capacity: str | int | None = None, algorithm: str = "greedy_by_size",
                  output: str | None = None, time_limit: float = 10.0, seed: int = 0,
                  console: Console | None = None, pool_objective: str = "total", progress: bool = False) -> int:
    """Solve ``path``, print a summary, write ``output`` if given; returns the exit code."""
    if output:
        check_output(output, what="--output")
    from ..formats.problem_files import read_problem, write_solution  # numpy: only when a command runs

    cap = parse_size(capacity) if capacity is not None else None
    problem = read_problem(path, capacity=cap)
    solution = run(problem, algorithm, time_limit=time_limit, seed=seed, pool_objective=pool_objective,
                   progress=progress)
    height = solution.height(problem) if solution.offsets or not problem.blocks else None
    fits = height is not None and (problem.capacity is None or height <= problem.capacity)
    if output and height is not None:
        write_solution(output, problem, solution, arena=height, lower_bound=solution.bound,
                       seconds=round(float(solution.stats.get("seconds", 0.0)), 6))
    out = console or Console()
    out.print(summary(problem, solution, height, fits, output))
    for note in solution.notes:
        out.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if output and height is not None:
        wrote(output)
    return FITS if fits else DOES_NOT_FIT


def run(problem: Problem, algorithm: str, *, time_limit: float, seed: int, pool_objective: str = "total",
        progress: bool = False) -> Solution:
    from ..alloc import get_algorithm, solve

    fn = get_algorithm(algorithm)
    if problem.pools and algorithm not in POOL_AWARE:
        raise InputError(f"algorithm {algorithm!r} does not place buffers in pools; "
                         f"use one of {', '.join(sorted(POOL_AWARE))}")
    accepted = inspect.signature(fn).parameters
    options = {k: v for k, v in (("time_limit", time_limit), ("seed", seed), ("pool_objective", pool_objective),
                                 ("progress", progress)) if k in accepted}
    if "capacity" not in accepted:
        problem = replace(problem, capacity=None)  # the height is compared afterwards
    return solve(problem, algorithm, **options)


def summary(problem: Problem, solution: Solution, height: int | None, fits: bool, output: str | None) -> Table:
    from ..alloc.bounds import bound_name

    table = Table(title=f"alloc: {len(problem.blocks)} buffers, {solution.algorithm}", title_justify="left",
                  show_header=False)
    table.add_column("what")
    table.add_column("value", justify="right")
    lb = solution.bound
    cost = solution.cost(problem) if height is not None else None
    table.add_row("pools total" if problem.pools else "arena", _bytes(cost) if cost is not None else "-")
    table.add_row("lower bound", _bytes(lb))
    table.add_row("bound", bound_name(problem))
    table.add_row("arena / LB" if not problem.pools else "total / LB", f"{cost / lb:.4f}" if cost is not None and lb else "-")
    if problem.capacity is not None:
        table.add_row("budget", f"{_bytes(problem.capacity)} ({'fits' if fits else 'does not fit'})")
    for name, size in (solution.pool_sizes(problem).items() if problem.pools and solution.offsets else ()):
        table.add_row(f"pool {name}", _bytes(size))
    table.add_row("status", solution.status)
    table.add_row("seconds", f"{float(solution.stats.get('seconds', 0.0)):.3f}")
    return table


def _bytes(n: int) -> str:
    return f"{n:,} B ({format_size(n)})" if n >= 1024 else f"{n} B"


@click.command("alloc")
@click.argument("problem_file", metavar="PROBLEM")
@budget_option("Arena size to fit, e.g. 1MiB; exit 3 if the plan does not fit (exact: decision mode).",
               aliases=("--capacity", "-c"))
@click.option("--algorithm", "-a", default=DEFAULT_ALGORITHM, show_default=True, help="Offset algorithm.")
@click.option("--output", "-o", default=None, metavar="PATH",
              help="Write the solution: *.json (memplan.solution/1) or CSV with an offset column.")
@click.option("--time-limit", default=10.0, show_default=True, type=SECONDS, help="Seconds for exact/best.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for randomised algorithms.")
@click.option("--pool-objective", type=click.Choice(["total", "first"]), default="total", show_default=True,
              help="With pools, exact/best minimise the pools' total size, or the first pool's size first.")
@click.option("--progress", is_flag=True, help="exact/best: a live line with the best arena and the bound.")
@user_errors
def alloc_cli_command(problem_file, budget, algorithm, output, time_limit, seed, pool_objective, progress):
    """Assign offsets for PROBLEM: MiniMalloc CSV (id,lower,upper,size) or memplan.problem/1 JSON."""
    check_outputs(output=output)
    sys.exit(alloc_command(problem_file, budget, algorithm, output, time_limit, seed, console=_stdout(),
                           pool_objective=pool_objective, progress=progress))
