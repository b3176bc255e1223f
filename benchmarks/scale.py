"""Allocation at scale: a deterministic 100,000-buffer transformer-like instance.

A 32-layer decoder (d_model 1024, 16 heads, MLP 4x, fp16) runs micro-batches one after
another, each of a sequence length drawn from {128, 256, 512, 1024} (seeded). Every layer
of every micro-batch makes 14 buffers with the lifetimes their consumers give them
(layer norm, q/k/v, scores and probabilities (heads x S x S), attention output,
projection, the residual stream (alive across the attention block), MLP up / activation /
down); each layer also owns a K and a V cache (4096 tokens) live for the whole run.
Lifetimes are half-open steps; one op per step.

    .venv/bin/python benchmarks/scale.py            # times every heuristic + validation
    .venv/bin/python benchmarks/scale.py --csv out/scale.csv   # also write the instance

Prints a table (seconds, arena, arena / lower bound) with times relative to the fastest.
hill_climb needs pair lists and 500 passes, so it runs on the first 2,000 buffers only.
"""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

sys.path.insert(0, __file__.rsplit("/benchmarks/", 1)[0] + "/src")

from memplan.alloc import ALGORITHMS  # noqa: E402
from memplan.alloc.bounds import lower_bound  # noqa: E402
from memplan.problem import Block, Problem  # noqa: E402
from memplan.verify.check import check_solution  # noqa: E402

N_BUFFERS, LAYERS, D, HEADS, FP16 = 100_000, 32, 1024, 16, 2
KV_TOKENS = 4096


def transformer_instance(n: int = N_BUFFERS, seed: int = 0) -> Problem:
    rng = np.random.default_rng(seed)
    specs: list[tuple[str, int, int, int]] = []  # id, size, lower, upper
    kv_count = 2 * LAYERS
    t, batch = 0, 0
    while len(specs) < n - kv_count:
        s = int(rng.choice([128, 256, 512, 1024]))
        act, wide, att = s * D * FP16, s * 4 * D * FP16, HEADS * s * s * FP16
        specs.append((f"b{batch}.embed", act, t, t + 2))
        t += 1
        for layer in range(LAYERS):
            p = f"b{batch}.l{layer}."
            # steps: 0 ln1, 1 q, 2 k, 3 v, 4 scores, 5 softmax, 6 attn, 7 proj, 8 add,
            #        9 ln2, 10 up, 11 act, 12 down, 13 add
            life = {"ln1": (0, 4, act), "q": (1, 5, act), "k": (2, 5, act), "v": (3, 7, act),
                    "scores": (4, 6, att), "probs": (5, 7, att), "attn": (6, 8, act),
                    "proj": (7, 9, act), "resid1": (8, 14, act), "ln2": (9, 11, act),
                    "up": (10, 12, wide), "act": (11, 13, wide), "down": (12, 14, act),
                    "out": (13, 14 + 9, act)}  # consumed by the next layer's ln1 and add
            for name, (a, b, size) in life.items():
                specs.append((p + name, size, t + a, t + b))
            t += 14
        batch += 1
    specs = specs[: n - kv_count]
    for layer in range(LAYERS):
        for kind in "kv":
            specs.append((f"kv{layer}.{kind}", KV_TOKENS * D * FP16, 0, t + 1))
    return Problem(tuple(Block(i, size, lo, hi) for i, size, lo, hi in specs))


def timed(fn, *args, **kw):
    start = time.perf_counter()
    result = fn(*args, **kw)
    return result, time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffers", type=int, default=N_BUFFERS)
    parser.add_argument("--csv", default=None, help="also write the instance as MiniMalloc CSV")
    args = parser.parse_args(argv)
    problem, build = timed(transformer_instance, args.buffers)
    if args.csv:
        from memplan.formats.problem_files import write_problem

        write_problem(args.csv, problem)
    lb, lb_s = timed(lower_bound, problem)
    print(f"instance: {len(problem.blocks):,} buffers, built in {build:.2f} s; lower bound "
          f"{lb:,} B ({lb_s:.2f} s)")
    rows = []
    for name in ("greedy_by_size", "greedy_by_conflicts", "tflm_greedy", "best_fit"):
        solution, secs = timed(ALGORITHMS[name], problem)
        findings, check_s = timed(check_solution, problem, solution)
        assert not findings, findings[:1]
        rows.append((name, len(problem.blocks), secs, solution.height(problem), check_s))
    small = Problem(problem.blocks[:2000])
    solution, secs = timed(ALGORITHMS["hill_climb"], small)
    assert not check_solution(small, solution)
    rows.append(("hill_climb (first 2,000)", 2000, secs, solution.height(small), None))
    fastest = min(r[2] for r in rows if r[1] == len(problem.blocks))
    print(f"{'algorithm':26} {'buffers':>8} {'seconds':>8} {'x fastest':>9} {'arena (B)':>14} "
          f"{'arena/LB':>8} {'validate s':>10}")
    small_lb = lower_bound(small)
    for name, n, secs, height, check_s in rows:
        bound = lb if n == len(problem.blocks) else small_lb
        ratio = f"{secs / fastest:9.2f}" if n == len(problem.blocks) else f"{'-':>9}"
        check = f"{check_s:10.2f}" if check_s is not None else f"{'-':>10}"
        print(f"{name:26} {n:8,} {secs:8.2f} {ratio} {height:14,} {height / bound:8.4f} {check}")


if __name__ == "__main__":
    main()
