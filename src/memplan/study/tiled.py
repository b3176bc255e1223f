"""The ``tiled`` study stage: patch-based execution (`memplan.tiling`) under the cell's budget.

Per cell (model, dtype, budget), with the study's planner (``order``: the better of the
heuristic and the file order, sharing on):

1. the untiled plan (the ``order`` stage). If it fits the budget, that is the answer: the
   least overhead that fits is none (``tiling`` empty, ``note`` "fits untiled");
2. else the least-overhead tiling whose planned arena fits the budget (``search`` with the
   budget, within ``GridSettings.max_overhead`` extra MACs);
3. else the smallest arena within that overhead (``search`` without a budget), which does not
   fit but says how close tiling comes.

The cell then holds the tiled arena (``arena_bytes``), the untiled one (``untiled_bytes``),
the extra MACs (``macs_overhead``, 0.07 = 7% more) and the split and grid (``tiling``, e.g.
``n46 3x3``). The dtype of the cell applies to every graph the search reads.

A model the tiling cannot handle is an ``ok`` cell with the untiled plan and the reason in
``note`` (a model whose stages cannot be tiled, or where no tiling lowers the arena). ONNX
models are tiled in patches (`memplan.tiling.search`), ``.tflite`` ones in NHWC row strips
(`memplan.tiling.tflite_search`): so the stage's fit share is never below the
``order`` stage's, and "fits only when tiled" compares like with like. A real failure (the
model does not load or plan) is a failed cell, as in every stage.
"""
from __future__ import annotations

from ..errors import MemplanError
from .stages import Stage, StageInput, _ordered, register_stage


def run_tiled(x: StageInput):
    """(graph planned, Plan, extra cell fields) of one ``tiled`` cell; see the module docstring."""
    graph, untiled = _ordered(x.graph, x.settings)
    info = {"untiled_bytes": untiled.arena_bytes, "macs_overhead": 0.0, "tiling": "", "note": ""}
    if x.budget and untiled.arena_bytes <= x.budget:
        return graph, untiled, {**info, "note": "fits untiled"}
    try:
        outcome = _search(x, x.budget or None)
        if outcome.tiled is None or not outcome.fits:
            smallest = _search(x, None) if x.budget else outcome
    except MemplanError as exc:  # the model planned untiled; only its tiling is refused
        return graph, untiled, {**info, "note": f"untiled: {exc}"}
    if outcome.tiled is None or not outcome.fits:
        if outcome.tiled is None or smallest.plan.arena_bytes < outcome.plan.arena_bytes:
            outcome = smallest
    if outcome.tiled is None:
        return graph, untiled, {**info, "note": f"untiled: no tiling lowers the arena within "
                                                f"{x.settings.max_overhead:.0%} extra MACs "
                                                f"({outcome.candidates} candidates)"}
    t = outcome.tiled
    return outcome.graph, outcome.plan, {**info, "macs_overhead": round(outcome.overhead, 6),
                                         "tiling": f"{t.until} {t.grid[0]}x{t.grid[1]}"}


def _search(x: StageInput, budget: int | None):
    from ..graph.quantize import with_dtype
    from ..tiling import load_proto
    from ..tiling.search import search

    s = x.settings
    convert = None if x.dtype == "fp32" else (lambda g: with_dtype(g, x.dtype))
    planner = lambda g, model: _ordered(g, s)[1]  # noqa: E731
    if x.path.lower().endswith(".tflite"):  # NHWC row strips, as `memplan tile` writes them
        from ..graph.tflite_edit import fold_fp16_dequantize
        from ..tiling.tflite_search import search_tflite

        with open(x.path, "rb") as f:
            data = fold_fp16_dequantize(f.read(), x.graph.name)
        return search_tflite(data, max_overhead=s.max_overhead, budget=budget, source=x.graph.name,
                             plan=planner, convert=convert)
    return search(load_proto(x.path), max_overhead=s.max_overhead, budget=budget, source=x.graph.name,
                  plan=planner, convert=convert)


register_stage(Stage("tiled", run_tiled, "patch-based execution: the least-overhead tiling that fits the budget "
                     "(else the smallest arena within max_overhead)", uses_budget=True))
