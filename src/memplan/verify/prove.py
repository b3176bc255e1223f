"""Plan, run in the arena, run onnxruntime, compare: the whole proof as one function."""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import PlanError
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
    fetched: int = -1  # bytes fetched on demand (`verify.fetch`); -1 when nothing was

    @property
    def ok(self) -> bool:
        return all(d.ok for d in self.diffs) and all(d.ok for d in self.intermediates)

    @property
    def first_failure(self) -> OutputDiff | None:
        return next((d for d in self.intermediates + self.diffs if not d.ok), None)


# Rounding noise allowed on top of rtol/atol, in units in the last place (of the tensor's
# dtype) of the tensor's largest finite reference value. A sum computed in another order
# (onnxruntime's blocked GEMM and convolution against NumPy's) differs by a few ulps of the
# values summed, not of the result: where a small result comes from large terms (YOLOv8's box
# width ``(anchor + rb) - (anchor - lt)``, scaled by the stride, sits next to box centres near
# 316 in the same tensor) the error is an ulp of 316 on a value near 0.03, which
# ``rtol * |ref|`` cannot cover. 4 ulps: 1.5e-4 beside 316, 4.8e-7 beside 1.0, so a wrong
# kernel (an error of 1e-3 of a value) still fails.
NOISE_ULPS = 4


def compare(name: str, ours: np.ndarray, ref: np.ndarray, rtol: float, atol: float, *,
            scaled: bool = False) -> OutputDiff:
    """Elementwise ``|ours - ref| <= atol + rtol * |ref| + NOISE_ULPS * eps * max|ref|``
    (numpy.allclose's rule plus float rounding noise relative to the tensor's largest finite
    magnitude; ``eps`` is the float dtype's machine epsilon, the last term 0 for integers);
    with ``scaled``, the rtol term is relative to the tensor's largest finite magnitude too
    (for intermediates, whose near-zero entries carry float summation noise while a clobbered
    value is off by far more). Equal infinities and NaNs at the same positions match (causal
    masks are full of -inf); any other non-finite value on either side is an infinite error."""
    if ours.shape != ref.shape:
        return OutputDiff(name, float("inf"), float("inf"), False)
    # float32 tensors compare in float32 (the error of the error is ~1e-7 of it): half the
    # memory traffic of float64 on large activations; everything else in float64.
    wide = np.float32 if ours.dtype == ref.dtype == np.float32 else np.float64
    a, b = ours.astype(wide, copy=False), ref.astype(wide, copy=False)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(a - b)
    magnitude = np.abs(b)
    odd = ~np.isfinite(err)  # a non-finite value on either side (rare: fix up only those)
    if odd.any():
        x, y = a[odd], b[odd]
        err[odd] = np.where((x == y) | (np.isnan(x) & np.isnan(y)), 0.0, np.inf)
        magnitude[odd & ~np.isfinite(b)] = 0.0
    max_abs = float(err.max(initial=0.0))
    # Relative error only where the reference is finite and above atol: next to an exact
    # zero any rounding difference is "infinitely" relative and says nothing.
    meaningful = magnitude > atol
    max_rel = float((err[meaningful] / magnitude[meaningful]).max(initial=0.0))
    largest = float(magnitude.max(initial=0.0))
    noise = NOISE_ULPS * float(np.finfo(ref.dtype).eps) * largest if ref.dtype.kind == "f" else 0.0
    scale = largest if scaled else magnitude
    ok = bool(np.all(err <= atol + noise + rtol * scale))
    return OutputDiff(name, max_abs, max_rel, ok)


def prove(model_path: str, graph, plan, *, seed: int = 0, rtol: float = 1e-4, atol: float = 1e-5,
          poison: bool = True, intermediates: bool = True, inputs: dict | None = None,
          label: str | None = None, fetch=None) -> Proof:
    """Run ``plan`` in its arena and onnxruntime on the same input; compare outputs.

    ``inputs``: the user's arrays by input name (checked by ``verify.inputs.load_inputs``);
    every input not given is seeded random. ``label``: the model as the user named it, for
    messages (``model_path`` may be a temporary rewrite of it). ``fetch``: a
    `verify.fetch.Fetcher` for the weights fetched on demand (its count lands in ``fetched``)."""
    label = label or str(model_path)
    feeds = {**make_inputs(graph, seed), **(inputs or {})}
    produced = tuple(graph.tensors[t] for op in graph.ops for t in op.outputs if t and t not in graph.outputs)
    start = time.perf_counter()
    ref = reference_outputs(model_path, feeds, extra=produced if intermediates else (), label=label)
    ref_seconds = time.perf_counter() - start
    checked: list[OutputDiff] = []

    def observe(name, value):
        if name in ref and name not in graph.outputs:
            checked.append(compare(name, value, ref[name], rtol, atol, scaled=True))

    try:
        run = run_in_arena(graph, plan, feeds, poison=poison, observe=observe if intermediates else None,
                           fetch=fetch)
    except PlanError as exc:  # e.g. an op without a kernel: say which model it is in
        raise PlanError(f"{label}: {exc}") from None
    diffs = tuple(compare(name, run.outputs[name], ref[name], rtol, atol) for name in graph.outputs)
    return Proof(diffs, tuple(checked), run.seconds, ref_seconds, fetch.fetched if fetch is not None else -1)
