"""The memory picture: x = execution step, y = arena address, one rectangle per buffer
(colour by buffer, the largest labelled with their tensor), the peak step marked; beside it,
the weights blob as one column of stacked tensors. Given the graph, a strip above shows it
on the same step axis: one dot per op (coloured by op type), one arc from each producer to
each later consumer, so long skips (U-Net, ResNet shortcuts, DenseNet concats) stand over
the memory they hold. Pure: returns a matplotlib Figure."""
from __future__ import annotations

import os

from ..errors import InputError
from ..fileio import write_atomic
from ..planner import Plan
from ..units import format_size


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def memory_figure(plan: Plan, graph=None, *, labels: int = 12):
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    if graph is None:
        fig, (ax, wx) = plt.subplots(1, 2, figsize=(13, 7), width_ratios=[6, 1], layout="constrained")
    else:
        fig, axes = plt.subplots(2, 2, figsize=(13, 9), width_ratios=[6, 1], height_ratios=[1, 3.5],
                                 sharex="col", layout="constrained")
        (gx, blank), (ax, wx) = axes
        blank.axis("off")
        _graph_strip(gx, plan, graph)
    cmap = plt.get_cmap("tab20")
    scale, unit = _unit(max(plan.arena_bytes, 1))
    rects = [Rectangle((b.first_step - 0.5, b.offset / scale), b.last_step - b.first_step + 1, b.size / scale)
             for b in plan.buffers]
    colours = [cmap(b.id % 20) for b in plan.buffers]
    ax.add_collection(PatchCollection(rects, facecolor=colours, edgecolor="black", linewidth=0.3))
    for b in sorted(plan.buffers, key=lambda b: -b.size)[:labels]:
        ax.text((b.first_step + b.last_step) / 2, (b.offset + b.size / 2) / scale, _short(b.names[0]),
                ha="center", va="center", fontsize=7, clip_on=True)
    peak = plan.peak_step
    ax.axvline(peak, color="red", linestyle="--", linewidth=1)
    ax.axhline(plan.lower_bound_bytes / scale, color="grey", linestyle=":", linewidth=1)
    ax.text(peak, plan.arena_bytes / scale, f" peak step {peak}", color="red", va="bottom", fontsize=8)
    ax.set_xlim(-0.5, max(len(plan.order), 1) - 0.5)
    ax.set_ylim(0, max(plan.arena_bytes, 1) / scale * 1.04)
    ax.set_xlabel("execution step")
    ax.set_ylabel(f"arena address ({unit})")
    ratio = plan.arena_bytes / plan.lower_bound_bytes if plan.lower_bound_bytes else 1
    ax.set_title(f"{os.path.basename(plan.model)} — activations: arena {format_size(plan.arena_bytes)}, "
                 f"LB {format_size(plan.lower_bound_bytes)} (dotted), {plan.algorithm}, x{ratio:.3f}", fontsize=10)
    _weights_panel(wx, plan, cmap)
    return fig


def _graph_strip(ax, plan: Plan, graph) -> None:
    """Ops as dots at their step, data edges as arcs whose height grows with their span."""
    from matplotlib.collections import LineCollection

    import numpy as np

    step = {name: s for s, name in enumerate(plan.order)}
    ops = {op.name: op for op in graph.ops}
    producer = {t: step[op.name] for op in graph.ops for t in op.outputs if t}
    arcs = []
    for op in graph.ops:
        for t in dict.fromkeys(op.inputs):
            if t in producer and step[op.name] > producer[t] + 0:
                a, b = producer[t], step[op.name]
                x = np.linspace(a, b, 24)
                y = np.sin(np.linspace(0, np.pi, 24)) * (b - a) ** 0.5
                arcs.append(np.column_stack([x, y]))
    ax.add_collection(LineCollection(arcs, colors="#4a6fa5", linewidths=0.6, alpha=0.6))
    types = sorted({ops[n].op_type for n in plan.order})
    cmap = _pyplot().get_cmap("tab10")
    colour = {t: cmap(i % 10) for i, t in enumerate(types)}
    xs = np.arange(len(plan.order))
    ax.scatter(xs, np.zeros(len(xs)), s=9, c=[colour[ops[n].op_type] for n in plan.order], zorder=3)
    top = max((a[:, 1].max() for a in arcs), default=1.0)
    ax.set_ylim(-0.08 * top, top * 1.08)
    ax.set_yticks([])
    ax.set_title(f"graph: {len(plan.order)} ops in execution order ({plan.order_method}); arcs = tensors "
                 f"from producer to consumer", fontsize=9)
    for t in types[:10]:
        ax.scatter([], [], s=12, color=colour[t], label=t)
    ax.legend(loc="upper right", fontsize=6, ncol=min(len(types), 5), frameon=False)


def _weights_panel(ax, plan: Plan, cmap) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    scale, unit = _unit(max(plan.weights_bytes, 1))
    rects = [Rectangle((0, w.offset / scale), 1, w.size / scale) for w in plan.weights]
    ax.add_collection(PatchCollection(rects, facecolor=[cmap(i % 20) for i in range(len(rects))],
                                      edgecolor="black", linewidth=0.2))
    for w in sorted(plan.weights, key=lambda w: -w.size)[:8]:
        ax.text(0.5, (w.offset + w.size / 2) / scale, _short(w.name), ha="center", va="center", fontsize=6)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(plan.weights_bytes, 1) / scale * 1.04)
    ax.set_xticks([])
    ax.set_ylabel(f"weights address ({unit})")
    ax.set_title(f"weights\n{format_size(plan.weights_bytes)}, {len(plan.weights)} tensors", fontsize=9)


def _unit(n: int) -> tuple[float, str]:
    for unit, scale in (("MiB", 1024**2), ("KiB", 1024)):
        if n >= 4 * scale:
            return scale, unit
    return 1, "B"


def _short(name: str, n: int = 22) -> str:
    return name if len(name) <= n else "…" + name[-(n - 1):]


PICTURE_EXTENSIONS = (".png", ".svg")


def save_figure(fig, path: str) -> None:
    """PNG or SVG by extension, written atomically."""
    write_atomic(path, figure_bytes(fig, path))


def figure_bytes(fig, path: str) -> bytes:
    """The figure rendered as ``path``'s extension says (PNG or SVG), so that a command can
    render every output before it writes any."""
    import io

    ext = os.path.splitext(path)[1].lower()
    if ext not in PICTURE_EXTENSIONS:
        raise InputError(f"{path}: picture must end in .png or .svg")
    buf = io.BytesIO()
    fig.savefig(buf, format=ext[1:], dpi=130)
    _pyplot().close(fig)
    return buf.getvalue()
