"""Layer pipeline on ResNet-50 (zoo) and the 28-layer residual net (``pipeline_models``):
per number of batches in flight, the initiation interval, throughput, latency, the arena of
the validated memory plan (best fit) and its lower bound, and the time to simulate 1,000
batches; then the stage balancing DP against an even split.

    .venv/bin/python benchmarks/pipeline.py [--device l2-4mib] [--depths 1..8] [--repeat 3]

Times are medians of --repeat runs in this process.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import memplan
from memplan.tiers.devices import load_device
from memplan.pipeline.simulate import build_pipeline, full_rate_depth, stats
from memplan.pipeline.simulate import simulate
from memplan.pipeline.balance import balance, even_split
from memplan.pipeline.memory import depth_table, parse_depths
from memplan.pipeline.models import write_residual28
from memplan.report.pipeline_text import fmt_time


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def models(tmp: str):
    path = os.path.join(tmp, "resnet28.onnx")
    write_residual28(path)
    return [("resnet50 (zoo)", memplan.load("zoo:resnet50")), ("resnet28 (generated)", memplan.load(path))]


def depth_rows(name, pipe, depths, repeat):
    rows = depth_table(pipe, depths)
    for r in rows:
        sim = median_time(lambda: simulate(pipe, 1000, depth=r.depth), repeat)
        print(f"| {name} | {len(pipe.layers)} | {r.depth} | {fmt_time(r.interval)} | {r.throughput:,.1f} | "
              f"{fmt_time(r.latency)} | {r.arena_bytes:,} | {r.lower_bound:,} | {r.arena_bytes / r.lower_bound:.3f} | "
              f"{r.blocks} | {r.seconds:.2f} | {sim:.3f} |")


def balance_rows(name, pipe, repeat):
    for k in (2, 4, 8, 16):
        even = even_split(pipe, k)
        seconds = median_time(lambda: balance(pipe, k), repeat)
        best = balance(pipe, k)
        print(f"| {name} | {k} | {fmt_time(even.interval)} | {fmt_time(best.interval)} | "
              f"{even.interval / best.interval:.2f}x | {fmt_time(pipe.bottleneck_interval)} | {seconds * 1000:.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="l2-4mib")
    parser.add_argument("--depths", default="1..8,auto")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    device = load_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        pipes = [(name, build_pipeline(graph, device)) for name, graph in models(tmp)]
    print(f"device {device.name}\n")
    for name, pipe in pipes:
        st = stats(simulate(pipe, 1000))
        print(f"{name}: {len(pipe.layers)} layers, II* {fmt_time(st.closed_interval)} (bottleneck {st.bottleneck}), "
              f"L {fmt_time(st.closed_latency)}, full rate at {full_rate_depth(pipe)} in flight, "
              f"1,000 batches unbounded: II {fmt_time(st.interval)}, bubble {st.bubble:.3f}")
    print()
    head = ["model", "layers", "in flight", "II", "batches/s", "latency", "arena", "LB", "arena/LB", "blocks",
            "plan s", "sim 1,000 s"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name, pipe in pipes:
        depth_rows(name, pipe, parse_depths(args.depths, pipe), args.repeat)
    print()
    head = ["model", "stages K", "even split II", "DP II", "even / DP", "one per layer II", "DP ms"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for name, pipe in pipes:
        balance_rows(name, pipe, args.repeat)


if __name__ == "__main__":
    main()
