"""The memory picture: x = execution step, y = arena address, one rectangle per buffer
(coloured by the op type that produces it, with a legend; a tensor's name drawn only where it
fits in its rectangle), the peak step marked; beside it, the weights blob as one column of
stacked tensors (coloured by the op type that reads them). Given the graph, a strip above shows it
on the same step axis: one dot per op (coloured by op type), one arc from each producer to
each later consumer, so long skips (U-Net, ResNet shortcuts, DenseNet concats) stand over
the memory they hold. An If planned per branch is one white region at its step, its branches'
buffers hatched inside it (`report.branches`). Pure: returns a matplotlib Figure."""
from __future__ import annotations

import os

from ..errors import InputError
from ..fileio import write_atomic
from ..planner import Plan
from ..units import format_size
from .branches import REGION, buffer_name, draw_regions, region_names
from .patches import draw_patches, patch_colours, patch_layout, patch_title


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def memory_figure(plan: Plan, graph=None, *, labels: int = 60):
    """``labels``: how many of the largest buffers may carry their tensor's name; a name is
    drawn only where it fits inside its rectangle (turned upright for a tall, narrow one)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    plt = _pyplot()
    if graph is None:
        fig, (ax, wx) = plt.subplots(1, 2, figsize=(13, 7), width_ratios=[6, 1], layout="constrained")
        key = None
    else:
        fig, axes = plt.subplots(2, 2, figsize=(13, 9), width_ratios=[6, 1], height_ratios=[1, 3.5],
                                 sharex="col", layout="constrained")
        (gx, key), (ax, wx) = axes
        key.axis("off")
    colour = _op_colours(plan, graph)
    if graph is not None:
        _graph_strip(gx, plan, graph, colour)
    scale, unit = _unit(max(plan.arena_bytes, 1))
    rects = [Rectangle((b.first_step - 0.5, b.offset / scale), b.last_step - b.first_step + 1, b.size / scale)
             for b in plan.buffers]
    kinds = _buffer_kinds(plan, graph)
    layout = patch_layout(plan, graph)  # a tiled plan: a colour per patch
    faces = [colour[k] for k in kinds]
    if layout is not None:
        by_patch = patch_colours(layout)
        faces = [by_patch[p] if p is not None else f for p, f in zip(layout.buffer_patch, faces)]
    ax.add_collection(PatchCollection(rects, facecolor=faces, edgecolor="black", linewidth=0.3))
    draw_regions(ax, plan, scale)
    peak = plan.peak_step
    ax.axvline(peak, color="red", linestyle="--", linewidth=1)
    ax.axhline(plan.lower_bound_bytes / scale, color="grey", linestyle=":", linewidth=1)
    ax.text(peak, plan.arena_bytes / scale, f" peak step {peak}", color="red", va="bottom", fontsize=8)
    ax.set_xlim(-0.5, max(len(plan.order), 1) - 0.5)
    ax.set_ylim(0, max(plan.arena_bytes, 1) / scale * 1.04)
    ax.set_xlabel("execution step (a buffer spans the steps it is live)")
    ax.set_ylabel(f"arena address ({unit})")
    ratio = plan.arena_bytes / plan.lower_bound_bytes if plan.lower_bound_bytes else 1
    ax.set_title(f"{os.path.basename(plan.model)} — activations: arena {format_size(plan.arena_bytes)}, "
                 f"lower bound {format_size(plan.lower_bound_bytes)} (dotted line), arena / lower bound "
                 f"{ratio:.3f}, {plan.algorithm}" + (patch_title(layout) if layout else ""), fontsize=10)
    if layout is not None:
        draw_patches(ax, layout, plan, by_patch, scale)
    _weights_panel(wx, plan, graph, colour)
    _legend(key if key is not None else ax, colour, kinds)
    _fit_labels(fig, ax, [(r, _label_names(buffer_name(plan, b))) for r, b in
                          sorted(zip(rects, plan.buffers), key=lambda rb: -rb[1].size)[:labels]])
    return fig


INPUT = "graph input"


def _op_colours(plan: Plan, graph) -> dict[str, tuple]:
    """One colour per op type (the type of the op producing a buffer), the same in the graph
    strip, the arena and the weights (there: the op reading the weight); grey for inputs."""
    plt = _pyplot()
    types = sorted({op.op_type for op in graph.ops}) if graph is not None else []
    cmap = plt.get_cmap("tab20" if len(types) > 10 else "tab10")
    colour = {t: cmap(i % cmap.N) for i, t in enumerate(types)}
    colour[INPUT] = (0.75, 0.75, 0.75, 1.0)
    colour["buffer"] = (0.55, 0.7, 0.85, 1.0)  # no graph given: one colour
    if plan.subplans:
        colour[REGION] = (1.0, 1.0, 1.0, 1.0)  # white, the branches' buffers hatched inside
    return colour


def _buffer_kinds(plan: Plan, graph) -> list[str]:
    """The op type producing each buffer's first tensor (``graph input`` if none)."""
    if graph is None:
        return ["buffer"] * len(plan.buffers)
    producer = {t: op.op_type for op in graph.ops for t in op.outputs if t}
    regions = region_names(plan)
    return [REGION if b.id in regions else producer.get(b.names[0], INPUT) for b in plan.buffers]


def _legend(ax, colour, kinds) -> None:
    from matplotlib.patches import Patch

    used = [k for k in colour if k != "buffer" and (k not in (INPUT, REGION) or k in kinds)]
    if not used:
        return
    handles = [Patch(facecolor=colour[k], edgecolor="black", linewidth=0.3, label=k) for k in used]
    ax.legend(handles=handles, loc="upper left", fontsize=7, frameon=False, ncol=1 if len(handles) <= 9 else 2,
              title="colour: op type producing\na buffer (reading a weight)", title_fontsize=7)


def _label_names(name: str, n: int = 22) -> list[str]:
    """Readable forms of a tensor name, best first; the first that fits is drawn. A long
    TFLite path ``model_1/model/conv2d_4/Conv2D`` gives ``conv2d_4/Conv2D``, then ``conv2d_4``."""
    if len(name) <= n:
        return [name]
    parts = [p for p in name.replace(";", "/").split("/") if p]
    # Deep TFLite paths end in the op (``Conv2D``): the layer is the part before it. A short
    # ONNX scope (``gpu_0/res5_2_branch2c_w_0``) puts the meaning last.
    layer = parts[-2] if len(parts) >= 3 else parts[-1] if parts else ""
    forms = ["/".join(parts[-2:]), layer, _short(name, n)]
    return list(dict.fromkeys(f for f in forms if f and len(f) <= n))


def _fit_labels(fig, ax, candidates) -> None:
    """Draw each name inside its rectangle only if it fits there (horizontal, else upright)."""
    fig.canvas.draw()  # the layout is final: extents in pixels are what will be saved
    renderer = fig.canvas.get_renderer()
    for rect, names in candidates:
        box = ax.transData.transform([(rect.get_x(), rect.get_y()),
                                      (rect.get_x() + rect.get_width(), rect.get_y() + rect.get_height())])
        width, height = box[1] - box[0]
        cx, cy = rect.get_x() + rect.get_width() / 2, rect.get_y() + rect.get_height() / 2
        placed = False
        for name in names:
            for rotation in (0, 90):
                text = ax.text(cx, cy, name, ha="center", va="center", fontsize=7, rotation=rotation, clip_on=True)
                extent = text.get_window_extent(renderer)
                if extent.width <= width - 2 and extent.height <= height - 2:
                    placed = True
                    break
                text.remove()
            if placed:
                break


def _graph_strip(ax, plan: Plan, graph, colour) -> None:
    """Ops as dots at their step, data edges as arcs whose height is their span: a long skip
    (a ResNet shortcut, a DenseNet concat) stands high over the memory it holds, while the
    many one-step edges stay at the bottom. Many arcs are drawn fainter, so that a dense graph
    shows where its long edges are instead of a solid band."""
    from matplotlib.collections import LineCollection

    import numpy as np

    step = {name: s for s, name in enumerate(plan.order)}
    ops = {op.name: op for op in graph.ops}
    producer = {t: step[op.name] for op in graph.ops for t in op.outputs if t}
    arcs, spans = [], []
    for op in graph.ops:
        for t in dict.fromkeys(op.inputs):
            if t in producer and step[op.name] > producer[t]:
                a, b = producer[t], step[op.name]
                x = np.linspace(a, b, 24)
                arcs.append(np.column_stack([x, np.sin(np.linspace(0, np.pi, 24)) * (b - a)]))
                spans.append(b - a)
    alpha = float(min(0.7, max(0.15, 40 / max(len(arcs), 1))))
    ax.add_collection(LineCollection(arcs, colors="#4a6fa5", linewidths=0.6, alpha=alpha))
    xs = np.arange(len(plan.order))
    ax.scatter(xs, np.zeros(len(xs)), s=9, c=[colour[ops[n].op_type] for n in plan.order], zorder=3)
    top = max(spans, default=1)
    ax.set_ylim(-0.08 * top, top * 1.08)
    ax.set_ylabel("edge span\n(steps)", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(f"graph: {len(plan.order)} ops in execution order ({plan.order_method}), coloured by op type; "
                 f"an arc joins a tensor's producer to each consumer, as high as it is long", fontsize=9)


def _weights_panel(ax, plan: Plan, graph, colour) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    reader = {}
    if graph is not None:
        for op in graph.ops:
            for t in op.inputs:
                reader.setdefault(t, op.op_type)
    scale, unit = _unit(max(plan.weights_bytes, 1))
    rects = [Rectangle((0, w.offset / scale), 1, w.size / scale) for w in plan.weights]
    ax.add_collection(PatchCollection(rects, facecolor=[colour.get(reader.get(w.name), colour["buffer"])
                                                        for w in plan.weights], edgecolor="black", linewidth=0.2))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, max(plan.weights_bytes, 1) / scale * 1.04)
    ax.set_xticks([])
    ax.set_ylabel(f"weights address ({unit})")
    ax.set_title(f"weights\n{format_size(plan.weights_bytes)}, {len(plan.weights)} tensors", fontsize=9)
    ax.figure.canvas.draw()
    _fit_labels(ax.figure, ax, [(r, _label_names(w.name)) for r, w in
                                sorted(zip(rects, plan.weights), key=lambda rw: -rw[1].size)[:12]])


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
