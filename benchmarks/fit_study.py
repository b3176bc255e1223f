"""The fit study over the zoo (fp32 stages and int8), then every zoo model placed on every
bundled device at fp32 and int8: does it fit, how, and what it moves per inference.

    .venv/bin/python benchmarks/fit_study.py [--budgets 2MiB,4MiB] [--time-limit 2]
                                             [--no-study-real-int8]
                                             [--real-int8 squeezenet,shufflenet]

The study is `memplan study --real-int8` (one process per model; every zoo model quantised
by onnxruntime, Q/DQ fused, as the ``real-int8`` column); the placement uses the 'order' plan
(heuristic order, sharing on) and `placement.place` with weights on ``auto`` (a mode per
weight tensor). ``--real-int8`` also plans those models' QDQ graphs as written and fused.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import memplan
from memplan.tiers.devices import load_device
from memplan.tiers.placement import place
from memplan.tiers.traffic import step_macs
from memplan.graph.quantize import fold_qdq, quantize_model, with_dtype
from memplan.study import default_settings, markdown, run_study
from memplan.units import format_size, parse_size
from memplan.graph.zoo import MODELS

DEVICES = ("n64", "cortex-m7", "l2-2mib", "l2-4mib")


def placement_table(time_limit: float) -> str:
    lines = ["| model | dtype | " + " | ".join(DEVICES) + " |", "|" + "---|" * (len(DEVICES) + 2)]
    devices = [load_device(d) for d in DEVICES]
    for name in MODELS:
        g32 = memplan.load(f"zoo:{name}")
        for dtype, g in (("fp32", g32), ("int8", with_dtype(g32, "int8"))):
            p = memplan.plan(g, order="heuristic")
            cells = []
            for d in devices:
                cells.append(placement_cell(place(g, p, d, time_limit=time_limit, macs=step_macs(g, p))))
            lines.append(f"| {name} | {dtype} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def placement_cell(tp) -> str:
    """✓ weights per mode (R resident, S streamed, P read in place), spills, bytes moved, time;
    ✗ every tier that is short."""
    if not tp.fits:
        return "✗ " + "; ".join(f"{name} short {format_size(over)}" for name, over in tp.shortfalls)
    letters = {"resident": "R", "stream": "S", "in-place": "P"}
    modes = " ".join(f"{letters[m]} {format_size(b)}" for m, (_, b) in tp.mode_totals().items())
    spilled = len(tp.spilled)
    return (f"✓ {modes}" + (f", {spilled} spilled" if spilled else "")
            + f", {format_size(tp.bytes_moved)} moved, {tp.seconds * 1e3:.1f} ms")


def real_int8(names: list[str]) -> str:
    lines = ["| model | fp32 arena | int8 what-if | QDQ as written | QDQ fused | quantise s |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            out = os.path.join(tmp, f"{name}.int8.onnx")
            start = time.perf_counter()
            quantize_model(f"zoo:{name}", out, seed=0, samples=4)
            seconds = time.perf_counter() - start
            g32, q = memplan.load(f"zoo:{name}"), memplan.load(out)
            arenas = [memplan.plan(g, order="heuristic").arena_bytes
                      for g in (g32, with_dtype(g32, "int8"), q, fold_qdq(q))]
            lines.append(f"| {name} | " + " | ".join(format_size(a) for a in arenas) + f" | {seconds:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="2MiB,4MiB")
    ap.add_argument("--time-limit", type=float, default=2.0, help="seconds for each exact spill search")
    ap.add_argument("--real-int8", default="squeezenet,shufflenet")
    ap.add_argument("--no-study-real-int8", action="store_true", help="study without the real-int8 column")
    args = ap.parse_args(argv)
    budgets = [parse_size(b) for b in args.budgets.split(",")]
    settings = default_settings(real_int8=not args.no_study_real_int8)
    start = time.perf_counter()
    rows = run_study([f"zoo:{m}" for m in MODELS], settings)
    print(f"settings: {settings}; {os.cpu_count()} workers, {time.perf_counter() - start:.1f} s")
    print("quantise s: " + ", ".join(f"{r.model} {r.quantize_seconds:.1f}" for r in rows))
    for r in rows:
        for stage, message in r.stage_errors.items():
            print(f"{r.model} ({stage}): {message}")
    print()
    print(markdown(rows, budgets), "\n")
    start = time.perf_counter()
    print(placement_table(args.time_limit))
    print(f"\nplacement: {time.perf_counter() - start:.1f} s\n")
    if args.real_int8:
        print(real_int8([n for n in args.real_int8.split(",") if n]))


if __name__ == "__main__":
    main()
