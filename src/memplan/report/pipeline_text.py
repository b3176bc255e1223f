"""Text and JSON reports of a pipeline run. The ``*_rows`` functions are pure (lists of
plain values, for tests); the ``*_table`` functions wrap them in rich Tables.

JSON (``memplan.pipeline.simulate/1``; times in seconds, sizes in bytes)::

    {"format": "memplan.pipeline.simulate/1", "model": ..., "device": ...,
     "layers": [{"name", "kind", "ops", "macs", "read_bytes", "weight_bytes", "write_bytes",
                 "in", "compute", "out", "interval", "utilisation"}],
     "simulation": {"batches", "depth", "pace", "interval", "throughput", "first_latency",
                    "steady_latency", "makespan", "bottleneck", "bubble", "closed_interval",
                    "closed_latency", "closed_makespan", "seconds"},
     "partitions": [{"method", "stages", "bounds", "interval", "memory"}],   // with --stages
     "memory": [{"depth", "batches", "interval", "throughput", "latency", "arena_bytes",
                 "lower_bound", "blocks"}]}
"""
from __future__ import annotations

import json

from rich.table import Table

from ..pipeline.simulate import Stats, Timeline, full_rate_depth, gpipe_bubble
from ..units import format_size


def fmt_time(seconds: float) -> str:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.4g} {unit}"
    return f"{seconds / 1e-9:.4g} ns"


def summary_rows(tl: Timeline, st: Stats, seconds: float | None = None) -> list[tuple[str, str]]:
    pipe = tl.pipe
    k = len(pipe.layers)
    depth = "unbounded" if st.depth is None else str(st.depth)
    feed = f"every {fmt_time(tl.pace)}" if tl.pace > 0 else "all at time 0 (backlog)"
    rows = [
        ("model / device", f"{pipe.name} on {pipe.device}"),
        ("layers", f"{k} ({'chain' if pipe.is_chain else 'DAG with joins'})"),
        ("batches / in flight", f"{st.batches} / {depth}; offered {feed}"),
        ("initiation interval", f"{fmt_time(st.interval)} (closed form {fmt_time(st.closed_interval)})"),
        ("throughput", f"{st.throughput:,.1f} batches/s"),
        ("first-batch latency", f"{fmt_time(st.first_latency)} (closed form: critical path {fmt_time(st.closed_latency)})"),
        ("steady-state latency", fmt_time(st.steady_latency)),
        ("makespan", fmt_time(st.makespan) + (f" (closed form {fmt_time(st.closed_makespan)})"
                                               if st.closed_makespan is not None else "")),
        ("bottleneck", _bottleneck(tl, st)),
        ("bubble fraction", f"{st.bubble:.3f} (GPipe fill/drain for {k} equal layers: "
                            f"{gpipe_bubble(k, st.batches):.3f})"),
        ("full rate needs", f"{full_rate_depth(pipe)} batches in flight (ceil(L / II*))"),
    ]
    if seconds is not None:
        rows.append(("simulation time", f"{seconds:.3f} s"))
    return rows


def _bottleneck(tl: Timeline, st: Stats) -> str:
    layer = next(l for l in tl.pipe.layers if l.name == st.bottleneck)
    part = max((("in", layer.t_in), ("compute", layer.t_compute), ("out", layer.t_out)), key=lambda p: p[1])
    return f"{layer.name} ({layer.kind}): II {fmt_time(layer.interval)}, bound by {part[0]}"


def summary_table(tl: Timeline, st: Stats, seconds: float | None = None) -> Table:
    table = Table(title="layer pipeline", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("value")
    for label, value in summary_rows(tl, st, seconds):
        table.add_row(label, value)
    return table


def layer_rows(tl: Timeline, st: Stats) -> list[dict]:
    return [{"name": l.name, "kind": l.kind, "ops": list(l.ops), "macs": l.macs, "read_bytes": l.read_bytes,
             "weight_bytes": l.weight_bytes, "write_bytes": l.write_bytes, "in": l.t_in, "compute": l.t_compute,
             "out": l.t_out, "interval": l.interval, "utilisation": u}
            for l, u in zip(tl.pipe.layers, st.utilisation)]


def layer_table(tl: Timeline, st: Stats, *, top: int | None = 10) -> Table:
    rows = layer_rows(tl, st)
    shown = rows if top is None else sorted(rows, key=lambda r: -r["interval"])[:top]
    what = "every layer" if top is None or top >= len(rows) else f"the {len(shown)} slowest of {len(rows)} layers"
    table = Table(title=f"{what} (--layers for all)" if top and top < len(rows) else what, title_justify="left")
    for col in ("layer", "kind", "ops", "MACs", "in", "compute", "out", "II", "busy"):
        table.add_column(col, justify="left" if col in ("layer", "kind") else "right")
    for r in shown:
        table.add_row(r["name"], r["kind"], str(len(r["ops"])), f"{r['macs']:,}", fmt_time(r["in"]),
                      fmt_time(r["compute"]), fmt_time(r["out"]), fmt_time(r["interval"]), f"{r['utilisation']:.0%}")
    return table


def partition_rows(partitions) -> list[dict]:
    """The last partition is the reference (the one simulated)."""
    best = partitions[-1].interval
    return [{"method": p.method, "stages": p.stages, "bounds": [list(b) for b in p.bounds], "interval": p.interval,
             "throughput": 1 / p.interval if p.interval > 0 else float("inf"),
             "per_stage": (1 / p.interval) / p.stages if p.interval > 0 else float("inf"),
             "vs_chosen": p.interval / best if best > 0 else 1.0, "memory": list(p.memory)}
            for p in partitions]


def partition_table(partitions) -> Table:
    table = Table(title="stage partitions (II = slowest stage)", title_justify="left")
    for col in ("partition", "stages", "II", "batches/s", "batches/s per stage", "II / simulated", "largest stage memory"):
        table.add_column(col, justify="left" if col == "partition" else "right")
    for r in partition_rows(partitions):
        table.add_row(r["method"], str(r["stages"]), fmt_time(r["interval"]), f"{r['throughput']:,.1f}",
                      f"{r['per_stage']:,.1f}", f"{r['vs_chosen']:.2f}x", format_size(max(r["memory"])))
    return table


def depth_rows(rows) -> list[dict]:
    return [{"depth": r.depth, "batches": r.batches, "interval": r.interval, "throughput": r.throughput,
             "latency": r.latency, "arena_bytes": r.arena_bytes, "lower_bound": r.lower_bound, "blocks": r.blocks}
            for r in rows]


def depth_table(rows, algorithm: str) -> Table:
    table = Table(title=f"memory of the pipeline by batches in flight ({algorithm}, validated)", title_justify="left")
    for col in ("in flight", "II", "batches/s", "latency", "arena", "lower bound", "arena / 1 in flight"):
        table.add_column(col, justify="right")
    base = rows[0].arena_bytes if rows else 0
    for r in rows:
        table.add_row(str(r.depth), fmt_time(r.interval), f"{r.throughput:,.1f}", fmt_time(r.latency),
                      f"{r.arena_bytes:,} ({format_size(r.arena_bytes)})", format_size(r.lower_bound),
                      f"{r.arena_bytes / base:.2f}x" if base else "-")
    return table


def pipeline_json(tl: Timeline, st: Stats, *, seconds: float | None = None, partitions=(), memory=()) -> str:
    sim = {"batches": st.batches, "depth": st.depth, "pace": tl.pace, "interval": st.interval,
           "throughput": st.throughput, "first_latency": st.first_latency, "steady_latency": st.steady_latency,
           "makespan": st.makespan, "bottleneck": st.bottleneck, "bubble": st.bubble,
           "closed_interval": st.closed_interval, "closed_latency": st.closed_latency,
           "closed_makespan": st.closed_makespan, "seconds": seconds}
    data = {"format": "memplan.pipeline.simulate/1", "model": tl.pipe.name, "device": tl.pipe.device,
            "layers": layer_rows(tl, st), "simulation": sim}
    if partitions:
        data["partitions"] = partition_rows(partitions)
    if memory:
        data["memory"] = depth_rows(memory)
    return json.dumps(data, indent=1) + "\n"
