"""Text reports: the plan summary table (rich) and a TFLM-style step picture.

``summary_rows`` is a pure function returning (label, value) pairs so tests can read it;
``summary_table`` wraps them in a rich Table for the terminal."""
from __future__ import annotations

from rich.table import Table

from ..graph.ir import Graph
from ..planner import Plan
from ..units import format_size
from .branches import buffer_name, summary_rows as branch_rows


def _bytes(n: int) -> str:
    return f"{n:,} ({format_size(n)})"


def summary_rows(plan: Plan, graph: Graph, budget: int | None = None) -> list[tuple[str, str]]:
    ratio = plan.arena_bytes / plan.lower_bound_bytes if plan.lower_bound_bytes else 1.0
    peak = plan.peak_step
    live = sorted(plan.live_at(peak), key=lambda b: -b.size)
    live_names = ", ".join(f"{'+'.join(b.names) or buffer_name(plan, b)} ({format_size(b.size)})" for b in live[:6])
    if len(live) > 6:
        live_names += f", … {len(live) - 6} more"
    rows = [
        ("model", plan.model),
        ("ops / activation tensors", f"{len(plan.order)} / {sum(len(b.tensors) for b in plan.buffers)}"),
        ("order", _order_text(plan)),
        ("sharing", _sharing_text(plan)),
        ("algorithm", _algorithm_text(plan)),
        ("alignment", f"{plan.alignment} B"),
        ("weights", f"{_bytes(plan.weights_bytes)} in {len(plan.weights)} tensors"),
        *_access_rows(graph),
        *([("shape constants folded", f"{_bytes(graph.shape_constant_bytes)} (computed at plan time)")]
          if graph.shape_constant_bytes else []),
        ("arena", _bytes(plan.arena_bytes)),
        ("lower bound (LB)", _bytes(plan.lower_bound_bytes)),
        ("naive (no reuse, no sharing)", _bytes(plan.naive_bytes)),
        ("sharing only (no reuse)", _bytes(plan.sharing_only_bytes)),
        ("arena / LB", f"{ratio:.4f}"),
        ("naive / arena", f"{plan.naive_bytes / plan.arena_bytes:.2f}x" if plan.arena_bytes else "-"),
        ("peak step", f"{peak}: {plan.order[peak] if plan.order else '-'}"),
        ("live at peak", live_names or "-"),
        *branch_rows(plan, graph),
    ]
    if budget is not None:
        verdict = "fits" if plan.arena_bytes <= budget else f"does NOT fit (short by {_bytes(plan.arena_bytes - budget)})"
        rows.append(("budget", f"{_bytes(budget)}: arena {verdict}"))
    return rows


def _access_rows(graph: Graph) -> list[tuple[str, str]]:
    """One row when some weight is read only in part (`graph.weight_access`); none otherwise."""
    from ..graph.weight_access import analyze, total_read

    access = analyze(graph)
    partial = {w: a for w, a in access.items() if a.partial}
    if not partial:
        return []
    expected, worst = total_read(access)
    kinds = {}
    for a in partial.values():
        kinds[a.kind] = kinds.get(a.kind, 0) + 1
    parts = "; ".join(f"{kind}: {n} {'tensor' if n == 1 else 'tensors'}" for kind, n in kinds.items())
    return [("weights read / inference", f"expected {_bytes(expected)}, worst {_bytes(worst)} "
                                         f"(read in part, where data-dependent indices point: {parts})")]


def _order_text(plan: Plan) -> str:
    stats = plan.order_stats or {}
    parts = [plan.order_method]
    if "peak" in stats:
        parts.append(f"peak {stats['peak']:,}")
    if stats.get("status"):
        parts.append(str(stats["status"]))
    return ", ".join(parts)


def _sharing_text(plan: Plan) -> str:
    tensors = sum(len(b.tensors) for b in plan.buffers)
    return f"{plan.sharing}: {tensors} tensors in {len(plan.buffers)} buffers"


def _algorithm_text(plan: Plan) -> str:
    text = f"{plan.algorithm} ({plan.status})"
    winner = (plan.stats or {}).get("winner")
    if winner and winner != plan.algorithm:
        text += f", plan from {winner}"
    seconds = (plan.stats or {}).get("seconds")
    return text + (f", {seconds:.2f} s" if isinstance(seconds, (int, float)) else "")


def summary_table(plan: Plan, graph: Graph, budget: int | None = None) -> Table:
    table = Table(title=f"memplan: {plan.model}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for label, value in summary_rows(plan, graph, budget):
        table.add_row(label, value)
    return table


def step_picture(plan: Plan, *, width: int = 64) -> str:
    """One row per step, one character column per slice of the arena (TFLM's
    PrintMemoryPlan): a letter where a buffer lives, '.' where bytes are free."""
    if not plan.arena_bytes:
        return ""
    scale = plan.arena_bytes / width
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    lines = []
    for step in range(len(plan.order)):
        row = ["."] * width
        live = 0
        for b in plan.live_at(step):
            live += b.size
            lo, hi = int(b.offset / scale), max(int((b.offset + b.size) / scale), int(b.offset / scale) + 1)
            for c in range(lo, min(hi, width)):
                row[c] = letters[b.id % len(letters)]
        lines.append(f"{step:4d} {''.join(row)} {format_size(live)}  {plan.order[step]}")
    return "\n".join(_step_legend(plan, scale, letters) + lines)


def _step_legend(plan: Plan, scale: float, letters: str) -> list[str]:
    """What the columns and letters of `step_picture` mean, and who is live at the peak."""
    peak = plan.peak_step
    head = ["step picture: one row per step (step, arena, bytes live, op that runs);",
            f"one column = {format_size(int(scale))} of the {format_size(plan.arena_bytes)} arena, address 0 at the left;",
            f"a letter = a buffer (its id mod {len(letters)}), '.' = free. Live at the peak step {peak}:"]
    for b in sorted(plan.live_at(peak), key=lambda b: b.offset):
        head.append(f"  {letters[b.id % len(letters)]} = buffer {b.id}: {buffer_name(plan, b)}, {format_size(b.size)} "
                    f"at offset {b.offset:,}")
    return head
