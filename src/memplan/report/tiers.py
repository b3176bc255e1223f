"""Text report of a tiered plan: one row per memory tier, then what moved and what it costs.

``tier_rows`` and ``summary_rows`` are pure functions returning strings so tests can read
them; ``tier_tables`` wraps them in rich Tables for the terminal."""
from __future__ import annotations

from rich.table import Table

from ..placement import TieredPlan
from ..units import format_size


def _bytes(n: int) -> str:
    return f"{n:,} ({format_size(n)})"


def _seconds(s: float) -> str:
    return f"{s * 1e3:.3f} ms" if s < 1 else f"{s:.3f} s"


TIER_COLUMNS = ("tier", "capacity", "arena", "weights stored", "used", "read / inference",
                "written / inference", "fits")


def tier_rows(tp: TieredPlan) -> list[tuple[str, ...]]:
    rows = []
    for t in tp.tiers:
        kind = "" if t.writable else " (read-only)"
        rows.append((t.name + kind, format_size(t.capacity), format_size(t.arena_bytes), format_size(t.weights_bytes),
                     format_size(t.used_bytes), format_size(t.read_bytes), format_size(t.write_bytes),
                     "yes" if t.fits else f"NO, short by {format_size(t.used_bytes - t.capacity)}"))
    return rows


def summary_rows(tp: TieredPlan) -> list[tuple[str, str]]:
    plan, device = tp.plan, tp.device
    fast = tp.tiers[0].name
    spilled = [b for b in plan.buffers if tp.buffer_tier[b.id] != fast]
    mode = {"resident": f"resident in {fast} (loaded once)",
            "stream": f"streamed from {tp.weights_home} into {fast}, double-buffered",
            "in-place": f"read in place from {tp.weights_home}"}[tp.weight_mode]
    rows = [
        ("device", f"{device.name}: {device.description}" if device.description else device.name),
        ("weights", f"{_bytes(plan.weights_bytes)}, {mode}"),
    ]
    if tp.streams:
        biggest = max(tp.streams, key=lambda s: s.size)
        rows.append(("stream buffers", f"{len(tp.streams)}, largest {_bytes(biggest.size)} "
                                       f"(step {biggest.step}: {plan.order[biggest.step]})"))
    rows += [
        ("spilled buffers", f"{len(spilled)} of {len(plan.buffers)}, {_bytes(sum(b.size for b in spilled))}"
                            + (f" ({tp.spill_method}, {tp.spill_status})" if spilled else "")),
        ("bytes moved / inference", f"{_bytes(tp.bytes_moved)}: spills {format_size(tp.spilled_bytes_moved)}, "
                                    f"weights {format_size(tp.weight_bytes_moved)}"),
        ("time / inference", f"{_seconds(tp.seconds)} " + ("(compute + data movement)" if tp.compute_known
                                                           else "(data movement only; op costs unknown)")),
    ]
    if tp.load_seconds:
        rows.append(("load time (once)", _seconds(tp.load_seconds)))
    if tp.fits:
        rows.append(("verdict", f"fits {device.name}"))
    else:
        bad = next(t for t in tp.tiers if not t.fits)
        rows.append(("verdict", f"does NOT fit {device.name}: tier {bad.name} is short by {_bytes(tp.shortfall)}"))
    return rows


def tier_tables(tp: TieredPlan) -> tuple[Table, Table]:
    tiers = Table(title=f"tiers: {tp.plan.model} on {tp.device.name}", title_justify="left")
    for col in TIER_COLUMNS:
        tiers.add_column(col, justify="left" if col in ("tier", "fits") else "right")
    for row in tier_rows(tp):
        tiers.add_row(*row)
    summary = Table(show_header=False)
    summary.add_column(style="bold")
    summary.add_column()
    for label, value in summary_rows(tp):
        summary.add_row(label, value)
    return tiers, summary
