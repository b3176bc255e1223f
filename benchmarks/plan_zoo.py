"""Plan every zoo model and print: nodes, activation tensors, LB, naive, the arena of each
algorithm and arena/LB, and the time to import and plan.

    .venv/bin/python benchmarks/plan_zoo.py [--algorithms greedy_by_size,...] [--repeat 3]

Times are the median of --repeat runs, measured in this run; the ratio column compares the
plan time to the import time of the same model, which is the fixed cost every user pays.
"""
from __future__ import annotations

import argparse
import statistics
import time

import memplan
from memplan.alloc import ALGORITHMS
from memplan.planner import plan
from memplan.graph.zoo import MODELS


def timed(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default="greedy_by_size",
                        help=f"comma-separated, from: {', '.join(ALGORITHMS)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--time-limit", type=float, default=10.0)
    args = parser.parse_args(argv)
    algorithms = [a for a in args.algorithms.split(",") if a]
    head = ["model", "nodes", "act tensors", "LB", "naive"] + [f"{a} (x LB)" for a in algorithms]
    head += ["import s", "plan s (" + algorithms[0] + ")"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in MODELS:
        graph, t_import = timed(lambda: memplan.load(f"zoo:{name}"), args.repeat)
        cells = [name, str(len(graph.ops) + len(graph.const_ops)), str(len(graph.activations))]
        first_time = None
        for i, algorithm in enumerate(algorithms):
            opts = {"time_limit": args.time_limit} if algorithm in ("exact", "best") else {}
            p, t = timed(lambda: plan(graph, algorithm=algorithm, **opts), args.repeat if i == 0 else 1)
            if i == 0:
                cells += [f"{p.lower_bound_bytes:,}", f"{p.naive_bytes:,}"]
                first_time = t
            cells.append(f"{p.arena_bytes:,} ({p.arena_bytes / p.lower_bound_bytes:.3f})")
        cells += [f"{t_import:.3f}", f"{first_time:.3f}"]
        print("| " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
