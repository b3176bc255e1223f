"""The ``.tflite`` side of `memplan tile`, ``plan --tile auto`` and ``verify-tflm --tile auto``:
row strips of an NHWC stage written in place (`memplan.tiling.tflite_rewrite`)."""
from __future__ import annotations

import numpy as np

from ..errors import InputError
from .common import _stdout


def tflite_data(spec: str, input_shapes) -> tuple[bytes, str]:
    """The model's bytes, float16 weights folded as TFLite Micro needs them, and its name."""
    from ..errors import ModelError
    from ..graph.tflite_edit import fold_fp16_dequantize
    from ..graph.tflite_schema import read_model
    from .common import resolve_tflite

    if input_shapes:
        raise ModelError(f"{spec}: --input-shape does not apply to .tflite models: their shapes are fixed in the file")
    path, name = resolve_tflite(spec)
    read_model(path)  # the clear errors for a missing or unreadable file
    with open(path, "rb") as f:
        return fold_fp16_dequantize(f.read(), name), name


def tflite_search(spec: str, input_shapes, max_overhead, budget_bytes, planner):
    from ..tiling.tflite_search import search_tflite

    data, name = tflite_data(spec, input_shapes)
    return search_tflite(data, max_overhead=max_overhead, budget=budget_bytes, source=name, plan=planner)


def tile_explicit(spec: str, input_shapes, grid: str, until: str):
    """``memplan tile MODEL.tflite --grid RxC --until NODE``: (Tiled, MACs of the model)."""
    from ..formats.tflm import load_bytes
    from ..graph.costs import total_macs
    from ..tiling.receptive_tflite import nchw_view
    from ..tiling.report import parse_grid
    from ..tiling.tflite_rewrite import tile_tflite

    shape = parse_grid(grid)
    data, name = tflite_data(spec, input_shapes)
    view = nchw_view(load_bytes(data, name))
    return tile_tflite(data, until, shape, source=name, view=view), total_macs(view)


def check_tflite_output(output: str) -> None:
    if not output.lower().endswith(".tflite"):
        raise InputError(f"-o {output}: a tiled .tflite model is written as .tflite")


def in_place_line(output: str) -> str:
    return f"for TFLite Micro to run memplan's plan (strips in place where it lowers the peak): " \
           f"memplan export-tflm {output} -o planned.tflite"


def verify_tiled(spec, outcome, input_seed: int, arena_size: int):
    """Run the original model in TFLM (its own planner) and the tiled one with memplan's
    offline plan on one seeded input: a `formats.tflm.Verification`."""
    from ..formats.tflm import export_model, load_bytes, verify

    data, name = tflite_data(spec, ())
    tiled = load_bytes(outcome.tiled.model, f"{name} (tiled)")
    return verify(data, export_model(tiled, outcome.plan), tiled, outcome.plan, seed=input_seed,
                  arena_size=arena_size)


def largest_difference(check) -> float:
    """The largest absolute difference between the two runs' outputs (inf if shapes differ)."""
    worst = 0.0
    for a, b in zip(check.tflm.outputs, check.memplan.outputs):
        if a.shape != b.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)), initial=0.0)))
    return worst


def print_tiled_check(spec, outcome, check) -> None:
    from rich.table import Table

    from ..tiling.report import tiling_lines

    out = _stdout()
    out.print("\n".join(tiling_lines(outcome)), highlight=False, markup=False)
    table = Table(title=f"{spec} in TFLite Micro: original (TFLM's planner) vs tiled (memplan's offline plan)",
                  title_justify="left")
    for col in ("run", "arena head", "tail", "outputs"):
        table.add_column(col, justify="left" if col in ("run", "outputs") else "right")
    same = "identical" if check.identical else f"DIFFERENT (max abs {largest_difference(check):.3g})"
    table.add_row("original, TFLM's own planner", f"{check.tflm.head:,}", f"{check.tflm.tail:,}", "reference")
    table.add_row("tiled, memplan's plan", f"{check.memplan.head:,}", f"{check.memplan.tail:,}", same)
    out.print(table)
    ratio = check.tflm.head / max(check.memplan.head, 1)
    out.print(f"tiled arena head {check.memplan.head:,} bytes: {ratio:.2f}x below TFLM's own arena for the original "
              f"({check.tflm.head:,}); memplan's planned arena {check.plan_arena:,}", highlight=False, markup=False)
