"""A study killed outright (SIGKILL of the driver and its pool workers, as a crash) keeps every
committed cell, and the rerun reuses them untouched and computes only the rest
(the SIGINT case is test_study_grid.test_ctrl_c_keeps_finished_cells_and_the_rerun_reuses_them)."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

KEY = "model_hash, device_hash, dtype, stage, budget"
TIMING = {"plan_seconds", "place_seconds", "worker", "run_id", "finished_at"}


def rows(db) -> dict:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    out = {tuple(r[k.strip()] for k in KEY.split(",")): dict(r) for r in con.execute("SELECT * FROM cells")}
    con.close()
    return out


@pytest.mark.slow
def test_sigkill_keeps_committed_cells_and_the_rerun_does_not_recompute_them(tmp_path):
    db, full = tmp_path / "killed.sqlite", tmp_path / "full.sqlite"
    args = ["-m", "memplan.cli", "study", "zoo", "-a", "greedy_by_size", "--devices", "n64", "--stages",
            "naive,best", "-j", "2"]
    p = subprocess.Popen([sys.executable, *args, "--db", str(db)], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    kept: dict = {}
    while len(kept) < 4 and p.poll() is None:  # wait for some cells, however slow the machine
        time.sleep(0.5)
        try:
            kept = rows(db)
        except sqlite3.Error:
            pass
    os.killpg(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    kept = rows(db)
    assert 4 <= len(kept) < 18 and all(r["status"] == "ok" for r in kept.values())
    again = subprocess.run([sys.executable, *args, "--db", str(db)], capture_output=True, text=True, timeout=900)
    assert f"18 in all, {len(kept)} reused from the database, {18 - len(kept)} done" in again.stdout, again.stderr
    final = rows(db)
    assert all(final[k] == r for k, r in kept.items())  # same run id, worker and finish time: not recomputed
    subprocess.run([sys.executable, *args, "--db", str(full)], check=True, capture_output=True, timeout=900)
    strip = lambda d: {k: {c: v for c, v in r.items() if c not in TIMING} for k, r in d.items()}  # noqa: E731
    assert strip(final) == strip(rows(full))
