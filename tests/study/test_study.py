"""The fit study: stages, shares, CSV, parallel runs and the command."""
import csv
import io
import os
import subprocess
import sys

from memplan.study import STAGES, StudyRow, default_settings, markdown, run_study, shares, to_csv

from helpers import branch_model, chain_model, save

MIB = 2**20


def test_study_stages_shrink(tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    b = save(branch_model(), tmp_path / "b.onnx")
    rows = run_study([a, b], default_settings(), jobs=1)
    assert [r.model for r in rows] == [a, b]
    for r in rows:
        assert not r.error and set(r.arenas) == set(STAGES)
        assert r.arenas["naive"] >= r.arenas["best"] >= r.arenas["order"] > r.arenas["int8"]
        assert r.arenas["int8"] * 4 >= r.lower_bounds["order"]


def test_parallel_matches_serial(tmp_path):
    models = [save(chain_model(), tmp_path / "a.onnx"), save(branch_model(), tmp_path / "b.onnx")]
    s = default_settings()
    serial = run_study(models, s, jobs=1)
    parallel = run_study(models, s, jobs=2)
    assert [(r.model, r.arenas) for r in parallel] == [(r.model, r.arenas) for r in serial]


def test_shares_and_csv():
    rows = [StudyRow("m1", {"naive": 5 * MIB, "best": 3 * MIB, "order": 2 * MIB, "int8": MIB // 2}),
            StudyRow("m2", {"naive": 9 * MIB, "best": 5 * MIB, "order": 5 * MIB, "int8": MIB}),
            StudyRow("bad", error="bad.onnx: no such file")]
    budgets = [2 * MIB, 4 * MIB]
    share = shares(rows, budgets)
    assert share[("naive", 4 * MIB)] == 0.0
    assert share[("best", 4 * MIB)] == 0.5 and share[("order", 2 * MIB)] == 0.5
    assert share[("int8", 2 * MIB)] == 1.0
    table = list(csv.reader(io.StringIO(to_csv(rows, budgets))))
    assert table[0] == ["model", "stage", "arena_bytes", "lower_bound_bytes", "fits_2.00MiB", "fits_4.00MiB", "error"]
    assert ["m1", "order", str(2 * MIB), "", "1", "1", ""] in table
    assert table[-1][0] == "bad" and "no such file" in table[-1][-1]
    text = markdown(rows, budgets)
    assert "| **fits 2.00 MiB** | 0% | 0% | 50% | 100% |" in text


def test_study_command(tmp_path):
    a = save(chain_model(), tmp_path / "a.onnx")
    out = tmp_path / "s.csv"
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "study", a, str(tmp_path / "missing.onnx"),
                        "--budgets", "16KiB,1MiB", "--csv", str(out), "-j", "2"],
                       capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "fits 16.00 KiB" in r.stdout and "no such file" in r.stdout
    rows = list(csv.DictReader(out.open()))
    assert {row["stage"] for row in rows if row["model"] == a} == set(STAGES)
    bad = subprocess.run([sys.executable, "-m", "memplan.cli", "study", a, "--budgets", "lots"],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "cannot read size" in bad.stderr and "Traceback" not in bad.stderr


def test_real_int8_stage(tmp_path):
    import dataclasses

    from memplan.planner import plan
    from memplan.graph.quantize import fold_qdq, quantize_model

    import memplan

    b = save(branch_model(), tmp_path / "b.onnx")
    settings = dataclasses.replace(default_settings(real_int8=True), samples=2)
    assert settings.stages[-1] == "real-int8"
    (row,) = run_study([b], settings, jobs=1)
    assert not row.error and not row.stage_errors and row.quantize_seconds > 0
    assert row.arenas["real-int8"] < row.arenas["order"]
    out = tmp_path / "q.onnx"
    quantize_model(b, str(out), seed=0, samples=2)  # the same seed: the same model, the same arena
    assert row.arenas["real-int8"] == plan(fold_qdq(memplan.load(str(out))), order="heuristic").arena_bytes
    text = markdown([row], [MIB])
    assert text.splitlines()[0] == "| model | naive | best | order | int8 | real-int8 |"
    assert "real-int8" in {line.split(",")[1] for line in to_csv([row], [MIB]).splitlines()}


def test_a_failed_stage_is_reported_in_its_cell():
    rows = [StudyRow("m1", {"naive": 5 * MIB, "best": 3 * MIB, "order": 2 * MIB, "int8": MIB // 2},
                     stage_errors={"real-int8": "onnxruntime could not quantise the model"}),
            StudyRow("m2", {"naive": 5 * MIB, "best": 3 * MIB, "order": 2 * MIB, "int8": MIB, "real-int8": MIB})]
    text = markdown(rows, [MIB])
    assert "| m1 | 5.00 MiB ✗ | 3.00 MiB ✗ | 2.00 MiB ✗ | 512.00 KiB ✓ | error |" in text
    assert shares(rows, [MIB])[("real-int8", MIB)] == 1.0  # among the models where it ran
    assert "could not quantise" in to_csv(rows, [MIB])
