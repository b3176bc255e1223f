"""Patch-based execution on the mediapipe models TFLite Micro runs: row strips of the first
stage written in place, planned by memplan and proven in TFLM.

    .venv/bin/python benchmarks/tiling_tflite.py [--models hand_landmark_full,...] [--max-overhead 0.15]

Per model (float16 weights folded to float32 first, as TFLM needs): TFLM's own arena head for
the original model (its GreedyMemoryPlanner), memplan's untiled arena, memplan's tiled arena
(`memplan.tiling.tflite_search`, `memplan.planner.plan` defaults), the ratio, the whole
model's extra MACs, the split and grid, the search time, and the proof: the tiled model run
in TFLM with memplan's offline plan against TFLM running the original on one seeded input
("identical": every output bitwise equal), with the arena head TFLM reports for the tiled
run. "LiteRT": the tiled model against the original in the TFLite interpreter (``ai-edge-litert``,
the ``litert`` extra; "-" when it is not installed). "in place": how many strips memplan's plan
writes in place into the stage output (the rest are copied by the CONCATENATION). The last
line gives the geometric means of the ratios (memplan untiled / tiled, and TFLM's head for the
original / the tiled head).
"""
from __future__ import annotations

import argparse
import math

import numpy as np

from memplan.formats import tflm
from memplan.graph import mediapipe, tflite_edit
from memplan.tiling.tflite_search import search_tflite


def litert_check(original: bytes, tiled: bytes, inputs) -> str:
    """The tiled model against the original in the TFLite interpreter (LiteRT), if installed."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return "-"

    def run(data):
        it = Interpreter(model_content=bytes(data))
        it.allocate_tensors()
        for detail, x in zip(it.get_input_details(), inputs):
            it.set_tensor(detail["index"], x)
        it.invoke()
        return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]

    a, b = run(original), run(tiled)
    if all(x.tobytes() == y.tobytes() for x, y in zip(a, b)):
        return "identical"
    return f"max abs {max(float(np.max(np.abs(x.astype(np.float64) - y))) for x, y in zip(a, b)):.2g}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(mediapipe.TFLM_MODELS))
    parser.add_argument("--max-overhead", type=float, default=0.15)
    args = parser.parse_args(argv)
    print("| model | TFLM head (original) | untiled arena | tiled arena | ratio | MACs overhead | split / grid "
          "| in place | search s | TFLM head (tiled) | vs TFLM | TFLM outputs | LiteRT outputs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    ratios, vs_tflm = [], []
    for name in [m for m in args.models.split(",") if m]:
        with open(mediapipe.model_path(name), "rb") as f:
            data = tflite_edit.fold_fp16_dequantize(f.read(), name)
        original = tflm.load_bytes(data, name)
        inputs = tflm.seeded_inputs(original, 0)
        own = tflm.run(data, inputs)
        outcome = search_tflite(data, max_overhead=args.max_overhead, source=name)
        base, arena, t = outcome.base_plan.arena_bytes, outcome.plan.arena_bytes, outcome.tiled
        if t is None:  # no tiling helps: memplan's untiled plan, run in TFLM, is the figure
            ran = tflm.run(tflm.export_model(original, outcome.plan), inputs)
            head, verdict = ran.head, "untiled: " + ("identical" if all(
                a.tobytes() == b.tobytes() for a, b in zip(own.outputs, ran.outputs)) else "DIFFERENT")
        else:
            tiled = tflm.load_bytes(t.model, f"{name} (tiled)")
            ran = tflm.run(tflm.export_model(tiled, outcome.plan), inputs)
            head = ran.head
            same = all(a.tobytes() == b.tobytes() for a, b in zip(own.outputs, ran.outputs))
            worst = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(own.outputs, ran.outputs))
            verdict = "identical" if same else f"max abs {worst:.2g}"
        placed = sum(outcome.plan.buffer_of.get(f"{t.stage_output}__p{r}") == outcome.plan.buffer_of[t.stage_output]
                     for r in range(len(t.patches))) if t else 0
        lite = litert_check(data, t.model, inputs) if t else "-"
        ratios.append(base / arena)
        vs_tflm.append(own.head / head)
        where = f"{t.until} / {t.grid[0]}x{t.grid[1]}" if t else "none"
        print(f"| {name} | {own.head:,} | {base:,} | {arena:,} | {base / arena:.2f}x | {outcome.overhead:+.1%} "
              f"| {where} | {f'{placed} of {len(t.patches)}' if t else '-'} | {outcome.search_seconds:.1f} | {head:,} "
              f"| {own.head / head:.2f}x | {verdict} | {lite} |", flush=True)
    geo = lambda xs: math.exp(sum(map(math.log, xs)) / len(xs))
    print(f"\ngeometric mean ratio {geo(ratios):.2f}x (memplan untiled / tiled), {geo(vs_tflm):.2f}x (TFLM's head "
          f"for the original / tiled head) over {len(ratios)} models")


if __name__ == "__main__":
    main()
