"""Planning tiled models: the order search with the patches chained patch after patch
(`memplan.order.heuristic.patch_frontier`, the default) against the search that may
interleave them (``chain_patches=False``, the code before), in the same run.

    .venv/bin/python benchmarks/tiled_planning.py [--cases resnet50:n46:8x8,...] [--auto resnet50,...]

Per case: ``memplan tile zoo:MODEL --grid GRID --until NODE`` read back as ``memplan plan
tiled.onnx`` reads it, planned with ``memplan.planner.plan``'s defaults both ways (wall
seconds, arena). With ``--auto``: the whole ``memplan plan zoo:MODEL --tile auto`` search
(untiled plan, candidates, screen, the one full plan) both ways. The ratio is before / after.
"""
from __future__ import annotations

import argparse
import time

from memplan.graph.zoo import zoo_path
from memplan.planner import plan
from memplan.tiling import load_proto, tile
from memplan.tiling.report import parse_grid
from memplan.tiling.rewrite import graph_of
from memplan.tiling.search import search, tiled_graph


def planner(chain: bool):
    return lambda g, model="<model>": plan(g, model=model, order_options={"chain_patches": chain})


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="resnet50:n46:8x8,resnet50:n46:4x4,squeezenet:n18:5x5")
    parser.add_argument("--auto", default="resnet50")
    args = parser.parse_args(argv)
    print("| case | ops | arena before | arena after | s before | s after | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for case in filter(None, args.cases.split(",")):
        name, until, grid = case.split(":")
        proto = load_proto(zoo_path(name))
        g = tiled_graph(tile(proto, until, parse_grid(grid), graph=graph_of(proto)), f"zoo:{name} (tiled)")
        before, s0 = timed(lambda g=g: planner(False)(g))
        after, s1 = timed(lambda g=g: planner(True)(g))
        print(f"| plan tiled zoo:{name} {until} {grid} | {len(g.ops)} | {before.arena_bytes:,} | "
              f"{after.arena_bytes:,} | {s0:.1f} | {s1:.1f} | {s0 / s1:.1f}x |", flush=True)
    for name in filter(None, args.auto.split(",")):
        proto = load_proto(zoo_path(name))
        before, s0 = timed(lambda p=proto, n=name: search(p, source=f"zoo:{n}", plan=planner(False)))
        after, s1 = timed(lambda p=proto, n=name: search(p, source=f"zoo:{n}", plan=planner(True)))
        t = after.tiled
        print(f"| plan zoo:{name} --tile auto ({t.until} {t.grid[0]}x{t.grid[1]}) | {len(after.graph.ops)} | "
              f"{before.plan.arena_bytes:,} | {after.plan.arena_bytes:,} | {s0:.1f} | {s1:.1f} | {s0 / s1:.1f}x |",
              flush=True)


if __name__ == "__main__":
    main()
