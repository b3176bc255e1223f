"""Patch-based execution on the nine zoo models: untiled arena, tiled arena, ratio, extra
MACs, the split and grid chosen, the assembly copies, the search time, and the proof (the
tiled plan run in its arena against onnxruntime on the original model, random weights).

    .venv/bin/python benchmarks/tiling.py [--models resnet50,...] [--max-overhead 0.15] [--no-verify]

Both arenas come from ``memplan.planner.plan`` with its defaults. "search s" is the untiled
plan, the candidates and the screen; "plan s" reading the real tiled model back and its one
full plan (the same planning a plain ``memplan plan tiled.onnx`` does). The last line is the geometric mean of
the ratios.
"""
from __future__ import annotations

import argparse
import math
import tempfile

import onnx

from memplan.tiling.prove import prove_tiled
from memplan.tiling.search import search
from memplan.verify.reference import randomize_weights
from memplan.graph.zoo import MODELS, zoo_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--max-overhead", type=float, default=0.15)
    parser.add_argument("--no-verify", action="store_true")
    args = parser.parse_args(argv)
    print("| model | untiled arena | tiled arena | ratio | MACs overhead | split / grid | copy bytes "
          "| search s | plan s | verify |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ratios = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = randomize_weights(zoo_path(name), f"{tmp}/{name}.onnx", seed=0)
            outcome = search(onnx.load(path), max_overhead=args.max_overhead, source=f"zoo:{name}")
            base, plan, t = outcome.base_plan.arena_bytes, outcome.plan.arena_bytes, outcome.tiled
            ratios.append(base / plan)
            verdict = "-"
            if t is not None and not args.no_verify:
                proof = prove_tiled(path, t.model, outcome.graph, outcome.plan, stage_output=t.stage_output, seed=0)
                worst = max(d.max_abs for d in proof.diffs)
                verdict = f"{'yes' if proof.ok else 'NO'} ({len(proof.intermediates) + len(proof.diffs)} tensors, " \
                          f"max abs {worst:.1e})"
            where = f"{t.until} / {t.grid[0]}x{t.grid[1]}" if t else "none"
            copies = f"{t.copy_bytes:,}" if t else "-"
            print(f"| {name} | {base:,} | {plan:,} | {base / plan:.2f}x | {outcome.overhead:+.1%} | {where} "
                  f"| {copies} | {outcome.search_seconds:.1f} | {outcome.seconds - outcome.search_seconds:.1f} "
                  f"| {verdict} |", flush=True)
    print(f"\ngeometric mean ratio {math.exp(sum(map(math.log, ratios)) / len(ratios)):.2f}x over {len(ratios)} models")


if __name__ == "__main__":
    main()
