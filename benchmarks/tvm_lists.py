"""TVM-style workspace buffer lists from the zoo, planned by every algorithm.

TVM USMP hands its planners a list of ``BufferInfo``: a size, a 16-byte alignment, the
``global_workspace`` pool and the list of buffers each one conflicts with (from liveness).
We make such lists from the zoo: each model in file order (the order of its ONNX graph),
BatchNorm and activations written in place over their input (TVM's fusion keeps them in
one buffer), views sharing their input, no concat built in place (TVM copies), inputs and outputs outside
the workspace (TVM keeps I/O apart), and every pair of buffers live at one step as a
conflict, written in both lists. No lifetimes are given: only the lists.

Per list: buffers, the bound (heaviest clique; exact, the lists being an interval graph),
each algorithm's workspace size and seconds, and `best`'s status and seconds.

    .venv/bin/python benchmarks/tvm_lists.py [--models densenet121,resnet50] [--time-limit 10]
        [--export DIR]   # also write each list as memplan.problem/1 JSON, for `memplan alloc`
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from memplan.alloc import solve  # noqa: E402
from memplan.alloc.bounds import bound_name  # noqa: E402
from memplan.memory_model import Sharing  # noqa: E402
from memplan.lifetimes import buffers  # noqa: E402
from memplan.problem import Block, Problem  # noqa: E402
from memplan.order.schedule import order_and_storage  # noqa: E402
from memplan.graph.zoo import MODELS  # noqa: E402

ALGORITHMS = ["greedy_by_size", "greedy_by_conflicts", "hill_climb", "tflm_greedy", "best_fit", "exact", "best"]
POOL = "global_workspace"
SHARING = Sharing(views=True, inplace=True, concat=False)


def workspace_list(model: str) -> Problem:
    import memplan

    graph = memplan.load(f"zoo:{model}")
    sched, storage = order_and_storage(graph, "file", sharing=SHARING, io_in_arena=False)
    bufs = buffers(graph, sched, io_in_arena=False, model=storage)
    names = [f"sid_{b.id}" for b in bufs]
    lists: list[list[str]] = [[] for _ in bufs]
    for i, a in enumerate(bufs):
        for j in range(i + 1, len(bufs)):
            b = bufs[j]
            if a.first <= b.last and b.first <= a.last:
                lists[i].append(names[j])
                lists[j].append(names[i])
    blocks = tuple(Block(n, b.size, alignment=16, conflicts=tuple(c), pools=(POOL,))
                   for n, b, c in zip(names, bufs, lists))
    return Problem(blocks, pools=((POOL, None),), directed=True)


def export(problem: Problem, path: str) -> None:
    doc = {"format": "memplan.problem/1", "pools": {POOL: None}, "directed_conflicts": True,
           "buffers": [{"id": b.id, "size": b.size, "alignment": b.alignment, "pools": [POOL],
                        "conflicts": list(b.conflicts)} for b in problem.blocks]}
    with open(path, "w") as f:
        json.dump(doc, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--time-limit", type=float, default=10.0, help="seconds for exact and best")
    parser.add_argument("--export", default=None, metavar="DIR")
    args = parser.parse_args()
    from memplan.alloc.exact import warm_up

    warm_up()  # load the compiled kernel once, outside every time
    head = ["list", "buffers", "bound"] + ALGORITHMS + ["best status"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for model in args.models.split(","):
        problem = workspace_list(model)
        if args.export:
            os.makedirs(args.export, exist_ok=True)
            export(problem, os.path.join(args.export, f"{model}.json"))
        cells, status, bound = [], "", 0
        for name in ALGORITHMS:
            options = {"time_limit": args.time_limit} if name in ("exact", "best") else {}
            start = time.perf_counter()
            sol = solve(problem, name, **options)
            seconds = time.perf_counter() - start
            bound = max(bound, sol.bound)
            cells.append(f"{sol.cost(problem):,} ({seconds:.2f} s)" if sol.offsets else f"- ({sol.status})")
            if name == "best":
                status = f"{sol.status} ({seconds:.2f} s)"
        print(f"| {model} | {len(problem.blocks)} | {bound:,} | " + " | ".join(cells) + f" | {status} |")
    print(f"\nbound: {bound_name(problem)}")


if __name__ == "__main__":
    main()
