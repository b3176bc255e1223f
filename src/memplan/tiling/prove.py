"""Proof by execution of a tiled plan: the tiled model runs inside its planned arena
(`memplan.verify.executor`) and its outputs are compared with onnxruntime running the
*original* model on the same seeded inputs and the same weights.

Every intermediate is also checked right after it is written, against onnxruntime running
the tiled model (the patches have no counterpart in the original); the assembled stage
output is checked against the original model's tensor of the same name. A plan that frees
a patch's tensor too early, or a rewrite that reads the wrong region, cannot pass.
"""
from __future__ import annotations

import os
import tempfile
import time

from ..verify.executor import run_in_arena
from ..verify.prove import Proof, compare
from ..verify.reference import make_inputs, reference_outputs


def prove_tiled(original_path: str, tiled_model, graph, plan, *, stage_output: str | None = None, seed: int = 0,
                rtol: float = 1e-4, atol: float = 1e-5, poison: bool = True) -> Proof:
    """``graph``/``plan``: the tiled model's. ``original_path``: the untiled model file."""
    import onnx

    inputs = make_inputs(graph, seed)
    produced = tuple(graph.tensors[t] for op in graph.ops for t in op.outputs
                     if t and t not in graph.outputs and t != stage_output)
    start = time.perf_counter()
    extra = (graph.tensors[stage_output],) if stage_output and stage_output not in graph.outputs else ()
    original = reference_outputs(original_path, inputs, extra=extra)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiled.onnx")
        onnx.save(tiled_model, path)
        own = reference_outputs(path, inputs, extra=produced)
    ref_seconds = time.perf_counter() - start
    checked = []

    def observe(name, value):
        if name in graph.outputs:
            return
        ref = original.get(name) if name == stage_output else own.get(name)
        if ref is not None:
            checked.append(compare(name, value, ref, rtol, atol, scaled=True))

    run = run_in_arena(graph, plan, inputs, poison=poison, observe=observe)
    diffs = tuple(compare(name, run.outputs[name], original[name], rtol, atol) for name in graph.outputs)
    return Proof(diffs, tuple(checked), run.seconds, ref_seconds)
