"""Choose the split and the grid: the smallest planned arena within a MACs overhead limit
(or, with a budget, the least overhead that fits), by branch and bound.

1. Plan the model untiled (``memplan.planner.plan``, its defaults): the arena to beat.
2. Every node whose ancestors are all tileable and whose stage has no tensor read after it
   (besides its output) is a split. For each split and each grid of ``GRIDS`` that fits its
   output, the receptive fields give the exact extra MACs (no rewrite needed) and a lower
   bound on any plan's arena: the largest of
   - one patch op's input and output regions (the biggest patch; Conv/pool inputs and outputs
     cannot share a buffer), a Slice of a graph input (the input stays whole) plus the slice,
   - the assembling Concat (every patch output plus the stage output: twice the output),
   - the ops after the stage (a Conv/pool/Gemm's inputs and output; the largest tensor
     elsewhere, since elementwise ops may write in place).
   A split is skipped outright when its floor (twice its output, the ops after it, and the
   file-order live bytes after it, which the rewrite leaves unchanged) reaches the untiled
   arena, and a grid over the MACs limit at one split is not tried at splits after it.
3. Screen: candidates are rewritten, read back, and measured by the live-bytes peak of
   their file order (patch after patch) in increasing bound order, until the best peak is at
   most the next bound (nothing left can beat it) or ``max_screens`` are done. The screen
   never runs the order search or an allocator, so it takes seconds.
4. The best ``max_plans`` (default 1) by that peak are planned with the full planner; the
   smallest arena wins (ties: fewer MACs), if it beats the untiled arena.

With ``budget``: candidates whose bound exceeds it are dropped, the rest are screened in
increasing overhead order keeping those whose peak fits, and planned in that order until one
fits.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..graph.costs import total_macs
from ..errors import InputError, ModelError
from ..graph.ir import Graph
from ..planner import Plan
from ..planner import plan as plan_graph
from .receptive import (WINDOW_OPS, Facts, activation_inputs, ancestors, find_stage, grid_needs, spatial_axes,
                        stage_macs)
from .rewrite import Tiled, graph_of, tile

GRID_FAMILIES = (((2, 1), (3, 1), (4, 1), (6, 1), (8, 1), (12, 1), (16, 1)),  # strips
                 ((2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (7, 7), (8, 8)))
GRIDS = tuple(g for family in GRID_FAMILIES for g in family)
DENSE_OPS = WINDOW_OPS | {"Gemm", "MatMul"}


@dataclass(frozen=True)
class Candidate:
    until: str
    grid: tuple[int, int]
    extra_macs: int
    lower_bound: int


@dataclass(frozen=True)
class Outcome:
    """The search's answer. ``tiled`` is None when no tiling lowers the arena (then
    ``graph``/``plan`` are the untiled ones)."""

    tiled: Tiled | None
    graph: Graph
    plan: Plan
    base_plan: Plan
    macs_before: int
    macs_after: int
    seconds: float
    candidates: int
    planned: int
    budget: int | None = None
    search_seconds: float = 0.0  # up to the full plans (candidates and screen)
    screened: int = 0
    limit: float = 0.15

    @property
    def overhead(self) -> float:
        return self.macs_after / self.macs_before - 1 if self.macs_before else 0.0

    @property
    def fits(self) -> bool | None:
        return None if self.budget is None else self.plan.arena_bytes <= self.budget


def check_overhead(max_overhead: float) -> None:
    if not 0 <= max_overhead <= 10:
        raise InputError(f"--max-overhead {max_overhead:g}: must be between 0 and 10 (a fraction: 0.15 = 15% more MACs)")


def splits(graph: Graph, facts: Facts) -> list[int]:
    """Indices of ops that can end a tiled stage (see the module docstring)."""
    ok: list[bool] = []
    anc: list[int] = []
    for i, op in enumerate(graph.ops):
        prods = [graph.producer[t] for t in facts.ins[i] if t in graph.producer]
        ok.append(facts.reason[i] is None and all(ok[p] for p in prods)
                  and all(t in graph.inputs for t in facts.ins[i] if t not in graph.producer))
        mask = 1 << i
        for p in prods:
            mask |= anc[p]
        anc.append(mask)
    leaves = [0] * len(graph.ops)  # ops reading each op's outputs (a bit mask)
    for i, op in enumerate(graph.ops):
        for t in op.outputs:
            for c in graph.consumers.get(t, ()):
                leaves[i] |= 1 << c
            if t in graph.outputs:
                leaves[i] |= 1 << len(graph.ops)  # "read" after the graph
    result = []
    for u in range(len(graph.ops)):
        if not ok[u] or len(graph.tensors[graph.ops[u].outputs[0]].shape) != 4:
            continue
        members = anc[u]
        inside = members & ~(1 << u)
        if all(leaves[j] & ~members == 0 for j in _bits(inside)):
            result.append(u)
    return result


def _bits(mask: int):
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def op_bound(graph: Graph, op) -> int:
    """Bytes that must be live at once while ``op`` runs, under any sharing."""
    sizes = [graph.tensors[t].nbytes for t in activation_inputs(graph, op)]
    outs = [graph.tensors[t].nbytes for t in op.outputs if t]
    if op.op_type in DENSE_OPS:
        return sum(sizes) + sum(outs)
    return max(sizes + outs, default=0)


def rest_bounds(graph: Graph, members_of) -> dict[int, int]:
    """Per split: the largest op bound after the stage."""
    bounds = [op_bound(graph, op) for op in graph.ops]
    return {u: max((b for i, b in enumerate(bounds) if i not in members), default=0)
            for u, members in members_of.items()}


def rest_peaks(graph: Graph) -> list[int]:
    """Per op: the file-order live-bytes peak after it. The tiled model's file order runs
    the same ops with the same tensors after the stage, so this is a floor of the screen's
    measure for every grid of a split at that op."""
    from ..memory_model import Sharing
    from ..order.schedule import order_and_storage

    sched, model = order_and_storage(graph, "file", sharing=Sharing())
    profile = model.profile(sched.order)
    tail = [0] * (len(profile) + 1)
    for s in range(len(profile) - 1, -1, -1):
        tail[s] = max(tail[s + 1], profile[s])
    step = {op: s for s, op in enumerate(sched.order)}
    return [tail[step[i] + 1] for i in range(len(graph.ops))]


def candidate_bound(graph: Graph, stage, row_needs, col_needs) -> int:
    """The lower bound of step 2 for one (split, grid), without the ops after the stage."""
    def region_bytes(t, key_rows, key_cols):
        shape, (ax_r, ax_c) = graph.tensors[t].shape, spatial_axes(graph, stage, t)
        h = max(key_rows(n, t) for n in row_needs)
        w = max(key_cols(n, t) for n in col_needs)
        return graph.tensors[t].nbytes * h * w // (shape[ax_r] * shape[ax_c])

    extent = lambda n, t: n.extent[t][1] - n.extent[t][0]
    bound = 2 * graph.tensors[stage.output].nbytes
    for x in stage.inputs:
        bound = max(bound, graph.tensors[x].nbytes + region_bytes(x, extent, extent))
    for i, out, reads in stage.steps:
        outs = region_bytes(out, extent, extent)
        ins = []
        for t in reads:
            read = lambda n, t, i=i: n.reads[(i, t)][1] - n.reads[(i, t)][0]
            ins.append(region_bytes(t, read, read))
        bound = max(bound, sum(ins) + outs if graph.ops[i].op_type in DENSE_OPS else max(ins + [outs]))
    return bound


def candidates(graph: Graph, max_overhead: float, *, skip_at_least: int | None = None,
               families=GRID_FAMILIES, output_copies: int = 2, bound=None) -> list[Candidate]:
    """Every (split, grid) within the overhead limit, with its bound; those whose bound is
    at least ``skip_at_least`` (the untiled arena) are dropped: they cannot help.
    ``output_copies``: how many stage outputs the floor counts (2: patches assembled by a
    copy; 1: written in place). ``bound`` is the stage's bound (default `candidate_bound`)."""
    bound_of = bound or candidate_bound
    macs = total_macs(graph)
    facts = Facts(graph)
    ends = splits(graph, facts)
    members_of = {u: ancestors(graph, u) for u in ends}
    rest = rest_bounds(graph, members_of)
    after = rest_peaks(graph)
    # A grid over the limit at a split is over it at every later split that contains this
    # stage (halos only grow): ``over[grid]`` collects those splits.
    over = {grid: set() for family in families for grid in family}
    found = []
    for u in ends:
        name = graph.ops[u].name
        out = graph.tensors[graph.ops[u].outputs[0]]
        floor = max(rest[u], output_copies * out.nbytes, after[u])
        if skip_at_least is not None and floor >= skip_at_least:
            continue
        stage, memo = find_stage(graph, name, facts), {}
        rows, cols = out.shape[-2], out.shape[-1]
        for family in families:  # coarse to fine: the first over the limit ends the family
            for grid in family:
                if grid[0] > rows or grid[1] > cols or not over[grid].isdisjoint(members_of[u]):
                    break
                try:
                    row_needs, col_needs = grid_needs(graph, stage, grid, memo)
                except ModelError:  # a patch would read nothing: the grid is too fine here
                    break
                whole, tiled = stage_macs(graph, stage, row_needs, col_needs, facts)
                extra = tiled - whole
                if extra > max_overhead * macs:
                    over[grid].add(u)
                    break
                least = max(floor, bound_of(graph, stage, row_needs, col_needs))
                if skip_at_least is None or least < skip_at_least:
                    found.append(Candidate(name, grid, extra, least))
    return found


def tiled_graph(tiled: Tiled, source: str) -> Graph:
    """The tiled model read back exactly as ``memplan plan tiled.onnx`` reads the file."""
    import onnx

    return graph_of(onnx.load_from_string(tiled.model.SerializeToString()), source=source)


def order_peak(graph: Graph) -> int:
    """Live-bytes peak of the file order (patch after patch) under the default sharing: the
    quick screen before the full planner (the planner's order is never worse)."""
    from ..memory_model import Sharing
    from ..order.schedule import order_and_storage

    return order_and_storage(graph, "file", sharing=Sharing())[0].peak


LIGHT_ELEMENTS = 1024


def light_model(model):
    """``model`` with every float initializer above ``LIGHT_ELEMENTS`` elements built by a
    ``ConstantOfShape`` node instead (as the zoo's light models are): the same graph, shapes
    and weight sizes, so the same plans, at a fraction of the bytes. Every node is named first
    (with the importer's names), so that names do not move. ``model`` itself when nothing is
    large."""
    import onnx
    from onnx import helper, numpy_helper

    from .rewrite import _node_names

    big = [t for t in model.graph.initializer if t.data_type in (1, 10, 11, 16) and _numel(t.dims) > LIGHT_ELEMENTS]
    if not big:
        return model
    light = onnx.ModelProto()
    light.CopyFrom(model)
    g = light.graph
    for node, name in zip(g.node, _node_names(list(g.node))):
        node.name = name
    names = {t.name for t in big}
    keep = [t for t in g.initializer if t.name not in names]
    nodes = []
    for t in big:
        dims = numpy_helper.from_array(np.array(list(t.dims), dtype=np.int64), f"{t.name}__shape")
        keep.append(dims)
        zero = helper.make_tensor("value", t.data_type, [1], [0])
        nodes.append(helper.make_node("ConstantOfShape", [dims.name], [t.name], name=f"{t.name}__light", value=zero))
    del g.initializer[:]
    g.initializer.extend(keep)
    rest = list(g.node)
    del g.node[:]
    g.node.extend(nodes + rest)
    declared = [i for i in g.input if i.name not in names]  # IR < 4 lists initializers as inputs
    del g.input[:]
    g.input.extend(declared)
    return light


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def search(model, *, max_overhead: float = 0.15, budget: int | None = None, max_screens: int = 40,
           max_plans: int = 1, source: str = "<model>", plan=plan_graph, convert=None) -> Outcome:
    """The best tiling of ``model`` (an onnx.ModelProto); see the module docstring. ``plan``
    is the full planner (``memplan.planner.plan`` with its defaults, or the CLI's options).
    ``convert`` (Graph -> Graph, e.g. ``with_dtype(g, "int8")``) is applied to every graph
    read, untiled and tiled, before it is measured or planned."""
    check_overhead(max_overhead)
    start = time.perf_counter()
    real = model
    model = light_model(model)  # the screen copies and re-reads the model many times
    if convert is not None:
        read = lambda m, source: convert(graph_of(m, source=source))  # noqa: E731
        read_tiled = lambda t, source: convert(tiled_graph(t, source))  # noqa: E731
    else:
        read, read_tiled = graph_of, tiled_graph
    graph = read(model, source=source)
    base = plan(graph, model=source)
    macs = total_macs(graph)
    found = candidates(graph, max_overhead, skip_at_least=base.arena_bytes)
    screened = _screen(model, graph, found, budget, max_screens, source, read_tiled)
    search_seconds = time.perf_counter() - start
    best = None  # (arena, extra macs, tiled, graph, plan)
    planned = 0
    real_graph = None
    for peak, cand, tiled, g in screened[:max_plans if budget is None else max(max_plans, 3)]:
        if real is not model:  # the chosen tiling, now with the real weights
            real_graph = real_graph or read(real, source=source)
            tiled = tile(real, cand.until, cand.grid, graph=real_graph)
            g = read_tiled(tiled, f"{source} (tiled)")
        p = plan(g, model=f"{source} (tiled)")
        planned += 1
        key = (p.arena_bytes, cand.extra_macs)
        if best is None or key < best[:2]:
            best = (*key, tiled, g, p)
        if budget is not None and p.arena_bytes <= budget:
            break
    seconds = time.perf_counter() - start
    if best is None or best[0] >= base.arena_bytes:
        if real is not model:
            graph = real_graph or read(real, source=source)
            base = plan(graph, model=source)
        return Outcome(None, graph, base, base, macs, macs, seconds, len(found), planned, budget, search_seconds,
                       len(screened), max_overhead)
    _, extra, tiled, g, p = best
    return Outcome(tiled, g, p, base, macs, macs + extra, seconds, len(found), planned, budget, search_seconds,
                       len(screened), max_overhead)


def screen_order(found, budget: int | None) -> list:
    """The candidates in the order the screen tries them: without a budget, smallest bound
    first; with one, those whose bound fits, least overhead first."""
    if budget is None:
        return sorted(found, key=lambda c: (c.lower_bound, c.extra_macs, c.until, c.grid))
    return sorted((c for c in found if c.lower_bound <= budget), key=lambda c: (c.extra_macs, c.lower_bound))


def screen_done(screened, cand, budget: int | None) -> bool:
    """Without a budget, stop once the best peak screened is at most the next bound."""
    return budget is None and bool(screened) and min(s[0] for s in screened) <= cand.lower_bound


def _screen(model, graph, found, budget, max_screens, source, read_tiled=tiled_graph):
    """Rewrite candidates and measure their file-order peak, best first. Without a budget:
    in increasing bound order, until the best peak is at most the next bound. With one: in
    increasing overhead order, keeping those whose peak fits."""
    screened = []
    for cand in screen_order(found, budget)[:max_screens]:
        if screen_done(screened, cand, budget):
            break
        tiled = tile(model, cand.until, cand.grid, graph=graph)
        g = read_tiled(tiled, f"{source} (tiled)")
        peak = order_peak(g)
        if budget is None or peak <= budget:
            screened.append((peak, cand, tiled, g))
    if budget is None:
        screened.sort(key=lambda s: (s[0], s[1].extra_macs))
    return screened
