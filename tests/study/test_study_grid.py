"""The grid study: model expansion, cells and keys, the SQLite database (resume, retry,
bad databases), the process pool and Ray, and the CLI."""
import dataclasses
import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from memplan.errors import InputError
from memplan.study import default_settings, study_model
from memplan.study.db import SCHEMA_VERSION, StudyDB
from memplan.study.grid import (NO_DEVICE, STAGES, Grid, GridSettings, Stage, expand_devices, expand_models,
                                register_stage, run_task)
from memplan.study.run import PoolBackend, check_reachable, pending_tasks, run_grid

from helpers import branch_model, chain_model, save

FAST = GridSettings(algorithm="greedy_by_size")
SKIP_COLUMNS = {"plan_seconds", "place_seconds", "worker", "run_id", "finished_at"}


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "memplan.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200"), timeout=timeout)


@pytest.fixture
def two_models(tmp_path):
    d = tmp_path / "models"
    d.mkdir()
    return [save(chain_model(), d / "a.onnx"), save(branch_model(), d / "b.onnx")]


def comparable(db) -> list[tuple]:
    return [tuple(v for k, v in dict(r).items() if k not in SKIP_COLUMNS) for r in db.cells()]


def test_models_from_directory_glob_list_and_zoo(tmp_path, two_models):
    d = os.path.dirname(two_models[0])
    save(chain_model(), os.path.join(d, "copy.onnx"))  # same bytes as a.onnx: dropped
    assert [m.name for m in expand_models([d])] == two_models
    assert [m.name for m in expand_models([os.path.join(d, "b*.onnx")])] == [two_models[1]]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# models\n{two_models[1]}\n\nzoo:squeezenet\n")
    refs = expand_models([f"@{listing}"])
    assert [m.name for m in refs] == [two_models[1], "zoo:squeezenet"] and all(len(m.hash) == 64 for m in refs)
    assert len(expand_models(["zoo"])) == 9
    (missing,) = expand_models([str(tmp_path / "nope.onnx")])
    assert "no such file" in missing.error
    with pytest.raises(InputError, match="matches no"):
        expand_models([str(tmp_path / "*.tflite")])


def test_int8_stages_run_once_and_budget_stages_once_per_budget(two_models):
    def budgeted(x):
        assert x.budget in (1000, 2000)
        return STAGES["best"].run(x)

    register_stage(Stage("test-budgeted", budgeted, "a stage that needs the budget", uses_budget=True))
    try:
        grid = Grid(tuple(expand_models(two_models[:1])), (NO_DEVICE,), ("fp32", "fp16"),
                    ("best", "int8", "test-budgeted"), (1000, 2000), FAST)
        tasks = grid.tasks()
        assert [(t.dtype, t.stage, t.budget) for t in tasks] == [
            ("fp32", "best", 0), ("int8", "int8", 0), ("fp32", "test-budgeted", 1000), ("fp32", "test-budgeted", 2000),
            ("fp16", "best", 0), ("fp16", "test-budgeted", 1000), ("fp16", "test-budgeted", 2000)]
        results = [run_task(t) for t in tasks]
        assert all(c.status == "ok" for r in results for c in r.cells)
        assert results[4].cells[0].arena_bytes * 2 == results[0].cells[0].arena_bytes  # fp16: half the bytes
    finally:
        del STAGES["test-budgeted"]
    with pytest.raises(ValueError):
        register_stage(Stage("order", budgeted, "again"))


def test_stages_match_the_plain_study(two_models):
    """naive, best and order as `memplan study` computes them; int8 no larger."""
    settings = dataclasses.replace(default_settings(), algorithm="greedy_by_size")
    grid = Grid(tuple(expand_models(two_models)), settings=FAST)
    cells = {(r.task.model.name, r.task.stage): r.cells[0].arena_bytes for r in map(run_task, grid.tasks())}
    for m in two_models:
        row = study_model(m, settings)
        for stage in ("naive", "best", "order"):
            assert cells[(m, stage)] == row.arenas[stage], (m, stage)
        assert cells[(m, "int8")] <= row.arenas["int8"]


def test_failures_are_cells_and_a_rerun_skips_done_and_retries_failed(tmp_path, two_models):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    path = str(tmp_path / "s.sqlite")
    models = tuple(expand_models(two_models + [str(bad)]))
    grid = Grid(models, tuple(expand_devices(["n64", "cortex-m7"])), ("fp32",), ("best", "order"), (2**20,), FAST)
    db = StudyDB(path)
    first = run_grid(grid, db, PoolBackend(1))
    assert (first.cells, first.done, first.failed, first.skipped) == (12, 8, 4, 0)
    failed = [r for r in db.cells() if r["status"] == "failed"]
    assert {r["model"] for r in failed} == {str(bad)} and all("\n" not in r["error"] and r["error"] for r in failed)
    placed = [r for r in db.cells() if r["status"] == "ok"]
    assert all(r["fits_device"] in (0, 1) and r["placement"] for r in placed)
    db.close()
    db = StudyDB(path)  # a new process would see the same
    again = run_grid(grid, db, PoolBackend(1))
    assert (again.skipped, again.done, again.failed) == (8, 0, 4)
    save(chain_model(ops=("Relu",)), bad)  # fixed: a new hash, so new cells
    fixed = run_grid(dataclasses.replace(grid, models=tuple(expand_models(two_models + [str(bad)]))), db,
                     PoolBackend(1))
    assert (fixed.skipped, fixed.done, fixed.failed) == (8, 4, 0)
    other = run_grid(dataclasses.replace(grid, settings=GridSettings(algorithm="tflm_greedy")), db, PoolBackend(1))
    assert other.skipped == 0  # settings are part of the key
    assert len(db.runs()) == 4


def test_an_interrupted_run_keeps_what_finished(tmp_path, two_models):
    class Interrupted(PoolBackend):
        def run(self, tasks, state):
            for i, result in enumerate(super().run(tasks, state)):
                if i == 3:
                    raise KeyboardInterrupt
                yield result

    grid = Grid(tuple(expand_models(two_models)), settings=FAST)
    db = StudyDB(str(tmp_path / "s.sqlite"))
    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, db, Interrupted(1))
    assert len(db.cells()) == 3
    tasks, skipped = pending_tasks(grid, db)
    assert skipped == 3 and len(tasks) == 5
    resumed = run_grid(grid, db, PoolBackend(1))
    assert (resumed.skipped, resumed.done) == (3, 5)


def test_pool_gives_the_cells_of_a_serial_run(tmp_path, two_models):
    grid = Grid(tuple(expand_models(two_models)), tuple(expand_devices(["l2-2mib"])), ("fp32",), ("best", "order"),
                (), FAST)
    serial, pool = StudyDB(":memory:"), StudyDB(":memory:")
    run_grid(grid, serial, PoolBackend(1))
    run_grid(grid, pool, PoolBackend(2))
    assert comparable(pool) == comparable(serial) and len(comparable(pool)) == 4


def test_bad_databases_are_one_line_errors(tmp_path):
    newer = tmp_path / "newer.sqlite"
    StudyDB(str(newer)).close()
    con = sqlite3.connect(newer)
    with con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION + 1),))
    con.close()
    with pytest.raises(InputError, match="newer"):
        StudyDB(str(newer))
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"x" * 4096)
    with pytest.raises(InputError, match="not a memplan study database"):
        StudyDB(str(garbage))
    readonly = tmp_path / "ro.sqlite"
    StudyDB(str(readonly)).close()
    os.chmod(readonly, 0o444)
    with pytest.raises(InputError, match="read-only"):
        StudyDB(str(readonly))
    assert StudyDB(str(readonly), readonly=True).cells() == []  # reading it is fine
    with pytest.raises(InputError, match="does not exist"):
        StudyDB(str(tmp_path / "no" / "s.sqlite"))
    a = save(chain_model(), tmp_path / "a.onnx")
    for db in (newer, readonly, "/proc/study.sqlite"):
        r = cli("study", a, "--db", str(db))
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr


def test_unreachable_ray_address_is_one_line_and_quick(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InputError, match="no Ray cluster answers"):
        check_reachable(f"127.0.0.1:{port}")
    with pytest.raises(InputError, match="HOST:PORT"):
        check_reachable("somewhere")
    a = save(chain_model(), tmp_path / "a.onnx")
    db = tmp_path / "s.sqlite"
    r = cli("study", a, "--db", str(db), "--ray-address", f"127.0.0.1:{port}", timeout=60)
    assert r.returncode == 2 and "no Ray cluster answers" in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_study_command_on_a_grid(tmp_path, two_models):
    db, fit, table = tmp_path / "s.sqlite", tmp_path / "fit.png", tmp_path / "cells.csv"
    args = ["study", os.path.dirname(two_models[0]), str(tmp_path / "missing.onnx"), "--db", str(db),
            "--devices", "n64", "--dtypes", "fp32,fp16", "--stages", "best,order,int8", "-a", "greedy_by_size",
            "--budgets", "16KiB,1MiB", "--picture", str(fit), "--csv", str(table), "-j", "2"]
    r = cli(*args)
    assert r.returncode == 0, r.stderr
    assert "cells: 15 in all, 0 reused from the database, 10 done, 5 failed" in r.stdout
    assert "missing.onnx (best, order, int8)" in r.stdout and "no such file" in r.stdout
    assert fit.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(table.read_text().splitlines()) == 16
    again = cli(*args)
    assert "15 in all, 10 reused from the database, 0 done, 5 failed" in again.stdout
    bad = cli("study", two_models[0], "--stages", "order,tilde")
    assert bad.returncode == 2 and "unknown stage 'tilde'" in bad.stderr
    bad = cli("study", two_models[0], "--devices", "toaster")
    assert bad.returncode == 2 and "unknown device 'toaster'" in bad.stderr


@pytest.fixture(scope="module")
def ray_backend():
    pytest.importorskip("ray", reason="Ray is in the test extra: pip install -e '.[test]'")
    from memplan.study.run import RayBackend

    backend = RayBackend(jobs=2)
    yield backend
    backend.close()


def test_ray_gives_the_cells_of_the_pool(ray_backend, two_models):
    """A local Ray runtime: models travel as bytes; the same cells as the process pool."""
    grid = Grid(tuple(expand_models(two_models + ["/no/such.onnx"])), tuple(expand_devices(["n64"])), ("fp32",),
                ("best", "int8"), (), FAST)
    pool, ray = StudyDB(":memory:"), StudyDB(":memory:")
    run_grid(grid, pool, PoolBackend(2))
    summary = run_grid(grid, ray, ray_backend)
    assert summary.backend == "ray" and (summary.done, summary.failed) == (4, 2)
    assert comparable(ray) == comparable(pool)
    assert all(r["worker"].split(":")[1] != str(os.getpid()) for r in ray.cells())


@pytest.mark.slow
def test_ray_command_resumes_and_reports(tmp_path, two_models):
    db = tmp_path / "s.sqlite"
    args = ["study", *two_models, "--db", str(db), "--ray", "-j", "2", "-a", "greedy_by_size"]
    r = cli(*args)
    assert r.returncode == 0 and "on ray (2 workers)" in r.stdout, r.stderr
    assert "8 reused from the database, 0 done" in cli(*args).stdout
    shared = cli(*args[:-1], "tflm_greedy", "--shared-paths")  # other settings: new cells, workers read the paths
    assert "8 in all, 0 reused from the database, 8 done" in shared.stdout, shared.stderr


@pytest.mark.slow
def test_ctrl_c_keeps_finished_cells_and_the_rerun_reuses_them(tmp_path):
    import signal
    import time

    db = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "memplan.cli", "study", "zoo", "--db", str(db), "-a", "greedy_by_size",
           "--devices", "n64,l2-2mib", "-j", "2"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    done = 0
    while done < 4 and p.poll() is None:  # wait for some cells, however slow the machine
        time.sleep(0.5)
        try:
            done = sqlite3.connect(db).execute("SELECT count(*) FROM cells").fetchone()[0]
        except sqlite3.Error:
            pass
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130 and err.strip().endswith("memplan: error: interrupted")
    kept = sqlite3.connect(db).execute("SELECT count(*) FROM cells WHERE status = 'ok'").fetchone()[0]
    assert 4 <= kept < 72
    r = cli(*cmd[3:])
    assert f"72 in all, {kept} reused from the database, {72 - kept} done, 0 failed" in r.stdout, r.stderr


def test_a_server_that_is_not_ray_is_refused_at_once():
    """Something answers at the address but not in gRPC (here HTTP/1): one line, no minute of
    Ray retrying."""
    import http.server
    import threading

    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pytest.raises(InputError, match="not a Ray cluster's GCS"):
            check_reachable(f"127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
def test_joining_a_cluster_started_by_ray_start(tmp_path):
    """`ray start --head` (token authentication on by default since Ray 2.59), then
    `memplan study --ray-address`: the study runs on that cluster. (Ray's socket paths must stay
    under 107 bytes: a short temp dir, not pytest's.)"""
    import shutil
    import signal
    import tempfile

    ray_cli = shutil.which("ray") or os.path.join(os.path.dirname(sys.executable), "ray")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head = subprocess.Popen([ray_cli, "start", "--head", "--block", f"--port={port}", "--num-cpus=1",
                             "--include-dashboard=false", f"--temp-dir={tempfile.mkdtemp(prefix='r', dir='/tmp')}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        a = save(chain_model(), tmp_path / "a.onnx")
        r = None
        for _ in range(30):  # the head takes a few seconds to listen
            r = cli("study", a, "--db", str(tmp_path / "s.sqlite"), "--ray-address", f"127.0.0.1:{port}",
                    "--stages", "naive", "--devices", "n64", "--dtypes", "fp32", "-a", "greedy_by_size", timeout=180)
            if "no Ray cluster answers" not in r.stderr:
                break
            time.sleep(1)
        assert r.returncode in (0, 3), r.stderr
        assert f"on ray@127.0.0.1:{port}" in r.stdout
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)
