"""What the reports say about an If planned with a nested plan per branch
(`planner_branches`): its region buffer's name, the summary rows (region, each branch's
arena, the weights read only in one branch) and the branches drawn inside the region's
rectangle of the memory picture (then on the left half of the If's step, else on the right;
each branch's own steps spread across its half)."""
from __future__ import annotations

from ..graph.branches import branch_weights
from ..units import format_size

REGION = "If branch region"


def region_names(plan) -> dict[int, str]:
    """Region buffer id -> the If's name."""
    return {ip.region: name for name, ip in (plan.subplans or {}).items()}


def buffer_name(plan, b) -> str:
    """A buffer's first tensor, or ``<If> region`` for a region (which holds no tensor)."""
    if b.names:
        return b.names[0]
    return f"{region_names(plan).get(b.id, '?')} region"


def weights_by_branch(graph) -> dict[tuple[str, str], list[str]]:
    """``(If name, "then" | "else")`` -> the weights read only there (`branches.branch_weights`)."""
    out: dict[tuple[str, str], list[str]] = {}
    for w, where in branch_weights(graph).items():
        out.setdefault(where, []).append(w)
    return out


def _nbytes(graph, names) -> int:
    """Bytes of weights, wherever they are defined (the outer graph or a branch graph)."""
    from ..graph.branches import branch_graphs, has_branches

    sizes: dict[str, int] = {}

    def walk(g):
        for w in g.weights:
            sizes.setdefault(w, g.tensors[w].nbytes)
        for op in g.ops:
            if has_branches(op):
                for b in branch_graphs(op).values():
                    walk(b)
    walk(graph)
    return sum(sizes[n] for n in names)


def summary_rows(plan, graph) -> list[tuple[str, str]]:
    """One row per If with nested plans: region and branch arenas, branch-only weights."""
    rows = []
    only = weights_by_branch(graph) if graph is not None else {}
    for name, ip in (plan.subplans or {}).items():
        region = next(b for b in plan.buffers if b.id == ip.region)
        parts = []
        for label, p in ip.branches.items():
            ws = only.get((name, label), [])
            parts.append(f"{label} {format_size(p.arena_bytes)} ({len(p.order)} ops"
                         + (f"; {len(ws)} weights, {format_size(_nbytes(graph, ws))} read only here" if ws else "")
                         + ")")
        rows.append((f"If {name}", f"region {format_size(ip.size)} at offset {region.offset:,} (buffer {ip.region}): "
                                   + ", ".join(parts)))
    return rows


def draw_regions(ax, plan, scale: float) -> None:
    """Each branch's buffers inside its half of the region's rectangle."""
    from matplotlib.patches import Rectangle

    step = {name: s for s, name in enumerate(plan.order)}
    for name, ip in (plan.subplans or {}).items():
        region = next(b for b in plan.buffers if b.id == ip.region)
        for k, (label, p) in enumerate(ip.branches.items()):
            left = step[name] - 0.5 + 0.5 * k
            width = 0.5 / max(len(p.order), 1)
            for b in p.buffers:
                ax.add_patch(Rectangle((left + b.first_step * width, (region.offset + b.offset) / scale),
                                       (b.last_step - b.first_step + 1) * width, b.size / scale,
                                       facecolor="none", edgecolor="black", linewidth=0.3, hatch="///"))
            ax.text(left + 0.25, (region.offset + region.size) / scale, label, ha="center", va="bottom", fontsize=6)
