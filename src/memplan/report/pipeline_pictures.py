"""Pictures of a simulated pipeline (pure: each returns a matplotlib Figure; ``save_figure``
writes PNG or SVG atomically):

- ``heatmap_figure``: the wavefront. Rows = layers (top = first), coloured by kind (conv,
  pool, res, fc…), columns = time bins (default one bottleneck interval II* wide, so a
  pipeline fed at II* shows one diagonal per batch); each cell holds the batch that occupies
  the layer for most of the bin, labelled with its id, paler when the layer is busy for only
  part of the bin; white = idle.
- ``gantt_figure``: per layer, the in / compute / out bars of the first batches, one colour
  per batch, in at the top third of the row, compute in the middle, out at the bottom.
- ``depth_figure``: throughput and arena against batches in flight.
"""
from __future__ import annotations

import math

import numpy as np

from ..pipeline.simulate import Timeline
from ..units import format_size
from .picture import _pyplot, save_figure  # noqa: F401  (save_figure is part of this API)

KIND_COLOURS = {"conv": "#4c72b0", "pool": "#dd8452", "res": "#55a868", "fc": "#c44e52", "concat": "#8172b3",
                "norm": "#937860"}
OTHER_COLOUR = "#8c8c8c"


def time_unit(seconds: float) -> tuple[float, str]:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if seconds >= scale:
            return scale, unit
    return 1e-9, "ns"


def occupancy(tl: Timeline, width: float, columns: int, origin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per (layer, bin): the batch busy longest in the bin (-1 = idle) and its busy fraction."""
    n_layers = len(tl.pipe.layers)
    batch = np.full((n_layers, columns), -1, dtype=np.int64)
    share = np.zeros((n_layers, columns))
    start, end = tl.start - origin, tl.end - origin
    edges = np.arange(columns + 1) * width
    for l in range(n_layers):
        for b in range(tl.batches):
            lo, hi = start[l, b], end[l, b]
            if lo >= edges[-1]:
                break
            first, last = int(lo // width), min(columns - 1, int(math.ceil(hi / width)) - 1)
            for c in range(first, last + 1):
                part = (min(hi, edges[c + 1]) - max(lo, edges[c])) / width
                if part > share[l, c]:
                    share[l, c], batch[l, c] = part, b
    return batch, share


def heatmap_figure(tl: Timeline, *, batches: int = 8, width: float | None = None, max_columns: int = 60,
                   title: str | None = None):
    """The wavefront from the first entry until batch ``batches - 1`` leaves; later batches
    that enter meanwhile show too (module doc)."""
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    plt = _pyplot()
    layers = tl.pipe.layers
    shown = min(batches, tl.batches)
    origin = float(tl.entry[0])
    horizon = float(tl.exit[shown - 1]) - origin
    width = width or (tl.pace if tl.pace > 0 else tl.pipe.bottleneck_interval) or horizon or 1.0
    columns = max(1, math.ceil(horizon / width - 1e-9))
    if columns > max_columns:
        width, columns = horizon / max_columns, max_columns
    batch, share = occupancy(tl, width, columns, origin)
    image = np.ones((len(layers), columns, 4))
    for l, layer in enumerate(layers):
        rgba = np.array(to_rgba(KIND_COLOURS.get(layer.kind, OTHER_COLOUR)))
        busy = batch[l] >= 0
        alpha = 0.3 + 0.7 * share[l, busy]
        image[l, busy] = rgba * alpha[:, None] + (1 - alpha[:, None])
        image[l, busy, 3] = 1.0
    fig, ax = plt.subplots(figsize=(min(22, 4 + 0.28 * columns), min(30, 2 + 0.22 * len(layers))),
                           layout="constrained")
    ax.imshow(image, aspect="auto", interpolation="nearest")
    if columns * len(layers) <= 4000:
        size = max(4, min(8, 300 / max(columns, len(layers))))
        for l, c in zip(*np.nonzero(batch >= 0)):
            ax.text(c, l, str(batch[l, c]), ha="center", va="center", fontsize=size)
    ax.set_yticks(range(len(layers)), [f"{l.name} ({l.kind})" for l in layers], fontsize=max(4, min(8, 600 / len(layers))))
    scale, unit = time_unit(width * columns)
    ticks = np.linspace(0, columns, min(columns, 10) + 1)
    ax.set_xticks(ticks - 0.5, [f"{t * width / scale:.3g}" for t in ticks], fontsize=7)
    ax.set_xlabel(f"time ({unit}); one column = {width / scale:.3g} {unit}")
    kinds = dict.fromkeys(l.kind for l in layers)
    first = KIND_COLOURS.get(next(iter(kinds)), OTHER_COLOUR) if kinds else OTHER_COLOUR
    ax.legend(handles=[Patch(color=KIND_COLOURS.get(k, OTHER_COLOUR), label=f"{k} layer") for k in kinds]
              + [Patch(facecolor=first, label="busy the whole column"),
                 Patch(facecolor=first, alpha=0.35, label="busy part of the column"),
                 Patch(facecolor="white", edgecolor="black", linewidth=0.5, label="idle")],
              loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=9, title="row colour: layer kind\n"
              "number: batch in the layer", title_fontsize=9, alignment="left")
    ax.set_title(title or f"{tl.pipe.name}: wavefront through {len(layers)} layers until batch {shown - 1} "
                          f"leaves (cell = batch id)", fontsize=10)
    return fig


def gantt_figure(tl: Timeline, *, batches: int = 4, title: str | None = None):
    """in / compute / out bars of the first ``batches`` batches (module doc)."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Patch, Rectangle

    plt = _pyplot()
    layers = tl.pipe.layers
    shown = min(batches, tl.batches)
    origin = float(tl.entry[0])
    scale, unit = time_unit(float(tl.exit[shown - 1]) - origin)
    cmap = plt.get_cmap("tab10")
    fig, ax = plt.subplots(figsize=(14, min(30, 2 + 0.3 * len(layers))), layout="constrained")
    parts = ((tl.start, tl.in_end, 0.0, 0.5), (tl.in_end, tl.out_start, 1 / 3, 1.0), (tl.out_start, tl.end, 2 / 3, 0.75))
    rects, colours = [], []
    for b in range(shown):
        for lo, hi, top, alpha in parts:
            for l in range(len(layers)):
                x0, x1 = (lo[l, b] - origin) / scale, (hi[l, b] - origin) / scale
                if x1 > x0:
                    rects.append(Rectangle((x0, l - 0.5 + top + 0.02), x1 - x0, 1 / 3 - 0.04))
                    colours.append((*cmap(b % 10)[:3], alpha))
    ax.add_collection(PatchCollection(rects, facecolors=colours, linewidth=0))
    ax.set_xlim(0, (float(tl.end[:, :shown].max()) - origin) / scale * 1.01)
    ax.set_ylim(len(layers) - 0.5, -0.5)
    ax.set_yticks(range(len(layers)), [f"{l.name} ({l.kind})" for l in layers], fontsize=max(4, min(8, 600 / len(layers))))
    ax.set_xlabel(f"time ({unit}); per row: in (top), compute (middle), out (bottom)")
    ax.grid(axis="x", linewidth=0.3)
    grey = (0.3, 0.3, 0.3)
    ax.legend(handles=[Patch(color=cmap(b % 10), label=f"batch {b}") for b in range(shown)]
              + [Patch(facecolor=(*grey, 0.5), label="in: top third, pale"),
                 Patch(facecolor=(*grey, 1.0), label="compute: middle, full"),
                 Patch(facecolor=(*grey, 0.75), label="out: bottom third")],
              fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), title="colour: batch\nrow: one layer",
              title_fontsize=9, alignment="left")
    ax.set_title(title or f"{tl.pipe.name}: in / compute / out of the first {shown} batches", fontsize=10)
    return fig


def depth_figure(rows, *, title: str = "throughput vs memory"):
    """Throughput (left axis) and arena / lower bound (right axis) per depth."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    depths = [r.depth for r in rows]
    ax.plot(depths, [r.throughput for r in rows], "o-", color="#4c72b0", label="throughput")
    ax.set_xlabel("batches in flight (depth)")
    ax.set_ylabel("throughput (batches/s)", color="#4c72b0")
    mx = ax.twinx()
    top = max(r.arena_bytes for r in rows) or 1
    scale = 1024**2 if top >= 4 * 1024**2 else 1024
    mx.plot(depths, [r.arena_bytes / scale for r in rows], "s-", color="#c44e52", label="arena")
    mx.plot(depths, [r.lower_bound / scale for r in rows], ":", color="#c44e52", label="lower bound")
    mx.set_ylabel(f"arena ({'MiB' if scale > 1024 else 'KiB'})", color="#c44e52")
    ax.set_xticks(depths)
    for r in rows:
        mx.annotate(format_size(r.arena_bytes), (r.depth, r.arena_bytes / scale), fontsize=6,
                    textcoords="offset points", xytext=(0, 5), ha="center")
    handles = ax.get_legend_handles_labels()[0] + mx.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=8)
    ax.set_title(title, fontsize=10)
    return fig
