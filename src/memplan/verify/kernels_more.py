"""More NumPy kernels for ONNX operators: the ops of folded shape subgraphs (Range, Mod,
Trilu, CumSum, OneHot), attention blocks (Einsum, GroupNormalization), detectors and
decoders (TopK, GatherElements, GatherND, ScatterND, ScatterElements), predicates (IsNaN,
IsInf), rounding, the remaining activation functions and trigonometry, and integer matmuls
of dynamically quantised models.

Same contract as ``kernels.py`` (this table joins its registry): ``kernel(a, x, y, opset)``
returns its results (arrays computed into fresh memory, so an output aliasing an input is
safe) or writes ``y`` with overlap-safe ufunc calls. Semantics follow onnxruntime's CPU
provider where it differs from the spec's prose (tie order of TopK, rounding of Round,
rounding of DynamicQuantizeLinear's zero point).
"""
from __future__ import annotations

import numpy as np

from .kernels import (KernelError, _axis, _conv_core, _opt, _pad_window, _pads, _pool_setup, _spatial_params, _tap,
                      _taps, _unary)

__all__ = ["KERNELS"]


# ----------------------------------------------------------------------------
# elementwise


def _mod(a, x, y, opset):
    p, q = x[0], x[1]
    if int(a.get("fmod", 0)):
        return np.fmod(p, q)  # C fmod: the sign of the dividend
    if np.result_type(p, q).kind == "f":
        raise KernelError("Mod with fmod=0 on floating-point inputs is invalid (the spec requires fmod=1)")
    return np.mod(p, q)  # Python modulo: the sign of the divisor, as the spec says for fmod=0


def _round(a, x, y, opset):
    np.rint(x[0], out=y[0])  # half to even, as the spec and onnxruntime


def _is_nan(a, x, y, opset):
    np.isnan(x[0], out=y[0])


def _is_inf(a, x, y, opset):
    v = x[0]
    pos, neg = int(a.get("detect_positive", 1)), int(a.get("detect_negative", 1))
    return ((v == np.inf) & bool(pos)) | ((v == -np.inf) & bool(neg))


def _thresholded_relu(a, x, y, opset):
    v = x[0]
    return np.where(v > v.dtype.type(a.get("alpha", 1.0)), v, v.dtype.type(0))


def _celu(a, x, y, opset):
    v = x[0]
    alpha = v.dtype.type(a.get("alpha", 1.0))
    return np.maximum(v, 0) + np.minimum(0, alpha * np.expm1(v / alpha))


def _shrink(a, x, y, opset):
    v = x[0]
    lambd, bias = a.get("lambd", 0.5), a.get("bias", 0.0)
    res = np.where(v < -lambd, v + bias, np.where(v > lambd, v - bias, 0))
    return res.astype(v.dtype)


def _hardmax(a, x, y, opset):
    v = x[0]
    axis = _axis(int(a.get("axis", -1 if opset >= 13 else 1)), v.ndim)
    if opset < 13:  # the input is flattened to 2-D at axis
        flat = v.reshape(int(np.prod(v.shape[:axis])), -1)
        return _one_hot_max(flat, 1).reshape(v.shape)
    return _one_hot_max(v, axis)


def _one_hot_max(v, axis):
    idx = np.expand_dims(np.argmax(v, axis=axis), axis)  # the first maximum wins
    res = np.zeros_like(v)
    np.put_along_axis(res, idx, 1, axis=axis)
    return res


def _cast_like(a, x, y, opset):
    return x[0]  # _store casts to the output's dtype


def _bit_shift(a, x, y, opset):
    left = a.get("direction") in ("LEFT", b"LEFT")
    return np.left_shift(x[0], x[1]) if left else np.right_shift(x[0], x[1])


# ----------------------------------------------------------------------------
# shape-subgraph ops


def _range(a, x, y, opset):
    start, limit, delta = (np.asarray(v).reshape(()) for v in x[:3])
    n = max(int(np.ceil((float(limit) - float(start)) / float(delta))), 0)
    # start + i * delta in the input type, as onnxruntime accumulates it.
    return (start + np.arange(n, dtype=start.dtype) * delta).astype(start.dtype)


def _trilu(a, x, y, opset):
    v = x[0]
    k = _opt(x, 1)
    k = 0 if k is None else int(np.asarray(k).reshape(()))
    return np.triu(v, k) if int(a.get("upper", 1)) else np.tril(v, k)


def _cum_sum(a, x, y, opset):
    v = x[0]
    axis = _axis(int(np.asarray(x[1]).reshape(())), v.ndim)
    if int(a.get("reverse", 0)):
        v = np.flip(v, axis)
    res = np.cumsum(v, axis=axis, dtype=v.dtype)
    if int(a.get("exclusive", 0)):
        res = res - v
    return np.flip(res, axis) if int(a.get("reverse", 0)) else res


def _one_hot(a, x, y, opset):
    indices, depth, values = x[0], x[1], x[2]
    depth = int(np.asarray(depth).reshape(-1)[0])
    off, on = np.asarray(values).reshape(-1)[:2]
    idx = np.asarray(indices).astype(np.int64)
    idx = np.where(idx < 0, idx + depth, idx)
    axis = _axis(int(a.get("axis", -1)), idx.ndim + 1)
    classes = np.arange(depth).reshape((-1,) + (1,) * (idx.ndim - axis))
    hot = np.expand_dims(idx, axis) == classes
    return np.where(hot, on, off).astype(np.asarray(values).dtype)


def _eye_like(a, x, y, opset):
    out = y[0]
    k = int(a.get("k", 0))
    return np.eye(out.shape[0], out.shape[1], k, dtype=out.dtype)


# ----------------------------------------------------------------------------
# indexing


def _fix_index(idx, dim):
    idx = np.asarray(idx).astype(np.int64)
    if np.any((idx < -dim) | (idx >= dim)):
        raise KernelError(f"index out of range [{-dim}, {dim - 1}]")
    return np.where(idx < 0, idx + dim, idx)


def _gather_elements(a, x, y, opset):
    v, idx = x[0], x[1]
    axis = _axis(int(a.get("axis", 0)), v.ndim)
    # Off the axis, indices may be shorter than the data: the output has the indices' shape.
    v = v[tuple(slice(None) if i == axis else slice(0, n) for i, n in enumerate(idx.shape))]
    return np.take_along_axis(v, _fix_index(idx, v.shape[axis]), axis=axis)


def _gather_nd(a, x, y, opset):
    data, idx = x[0], np.asarray(x[1]).astype(np.int64)
    b = int(a.get("batch_dims", 0))
    batch = data.shape[:b]
    k = idx.shape[-1]
    nb = int(np.prod(batch)) if b else 1
    d = data.reshape((nb,) + data.shape[b:])
    ind = idx.reshape((nb, -1, k))
    dims = np.array(data.shape[b:b + k])
    ind = np.where(ind < 0, ind + dims, ind)
    rows = np.arange(nb).reshape(-1, 1)
    res = d[(rows,) + tuple(ind[..., j] for j in range(k))]
    return res.reshape(idx.shape[:-1] + data.shape[b + k:])


_REDUCE = {"none": None, "add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


def _reduction(a):
    name = a.get("reduction", "none")
    name = name.decode() if isinstance(name, bytes) else name
    if name not in _REDUCE:
        raise KernelError(f"reduction={name!r} is not supported")
    return _REDUCE[name]


def _scatter_nd(a, x, y, opset):
    data, idx, upd = x[0], np.asarray(x[1]).astype(np.int64), x[2]
    res = np.array(data, copy=True)
    k = idx.shape[-1]
    flat_idx = idx.reshape(-1, k)
    flat_idx = np.where(flat_idx < 0, flat_idx + np.array(data.shape[:k]), flat_idx)
    flat_upd = upd.reshape((flat_idx.shape[0],) + data.shape[k:])
    fn = _reduction(a)
    for i, where in enumerate(flat_idx):  # in order: later updates see earlier ones, as onnxruntime
        key = tuple(where)
        res[key] = flat_upd[i] if fn is None else fn(res[key], flat_upd[i])
    return res


def _scatter_elements(a, x, y, opset):
    data, idx, upd = x[0], x[1], x[2]
    axis = _axis(int(a.get("axis", 0)), data.ndim)
    idx = _fix_index(idx, data.shape[axis])
    res = np.array(data, copy=True)
    fn = _reduction(a)
    grid = list(np.indices(idx.shape, sparse=True))
    grid[axis] = idx
    target = tuple(np.broadcast_arrays(*grid))
    if fn is None:
        res[target] = upd
    else:
        fn.at(res, target, upd)  # unbuffered: repeated indices accumulate
    return res


def _top_k(a, x, y, opset):
    v = x[0]
    k = int(np.asarray(x[1]).reshape(-1)[0]) if opset >= 10 else int(a["k"])
    axis = _axis(int(a.get("axis", -1)), v.ndim)
    largest = int(a.get("largest", 1))
    keys = v.astype(np.int64) if v.dtype.kind == "u" else v
    # Stable sort: equal values keep index order (onnxruntime returns the lower index first).
    order = np.argsort(-keys if largest else keys, axis=axis, kind="stable")
    idx = np.take(order, np.arange(k), axis=axis)
    return np.take_along_axis(v, idx, axis=axis), idx.astype(np.int64)


def _reverse_sequence(a, x, y, opset):
    v, lens = x[0], np.asarray(x[1]).astype(np.int64)
    time_axis, batch_axis = int(a.get("time_axis", 0)), int(a.get("batch_axis", 1))
    res = np.array(v, copy=True)
    for b, n in enumerate(lens):
        src = [slice(None)] * v.ndim
        src[batch_axis] = b
        src[time_axis] = slice(0, int(n))
        dst = list(src)
        res[tuple(dst)] = np.flip(v[tuple(src)], axis=time_axis - (batch_axis < time_axis))
    return res


# ----------------------------------------------------------------------------
# normalisation and products


def _group_norm(a, x, y, opset):
    data, scale, bias = x[0], x[1], x[2]
    groups = int(a["num_groups"])
    eps = a.get("epsilon", 1e-5)
    n, c = data.shape[:2]
    v = data.astype(np.float64).reshape(n, groups, -1)
    mean = v.mean(axis=2, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=2, keepdims=True)
    normed = ((v - mean) / np.sqrt(var + eps)).reshape(data.shape)
    shape = (1, -1) + (1,) * (data.ndim - 2)
    if scale.size == groups and groups != c:  # opset 18: one scale and bias per group
        scale, bias = np.repeat(scale, c // groups), np.repeat(bias, c // groups)
    return normed * scale.reshape(shape) + bias.reshape(shape)


def _mean_variance_norm(a, x, y, opset):
    v = x[0].astype(np.float64)
    axes = tuple(_axis(int(ax), v.ndim) for ax in a.get("axes", [0, 2, 3]))
    mean = v.mean(axis=axes, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=axes, keepdims=True)
    return (v - mean) / (np.sqrt(var) + 1e-9)


def _lp_norm(a, x, y, opset):
    v = x[0]
    axis = _axis(int(a.get("axis", -1)), v.ndim)
    p = int(a.get("p", 2))
    norm = np.abs(v).sum(axis=axis, keepdims=True) if p == 1 else np.sqrt((v * v).sum(axis=axis, keepdims=True))
    return v / norm


def _einsum(a, x, y, opset):
    eq = a["equation"]
    eq = eq.decode() if isinstance(eq, bytes) else eq
    return np.einsum(eq.replace(" ", ""), *x)


def _det(a, x, y, opset):
    return np.linalg.det(x[0])


def _matmul_integer(a, x, y, opset):
    pa, pb = x[0].astype(np.int64), x[1].astype(np.int64)
    za, zb = _opt(x, 2), _opt(x, 3)
    if za is not None:
        za = np.asarray(za).astype(np.int64)
        pa = pa - (za.reshape(-1, 1) if za.ndim == 1 and za.size > 1 else za)
    if zb is not None:
        pb = pb - np.asarray(zb).astype(np.int64)  # per-column zero points broadcast on the last axis
    return np.matmul(pa, pb)


def _dynamic_quantize_linear(a, x, y, opset):
    q, scale, zero = quantize_uint8(x[0])
    return q.astype(np.uint8), np.array(scale, np.float32), np.array(zero, np.uint8)


def quantize_uint8(v) -> tuple[np.ndarray, np.float32, int]:
    """uint8 values (as float32), scale and zero point of ``v`` as onnxruntime computes them
    (``GetQuantizationParameter``): range widened to include 0; every step in float32 — a
    scale divided in float64 and rounded once is one ulp off in about one case in five, and
    a quantised model's next ``Floor``/``round`` turns that ulp into a whole step; an empty
    range gives scale 1, zero point 0 (the spec's formula would divide by zero)."""
    v = np.asarray(v, np.float32)
    lo = min(np.float32(v.min(initial=0.0)), np.float32(0))
    hi = max(np.float32(v.max(initial=0.0)), np.float32(0))
    scale = np.float32(1) if hi == lo else np.float32(hi - lo) / np.float32(255)
    zero = int(np.rint(np.clip(np.float32(0) - lo / scale, 0, 255)))
    return np.clip(np.rint(v / scale) + np.float32(zero), 0, 255), scale, zero


def _conv_integer(a, x, y, opset):
    qx, qw = x[0], x[1]
    zx, zw = _opt(x, 2), _opt(x, 3)
    out = y[0]
    nd = qx.ndim - 2
    kernel, strides, dilations = _spatial_params(a, qw.shape[2:], nd)
    heads, _ = _pads(a, qx.shape[2:], kernel, strides, dilations)
    # Integer products summed in float64 are exact for any realistic size. Padding is
    # zero *after* the zero point is subtracted, as onnxruntime pads with the zero point.
    xs = qx.astype(np.float64) - (0 if zx is None else float(np.asarray(zx).reshape(-1)[0]))
    ws = qw.astype(np.float64)
    if zw is not None:
        zw = np.asarray(zw, np.float64)
        ws = ws - (zw.reshape((-1,) + (1,) * (qw.ndim - 1)) if zw.size > 1 else zw.reshape(()))
    acc = _conv_core(xs, ws, int(a.get("group", 1)), heads, strides, dilations, list(out.shape[2:]))
    return np.rint(acc).astype(np.int32)


# ----------------------------------------------------------------------------
# Lp pooling


def _lp_pool(a, x, y, opset):
    data, out = x[0], y[0]
    p = float(a.get("p", 2))
    kernel, strides, dilations, out_spatial, heads, _, lengths = _pool_setup(a, data, out)
    xp = _pad_window(np.abs(data.astype(np.float64)) ** p, heads, lengths, 0)
    acc = np.zeros(data.shape[:2] + tuple(out_spatial))
    for _, offs in _taps(kernel, dilations):
        acc += _tap(xp, offs, strides, out_spatial)
    return acc ** (1 / p)


def _global_lp_pool(a, x, y, opset):
    v = x[0].astype(np.float64)
    p = float(a.get("p", 2))
    return (np.abs(v) ** p).sum(axis=tuple(range(2, v.ndim)), keepdims=True) ** (1 / p)


# ----------------------------------------------------------------------------
# opset-23 transformer ops


def _rms_norm(a, x, y, opset):
    data, scale = x[0], x[1]
    axis = _axis(int(a.get("axis", -1)), data.ndim)
    eps = a.get("epsilon", 1e-5)
    v = data.astype(np.float64)
    ms = (v * v).mean(axis=tuple(range(axis, data.ndim)), keepdims=True)
    return v / np.sqrt(ms + eps) * scale


def _attention(a, x, y, opset):
    """Attention-23: (B, heads, seq, dim) or (B, seq, heads * dim) inputs, grouped KV heads,
    boolean or additive mask, causal mask, past key/value, softcap, the four QK outputs."""
    q, k, v = x[0], x[1], x[2]
    mask, past_k, past_v = _opt(x, 3), _opt(x, 4), _opt(x, 5)
    three_d = q.ndim == 3
    if three_d:
        q = _heads(q, int(a["q_num_heads"]))
        k = _heads(k, int(a["kv_num_heads"]))
        v = _heads(v, int(a["kv_num_heads"]))
    past = 0 if past_k is None else past_k.shape[2]
    if past_k is not None:
        k = np.concatenate([past_k, k], axis=2)
        v = np.concatenate([past_v, v], axis=2)
    present_k, present_v = k, v
    group = q.shape[1] // k.shape[1]
    kk, vv = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    scale = a.get("scale")
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    qk = np.matmul(q.astype(np.float32), np.swapaxes(kk, -1, -2)).astype(np.float32) * np.float32(scale)
    # onnxruntime's order (its qk_matmul_output_mode stages): QK, softcap, + masks, softmax.
    softcap = float(a.get("softcap", 0.0))
    capped = np.float32(softcap) * np.tanh(qk / np.float32(softcap)) if softcap > 0 else qk
    bias = np.zeros(qk.shape[-2:], np.float32)
    if int(a.get("is_causal", 0)):
        q_len, total = qk.shape[-2:]
        # query i sits at position past + i: it sees keys up to there
        bias = np.where(np.arange(total) > np.arange(q_len)[:, None] + past, np.float32(-np.inf), bias)
    if mask is not None:
        extra = np.where(mask, np.float32(0), np.float32(-np.inf)) if mask.dtype == bool else mask
        bias = bias + _pad_mask(extra, qk.shape[-1])
    scores = capped + bias
    stages = [qk, capped, scores]
    peak = scores.max(axis=-1, keepdims=True)
    e = np.exp(scores - np.where(np.isfinite(peak), peak, 0))
    probs = e / e.sum(axis=-1, keepdims=True)
    stages.append(probs)
    out = np.matmul(probs, vv)
    if three_d:
        out = np.swapaxes(out, 1, 2).reshape(out.shape[0], out.shape[2], -1)
    mode = int(a.get("qk_matmul_output_mode", 0))
    return out, present_k, present_v, stages[mode]


def _heads(t, heads):
    b, s, hidden = t.shape
    return t.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


def _pad_mask(mask, total):
    """A mask shorter than the key sequence covers its first positions (the rest: -inf)."""
    if mask.shape[-1] >= total:
        return mask
    pad = np.full(mask.shape[:-1] + (total - mask.shape[-1],), -np.inf, np.float32)
    return np.concatenate([mask, pad], axis=-1)


# ----------------------------------------------------------------------------
# GridSample (2-D), in float32 as onnxruntime computes it


def _grid_sample(a, x, y, opset):
    data, grid = x[0], x[1]
    if data.ndim != 4:
        raise KernelError(f"GridSample on {data.ndim - 2}-D data is not supported (2-D only)")
    mode = a.get("mode", "linear" if opset >= 20 else "bilinear")
    mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    padding = a.get("padding_mode", "zeros")
    if mode not in ("linear", "nearest", "cubic") or padding not in ("zeros", "border", "reflection"):
        raise KernelError(f"GridSample mode={mode!r} padding_mode={padding!r} is not supported")
    align = bool(a.get("align_corners", 0))
    f = np.float32
    n, c, h, w = data.shape
    g = grid.astype(np.float32)
    xs, ys = _gs_denormalize(g[..., 0], w, align), _gs_denormalize(g[..., 1], h, align)
    if mode == "nearest":
        xs, ys = np.rint(xs), np.rint(ys)
    bounds = (f(0), f(0), f(w - 1), f(h - 1)) if align else (f(-0.5), f(-0.5), f(w - 0.5), f(h - 0.5))
    if padding == "border" and mode != "cubic":  # cubic clamps each of its 16 taps instead
        xs, ys = np.clip(xs, 0, w - 1), np.clip(ys, 0, h - 1)
    elif padding == "reflection":
        xs, ys = _gs_reflect(xs, bounds[0], bounds[2]), _gs_reflect(ys, bounds[1], bounds[3])
    pixel = _gs_pixels(data.astype(np.float32), padding, bounds)
    if mode == "nearest":
        return pixel(ys.astype(np.int64), xs.astype(np.int64))
    x0, y0 = np.floor(xs), np.floor(ys)
    if mode == "linear":
        dx1, dy1 = (xs - x0)[:, None], (ys - y0)[:, None]
        dx2, dy2 = f(1) - dx1, f(1) - dy1
        xi, yi = x0.astype(np.int64), y0.astype(np.int64)
        top = dx2 * pixel(yi, xi) + dx1 * pixel(yi, xi + 1)
        bottom = dx2 * pixel(yi + 1, xi) + dx1 * pixel(yi + 1, xi + 1)
        return dy2 * top + dy1 * bottom
    wx, wy = _gs_cubic_coeffs(xs - x0), _gs_cubic_coeffs(ys - y0)
    xi, yi = x0.astype(np.int64) - 1, y0.astype(np.int64) - 1
    res = np.zeros((n, c) + xs.shape[1:], np.float32)
    for i in range(4):
        row = sum(wx[j][:, None] * pixel(yi + i, xi + j) for j in range(4))
        res += wy[i][:, None] * row
    return res


def _gs_denormalize(v, length, align):
    f = np.float32
    return (v + f(1)) / f(2) * f(length - 1) if align else ((v + f(1)) * f(length) - f(1)) / f(2)


def _gs_reflect(v, lo, hi):
    """onnxruntime's GsReflect: fold coordinates outside [lo, hi] back inside."""
    span = hi - lo
    below, above = v < lo, v > hi
    d = np.where(below, lo - v, np.where(above, v - hi, 0)).astype(np.float32)
    k = np.trunc(d / span)
    r = (d - k * span).astype(np.float32)
    even = (k.astype(np.int64) % 2) == 0
    low_side = np.where(even, lo + r, hi - r)
    high_side = np.where(even, hi - r, lo + r)
    return np.where(below, low_side, np.where(above, high_side, v)).astype(np.float32)


def _gs_pixels(data, padding, bounds):
    """pixel(rows, cols) -> (N, C, *rows.shape[1:]) with the padding mode's out-of-range rule."""
    n, _, h, w = data.shape
    batch = np.arange(n).reshape((n,) + (1,) * 2)

    def pixel(r, col):
        if padding == "zeros":
            inside = (r >= 0) & (r < h) & (col >= 0) & (col < w)
            r, col = np.clip(r, 0, h - 1), np.clip(col, 0, w - 1)
        elif padding == "border":
            inside = None
            r, col = np.clip(r, 0, h - 1), np.clip(col, 0, w - 1)
        else:
            inside = None
            col = _gs_reflect(col.astype(np.float32), bounds[0], bounds[2]).astype(np.int64)
            r = _gs_reflect(r.astype(np.float32), bounds[1], bounds[3]).astype(np.int64)
            r, col = np.clip(r, 0, h - 1), np.clip(col, 0, w - 1)
        vals = np.moveaxis(data[batch, :, r, col], -1, 1)  # (N, Ho, Wo, C) -> (N, C, Ho, Wo)
        return vals if inside is None else vals * inside[:, None]
    return pixel


def _gs_cubic_coeffs(t):
    """Keys cubic weights (A = -0.75) of the taps at -1, 0, 1, 2 for fraction t."""
    f = np.float32
    a = f(-0.75)
    t = np.abs(t).astype(np.float32)
    t1, t2, t3 = t + f(1), f(1) - t, f(2) - t
    return [((a * t1 - f(5) * a) * t1 + f(8) * a) * t1 - f(4) * a,
            ((a + f(2)) * t - (a + f(3))) * t * t + f(1),
            ((a + f(2)) * t2 - (a + f(3))) * t2 * t2 + f(1),
            ((a * t3 - f(5) * a) * t3 + f(8) * a) * t3 - f(4) * a]


# ----------------------------------------------------------------------------
# dispatch

KERNELS = {
    "Mod": _mod, "Round": _round, "IsNaN": _is_nan, "IsInf": _is_inf,
    "ThresholdedRelu": _thresholded_relu, "Celu": _celu, "Shrink": _shrink, "Hardmax": _hardmax,
    "Tan": _unary(np.tan), "Asin": _unary(np.arcsin), "Acos": _unary(np.arccos), "Atan": _unary(np.arctan),
    "Sinh": _unary(np.sinh), "Cosh": _unary(np.cosh), "Asinh": _unary(np.arcsinh),
    "Acosh": _unary(np.arccosh), "Atanh": _unary(np.arctanh),
    "CastLike": _cast_like, "BitShift": _bit_shift,
    "BitwiseAnd": lambda a, x, y, o: np.bitwise_and(x[0], x[1]),
    "BitwiseOr": lambda a, x, y, o: np.bitwise_or(x[0], x[1]),
    "BitwiseXor": lambda a, x, y, o: np.bitwise_xor(x[0], x[1]),
    "BitwiseNot": lambda a, x, y, o: np.invert(x[0]),
    "Range": _range, "Trilu": _trilu, "CumSum": _cum_sum, "OneHot": _one_hot, "EyeLike": _eye_like,
    "GatherElements": _gather_elements, "GatherND": _gather_nd, "ScatterND": _scatter_nd,
    "ScatterElements": _scatter_elements, "Scatter": _scatter_elements, "TopK": _top_k,
    "ReverseSequence": _reverse_sequence,
    "GroupNormalization": _group_norm, "MeanVarianceNormalization": _mean_variance_norm,
    "LpNormalization": _lp_norm, "Einsum": _einsum, "Det": _det,
    "MatMulInteger": _matmul_integer, "DynamicQuantizeLinear": _dynamic_quantize_linear,
    "ConvInteger": _conv_integer, "LpPool": _lp_pool, "GlobalLpPool": _global_lp_pool,
    "GridSample": _grid_sample, "RMSNormalization": _rms_norm, "Attention": _attention,
}
