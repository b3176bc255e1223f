"""MiniMalloc's public instances, each at the capacity in its file name, solved by `exact`.

Prints a Markdown table: instance, buffers, LB, capacity, the status and seconds of
`exact` (decision mode), MiniMalloc's C++ median time from the instances' README (parsed
from its table), their ratio, and which registered heuristics fit the capacity.

    .venv/bin/python benchmarks/minimalloc.py [--dir benchmarks/data/minimalloc] [--time-limit 60]

The first run in a fresh checkout compiles the numba kernel (tens of seconds); that is
reported separately and not counted in any instance's time.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import re
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from memplan.alloc import ALGORITHMS, solve  # noqa: E402
from memplan.alloc.bounds import lower_bound  # noqa: E402
from memplan.alloc.exact import warm_up  # noqa: E402
from memplan.formats.problem_files import read_problem  # noqa: E402

HEURISTICS = [name for name in ALGORITHMS if name not in ("exact", "best", "naive")]


def readme_medians(directory: str) -> dict[str, float]:
    """Instance -> MiniMalloc median seconds, from rows like ``| A | 154 | ... | 6.6 / 10.1 |``
    (min / median) or ``| input.12 | ... | 0.003 |`` (one number)."""
    medians = {}
    with open(os.path.join(directory, "README.md")) as f:
        for line in f:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 5 and re.fullmatch(r"[\d.]+( / [\d.]+)?", cells[4]):
                medians[cells[0]] = float(cells[4].split("/")[-1])
    return medians


def instances(directory: str) -> list[tuple[str, str, int]]:
    """(name, path, capacity), the capacity being the number before ``.csv``."""
    out = []
    for file in os.listdir(directory):
        m = re.fullmatch(r"(.+)\.(\d+)\.csv", file) or re.fullmatch(r"(input)\.(\d+)\.csv", file)
        if m:
            name = file[:-4] if file.startswith("input.") else m.group(1)
            out.append((name, os.path.join(directory, file), int(m.group(2))))
    return sorted(out, key=lambda t: (not t[0].startswith("input"), t[0]))


def run(directory: str, time_limit: float) -> list[str]:
    medians = readme_medians(directory)
    rows = ["| instance | buffers | LB | capacity | status | seconds | MiniMalloc median (s) | ratio | heuristics that fit |",
            "|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for name, path, capacity in instances(directory):
        problem = read_problem(path, capacity=capacity)
        started = time.perf_counter()
        sol = solve(problem, "exact", time_limit=time_limit)
        seconds = time.perf_counter() - started
        free = dataclasses.replace(problem, capacity=None)
        fits = [h for h in HEURISTICS if solve(free, h).height(problem) <= capacity]
        median = medians.get(name)
        ratio = f"{seconds / median:.2f}" if median else "-"
        rows.append(f"| {name} | {len(problem.blocks)} | {lower_bound(problem)} | {capacity} | {sol.status} | "
                    f"{seconds:.2f} | {median if median is not None else '-'} | {ratio} | {', '.join(fits) or '-'} |")
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=os.path.join(ROOT, "benchmarks", "data", "minimalloc"))
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args()
    compile_seconds = warm_up()
    print(f"kernel ready in {compile_seconds:.1f} s (numba compile or cache load; not counted below)\n")
    run(args.dir, args.time_limit)


if __name__ == "__main__":
    main()
