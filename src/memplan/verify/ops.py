"""The kernel library's front door: one table of every op the arena executor can run — the
core kernels (`kernels`), the recurrent ones (`kernels_rnn`), later additions
(`kernels_more`) and onnxruntime's contrib ops (`kernels_contrib`, keyed ``"domain.op"``) —
and `run_op`, which runs one of them into preallocated outputs."""
from __future__ import annotations

import numpy as np

from . import kernels_contrib, kernels_more, kernels_rnn
from .kernels import _KERNELS as CORE
from .kernels import KernelError, _store

KERNELS = {**CORE, **kernels_rnn.KERNELS, **kernels_more.KERNELS, **kernels_contrib.KERNELS}
SUPPORTED_OPS: frozenset[str] = frozenset(KERNELS)

__all__ = ["KERNELS", "SUPPORTED_OPS", "KernelError", "run_op"]


def run_op(op_type: str, attrs: dict, inputs: list[np.ndarray | None], outputs: list[np.ndarray | None],
           *, opset: int = 13) -> None:
    """Compute ONNX op ``op_type`` and write its results into ``outputs``.

    ``inputs[i]`` is None for a missing optional input; ``outputs[i]`` is None
    for an unused optional output.  Outputs may alias inputs.
    """
    kernel = KERNELS.get(op_type)
    if kernel is None:
        raise KernelError(f"no kernel for op {op_type!r}")
    if all(out is None for out in outputs):
        return
    try:
        # ONNX semantics produce inf/nan silently (log(0), x/0): so does NumPy here.
        with np.errstate(all="ignore"):
            result = kernel(attrs, list(inputs), list(outputs), opset)
    except KernelError as exc:
        if repr(op_type) in str(exc):
            raise
        raise KernelError(f"op {op_type!r}: {exc}") from None
    if result is None:
        return
    if not isinstance(result, tuple):
        result = (result,)
    for out, value in zip(outputs, result):
        if out is not None and value is not None:
            _store(out, value)
