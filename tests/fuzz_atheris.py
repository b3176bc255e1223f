"""Coverage-guided fuzzing (atheris, libFuzzer) of the two importers and the problem and plan
readers: arbitrary bytes in, only memplan's own one-line errors out.

    make fuzz                       # every target for FUZZ_SECONDS (default 60) each
    PYTHONPATH=src python tests/fuzz_atheris.py onnx -max_total_time=60 -artifact_prefix=tests/fuzz_crashes/onnx/

Targets: ``onnx`` (onnx_import.load), ``tflite`` (tflite_import.load), ``problem``
(problem_io.read_problem, JSON and CSV), ``plan`` (plan_json.read_plan, the checked plan
reader). The seed corpus is made from valid inputs (``seeds``). A crash is saved under
``tests/fuzz_crashes/<target>/``; ``tests/test_fuzz_crashes.py`` replays every saved file, so
each crash stays a regression test once fixed.
"""
from __future__ import annotations

import os
import sys
import tempfile

TARGETS = ("onnx", "tflite", "problem", "plan")
SUFFIX = {"onnx": ".onnx", "tflite": ".tflite", "problem": ".json", "plan": ".json"}


def reader(target: str):
    if target == "onnx":
        from memplan.onnx_import import load
        return load
    if target == "tflite":
        from memplan.tflite_import import load
        return load
    if target == "problem":
        from memplan.problem_io import read_problem
        return read_problem
    from memplan.report.plan_json import read_plan
    return read_plan


def one_input(target: str, data: bytes, directory: str) -> None:
    """Feed ``data`` to the target's reader; raise on anything but a one-line MemplanError."""
    from memplan.errors import MemplanError

    suffix = SUFFIX[target] if target != "problem" or not data[:1].isdigit() else ".csv"
    path = os.path.join(directory, "input" + suffix)
    with open(path, "wb") as f:
        f.write(data)
    try:
        reader(target)(path)
    except MemplanError as exc:
        if "\n" in str(exc):
            raise AssertionError(f"error of several lines: {exc!r}") from None


def seeds(target: str, directory: str) -> None:
    """Valid inputs to start from."""
    import json

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    os.makedirs(directory, exist_ok=True)
    if target == "onnx":
        from helpers import branch_model, chain_model, save

        save(chain_model(), os.path.join(directory, "chain.onnx"))
        save(branch_model(), os.path.join(directory, "branch.onnx"))
    elif target == "tflite":
        from tflite_models import branchy_model, fc_model

        with open(os.path.join(directory, "fc.tflite"), "wb") as f:
            f.write(fc_model())
        with open(os.path.join(directory, "branchy.tflite"), "wb") as f:
            f.write(branchy_model())
    elif target == "problem":
        with open(os.path.join(directory, "p.json"), "w") as f:
            json.dump({"format": "memplan.problem/1", "pools": {"sram": 1024, "dram": None},
                       "buffers": [{"id": "a", "size": 64, "lifetime": [0, 2], "alignment": 16, "pools": ["sram"]},
                                   {"id": "b", "size": 32, "conflicts": ["a"]}]}, f)
        with open(os.path.join(directory, "p.csv"), "w") as f:
            f.write("id,lower,upper,size,alignment\n0,0,2,64,16\n1,1,3,32,1\n")
    else:
        from cli_inprocess import run_cli
        from helpers import chain_model, save

        with tempfile.TemporaryDirectory() as tmp:
            model = save(chain_model(), os.path.join(tmp, "m.onnx"))
            run_cli("plan", model, "--json", os.path.join(directory, "p.json"), "-a", "greedy_by_size")


def main() -> None:
    import atheris

    target = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in TARGETS else None
    if target is None:
        sys.exit(f"usage: fuzz_atheris.py {{{'|'.join(TARGETS)}}} [libFuzzer options] [corpus dir]")
    with atheris.instrument_imports(include=["memplan"]):
        import memplan.onnx_import
        import memplan.problem_io
        import memplan.report.plan_file
        import memplan.report.plan_json
        import memplan.tflite_import  # noqa: F401
    work = tempfile.mkdtemp(prefix="memplan-fuzz-")

    def test_one(data: bytes) -> None:
        one_input(target, data, work)

    args = [sys.argv[0]] + sys.argv[2:]
    atheris.Setup(args, test_one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
