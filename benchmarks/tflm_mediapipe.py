"""memplan's plan inside TensorFlow Lite Micro on the real mediapipe models.

    .venv/bin/python benchmarks/tflm_mediapipe.py [--models a,b] [--orders file,heuristic]

For every mediapipe model TFLM can run (float16 weights folded to float32 first), on one
seeded input: TFLM with its own GreedyMemoryPlanner, then TFLM with memplan's offline plan
(``--algorithm best``: memplan's portfolio, TFLM's own greedy among its heuristics, then
``exact`` in the time left) for each order; a non-file order is written into the model's
operator order. Heads are what TFLM reports ("Arena allocation head"); LB is the lower bound of the order memplan used
(largest total of live tensors, 16-byte aligned); "same" means every output is bitwise
identical to TFLM's own run. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import time

from memplan.graph import mediapipe
from memplan.formats import tflm
from memplan.graph import tflite_edit
from memplan.planner import plan


def best_plan(graph, order: str, time_limit: float):
    return plan(graph, algorithm="best", order=order, time_limit=time_limit,
                order_options={"time_limit": time_limit})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(mediapipe.TFLM_MODELS))
    parser.add_argument("--orders", default="file,heuristic", help="memplan orders to run, e.g. file,heuristic")
    parser.add_argument("--time-limit", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    orders = [o for o in args.orders.split(",") if o]
    head = ["model", "ops", "TFLM head", "LB (file order)"]
    for o in orders:
        head += [f"memplan head ({o})", f"vs TFLM ({o})", f"LB ({o})", f"algorithm ({o})", f"same ({o})"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for name in [m for m in args.models.split(",") if m]:
        start = time.perf_counter()
        with open(mediapipe.model_path(name), "rb") as f:
            data = tflite_edit.fold_fp16_dequantize(f.read(), name)
        tfl = tflm.load_bytes(data, name)
        inputs = tflm.seeded_inputs(tfl, args.seed)
        own = tflm.run(data, inputs)
        file_lb = plan(tfl.graph, algorithm="naive", order="file").lower_bound_bytes
        row = [name, str(len(tfl.graph.ops)), f"{own.head:,}", f"{file_lb:,}"]
        for order in orders:
            p = best_plan(tfl.graph, order, args.time_limit)
            ours = tflm.run(tflm.export_model(tfl, p), inputs)
            same = len(ours.outputs) == len(own.outputs) and all(
                a.tobytes() == b.tobytes() for a, b in zip(ours.outputs, own.outputs))
            row += [f"{ours.head:,}", f"{(ours.head - own.head) / own.head:+.1%}", f"{p.lower_bound_bytes:,}",
                    p.stats.get("winner") or p.algorithm, "yes" if same else "NO"]
        print("| " + " | ".join(row) + " |", flush=True)
        print(f"<!-- {name}: {time.perf_counter() - start:.1f} s -->", flush=True)


if __name__ == "__main__":
    main()
