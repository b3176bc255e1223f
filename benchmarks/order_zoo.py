"""Orders and sharing: per model, the peak (largest live total, fp32, graph input in the
arena) of the file order, the heuristic and the exact order, without and with sharing, the
exact search's time and status, and the arena the allocator reaches on the final plan.

    .venv/bin/python benchmarks/order_zoo.py [--generated] [--time-limit 10] [--algorithms greedy_by_size,hill_climb]

Columns: ``none`` = no sharing; ``v+i`` = views and in-place writes; ``all`` = plus concats
built in place (those that would raise the peak are dropped, see
`schedule.order_and_storage`). The arena columns are the default plan (heuristic order, all
sharing) placed by each allocator.
"""
from __future__ import annotations

import argparse
import time

import memplan
from memplan.memory_model import MemoryModel, Sharing
from memplan.planner import plan
from memplan.order.schedule import order_and_storage, schedule
from memplan.graph.zoo import MODELS

SHARINGS = {"none": Sharing.off(), "v+i": Sharing(True, True, False), "all": Sharing()}


def row(name, graph, time_limit, algorithms):
    cells = [name, str(len(graph.ops))]
    for label, sharing in SHARINGS.items():
        if label == "all":
            start = time.perf_counter()
            sched, _ = order_and_storage(graph, "exact", sharing=sharing, time_limit=time_limit)
            seconds = time.perf_counter() - start
            heur, _ = order_and_storage(graph, "heuristic", sharing=sharing)
            file, _ = order_and_storage(graph, "file", sharing=sharing)
            cells += [f"{file.peak:,}", f"{heur.peak:,}", f"{sched.peak:,}", f"{seconds:.2f}",
                      sched.stats.get("status", "")]
            continue
        model = MemoryModel(graph, sharing=sharing)
        file = schedule(graph, "file", model=model)
        heur = schedule(graph, "heuristic", model=model)
        start = time.perf_counter()
        exact = schedule(graph, "exact", model=model, time_limit=time_limit)
        seconds = time.perf_counter() - start
        status = exact.stats["status"] + ("" if exact.stats["status"] == "optimal" else f" (bound {exact.stats['bound']:,})")
        cells += [f"{file.peak:,}", f"{heur.peak:,}", f"{exact.peak:,}", f"{seconds:.2f}", status]
    for algorithm in algorithms:
        p = plan(graph, algorithm=algorithm)
        cells.append(f"{p.arena_bytes:,}")
    print("| " + " | ".join(cells) + " |", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generated", action="store_true", help="also the generated irregular networks")
    parser.add_argument("--only-generated", action="store_true")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--algorithms", default="greedy_by_size,hill_climb")
    args = parser.parse_args(argv)
    algorithms = [a for a in args.algorithms.split(",") if a]
    head = ["model", "ops"]
    for label in SHARINGS:
        head += [f"{label} file", f"{label} heuristic", f"{label} exact", f"{label} exact s", f"{label} status"]
    head += [f"arena {a}" for a in algorithms]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    if not args.only_generated:
        for name in MODELS:
            row(name, memplan.load(f"zoo:{name}"), args.time_limit, algorithms)
    if args.generated or args.only_generated:
        from memplan.graph.generators import load_generated

        cases = [("randwire", dict(nodes=16, seed=s)) for s in range(3)]
        cases += [("randwire", dict(nodes=24, seed=s)) for s in range(5)]
        cases += [("randwire", dict(nodes=32, seed=s)) for s in range(2)]
        cases += [("nas_cells", dict(seed=0)), ("nas_cells", dict(seed=1)), ("unet", dict(seed=0)),
                  ("inception", dict(seed=0))]
        for gen, params in cases:
            label = gen + "(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")"
            row(label, load_generated(gen, **params), args.time_limit, algorithms)


if __name__ == "__main__":
    main()
