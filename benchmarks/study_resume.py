"""Interrupt a grid study and resume it: finished cells are kept and not recomputed, and the
resumed database holds the cells of an uninterrupted run.

    nice -n 10 .venv/bin/python benchmarks/study_resume.py [--out DIR] [MODELS...]

Runs ``memplan study MODELS --db ... -j 2 -a greedy_by_size --devices n64,l2-2mib`` (default
MODELS: ten small models of the corpus, 80 cells) once uninterrupted, then twice more into
fresh databases, stopped once a third of the cells are in: by SIGINT to the command (Ctrl-C)
and by SIGKILL to its whole process group (the driver and its pool workers, as a crash would).
Each is rerun with the same command. A kept cell is not recomputed when its row (run id,
worker, finish time) is unchanged after the rerun and the rerun reports it as reused.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

MODELS = [f"corpus:{m}_ts" for m in ("kws_dscnn", "vad_lstm", "vad_gru_bidir", "seq_rnn", "crnn_ocr", "moe_block",
                                     "bert_encoder", "gpt_decoder", "vit", "unet")]
OPTIONS = ["-j", "2", "-a", "greedy_by_size", "--devices", "n64,l2-2mib"]
TIMING = {"plan_seconds", "place_seconds", "worker", "run_id", "finished_at"}


def command(models, db):
    return [sys.executable, "-m", "memplan.cli", "study", *models, "--db", db, *OPTIONS]


def rows(db) -> dict[tuple, dict]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    out = {}
    for r in con.execute("SELECT * FROM cells"):
        r = dict(r)
        out[tuple(r[k] for k in ("model_hash", "device_hash", "dtype", "stage", "budget"))] = r
    con.close()
    return out


def count(db) -> int:
    try:
        with sqlite3.connect(db) as con:
            return con.execute("SELECT count(*) FROM cells").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def summary(stdout: str) -> str:
    found = re.search(r"\d+ in all, \d+ reused from the database, \d+ done, \d+ failed", stdout)
    return found.group(0) if found else "?"


def interrupted(models, db, sig, total) -> tuple[dict, float]:
    """Start the study, wait until a third of the cells are in, send ``sig``; the rows kept."""
    start = time.perf_counter()
    # SIGINT as at a terminal: a background job (nohup ... &) inherits SIGINT ignored, so restore it
    p = subprocess.Popen(command(models, db), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while count(db) < total // 3 and p.poll() is None:
        time.sleep(0.2)
    if sig == signal.SIGKILL:
        os.killpg(p.pid, signal.SIGKILL)  # the driver and its workers, with no chance to clean up
    else:
        p.send_signal(sig)
    _, err = p.communicate(timeout=600)
    print(f"  {sig.name}: exit {p.returncode} after {time.perf_counter() - start:.1f} s; "
          f"stderr: {err.strip().splitlines()[-1] if err.strip() else '(none)'}", flush=True)
    return rows(db), time.perf_counter() - start


def comparable(cells: dict) -> dict:
    return {k: {c: v for c, v in r.items() if c not in TIMING} for k, r in cells.items()}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", default=MODELS)
    ap.add_argument("--out", default=None, help="keep the databases there")
    args = ap.parse_args(argv)
    where = args.out or tempfile.mkdtemp(prefix="memplan-study-resume-")
    os.makedirs(where, exist_ok=True)
    full_db = os.path.join(where, "full.sqlite")
    start = time.perf_counter()
    full = subprocess.run(command(args.models, full_db), capture_output=True, text=True, check=True)
    full_wall = time.perf_counter() - start
    reference = rows(full_db)
    total = len(reference)
    print(f"uninterrupted: {full_wall:.1f} s, {summary(full.stdout)}", flush=True)
    print("| stop by | kept cells | rerun says | kept rows unchanged | rerun s | final cells = uninterrupted |")
    print("|---|---|---|---|---|---|")
    ok = True
    for sig in (signal.SIGINT, signal.SIGKILL):
        db = os.path.join(where, f"{sig.name.lower()}.sqlite")
        kept, _ = interrupted(args.models, db, sig, total)
        start = time.perf_counter()
        again = subprocess.run(command(args.models, db), capture_output=True, text=True, check=True)
        rerun_wall = time.perf_counter() - start
        final = rows(db)
        unchanged = sum(final[k] == r for k, r in kept.items())
        kept_ok = sum(r["status"] == "ok" for r in kept.values())
        same = comparable(final) == comparable(reference)
        ok &= unchanged == kept_ok and same and f"{kept_ok} reused" in summary(again.stdout)
        print(f"| {sig.name} | {len(kept)} of {total} ({kept_ok} ok) | {summary(again.stdout)} | "
              f"{unchanged} of {kept_ok} ok | {rerun_wall:.1f} | {'yes' if same else 'NO'} |", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
