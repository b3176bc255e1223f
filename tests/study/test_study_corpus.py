"""Corpus models in a study (``corpus``, ``corpus:NAME``): imported with their manifest's input
shapes and values, on a worker too, keyed by their file and the manifest, and a model that
fails to import is a failed cell with its one-line error."""
import dataclasses
import hashlib

from memplan.graph import corpus
from memplan.study.db import StudyDB
from memplan.study.grid import Grid, GridSettings, expand_devices, expand_models, run_task
from memplan.study.run import PoolBackend, run_grid

FAST = GridSettings(algorithm="greedy_by_size")
SHAPED = "corpus:vad_lstm_ts"  # a torch export whose dynamic input the manifest fixes (features=1,20,40)


def test_corpus_names_every_model_of_the_manifest():
    refs = expand_models(["corpus"])
    assert [r.name for r in refs] == [f"corpus:{n}" for n in corpus.MODELS]
    assert all(not r.error and len(r.hash) == 64 for r in refs)


def test_the_key_is_the_file_and_the_manifest_settings(monkeypatch):
    (ref,) = expand_models([SHAPED])
    with open(corpus.model_path(SHAPED), "rb") as f:
        data = f.read()
    assert ref.hash != hashlib.sha256(data).hexdigest()  # shapes change the plan, so they are in the key
    entry = corpus.MODELS["vad_lstm_ts"]
    monkeypatch.setitem(corpus.MODELS, "vad_lstm_ts", dataclasses.replace(entry, shapes={"features": (1, 40, 40)}))
    (other,) = expand_models([SHAPED])
    assert other.hash != ref.hash and other.path == ref.path


def test_a_worker_copy_is_planned_with_the_manifest_shapes():
    (ref,) = expand_models([SHAPED])
    (task,) = Grid((ref,), stages=("best",), settings=FAST).tasks()
    with open(ref.path, "rb") as f:
        shipped = run_task(task, data=f.read())  # as a Ray worker gets it: bytes in a temporary file
    local = run_task(task)
    assert shipped.cells[0].status == "ok", shipped.cells[0].error
    assert shipped.cells[0].arena_bytes == local.cells[0].arena_bytes
    graph = corpus.load(SHAPED)
    assert graph.tensors[graph.inputs[0]].shape == (1, 20, 40)


def test_unknown_corpus_models_are_failed_cells_and_branching_ones_plan(tmp_path):
    specs = ["corpus:kws_oww_alexa", "corpus:kws_oww_hey_jarvis", "corpus:nope"]
    grid = Grid(tuple(expand_models(specs)), tuple(expand_devices(["n64"])), ("fp32",), ("order",), (), FAST)
    db = StudyDB(str(tmp_path / "s.sqlite"))
    summary = run_grid(grid, db, PoolBackend(1))
    assert (summary.done, summary.failed) == (2, 1)
    errors = {r["model"]: r["error"] for r in db.cells() if r["status"] == "failed"}
    assert set(errors) == {"corpus:nope"} and "unknown corpus model 'nope'" in errors["corpus:nope"]
    assert all(e and "\n" not in e and "Traceback" not in e for e in errors.values())
