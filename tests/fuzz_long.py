"""The long fuzzing run: every hypothesis surface of tests/fuzz_surfaces.py for a time
budget, batch after batch with fresh seeds, counting examples and keeping every failure.

    PYTHONPATH=src:tests python tests/fuzz_long.py --minutes 30 --out fuzz-report.json

Prints one line per surface (runs, failures, distinct crashes) and writes the report JSON:
each distinct crash (exception type and its last memplan frame) with one failing example.
Exit 1 if any surface failed. ``make fuzz-long`` runs it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fuzz_surfaces as fz
import test_fuzz as tf
from hypothesis import seed as with_seed

BATCH = 50


def fixtures(tmp: str) -> tuple[str, dict]:
    from cli_inprocess import run_cli
    from helpers import chain_model, save

    model = save(chain_model(), os.path.join(tmp, "m.onnx"))
    out = os.path.join(tmp, "p.json")
    assert run_cli("plan", model, "--json", out, "-a", "greedy_by_size")[0] == 0
    with open(out) as f:
        return model, json.load(f)


def surfaces(model: str, plan: dict) -> dict:
    return {"onnx": lambda: tf.onnx_property(BATCH), "onnx_bytes": lambda: tf.onnx_bytes_property(BATCH),
            "problem": lambda: tf.problem_property(BATCH), "device": lambda: tf.device_property(BATCH, model),
            "plan": lambda: tf.plan_property(BATCH, plan), "reader": lambda: tf.reader_property(BATCH)}


def crash_key(exc: BaseException) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "/memplan/" in f.filename] or \
        traceback.extract_tb(exc.__traceback__)[-1:]
    where = f"{os.path.basename(frames[-1].filename)}:{frames[-1].lineno}" if frames else "?"
    message = re.sub(r"/tmp/[^ ]*?/", "", str(exc).splitlines()[0][:160]) if str(exc) else ""  # temp dirs differ
    return f"{type(exc).__name__} at {where}: {message}"


def run(minutes: float, only: list[str] | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        model, plan = fixtures(tmp)
        chosen = {k: v for k, v in surfaces(model, plan).items() if not only or k in only}
        budget = minutes * 60 / len(chosen)
        report = {}
        for name, make in chosen.items():
            start, batches, failures, crashes = time.monotonic(), 0, 0, {}
            fz.RUNS[name] = 0
            while time.monotonic() - start < budget:
                prop = with_seed(int.from_bytes(os.urandom(4), "little"))(make())
                batches += 1
                try:
                    prop()
                except Exception as exc:  # noqa: BLE001 - every failure is recorded, the run goes on
                    failures += 1
                    for sub in getattr(exc, "exceptions", [exc]):
                        crashes.setdefault(crash_key(sub), "".join(traceback.format_exception(sub))[-3000:])
            report[name] = {"runs": fz.RUNS[name], "batches": batches, "failed_batches": failures,
                            "seconds": round(time.monotonic() - start, 1), "distinct_crashes": sorted(crashes),
                            "tracebacks": crashes}
            print(f"{name:>11}: {fz.RUNS[name]:>7} runs in {report[name]['seconds']:>7.1f} s, "
                  f"{failures} failing batches, {len(crashes)} distinct crashes", flush=True)
        return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--surface", action="append", help="only these surfaces (repeatable)")
    parser.add_argument("--out", default=None, help="write the report JSON here")
    args = parser.parse_args()
    report = run(args.minutes, args.surface)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 1 if any(r["distinct_crashes"] for r in report.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
