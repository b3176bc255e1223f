"""Run every zoo model (random weights, seed 0) inside its planned arena and in
onnxruntime; print the executor time, onnxruntime's time, their ratio and the errors.

    .venv/bin/python benchmarks/verify_zoo.py [--models resnet50,...] [--algorithm NAME]

The executor is NumPy with im2col convolutions, poisoning every free byte before each step
and copying each intermediate out for comparison; onnxruntime runs with basic graph
optimisations and every intermediate exposed as an output; its time includes loading the
model and building the session (large for the 230-550 MB fully connected weights of AlexNet,
VGG-19 and ZFNet). Relative errors count only entries whose reference exceeds atol.
"""
from __future__ import annotations

import argparse
import tempfile

import memplan
from memplan.verify.prove import prove
from memplan.verify.reference import randomize_weights
from memplan.graph.zoo import MODELS, zoo_path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--algorithm", default=None, help="allocation algorithm (default: memplan's default)")
    args = parser.parse_args(argv)
    options = {"algorithm": args.algorithm} if args.algorithm else {}
    print("| model | arena bytes | algorithm | tensors checked | max abs err | max rel err (output) "
          "| executor s | onnxruntime s | executor / ort | match |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models.split(","):
            path = randomize_weights(zoo_path(name), f"{tmp}/{name}.onnx", seed=0)
            graph = memplan.load(path)
            plan = memplan.plan(graph, **options)
            proof = prove(path, graph, plan, seed=0)
            out = proof.diffs[0]
            print(f"| {name} | {plan.arena_bytes:,} | {plan.algorithm} | {len(proof.intermediates) + len(proof.diffs)} "
                  f"| {out.max_abs:.2e} | {out.max_rel:.2e} | {proof.arena_seconds:.2f} "
                  f"| {proof.reference_seconds:.2f} | {proof.arena_seconds / proof.reference_seconds:.1f} "
                  f"| {'yes' if proof.ok else 'NO'} |", flush=True)


if __name__ == "__main__":
    main()
