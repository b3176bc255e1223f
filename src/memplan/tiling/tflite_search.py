"""``--tile auto`` for ``.tflite`` models: the split and the row-strip grid with the smallest
planned arena within a MACs overhead limit (or, with a budget, the least overhead that fits).

The same branch and bound as `search` (see there), on the model's NCHW view
(`receptive_tflite.nchw_view`) and with the strip grids of ``GRID_FAMILIES[0]`` only, with
two differences that come from NHWC strips written in place:

- the assembly costs the stage output once, not twice (the strips are slices of it);
- TFLite Micro shares no storage between an op's inputs and its output (no in-place
  elementwise ops), so a strip op needs its inputs and its output live together.

Candidates are rewritten (`tflite_rewrite.tile_tflite`), read back exactly as ``memplan plan
tiled.tflite`` reads them, and screened by their file-order peak; the best is planned with
the full planner. MACs are counted on the view (`memplan.graph.costs`).
"""
from __future__ import annotations

import time

from ..errors import ModelError
from ..graph.costs import total_macs
from ..planner import plan as plan_graph
from .receptive_tflite import nchw_view
from .search import (GRID_FAMILIES, Candidate, Outcome, candidates, check_overhead, order_peak, screen_done,
                     screen_order)
from .tflite_rewrite import tile_tflite

STRIPS = GRID_FAMILIES[0]


def strip_bound(view, stage, row_needs, col_needs) -> int:
    """A lower bound on the arena of one (split, grid) inside the stage: the stage output,
    and every strip op's input regions plus its output region (the largest strip)."""
    def region_bytes(t, rows_of, cols_of):
        shape = view.tensors[t].shape
        h = max(rows_of(n) for n in row_needs)
        w = max(cols_of(n) for n in col_needs)
        return view.tensors[t].nbytes * h * w // (shape[-2] * shape[-1])

    bound = view.tensors[stage.output].nbytes
    for x in stage.inputs:  # a graph input stays whole while its slices are read
        bound = max(bound, view.tensors[x].nbytes)
    for i, out, reads in stage.steps:
        size = lambda n, t=out: n.extent[t][1] - n.extent[t][0]
        total = region_bytes(out, size, size)
        for t in reads:
            read = lambda n, t=t, i=i: n.reads[(i, t)][1] - n.reads[(i, t)][0]
            total += region_bytes(t, read, read)
        bound = max(bound, total)
    return bound


def strip_candidates(view, max_overhead: float, *, skip_at_least: int | None = None) -> list[Candidate]:
    """Every (split, strip grid) within the overhead limit, with its bound (`search.candidates`
    over strips only: the strips are written in place, so the floor counts the output once)."""
    return candidates(view, max_overhead, skip_at_least=skip_at_least, families=(STRIPS,), output_copies=1,
                      bound=strip_bound)


def search_tflite(data: bytes, *, max_overhead: float = 0.15, budget: int | None = None, max_screens: int = 40,
                  max_plans: int = 1, source: str = "<tflite>", plan=plan_graph, convert=None) -> Outcome:
    """The best strip tiling of the ``.tflite`` ``data`` (already folded for TFLM); the
    `Outcome`'s ``tiled.model`` is the tiled file's bytes, its ``graph`` that file's graph.
    ``convert`` (Graph -> Graph, e.g. a dtype what-if) applies to every graph measured or planned."""
    from ..formats.tflm import load_bytes

    check_overhead(max_overhead)
    convert = convert or (lambda g: g)
    start = time.perf_counter()
    tfl = load_bytes(data, source)
    view = nchw_view(tfl)
    untiled = convert(tfl.graph)
    base = plan(untiled, model=source)
    macs = total_macs(view)
    found = strip_candidates(view, max_overhead, skip_at_least=base.arena_bytes)
    screened = []
    for cand in screen_order(found, budget)[:max_screens]:
        if screen_done(screened, cand, budget):
            break
        try:
            tiled = tile_tflite(data, cand.until, cand.grid, source=source, view=view)
        except ModelError:  # e.g. an average pool a strip would pad on one side
            continue
        graph = convert(load_bytes(tiled.model, f"{source} (tiled)").graph)
        peak = order_peak(graph)
        if budget is None or peak <= budget:
            screened.append((peak, cand, tiled, graph))
    if budget is None:
        screened.sort(key=lambda s: (s[0], s[1].extra_macs))
    search_seconds = time.perf_counter() - start
    best, planned = None, 0
    for peak, cand, tiled, graph in screened[:max_plans if budget is None else max(max_plans, 3)]:
        p = plan(graph, model=f"{source} (tiled)")
        planned += 1
        if best is None or (p.arena_bytes, cand.extra_macs) < best[:2]:
            best = (p.arena_bytes, cand.extra_macs, tiled, graph, p)
        if budget is not None and p.arena_bytes <= budget:
            break
    seconds = time.perf_counter() - start
    if best is None or best[0] >= base.arena_bytes:
        return Outcome(None, untiled, base, base, macs, macs, seconds, len(found), planned, budget,
                       search_seconds, len(screened), max_overhead)
    _, extra, tiled, graph, p = best
    return Outcome(tiled, graph, p, base, macs, macs + extra, seconds, len(found), planned, budget,
                   search_seconds, len(screened), max_overhead)
