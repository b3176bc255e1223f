"""NumPy kernels for ops outside the default ONNX domain that onnxruntime implements
(``com.microsoft`` contrib ops), keyed ``"domain.op"`` as `graph.ir.Op.kernel_key` names them.

``com.microsoft.DynamicQuantizeLSTM`` (onnxruntime's ``contrib_ops/cpu/quantization/
dynamic_quantize_lstm.cc``; docs/ContribOperators.md): an LSTM whose weights are stored
quantised — W of shape (dirs, input, 4H) and R of shape (dirs, H, 4H), already transposed,
int8 or uint8, with per-direction (``[dirs]``) or per-gate-column (``[dirs, 4H]``) scales and
zero points. Each of its matrix products quantises its float operand on the fly, as
``DynamicQuantizeLinear`` does: range widened to include 0, ``scale = (max - min) / 255``
(1 when the range is empty), ``zero_point = round(-min / scale)``, values
``clip(round(x / scale) + zero_point, 0, 255)`` as uint8, rounding half to even — once for the
whole input sequence of a direction (``X W``) and once per time step for the hidden state
(``H R``). The integer product is exact (summed in float64: |terms| <= 255 * 255, far below
2**53 for any realistic size), then scaled by ``x_scale * w_scale`` in float32, as
onnxruntime's quantised GEMM does; the gates are then LSTM's (`kernels_rnn.lstm_core`). As
in onnxruntime, the weights' zero point is one value per direction (its first entry).

memplan computes the exact integer product. onnxruntime's uint8 x int8 GEMM on x86 CPUs
without VNNI (AVX2 only, as on the machine the figures come from) adds pairs of products in
int16 with saturation: with full-range int8 weights (|w| near 127) a pair can pass 32767 and
its result is then not the exact product (the reason onnxruntime's quantiser offers 7-bit
weights, ``reduce_range``); the unit tests use 7-bit int8 weights, as that option writes.

Because the hidden state is re-quantised at every step, a rounding difference of one ulp in
``h`` can move a value across a quantisation step: the results agree with onnxruntime to
within a few quantisation steps, not to float32 rounding (the verify tolerance for the
corpus model says how much).

Also the contrib ops dynamically quantised transformers use most: ``DynamicQuantizeMatMul``
(the same quantised product, with a bias), ``Gelu``, ``BiasGelu``, ``QuickGelu``.

Example: X (32, 1, 512), W int8 (2, 512, 2048), R int8 (2, 512, 2048), ``hidden_size=512``,
bidirectional: Y (32, 2, 1, 512).
"""
from __future__ import annotations

import numpy as np

from .kernels import KernelError, _gelu
from .kernels_more import quantize_uint8
from .kernels_rnn import lstm_core

__all__ = ["KERNELS", "quantized_matmul"]


def quantized_matmul(a: np.ndarray, w_q: np.ndarray, w_scale: np.ndarray, w_zero: int) -> np.ndarray:
    """``a @ dequant(w_q)`` the way onnxruntime's dynamic quantised GEMM computes it: ``a``
    (M, K) float32 quantised per matrix, ``w_q`` (K, N) int8/uint8, ``w_scale`` one value or
    one per column."""
    q, scale, zero = quantize_uint8(a)
    acc = (q - zero) @ (w_q.astype(np.float64) - w_zero)  # exact integers
    multiplier = np.float32(scale) * np.asarray(w_scale, np.float32)
    return acc.astype(np.float32) * multiplier


def _per_direction(v: np.ndarray, d: int) -> np.ndarray:
    """Scale of direction d: a scalar ([dirs] input) or one per gate column ([dirs, 4H])."""
    return np.asarray(v)[d]


def _dynamic_quantize_lstm(a, x, y, opset):
    if len(x) < 12 or any(x[k] is None for k in (8, 9, 10, 11)):
        raise KernelError("needs W_scale, W_zero_point, R_scale and R_zero_point (inputs 8 to 11)")
    data, w, r = x[0], x[1], x[2]
    w_scale, w_zero, r_scale, r_zero = x[8], x[9], x[10], x[11]
    dirs, hid = w.shape[0], r.shape[1]
    if w.ndim != 3 or r.ndim != 3 or w.shape[2] != 4 * hid or r.shape[2] != 4 * hid or w.shape[1] != data.shape[-1]:
        raise KernelError(f"W {list(w.shape)} and R {list(r.shape)} do not fit X {list(data.shape)} "
                          f"(expected [dirs, input, 4*hidden] and [dirs, hidden, 4*hidden])")
    if a.get("hidden_size") is not None and int(a["hidden_size"]) != hid:
        raise KernelError(f"hidden_size={a['hidden_size']} does not match R's dimension 1 ({hid})")
    seq_lens = x[4] if len(x) > 4 else None
    steps = data.shape[0] if seq_lens is None else int(min(np.max(seq_lens, initial=0), data.shape[0]))
    wz = [int(np.asarray(w_zero[d]).reshape(-1)[0]) for d in range(dirs)]
    rz = [int(np.asarray(r_zero[d]).reshape(-1)[0]) for d in range(dirs)]
    with_y = y[0] is not None

    def project(d, xs):
        # One quantisation for the rows onnxruntime multiplies: the first max(sequence_lens) steps.
        out = np.zeros(xs.shape[:2] + (4 * hid,), np.float32)
        rows = xs[:steps].reshape(-1, xs.shape[-1])
        out[:steps] = quantized_matmul(rows, w[d], _per_direction(w_scale, d), wz[d]).reshape(steps, xs.shape[1], -1)
        return out

    def recur(d, h, live):
        # onnxruntime reads the previous step's output rows: zeros for a finished sequence when Y is written.
        if live is not None and with_y:
            h = np.where(live[:, None], h, np.float32(0))
        return quantized_matmul(h, r[d], _per_direction(r_scale, d), rz[d])

    return lstm_core(a, list(x[:8]), dirs, hid, project, recur)


def _dynamic_quantize_matmul(a, x, y, opset):
    """``A @ dequant(B) + bias``, A quantised as a whole; B's zero point one value or one per
    column (subtracted exactly), its scale likewise."""
    data, w = x[0], x[1]
    if len(x) < 3 or x[2] is None:
        raise KernelError("needs b_scale (input 2)")
    if w.ndim != 2:
        raise KernelError(f"B must be 2-D, got shape {list(w.shape)}")
    zero = x[3] if len(x) > 3 and x[3] is not None else np.zeros((), np.float64)
    q, scale, a_zero = quantize_uint8(data)
    acc = (q.astype(np.float64) - a_zero) @ (w.astype(np.float64) - np.asarray(zero, np.float64))
    out = acc.astype(np.float32) * (np.float32(scale) * np.asarray(x[2], np.float32))
    bias = x[4] if len(x) > 4 else None
    return out if bias is None else out + bias


def _quick_gelu(a, x, y, opset):
    v = x[0]
    alpha = v.dtype.type(a.get("alpha", 1.702))
    return v / (1 + np.exp(-alpha * v))


def _bias_gelu(a, x, y, opset):
    return _gelu({}, [x[0] + x[1]], y, opset)


KERNELS = {"com.microsoft.DynamicQuantizeLSTM": _dynamic_quantize_lstm,
           "com.microsoft.DynamicQuantizeMatMul": _dynamic_quantize_matmul,
           "com.microsoft.Gelu": lambda a, x, y, opset: _gelu({}, x, y, opset),
           "com.microsoft.BiasGelu": _bias_gelu, "com.microsoft.QuickGelu": _quick_gelu}
