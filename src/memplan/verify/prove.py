"""Plan, run in the arena, run onnxruntime, compare: the whole proof as one function."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .executor import run_in_arena
from .reference import make_inputs, reference_outputs


@dataclass(frozen=True)
class OutputDiff:
    name: str
    max_abs: float
    max_rel: float
    ok: bool


@dataclass(frozen=True)
class Proof:
    """``diffs``: one per graph output. ``intermediates``: every activation compared right
    after the op that wrote it; the first that fails points at the op that read a clobbered
    input (softmax outputs of deep random networks saturate, so outputs alone are weak)."""

    diffs: tuple[OutputDiff, ...]
    intermediates: tuple[OutputDiff, ...]
    arena_seconds: float
    reference_seconds: float

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.diffs) and all(d.ok for d in self.intermediates)

    @property
    def first_failure(self) -> OutputDiff | None:
        return next((d for d in self.intermediates + self.diffs if not d.ok), None)


def compare(name: str, ours: np.ndarray, ref: np.ndarray, rtol: float, atol: float, *,
            scaled: bool = False) -> OutputDiff:
    """Elementwise ``|ours - ref| <= atol + rtol * |ref|``; with ``scaled``, the tolerance is
    relative to the tensor's largest magnitude instead (for intermediates, whose near-zero
    entries carry float summation noise while a clobbered value is off by far more)."""
    if ours.shape != ref.shape:
        return OutputDiff(name, float("inf"), float("inf"), False)
    a, b = ours.astype(np.float64), ref.astype(np.float64)
    err = np.abs(a - b)
    err = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(a) | np.isnan(b), np.inf, err))
    max_abs = float(err.max(initial=0.0))
    # Relative error only where the reference is above atol: next to an exact zero any
    # rounding difference is "infinitely" relative and says nothing.
    meaningful = np.abs(b) > atol
    max_rel = float((err[meaningful] / np.abs(b[meaningful])).max(initial=0.0))
    scale = float(np.abs(b).max(initial=0.0)) if scaled else np.abs(b)
    ok = bool(np.all(err <= atol + rtol * scale))
    return OutputDiff(name, max_abs, max_rel, ok)


def prove(model_path: str, graph, plan, *, seed: int = 0, rtol: float = 1e-4, atol: float = 1e-5,
          poison: bool = True, intermediates: bool = True) -> Proof:
    """Run ``plan`` in its arena and onnxruntime on the same seeded input; compare outputs."""
    inputs = make_inputs(graph, seed)
    produced = tuple(graph.tensors[t] for op in graph.ops for t in op.outputs if t and t not in graph.outputs)
    start = time.perf_counter()
    ref = reference_outputs(model_path, inputs, extra=produced if intermediates else ())
    ref_seconds = time.perf_counter() - start
    checked: list[OutputDiff] = []

    def observe(name, value):
        if name in ref and name not in graph.outputs:
            checked.append(compare(name, value, ref[name], rtol, atol, scaled=True))

    run = run_in_arena(graph, plan, inputs, poison=poison, observe=observe if intermediates else None)
    diffs = tuple(compare(name, run.outputs[name], ref[name], rtol, atol) for name in graph.outputs)
    return Proof(diffs, tuple(checked), run.seconds, ref_seconds)
