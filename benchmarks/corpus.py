"""One row per corpus model (memplan.graph.corpus): kind, ops, shape constants folded, arena, LB,
naive, TFLM-style greedy arena, `--order exact` status, verify result, and the import, plan
and verify times.

    .venv/bin/python benchmarks/corpus.py [--models a,b] [--time-limit 10] [--timeout 600] [--random-weights]
                                          [--json out.json]

Each model runs in its own process (with --timeout seconds) so that one failure or hang only
costs its own row; a failing stage writes its one-line error into the row instead of numbers.
Times are single runs on this machine, measured in this run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HEAD = ["model", "kind", "ops", "folded", "arena", "LB", "naive", "tflm_greedy", "order exact", "verify",
        "import s", "plan s", "verify s"]
ERROR_WIDTH = 110  # the table's error cells; --json keeps the whole line


def _error(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def _folded(graph) -> str:
    """Shape constants folded at import ("count (bytes)"), once the importer reports them."""
    consts = getattr(graph, "shape_constants", None)
    if consts is None:
        return "-"
    return f"{len(consts)} ({getattr(graph, 'shape_constant_bytes', 0):,} B)"


def measure(name: str, *, time_limit: float, verify: bool = True, exact: bool = True,
            random_weights: bool = False) -> dict:
    """Every figure of one row; the first failing stage leaves its error in ``error``."""
    from memplan.graph import corpus
    from memplan.graph.corpus import MODELS, model_path
    from memplan.planner import plan

    entry = MODELS[name]
    row = {"model": name, "kind": entry.kind, "source": entry.source, "stage": "import"}
    try:
        path = model_path(name)
        start = time.perf_counter()
        graph = corpus.load(name)
        row["import s"] = time.perf_counter() - start
        row["ops"] = len(graph.ops) + len(graph.const_ops)
        row["folded"] = _folded(graph)
        row["stage"] = "plan"
        start = time.perf_counter()
        best = plan(graph, model=f"corpus:{name}", time_limit=time_limit, order_options={"time_limit": time_limit})
        row["plan s"] = time.perf_counter() - start
        row.update(arena=best.arena_bytes, LB=best.lower_bound_bytes, naive=best.naive_bytes)
        row["tflm_greedy"] = plan(graph, algorithm="tflm_greedy").arena_bytes
        if exact:
            row["stage"] = "order exact"
            ex = plan(graph, order="exact", order_options={"time_limit": time_limit}, time_limit=time_limit)
            status = (ex.order_stats or {}).get("status", ex.order_method)
            row["order exact"] = f"{status} {ex.arena_bytes:,}"
        if verify:
            row["stage"] = "verify"
            row["verify"], row["verify s"] = _verify(name, path, graph, best, random_weights)
        row["stage"] = "done"
    except Exception as exc:  # noqa: BLE001 - the row reports any failure, the run goes on
        row["error"] = _error(exc)
    return row


def _verify(name: str, path: str, graph, best, random_weights: bool) -> tuple[str, float]:
    """Run the plan in its arena vs onnxruntime (seed 0) with the model's weights, or with
    seeded random weights (import and plan that copy again, as `memplan verify --random-weights`)."""
    import inspect

    import memplan
    from memplan.graph import corpus
    from memplan.verify.prove import prove
    from memplan.verify.reference import randomize_weights

    values = corpus.input_values(name)
    options = {"inputs": values} if values and "inputs" in inspect.signature(prove).parameters else {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if random_weights:
            path = randomize_weights(path, os.path.join(tmp, "random.onnx"), 0)
            graph = corpus.load(name, path)
            best = memplan.plan(graph, time_limit=5, order_options={"time_limit": 5})
        proof = prove(path, graph, best, seed=0, **options)
        seconds = time.perf_counter() - start
    if proof.ok:
        return "match", seconds
    bad = proof.first_failure
    return f"FAILED at {bad.name} (max abs {bad.max_abs:.3g})", seconds


def run_isolated(name: str, args) -> dict:
    cmd = [sys.executable, __file__, "--one", name, "--time-limit", str(args.time_limit)]
    if args.no_verify:
        cmd.append("--no-verify")
    if args.no_exact:
        cmd.append("--no-exact")
    if args.random_weights:
        cmd.append("--random-weights")
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"model": name, "error": f"timeout after {args.timeout:g} s", "stage": "?"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
        return {"model": name, "error": f"crashed (exit {out.returncode}): {tail}", "stage": "?"}
    return json.loads(lines[-1])


def cells(row: dict) -> list[str]:
    from memplan.graph.corpus import MODELS

    def num(key):
        value = row.get(key)
        return f"{value:,}" if isinstance(value, int) else ("-" if value is None else str(value))

    def secs(key):
        return f"{row[key]:.2f}" if key in row else "-"

    out = [row["model"], MODELS[row["model"]].kind, num("ops"), row.get("folded", "-"), num("arena"), num("LB"),
           num("naive"), num("tflm_greedy"), row.get("order exact", "-"), row.get("verify", "-"),
           secs("import s"), secs("plan s"), secs("verify s")]
    if "error" in row:
        text = f"{row['stage']}: {row['error']}"
        text = text if len(text) <= ERROR_WIDTH else text[:ERROR_WIDTH - 1] + "…"
        out[HEAD.index(row["stage"]) if row["stage"] in HEAD else HEAD.index("verify")] = text
    return [c.replace("|", "\\|") for c in out]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="", help="comma-separated corpus names (default: all)")
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds for --order exact and exact allocation")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per model before its row gives up")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument("--no-exact", action="store_true")
    parser.add_argument("--random-weights", action="store_true", help="verify with seeded random weights")
    parser.add_argument("--json", default=None, help="also write the rows as JSON here")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        row = measure(args.one, time_limit=args.time_limit, verify=not args.no_verify, exact=not args.no_exact,
                      random_weights=args.random_weights)
        print(json.dumps(row))
        return
    from memplan.graph.corpus import MODELS

    names = [n for n in args.models.split(",") if n] or list(MODELS)
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "---|" * len(HEAD))
    rows = []
    for name in names:
        row = run_isolated(name, args)
        rows.append(row)
        print("| " + " | ".join(cells(row)) + " |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
