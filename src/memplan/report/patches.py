"""The patches of a tiled plan in the memory picture (`picture.memory_figure`).

A tiled model (`memplan.tiling`) runs its first stage patch by patch; its ops and tensors
carry the patch in their names (`memplan.graph.patches`). The picture then colours every
buffer of a patch with that patch's colour (neighbouring patches get distinct ones), shades
the steps of every other patch, writes ``patch r,c`` over the steps of each patch, and marks
the stage output the patches are assembled into, so that the patch-by-patch structure (each
patch's buffers born and freed within its own steps) is what one sees first.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..graph.patches import patch_groups, patch_of, stage_output_ops


@dataclass(frozen=True)
class PatchLayout:
    patches: tuple[tuple[int, int], ...]  # row-major
    steps: dict  # patch -> (first step, last step) of its ops in the plan's order
    buffer_patch: tuple  # per plan buffer: its patch or None
    stage_outputs: tuple[int, ...]  # indices of the buffers the patches are assembled into

    @property
    def grid(self) -> tuple[int, int]:
        return max(p[0] for p in self.patches) + 1, max(p[1] for p in self.patches) + 1


def patch_layout(plan, graph) -> PatchLayout | None:
    """Where each patch runs and which buffers it owns; None for an untiled plan."""
    if graph is None:
        return None
    groups = patch_groups(graph)
    if not groups:
        return None
    step = {name: s for s, name in enumerate(plan.order)}
    steps = {}
    for p, ops in groups.items():
        at = [step[graph.ops[i].name] for i in ops if graph.ops[i].name in step]
        if at:
            steps[p] = (min(at), max(at))
    buffer_patch = tuple(_buffer_patch(b.names) for b in plan.buffers)
    assembled = {t for i in stage_output_ops(graph) for t in graph.ops[i].outputs if t}
    stage_outputs = tuple(k for k, b in enumerate(plan.buffers) if assembled & set(b.names))
    return PatchLayout(tuple(steps), steps, buffer_patch, stage_outputs)


def _buffer_patch(names) -> tuple[int, int] | None:
    for n in names:
        p = patch_of(n)
        if p is not None:
            return p
    return None


def patch_colours(layout: PatchLayout) -> dict:
    """Patch -> colour: a qualitative map, so that consecutive patches differ."""
    from matplotlib import colormaps

    cmap = colormaps["tab20" if len(layout.patches) > 10 else "tab10"]
    return {p: cmap(k % cmap.N) for k, p in enumerate(layout.patches)}


def draw_patches(ax, layout: PatchLayout, plan, colours, scale: float) -> None:
    """Shade every other patch's steps, name the patches over their steps (``patch r,c``
    where it fits, else ``r,c`` upright, else each row's first patch), and mark the stage
    output buffer."""
    from matplotlib.patches import Rectangle

    top = ax.get_ylim()[1]
    per_step = (ax.get_window_extent().width or 800) / max(len(plan.order), 1)  # pixels
    for k, p in enumerate(layout.patches):
        first, last = layout.steps[p]
        if k % 2 == 0:
            ax.axvspan(first - 0.5, last + 0.5, color="#ececec", zorder=0)
        pixels = (last - first + 1) * per_step
        if pixels >= 42:
            label, rotation = f"patch {p[0]},{p[1]}", 0
        elif pixels >= 9:
            label, rotation = f"{p[0]},{p[1]}", 90
        elif p[1] == 0:
            label, rotation = f"patch row {p[0]}", 90
        else:
            continue
        ax.text((first + last) / 2 if pixels >= 9 else first, top * 0.995, label, ha="center" if pixels >= 9 else "left",
                va="top", fontsize=6, rotation=rotation, color="black", clip_on=True)
    steps = max(len(plan.order), 1)
    for k in layout.stage_outputs:
        b = plan.buffers[k]
        ax.add_patch(Rectangle((b.first_step - 0.5, b.offset / scale), b.last_step - b.first_step + 1, b.size / scale,
                               fill=False, hatch="//", edgecolor="black", linewidth=0.8))
        right = b.first_step > 0.6 * steps  # late in the order: write the label to its left
        ax.text(b.first_step - 1 if right else b.last_step + 1, (b.offset + b.size / 2) / scale,
                f"stage output {b.names[0]}: the patches assembled", fontsize=7, va="center",
                ha="right" if right else "left", clip_on=True,
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def patch_title(layout: PatchLayout) -> str:
    rows, cols = layout.grid
    return f"\ntiled: {len(layout.patches)} patches ({rows}x{cols}); a colour per patch, shaded: every other patch's steps"
