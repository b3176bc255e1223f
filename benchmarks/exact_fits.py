"""Generated exact fits (MiniMalloc's method, ``memplan.alloc.instances``) solved by `exact`.

Twenty instances, seeds 0-19 fixed before any run and never changed; instance k has
``150 + (k * 13) % 251`` buffers (150-400, spread evenly), capacity 1 MiB, time box 1 Mi
steps, 1 KiB grid. Each is feasible at 1 MiB by construction; `exact` runs in decision mode
with ``--time-limit`` seconds per instance. Prints one row per instance (buffers, status,
seconds, nodes) and the fraction solved within 10 s and within the limit.

    .venv/bin/python benchmarks/exact_fits.py [--time-limit 60] [--seeds 0-19] [--off RULE,...]

``--off`` turns `exact` switches off (``memplan.alloc.exact.Switches``), to measure a rule.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from memplan.alloc import solve  # noqa: E402
from memplan.alloc.exact import warm_up  # noqa: E402
from memplan.alloc.instances import exact_fit  # noqa: E402

SEEDS = range(20)


def buffers_for(seed: int) -> int:
    return 150 + (seed * 13) % 251


def parse_seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out += list(range(int(lo), int(hi or lo) + 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--seeds", default=f"{SEEDS.start}-{SEEDS.stop - 1}")
    parser.add_argument("--off", default="", help="comma-separated exact switches to turn off")
    args = parser.parse_args()
    off = {name: False for name in args.off.split(",") if name}
    print(f"kernel loaded in {warm_up():.1f} s (not counted)")
    print("| instance | buffers | status | seconds | nodes |")
    print("|---|---:|---|---:|---:|")
    times = []
    seeds = parse_seeds(args.seeds)
    for seed in seeds:
        problem, _ = exact_fit(seed, buffers_for(seed))
        start = time.perf_counter()
        sol = solve(problem, "exact", time_limit=args.time_limit, **off)
        seconds = time.perf_counter() - start
        solved = sol.status in ("feasible", "optimal")
        times.append(seconds if solved else None)
        print(f"| fit{seed:02d} | {len(problem.blocks)} | {sol.status} | {seconds:.2f} | "
              f"{int(sol.stats.get('nodes', 0)):,} |", flush=True)
    within = lambda limit: sum(1 for t in times if t is not None and t <= limit)  # noqa: E731
    print(f"\nsolved within 10 s: {within(10)}/{len(seeds)}; within {args.time_limit:g} s: "
          f"{within(args.time_limit)}/{len(seeds)}")


if __name__ == "__main__":
    main()
