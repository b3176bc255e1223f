"""The ``tiled`` study stage: the least-overhead tiling that fits each budget, else the
smallest tiled arena; untiled with a reason where tiling cannot help; the schema-2 columns
(and version-1 databases); the report's "fits only when tiled"."""
import os
import sqlite3
import subprocess
import sys

import pytest
from helpers import save
from tflite_models import fc_model, strip_net
from tiling_nets import Net, peaky_net

from memplan.study.db import SCHEMA_VERSION, StudyDB
from memplan.study.grid import NO_DEVICE, Grid, GridSettings, expand_devices, expand_models, run_task
from memplan.study.html import load_study, render
from memplan.study.html_tiled import only_when_tiled
from memplan.study.run import PoolBackend, run_grid

SETTINGS = GridSettings(algorithm="greedy_by_size", max_overhead=0.3)


@pytest.fixture(scope="module")
def peaky(tmp_path_factory):
    return save(peaky_net(), tmp_path_factory.mktemp("tiled") / "peaky.onnx")


def cells_at(path, budgets, dtypes=("fp32",), stages=("order", "tiled"), devices=(NO_DEVICE,)):
    grid = Grid(tuple(expand_models([path])), tuple(devices), dtypes, stages, tuple(budgets), SETTINGS)
    return {(t.stage, t.dtype, t.budget): run_task(t).cells[0] for t in grid.tasks()}


def test_tiled_cells_per_budget(peaky):
    cells = cells_at(peaky, (10 ** 9, 1000))
    order, roomy, tight = cells[("order", "fp32", 0)], cells[("tiled", "fp32", 10 ** 9)], cells[("tiled", "fp32", 1000)]
    # untiled already fits: no tiling, no overhead
    assert roomy.status == "ok" and roomy.note == "fits untiled" and roomy.tiling == ""
    assert roomy.arena_bytes == roomy.untiled_bytes == order.arena_bytes and roomy.macs_overhead == 0
    # nothing fits 1000 B: the smallest tiled arena within the limit, its split and grid
    assert tight.status == "ok" and tight.tiling and tight.untiled_bytes == order.arena_bytes
    assert tight.arena_bytes < order.arena_bytes and 0 < tight.macs_overhead <= 0.3
    # a budget between the two: a tiling that fits it, with no more overhead than the smallest
    middle = (tight.arena_bytes + order.arena_bytes) // 2
    fit = cells_at(peaky, (middle,), stages=("tiled",))[("tiled", "fp32", middle)]
    assert fit.tiling and fit.arena_bytes <= middle and fit.macs_overhead <= tight.macs_overhead


def test_tiled_cell_at_int8(peaky):
    fp32 = cells_at(peaky, (1000,), stages=("tiled",))[("tiled", "fp32", 1000)]
    int8 = cells_at(peaky, (1000,), dtypes=("int8",), stages=("tiled",))[("tiled", "int8", 1000)]
    assert int8.tiling and int8.arena_bytes * 3 < fp32.arena_bytes  # every graph the search reads is int8


def test_models_tiling_cannot_help_keep_their_untiled_plan(tmp_path):
    tfl = tmp_path / "fc.tflite"
    tfl.write_bytes(fc_model())
    n = Net((1, 3, 16, 16))  # a global pool first: no stage to tile
    onnx_path = save(n.model([n.op("GlobalAveragePool", ["x"], name="gap")]), tmp_path / "gap.onnx")
    for path, reason in ((str(tfl), "no tiling lowers the arena"), (onnx_path, "no tiling lowers the arena")):
        cells = cells_at(path, (1,))
        c = cells[("tiled", "fp32", 1)]
        assert c.status == "ok" and reason in c.note and c.tiling == "", c
        assert c.arena_bytes == c.untiled_bytes == cells[("order", "fp32", 0)].arena_bytes


def test_tflite_models_are_tiled_in_row_strips(tmp_path):
    path = tmp_path / "strips.tflite"
    path.write_bytes(strip_net(32, 24))
    untiled = cells_at(str(path), (1,))[("order", "fp32", 0)].arena_bytes
    c = cells_at(str(path), (untiled - 1,))[("tiled", "fp32", untiled - 1)]
    assert c.status == "ok" and c.tiling.endswith("x1") and c.arena_bytes < untiled == c.untiled_bytes, c


def test_max_overhead_keeps_older_settings_keys():
    assert "max_overhead" not in GridSettings().as_dict()
    assert GridSettings().key != GridSettings(max_overhead=0.3).key


def test_study_db_report_and_only_when_tiled(peaky, tmp_path):
    # the budget sits between the tiled and the untiled arena: fits only when tiled
    probe = cells_at(peaky, (1000,))
    budget = (probe[("tiled", "fp32", 1000)].arena_bytes + probe[("order", "fp32", 0)].arena_bytes) // 2
    devices = tuple(expand_devices(["cortex-m7"]))
    db = StudyDB(str(tmp_path / "s.sqlite"))
    grid = Grid(tuple(expand_models([peaky])), devices + (NO_DEVICE,), ("fp32",), ("order", "tiled"), (budget,),
                SETTINGS)
    run_grid(grid, db, PoolBackend(1))
    rows = [dict(r) for r in db.cells() if r["stage"] == "tiled"]
    assert len(rows) == 2 and all(r["tiling"] and r["untiled_bytes"] > budget >= r["arena_bytes"] for r in rows)
    scopes = only_when_tiled([dict(r) for r in db.cells()])
    assert scopes[next(s for s in scopes if s.startswith("budget"))] == [peaky]
    page = render(load_study(db))
    assert 'id="only-tiled"' in page and 'id="tiled"' in page and "peaky.onnx" in page
    assert rows[0]["tiling"] in page
    db.close()


def test_version_1_databases_open(tmp_path):
    path = str(tmp_path / "old.sqlite")
    db = StudyDB(path)
    db.close()
    con = sqlite3.connect(path)  # make it a version-1 file: no tiled columns
    for column in ("untiled_bytes", "macs_overhead", "tiling", "note"):
        con.execute(f"ALTER TABLE cells DROP COLUMN {column}")
    con.execute("INSERT INTO runs(started, version, settings_key, grid) VALUES (0, 'v', 'k', '{}')")
    con.execute("INSERT INTO cells(model_hash, device_hash, dtype, stage, budget, settings_key, version, model, status)"
                " VALUES ('h', '-', 'fp32', 'order', 0, 'k', 'v', 'm', 'ok')")
    con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    old = StudyDB(path, readonly=True)  # read as it is: the new columns read as NULL
    (row,) = old.cells()
    assert row["model"] == "m" and row["tiling"] is None and row["untiled_bytes"] is None
    old.close()
    StudyDB(path).close()  # opened for writing: upgraded in place, the cell kept
    upgraded = StudyDB(path, readonly=True)
    assert upgraded.schema_version == SCHEMA_VERSION == 2 and upgraded.cells()[0]["tiling"] is None
    upgraded.close()


@pytest.mark.slow
def test_study_command_with_the_tiled_stage(peaky, tmp_path):
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "study", peaky, "--stages", "order,tiled",
                        "--budgets", "1KiB,100MiB", "-a", "greedy_by_size", "--db", str(tmp_path / "s.sqlite")],
                       check=False, capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"),
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert "fits only when tiled (budget 1.00 KiB fp32): 0 model(s)" in r.stdout
    assert "%)" in r.stdout or "untiled)" in r.stdout  # the tiled column names the grid
