"""Planning a .tflite model with float16 weights: as written (every DEQUANTIZE a runtime op)
against folded on import (the default since issue #18: DEQUANTIZE(fp16 constant) becomes a
float32 weight, as export-tflm writes it).

Prints a Markdown table: ops, load and plan seconds (`memplan.plan` defaults: heuristic order,
best allocator), arena, and the folded/raw ratio of the total, measured in the same run.

    .venv/bin/python benchmarks/tflite_fold.py [hand_landmark_full ...]
"""
from __future__ import annotations

import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import memplan


def measure(spec: str, fold: bool) -> tuple[int, float, float, int]:
    start = time.perf_counter()
    graph = memplan.load(spec, fold=fold)
    loaded = time.perf_counter()
    plan = memplan.plan(graph)
    return len(graph.ops), loaded - start, time.perf_counter() - loaded, plan.arena_bytes


def main() -> None:
    names = sys.argv[1:] or ["hand_landmark_full", "hand_landmark_lite"]
    print("| model | import | ops | load (s) | plan (s) | arena | total folded / raw |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        spec = f"mediapipe:{name}"
        raw = measure(spec, fold=False)
        folded = measure(spec, fold=True)
        ratio = (folded[1] + folded[2]) / (raw[1] + raw[2])
        for label, (ops, load, plan, arena) in (("as written", raw), ("folded", folded)):
            print(f"| {spec} | {label} | {ops} | {load:.2f} | {plan:.2f} | {arena:,} | "
                  f"{f'{ratio:.2f}' if label == 'folded' else ''} |", flush=True)


if __name__ == "__main__":
    main()
