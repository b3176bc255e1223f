"""Text report of a tiered plan: one row per memory tier, then what moved and what it costs.

``tier_rows`` and ``summary_rows`` are pure functions returning strings so tests can read
them; ``tier_tables`` wraps them in rich Tables for the terminal."""
from __future__ import annotations

from rich.table import Table

from ..tiers.placement import TieredPlan
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


MODE_WORDS = {"resident": "resident", "stream": "streamed", "in-place": "read in place",
              "on-demand": "fetched on demand"}


def weight_summary(tp: TieredPlan) -> str:
    """Per-mode totals, e.g. ``resident 259.50 KiB (21), streamed 4.46 MiB (31)``."""
    fast = tp.tiers[0].name
    totals = tp.mode_totals()
    if not totals:
        return "none read"
    where = {"resident": f"in {fast}, loaded once", "stream": f"{tp.weights_home} -> {fast}, double-buffered",
             "in-place": f"from {tp.weights_home}",
             "on-demand": f"only the rows / experts read, {tp.weights_home} -> {fast} staging"}
    return ", ".join(f"{MODE_WORDS[m]} {format_size(b)} ({n} {'tensor' if n == 1 else 'tensors'}, {where[m]})"
                     for m, (n, b) in totals.items())


def _fast_context(tp: TieredPlan) -> str:
    """What the weights did while the fast tier was short."""
    totals = tp.mode_totals()
    if set(totals) == {"in-place"}:
        return f" even reading every weight in place from {tp.weights_home}"
    if set(totals) == {"stream"}:
        return f" even streaming every weight from {tp.weights_home}"
    if set(totals) == {"resident"}:
        return " with every weight resident"
    if totals:
        n, b = totals.get("resident", (0, 0))
        return f" with {n} weights resident ({format_size(b)})"
    return ""


def shortfall_message(tp: TieredPlan) -> str:
    """Every tier that is short and by how much, e.g. ``rdram short by 2.89 MiB (3,031,040
    bytes) even reading every weight in place from rom (arena 6.89 MiB, room 4.00 MiB); rom
    short by 33.69 MiB (35,331,760 bytes) for the weights (97.69 MiB in 64.00 MiB)``; empty
    when the plan fits."""
    fast = tp.tiers[0].name
    parts = []
    for name, over in tp.shortfalls:
        use = tp.tier_of(name)
        text = f"{name} short by {format_size(over)} ({over:,} bytes)"
        if not use.writable:
            text += f" for the weights ({format_size(use.weights_bytes)} in {format_size(use.capacity)})"
        elif name == fast:
            text += _fast_context(tp) + f" (arena {format_size(use.arena_bytes)}, room {format_size(use.capacity - use.weights_bytes)})"
        else:
            text += " for spilled activations" + (" and the weights stored there" if use.weights_bytes else "")
        parts.append(text)
    return "; ".join(parts)


def summary_rows(tp: TieredPlan) -> list[tuple[str, str]]:
    plan, device = tp.plan, tp.device
    fast = tp.tiers[0].name
    spilled = [b for b in plan.buffers if tp.buffer_tier[b.id] != fast]
    rows = [
        ("device", f"{device.name}: {device.description}" if device.description else device.name),
        ("weights", f"{_bytes(plan.weights_bytes)} stored in {tp.weights_home}; {weight_summary(tp)}"),
    ]
    if tp.streams:
        biggest = max(tp.streams, key=lambda s: s.size)
        rows.append(("stream buffers", f"{len(tp.streams)}, largest {_bytes(biggest.size)} "
                                       f"(step {biggest.step}: {plan.order[biggest.step]})"))
    staging = getattr(tp, "staging", ())
    if staging:
        biggest = max(staging, key=lambda s: s.size)
        rows.append(("staging buffers", f"{len(staging)}, largest {_bytes(biggest.size)} "
                                        f"(step {biggest.step}: {plan.order[biggest.step]})"))
    rows += [
        ("spilled buffers", f"{len(spilled)} of {len(plan.buffers)}, {_bytes(sum(b.size for b in spilled))}"
                            + (f" ({tp.spill_method}, {tp.spill_status})" if spilled else "")),
        ("bytes moved / inference", f"{_bytes(tp.bytes_moved)}: spills {format_size(tp.spilled_bytes_moved)}, "
                                    f"weights {format_size(tp.weight_bytes_moved)}" + _worst_text(tp)),
        ("time / inference", f"{_seconds(tp.seconds)} " + ("(compute + data movement)" if tp.compute_known
                                                           else "(data movement only; op costs unknown)")),
    ]
    if tp.load_seconds:
        rows.append(("load time (once)", _seconds(tp.load_seconds)))
    if tp.fits:
        rows.append(("verdict", f"fits {device.name}"))
    else:
        rows.append(("verdict", f"does NOT fit {device.name}: {shortfall_message(tp)}"))
    return rows


def _worst_text(tp: TieredPlan) -> str:
    """Expected vs worst case, when weights read in part make them differ or are fetched."""
    expected, worst = getattr(tp, "demand_bytes", (0, 0))
    if not worst and tp.bytes_moved_worst == tp.bytes_moved:
        return ""
    return (f" (expected); worst {_bytes(tp.bytes_moved_worst)}; of which read in part "
            f"{format_size(expected)} expected, {format_size(worst)} worst")


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
