"""NumPy kernels for ONNX operators (default domain), used by the arena executor.

``run_op`` computes one node and writes its results into preallocated output
arrays.  Outputs are C-contiguous views into the arena and may share memory
with inputs (in-place execution), so every kernel is written to be correct
under aliasing: results are either produced by a single ufunc call with
``out=`` (NumPy guarantees overlap-safe semantics for those) or computed into
a temporary and copied once by ``_store``.

Semantics follow onnxruntime's CPU provider (rounding modes, padding rules,
Resize coordinate arithmetic in float32), since that is what the executor is
compared with.  No dependency beyond NumPy.
"""
from __future__ import annotations

import math
from itertools import product

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["KernelError"]  # the table and run_op: memplan.verify.ops


class KernelError(Exception):
    """An operator, or an attribute combination of it, that has no kernel."""


# ----------------------------------------------------------------------------
# helpers


def _store(out: np.ndarray, value) -> None:
    """Copy ``value`` into ``out``; skip the copy when it already is that memory."""
    value = np.asarray(value)
    if value.shape != out.shape:
        raise KernelError(f"result shape {value.shape} does not match output shape {out.shape}")
    if _same_view(out, value):
        return
    # copyto is overlap-safe, and 'unsafe' casting lets kernels compute in a wider type.
    np.copyto(out, value, casting="unsafe")


def _same_view(a: np.ndarray, b: np.ndarray) -> bool:
    if a.size == 0:
        return True
    return (a.dtype == b.dtype and a.shape == b.shape and a.strides == b.strides
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


def _free(out, *arrays) -> bool:
    """True if ``out`` can be written before ``arrays`` are fully read."""
    return out is not None and not any(a is not None and np.may_share_memory(out, a) for a in arrays)


def _opt(xs: list, i: int):
    return xs[i] if i < len(xs) else None


def _ints(v) -> list[int]:
    return [int(t) for t in np.asarray(v).reshape(-1)]


def _axis(axis: int, rank: int) -> int:
    return axis + rank if axis < 0 else axis


def _float_type(x: np.ndarray):
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)


def _round_half_away(x: np.ndarray) -> np.ndarray:
    """C's std::round: halves go away from zero (np.round goes to even)."""
    ax = np.abs(x)
    r = np.floor(ax)
    r += (ax - r) >= 0.5
    return np.copysign(r, x)


# ----------------------------------------------------------------------------
# Every kernel is ``kernel(a, x, y, opset)``: attributes, inputs, outputs (the
# preallocated arrays) and the model's opset.  It either writes ``y`` itself with
# overlap-safe ufunc calls and returns None, or returns its results (one array or
# a tuple, None for an output it does not produce) for ``run_op`` to store.

# ----------------------------------------------------------------------------
# elementwise


def _unary(fn):
    def kernel(a, x, y, opset):
        fn(x[0], out=y[0])
    return kernel


def _binary(fn):
    def kernel(a, x, y, opset):
        fn(x[0], x[1], out=y[0])
    return kernel


def _relu(a, x, y, opset):
    np.maximum(x[0], x[0].dtype.type(0), out=y[0])


def _leaky_relu(a, x, y, opset):
    v = x[0]
    return np.where(v < 0, v * a.get("alpha", 0.01), v)


def _prelu(a, x, y, opset):
    v, slope = x[0], x[1]
    return np.where(v < 0, v * slope, v)


def _elu(a, x, y, opset):
    v = x[0]
    return np.where(v < 0, a.get("alpha", 1.0) * np.expm1(v), v)


def _selu(a, x, y, opset):
    v = x[0]
    alpha = a.get("alpha", 1.67326319217681884765625)
    gamma = a.get("gamma", 1.05070102214813232421875)
    return gamma * np.where(v > 0, v, alpha * np.expm1(v))


def _sigmoid(a, x, y, opset):
    v = x[0]
    # exp(-|x|) never overflows; pick the stable form per sign.
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def _hard_sigmoid(a, x, y, opset):
    v = x[0]
    return np.clip(a.get("alpha", 0.2) * v + a.get("beta", 0.5), 0, 1)


def _hard_swish(a, x, y, opset):
    v = x[0]
    return v * np.clip(v * (1 / 6) + 0.5, 0, 1)


def _softplus(a, x, y, opset):
    np.logaddexp(x[0].dtype.type(0), x[0], out=y[0])


def _softsign(a, x, y, opset):
    v = x[0]
    return v / (1 + np.abs(v))


def _mish(a, x, y, opset):
    v = x[0]
    return v * np.tanh(np.logaddexp(v.dtype.type(0), v))


def _erf_kernel(a, x, y, opset):
    return _erf(x[0])


def _gelu(a, x, y, opset):
    v = x[0]
    approx = a.get("approximate", "none")
    if approx == "tanh":
        inner = math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)
        return 0.5 * v * (1 + np.tanh(inner))
    if approx != "none":
        raise KernelError(f"Gelu approximate={approx!r} is not supported")
    return 0.5 * v * (1 + _erf(v * (1 / math.sqrt(2))).astype(v.dtype))


def _erf_series_coeffs(n: int) -> np.ndarray:
    # erf(z) = 2/sqrt(pi) * sum_k (-1)^k z^(2k+1) / (k! (2k+1))
    return np.array([(-1) ** k / (math.factorial(k) * (2 * k + 1)) for k in range(n)])


_ERF_SERIES = _erf_series_coeffs(36)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to ~1e-15 relative (NumPy has none): Taylor series below 2, erfc continued fraction above."""
    z = np.abs(np.asarray(x, dtype=np.float64))
    res = np.empty_like(z)
    small = z < 2.0
    zs = z[small]
    z2 = zs * zs
    acc = np.full_like(zs, _ERF_SERIES[-1])
    for c in _ERF_SERIES[-2::-1]:
        acc *= z2
        acc += c
    res[small] = acc * zs * (2 / math.sqrt(math.pi))
    zl = z[~small]
    frac = np.zeros_like(zl)
    for k in range(40, 0, -1):
        np.add(zl, frac, out=frac)
        np.divide(k / 2, frac, out=frac)
    res[~small] = 1 - np.exp(-zl * zl) / (math.sqrt(math.pi) * (zl + frac))
    return np.copysign(res, x).astype(_float_type(np.asarray(x)), copy=False)


def _clip(a, x, y, opset):
    v = x[0]
    if opset < 11:
        lo, hi = a.get("min"), a.get("max")
    else:
        lo, hi = _opt(x, 1), _opt(x, 2)
    if lo is None and hi is None:
        return v
    if hi is None:
        np.maximum(v, lo, out=y[0])
    elif lo is None:
        np.minimum(v, hi, out=y[0])
    else:
        # One expression, evaluated before y is written; ORT applies max then min.
        return np.minimum(np.maximum(v, lo), hi)


def _div(a, x, y, opset):
    p, q = x[0], x[1]
    if np.result_type(p, q).kind not in "iu":
        np.divide(p, q, out=y[0])
        return None
    # C integer division truncates toward zero; floor_divide rounds down.
    quot = np.floor_divide(p, q)
    fix = (np.remainder(p, q) != 0) & ((p < 0) != (q < 0))
    return quot + fix


def _pow(a, x, y, opset):
    base, exp = x[0], x[1]
    if base.dtype.kind == "f":
        return np.power(base, exp.astype(base.dtype, copy=False))
    return np.power(base.astype(np.float64), exp.astype(np.float64))


def _variadic(fn, mean=False):
    def kernel(a, x, y, opset):
        arrays = [v for v in x if v is not None]
        acc = arrays[0]
        for v in arrays[1:]:
            acc = fn(acc, v)
        if mean:
            acc = acc / len(arrays)
        return acc
    return kernel


def _where(a, x, y, opset):
    return np.where(x[0], x[1], x[2])


def _cast(a, x, y, opset):
    # _store casts to the output dtype (C-style truncation for float -> int).
    return x[0]


def _identity(a, x, y, opset):
    return x[0]


def _dropout(a, x, y, opset):
    if opset >= 12:
        ratio = _opt(x, 1)
        training = _opt(x, 2)
        if training is not None and bool(np.asarray(training)) and (ratio is None or float(ratio) != 0):
            raise KernelError("Dropout with training_mode=True is not deterministic; not supported")
    mask = None
    if len(y) > 1 and y[1] is not None:
        # onnxruntime: opset >= 12 reports every element kept (True); older
        # versions run Dropout as Identity and leave the mask all zero / False.
        fill = np.ones if opset >= 12 else np.zeros
        mask = fill(y[1].shape, dtype=y[1].dtype)
    return x[0], mask


# ----------------------------------------------------------------------------
# convolution and pooling


def _spatial_params(a: dict, w_spatial, nd: int):
    kernel = a.get("kernel_shape") or list(w_spatial)
    strides = a.get("strides") or [1] * nd
    dilations = a.get("dilations") or [1] * nd
    return [int(k) for k in kernel], [int(s) for s in strides], [int(d) for d in dilations]


def _pads(a: dict, in_spatial, kernel, strides, dilations, pool=False):
    """(heads, tails) pad per spatial axis, from pads or auto_pad as onnxruntime computes them."""
    nd = len(in_spatial)
    auto_pad = a.get("auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        heads, tails = [], []
        for i in range(nd):
            # onnxruntime pads pools as if undilated, convolutions with the dilated kernel.
            k = kernel[i] if pool else (kernel[i] - 1) * dilations[i] + 1
            target = -(-in_spatial[i] // strides[i])
            need = max(0, (target - 1) * strides[i] + k - in_spatial[i])
            head = need // 2 if auto_pad == "SAME_UPPER" else (need + 1) // 2
            heads.append(head)
            tails.append(need - head)
        return heads, tails
    if auto_pad == "VALID":
        return [0] * nd, [0] * nd
    if auto_pad not in ("NOTSET", ""):
        raise KernelError(f"auto_pad={auto_pad!r} is not supported")
    pads = [int(p) for p in (a.get("pads") or [0] * (2 * nd))]
    return pads[:nd], pads[nd:]


def _pad_window(x: np.ndarray, heads, lengths, fill) -> np.ndarray:
    """``x`` with spatial axes shifted by ``heads`` and cut/filled to ``lengths``."""
    if all(h == 0 for h in heads) and tuple(x.shape[2:]) == tuple(lengths):
        return x
    buf = np.full(x.shape[:2] + tuple(lengths), fill, dtype=x.dtype)
    dst = [slice(None)] * 2
    src = [slice(None)] * 2
    for h, length, n in zip(heads, lengths, x.shape[2:]):
        stop = max(0, min(n, length - h))
        dst.append(slice(h, h + stop))
        src.append(slice(0, stop))
    buf[tuple(dst)] = x[tuple(src)]
    return buf


def _tap(xp: np.ndarray, offsets, strides, out_spatial) -> np.ndarray:
    """View of padded input at one kernel tap: shape (N, C, *out_spatial)."""
    sl = tuple(slice(o, o + (n - 1) * s + 1, s) for o, s, n in zip(offsets, strides, out_spatial))
    return xp[(slice(None), slice(None)) + sl]


def _conv_core(x, w, group, heads, strides, dilations, out_spatial, out=None):
    """Grouped N-d convolution by im2col + one batched matmul; returns (N, M, *out_spatial)."""
    n, c = x.shape[:2]
    m = w.shape[0]
    kernel = list(w.shape[2:])
    nd = len(kernel)
    cg, mg = c // group, m // group
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    lengths = [(o - 1) * s + e for o, s, e in zip(out_spatial, strides, eff)]
    xp = _pad_window(x, heads, lengths, 0)
    osize = math.prod(out_spatial)
    if cg == 1 and group > 1:
        return _depthwise(xp, w, group, strides, dilations, out_spatial)
    if all(k == 1 for k in kernel):
        cols = _tap(xp, [0] * nd, strides, out_spatial).reshape(n, group, cg, osize)
    else:
        win = sliding_window_view(xp, eff, axis=tuple(range(2, 2 + nd)))
        win = win[(slice(None),) * 2 + tuple(slice(None, None, s) for s in strides)
                  + tuple(slice(None, None, d) for d in dilations)]
        # (N, C, O..., K...) -> (N, C, K..., O...): each group's rows are (c, k), columns pixels.
        perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
        cols = win.transpose(perm).reshape(n, group, cg * math.prod(kernel), osize)
    wm = w.reshape(group, mg, -1)
    if out is not None and out.dtype == np.result_type(wm, cols):
        np.matmul(wm, cols, out=out.reshape(n, group, mg, osize))
        return out
    return np.matmul(wm, cols).reshape((n, m) + tuple(out_spatial))


def _depthwise(xp, w, group, strides, dilations, out_spatial):
    """One input channel per group: accumulate over kernel taps, vectorised over channels."""
    n = xp.shape[0]
    mg = w.shape[0] // group
    kernel = w.shape[2:]
    nd = len(kernel)
    acc = np.zeros((n, group, mg) + tuple(out_spatial), dtype=np.result_type(xp, w))
    tmp = np.empty_like(acc)
    bshape = (1, group, mg) + (1,) * nd
    for k in product(*(range(kk) for kk in kernel)):
        view = _tap(xp, [ki * d for ki, d in zip(k, dilations)], strides, out_spatial)
        np.multiply(view[:, :, None], w[(slice(None), 0) + k].reshape(bshape), out=tmp)
        acc += tmp
    return acc.reshape((n, group * mg) + tuple(out_spatial))


def _conv(a, x, y, opset):
    data, w, bias = x[0], x[1], _opt(x, 2)
    out = y[0]
    nd = data.ndim - 2
    kernel, strides, dilations = _spatial_params(a, w.shape[2:], nd)
    out_spatial = list(out.shape[2:])
    heads, _ = _pads(a, data.shape[2:], kernel, strides, dilations)
    group = int(a.get("group", 1))
    direct = out if _free(out, data, w, bias) else None
    res = _conv_core(data, w, group, heads, strides, dilations, out_spatial, out=direct)
    if bias is not None:
        np.add(res, bias.reshape((-1,) + (1,) * nd), out=res)
    return None if res is out else res


def _conv_transpose(a, x, y, opset):
    data, w, bias = x[0], x[1], _opt(x, 2)
    out = y[0]
    n, c = data.shape[:2]
    in_spatial = list(data.shape[2:])
    nd = len(in_spatial)
    kernel, strides, dilations = _spatial_params(a, w.shape[2:], nd)
    group = int(a.get("group", 1))
    cg, mg = c // group, w.shape[1]
    m = mg * group
    out_spatial = list(out.shape[2:])
    adj = a.get("output_padding") or [0] * nd
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    full = [(i - 1) * s + e + p for i, s, e, p in zip(in_spatial, strides, eff, adj)]
    heads = _transpose_heads(a, full, out_spatial)
    # cols[n, g*mg + j, k..., i...] = sum_c w[g*cg + c, j, k...] * x[n, g*cg + c, i...]
    wm = w.reshape(group, cg, mg * math.prod(kernel)).transpose(0, 2, 1)
    cols = np.matmul(wm, data.reshape(n, group, cg, math.prod(in_spatial)))
    cols = cols.reshape((n, m) + tuple(kernel) + tuple(in_spatial))
    size = [max(f, h + o) for f, h, o in zip(full, heads, out_spatial)]
    acc = np.zeros((n, m) + tuple(size), dtype=cols.dtype)
    for k in product(*(range(kk) for kk in kernel)):
        dst = tuple(slice(ki * d, ki * d + (i - 1) * s + 1, s)
                    for ki, d, i, s in zip(k, dilations, in_spatial, strides))
        acc[(slice(None),) * 2 + dst] += cols[(slice(None),) * 2 + k]
    res = acc[(slice(None),) * 2 + tuple(slice(h, h + o) for h, o in zip(heads, out_spatial))]
    if bias is not None:
        res = res + bias.reshape((-1,) + (1,) * nd)
    return res


def _transpose_heads(a: dict, full, out_spatial):
    nd = len(full)
    auto_pad = a.get("auto_pad", "NOTSET")
    if a.get("output_shape") or auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        heads = []
        for f, o in zip(full, out_spatial):
            total = max(0, f - o)
            # ONNX spec (and onnxruntime >= 1.2x): the odd pad goes to the tail only for SAME_UPPER.
            heads.append(total // 2 if auto_pad == "SAME_UPPER" else total - total // 2)
        return heads
    if auto_pad == "VALID":
        return [0] * nd
    if auto_pad != "NOTSET":
        raise KernelError(f"auto_pad={auto_pad!r} is not supported")
    pads = a.get("pads") or [0] * (2 * nd)
    return [int(p) for p in pads[:nd]]


def _pool_setup(a, data, out):
    nd = data.ndim - 2
    kernel = [int(k) for k in a["kernel_shape"]]
    strides = [int(s) for s in (a.get("strides") or [1] * nd)]
    dilations = [int(d) for d in (a.get("dilations") or [1] * nd)]
    out_spatial = list(out.shape[2:])
    heads, tails = _pads(a, data.shape[2:], kernel, strides, dilations, pool=True)
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    lengths = [(o - 1) * s + e for o, s, e in zip(out_spatial, strides, eff)]
    return kernel, strides, dilations, out_spatial, heads, tails, lengths


def _taps(kernel, dilations):
    for k in product(*(range(kk) for kk in kernel)):
        yield k, [ki * d for ki, d in zip(k, dilations)]


def _max_pool(a, x, y, opset):
    data, out = x[0], y[0]
    kernel, strides, dilations, out_spatial, heads, tails, lengths = _pool_setup(a, data, out)
    lowest = -np.inf if data.dtype.kind == "f" else np.iinfo(data.dtype).min
    xp = _pad_window(data, heads, lengths, lowest)
    want_index = len(y) > 1 and y[1] is not None
    best = index = None
    for k, offs in _taps(kernel, dilations):
        view = _tap(xp, offs, strides, out_spatial)
        if best is None:
            best = view.copy()
            if want_index:
                index = np.broadcast_to(_pool_index(a, data.shape, offs, heads, strides, out_spatial),
                                        best.shape).copy()
            continue
        if want_index:
            # Strictly greater: the first maximum in row-major tap order wins, as in onnxruntime.
            better = view > best
            np.copyto(index, _pool_index(a, data.shape, offs, heads, strides, out_spatial), where=better)
        np.maximum(best, view, out=best)
    return best, index


def _pool_index(a, shape, offs, heads, strides, out_spatial):
    """Flat input index of one tap for every output position, padding not counted."""
    n, c = shape[:2]
    spatial = shape[2:]
    nd = len(spatial)
    coords = []
    for i in range(nd):
        pos = np.arange(out_spatial[i]) * strides[i] + offs[i] - heads[i]
        coords.append(pos.reshape((-1,) + (1,) * (nd - 1 - i)))
    if int(a.get("storage_order", 0)) == 1 and nd == 2:
        flat = coords[0] + coords[1] * spatial[0]
    else:
        flat = 0
        for i in range(nd):
            flat = flat * spatial[i] + coords[i]
    base = (np.arange(n * c).reshape(n, c) * math.prod(spatial)).reshape((n, c) + (1,) * nd)
    return (base + flat).astype(np.int64)


def _average_pool(a, x, y, opset):
    data, out = x[0], y[0]
    kernel, strides, dilations, out_spatial, heads, tails, lengths = _pool_setup(a, data, out)
    xp = _pad_window(data, heads, lengths, 0)
    acc = np.zeros(data.shape[:2] + tuple(out_spatial), dtype=_float_type(data))
    for k, offs in _taps(kernel, dilations):
        acc += _tap(xp, offs, strides, out_spatial)
    # Divisor = taps that land on real input (or, with count_include_pad, on the
    # explicit pads too, but never on the extra tail that ceil_mode adds).
    nd = len(kernel)
    if int(a.get("count_include_pad", 0)):
        region = tuple(s + h + t for s, h, t in zip(data.shape[2:], heads, tails))
        mask = _pad_window(np.ones((1, 1) + region, acc.dtype), [0] * nd, lengths, 0)
    else:
        mask = _pad_window(np.ones((1, 1) + data.shape[2:], acc.dtype), heads, lengths, 0)
    count = np.zeros((1, 1) + tuple(out_spatial), acc.dtype)
    for k, offs in _taps(kernel, dilations):
        count += _tap(mask, offs, strides, out_spatial)
    return acc / np.maximum(count, 1)


def _global_average_pool(a, x, y, opset):
    v = x[0]
    return v.mean(axis=tuple(range(2, v.ndim)), keepdims=True)


def _global_max_pool(a, x, y, opset):
    v = x[0]
    return v.max(axis=tuple(range(2, v.ndim)), keepdims=True)


# ----------------------------------------------------------------------------
# matrix products


def _matmul(a, x, y, opset):
    if _free(y[0], x[0], x[1]):
        np.matmul(x[0], x[1], out=y[0])
        return None
    return np.matmul(x[0], x[1])


def _gemm(a, x, y, opset):
    pa, pb, c = x[0], x[1], _opt(x, 2)
    if a.get("transA", 0):
        pa = pa.T
    if a.get("transB", 0):
        pb = pb.T
    res = pa @ pb
    alpha = a.get("alpha", 1.0)
    beta = a.get("beta", 1.0)
    if alpha != 1.0:
        res *= res.dtype.type(alpha)
    if c is not None and beta != 0.0:
        res += c * c.dtype.type(beta) if beta != 1.0 else c
    return res


# ----------------------------------------------------------------------------
# normalisation


def _batch_norm(a, x, y, opset):
    if a.get("training_mode", 0):
        raise KernelError("BatchNormalization training_mode=1 is not supported")
    if any(out is not None for out in y[1:]):
        raise KernelError("BatchNormalization running/saved statistics outputs (training) are not supported")
    data, scale, bias, mean, var = x[:5]
    eps = a.get("epsilon", 1e-5)
    shape = (-1,) + (1,) * (data.ndim - 2)
    mul = scale / np.sqrt(var + np.asarray(eps, dtype=var.dtype))
    add = bias - mean * mul
    # Two ufuncs with out=: exact in-place aliasing of y onto x stays correct.
    np.multiply(data, mul.astype(data.dtype).reshape(shape), out=y[0])
    np.add(y[0], add.astype(data.dtype).reshape(shape), out=y[0])


def _instance_norm(a, x, y, opset):
    data, scale, bias = x[0], x[1], x[2]
    eps = a.get("epsilon", 1e-5)
    axes = tuple(range(2, data.ndim))
    v = data.astype(np.float64)
    mean = v.mean(axis=axes, keepdims=True)
    var = ((v - mean) ** 2).mean(axis=axes, keepdims=True)
    shape = (-1,) + (1,) * (data.ndim - 2)
    return (v - mean) / np.sqrt(var + eps) * scale.reshape(shape) + bias.reshape(shape)


def _layer_norm(a, x, y, opset):
    data, scale, bias = x[0], x[1], _opt(x, 2)
    axis = _axis(int(a.get("axis", -1)), data.ndim)
    eps = a.get("epsilon", 1e-5)
    axes = tuple(range(axis, data.ndim))
    v = data.astype(np.float64)
    mean = v.mean(axis=axes, keepdims=True)
    inv_std = 1 / np.sqrt(((v - mean) ** 2).mean(axis=axes, keepdims=True) + eps)
    res = (v - mean) * inv_std * scale
    if bias is not None:
        res = res + bias
    return res, mean, inv_std


def _lrn(a, x, y, opset):
    data = x[0]
    size = int(a["size"])
    alpha, beta, bias = a.get("alpha", 1e-4), a.get("beta", 0.75), a.get("bias", 1.0)
    c = data.shape[1]
    sq = data.astype(np.float64) ** 2
    before = (size - 1) // 2
    pad = [(0, 0)] * data.ndim
    pad[1] = (before, size - 1 - before)
    sq = np.pad(sq, pad)
    total = sum(sq[:, j:j + c] for j in range(size))
    return data / (bias + alpha / size * total) ** beta


def _softmax_family(log: bool):
    def kernel(a, x, y, opset):
        v = x[0]
        if opset < 13:
            axis = _axis(int(a.get("axis", 1)), v.ndim)
            flat = v.reshape(math.prod(v.shape[:axis]), -1)
            return _softmax(flat, 1, log).reshape(v.shape)
        return _softmax(v, _axis(int(a.get("axis", -1)), v.ndim), log)
    return kernel


def _softmax(v, axis, log):
    shifted = v - v.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=axis, keepdims=True)
    return shifted - np.log(total) if log else e / total


# ----------------------------------------------------------------------------
# reductions


def _reduce(reduce, axes_input_since: int, pre=None, post=None):
    """Reduce-family kernel: optional elementwise ``pre``, the reduction, optional ``post``."""
    def kernel(a, x, y, opset):
        v = x[0]
        axes = _opt(x, 1) if opset >= axes_input_since else a.get("axes")
        axes = [] if axes is None else _ints(axes)
        keep = bool(a.get("keepdims", 1))
        if pre is not None:
            v = pre(v)
        if not axes and a.get("noop_with_empty_axes", 0):
            # onnxruntime still applies the elementwise parts (|x| for ReduceL1, x*x ...).
            return v if post is None else post(v)
        axes = tuple(_axis(ax, v.ndim) for ax in axes) or tuple(range(v.ndim))
        res = reduce(v, axis=axes, keepdims=keep)
        return res if post is None else post(res)
    return kernel


def _log_sum_exp(v, axis, keepdims):
    peak = v.max(axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0)
    res = np.log(np.exp(v - peak).sum(axis=axis, keepdims=True)) + peak
    return res if keepdims else res.squeeze(axis=axis)


def _square(v):
    return v * v


def _arg(fn):
    def kernel(a, x, y, opset):
        v = x[0]
        axis = _axis(int(a.get("axis", 0)), v.ndim)
        if a.get("select_last_index", 0):
            idx = v.shape[axis] - 1 - fn(np.flip(v, axis), axis=axis)
        else:
            idx = fn(v, axis=axis)
        if a.get("keepdims", 1):
            idx = np.expand_dims(idx, axis)
        return idx.astype(np.int64)
    return kernel


# ----------------------------------------------------------------------------
# shape and data movement


def _reshape(a, x, y, opset):
    v = x[0]
    shape = _ints(x[1])
    if not a.get("allowzero", 0):
        shape = [v.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return v.reshape(shape)


def _flatten(a, x, y, opset):
    v = x[0]
    axis = _axis(int(a.get("axis", 1)), v.ndim)
    return v.reshape(math.prod(v.shape[:axis]), math.prod(v.shape[axis:]))


def _transpose(a, x, y, opset):
    perm = a.get("perm")
    return np.transpose(x[0], None if perm is None else [int(p) for p in perm])


def _squeeze(a, x, y, opset):
    v = x[0]
    axes = _opt(x, 1) if opset >= 13 else a.get("axes")
    if axes is None or len(_ints(axes)) == 0:
        return v.squeeze()
    return v.squeeze(axis=tuple(_axis(ax, v.ndim) for ax in _ints(axes)))


def _unsqueeze(a, x, y, opset):
    v = x[0]
    axes = _ints(_opt(x, 1) if opset >= 13 else a["axes"])
    rank = v.ndim + len(axes)
    new = sorted(_axis(ax, rank) for ax in axes)
    shape = list(v.shape)
    for ax in new:
        shape.insert(ax, 1)
    return v.reshape(shape)


def _concat(a, x, y, opset):
    out = y[0]
    parts = [v for v in x if v is not None]
    axis = _axis(int(a["axis"]), parts[0].ndim)
    slots = []
    start = 0
    for v in parts:
        idx = [slice(None)] * out.ndim
        idx[axis] = slice(start, start + v.shape[axis])
        slots.append(out[tuple(idx)])
        start += v.shape[axis]
    # Parts already placed in their slot (planned concat-in-place) are skipped;
    # any other overlap with the output goes through a temporary.
    pending = [(s, v) for s, v in zip(slots, parts) if not _same_view(s, v)]
    if any(np.may_share_memory(out, v) for _, v in pending):
        return np.concatenate(parts, axis=axis)
    for s, v in pending:
        np.copyto(s, v, casting="unsafe")
    return None


def _split(a, x, y, opset):
    v = x[0]
    axis = _axis(int(a.get("axis", 0)), v.ndim)
    sizes = _opt(x, 1) if opset >= 13 else a.get("split")
    dim = v.shape[axis]
    if sizes is not None and len(_ints(sizes)) > 0:
        sizes = _ints(sizes)
    elif opset >= 18 and "num_outputs" in a:
        parts = int(a["num_outputs"])
        chunk = -(-dim // parts)
        sizes = [chunk] * (parts - 1) + [dim - chunk * (parts - 1)]
    else:
        sizes = [dim // len(y)] * len(y)
    res = []
    start = 0
    for size in sizes:
        idx = [slice(None)] * v.ndim
        idx[axis] = slice(start, start + size)
        res.append(v[tuple(idx)])
        start += size
    # Views of v: _store then copies (overlap-safe) or skips when the output is that view.
    return tuple(res)


def _slice(a, x, y, opset):
    v = x[0]
    if opset < 10:
        starts, ends, axes, steps = a["starts"], a["ends"], a.get("axes"), None
    else:
        starts, ends, axes, steps = x[1], x[2], _opt(x, 3), _opt(x, 4)
    starts, ends = _ints(starts), _ints(ends)
    axes = list(range(len(starts))) if axes is None else _ints(axes)
    steps = [1] * len(starts) if steps is None else _ints(steps)
    index = [slice(None)] * v.ndim
    for start, end, ax, step in zip(starts, ends, axes, steps):
        ax = _axis(ax, v.ndim)
        index[ax] = _slice_bounds(start, end, step, v.shape[ax])
    return v[tuple(index)]


def _slice_bounds(start: int, end: int, step: int, dim: int) -> slice:
    """ONNX clamping rules, expressed as a Python slice."""
    if step == 0:
        raise KernelError("Slice step must not be 0")
    if dim == 0:
        return slice(0, 0)
    start = start + dim if start < 0 else start
    end = end + dim if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), dim), min(max(end, 0), dim), step)
    start = min(max(start, 0), dim - 1)
    end = min(max(end, -1), dim - 1)
    return slice(start, None if end < 0 else end, step)


def _pad(a, x, y, opset):
    v = x[0]
    mode = a.get("mode", "constant")
    if opset < 11:
        pads, value = _ints(a["pads"]), a.get("value", 0.0)
    else:
        pads = _ints(x[1])
        cv = _opt(x, 2)
        value = 0 if cv is None or np.asarray(cv).size == 0 else np.asarray(cv).reshape(-1)[0]
    rank = v.ndim
    axes = _opt(x, 3) if opset >= 18 else None
    if axes is not None:
        axes = [_axis(ax, rank) for ax in _ints(axes)]
        full = [0] * (2 * rank)
        for i, ax in enumerate(axes):
            full[ax], full[rank + ax] = pads[i], pads[len(axes) + i]
        pads = full
    begin, end = pads[:rank], pads[rank:]
    # Negative pads crop.
    crop = tuple(slice(max(0, -b), v.shape[i] - max(0, -e)) for i, (b, e) in enumerate(zip(begin, end)))
    v = v[crop]
    width = [(max(0, b), max(0, e)) for b, e in zip(begin, end)]
    if mode == "constant":
        return np.pad(v, width, mode="constant", constant_values=np.asarray(value).astype(v.dtype))
    if mode in ("reflect", "edge", "wrap"):
        return np.pad(v, width, mode=mode)
    raise KernelError(f"Pad mode={mode!r} is not supported")


def _expand(a, x, y, opset):
    v = x[0]
    shape = np.broadcast_shapes(v.shape, tuple(_ints(x[1])))
    return np.broadcast_to(v, shape)


def _tile(a, x, y, opset):
    return np.tile(x[0], _ints(x[1]))


def _gather(a, x, y, opset):
    v, idx = x[0], x[1]
    axis = _axis(int(a.get("axis", 0)), v.ndim)
    return np.take(v, idx.astype(np.int64), axis=axis)


def _shape(a, x, y, opset):
    dims = np.array(x[0].shape, dtype=np.int64)
    start = int(a.get("start", 0))
    end = a.get("end")
    return dims[start:None if end is None else int(end)]


def _size(a, x, y, opset):
    return np.array(x[0].size, dtype=np.int64)


def _constant_of_shape(a, x, y, opset):
    value = a.get("value")
    fill = 0 if value is None else np.asarray(value).reshape(-1)[0]
    y[0].fill(fill)


def _constant(a, x, y, opset):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in a:
            return np.asarray(a[key])
    raise KernelError(f"Constant with attributes {sorted(a)} is not supported")


def _depth_to_space(a, x, y, opset):
    v = x[0]
    b = int(a["blocksize"])
    n, c, h, w = v.shape
    if a.get("mode", "DCR") == "CRD":
        t = v.reshape(n, c // (b * b), b, b, h, w).transpose(0, 1, 4, 2, 5, 3)
    else:
        t = v.reshape(n, b, b, c // (b * b), h, w).transpose(0, 3, 4, 1, 5, 2)
    return t.reshape(n, c // (b * b), h * b, w * b)


def _space_to_depth(a, x, y, opset):
    v = x[0]
    b = int(a["blocksize"])
    n, c, h, w = v.shape
    t = v.reshape(n, c, h // b, b, w // b, b).transpose(0, 3, 5, 1, 2, 4)
    return t.reshape(n, c * b * b, h // b, w // b)


# ----------------------------------------------------------------------------
# Resize / Upsample


def _resize(a, x, y, opset):
    data, out = x[0], y[0]
    rank = data.ndim
    mode = a.get("mode", "nearest")
    if a.get("antialias", 0):
        raise KernelError("Resize antialias=1 is not supported")
    if opset < 11:
        # Resize-10 and Upsample: asymmetric coordinates, legacy nearest rounding.
        ctm, nearest = "asymmetric", "simple"
        scales = _opt(x, 1) if len(x) > 1 else np.asarray(a["scales"])
        scales = np.asarray(scales, dtype=np.float32)
        roi = None
    else:
        ctm = a.get("coordinate_transformation_mode", "half_pixel")
        nearest = a.get("nearest_mode", "round_prefer_floor")
        roi = _opt(x, 1)
        scales = _resize_scales(a, data.shape, _opt(x, 2), _opt(x, 3), opset)
    axes_attr = [_axis(int(v), rank) for v in a.get("axes", [])] if opset >= 18 else []
    starts, ends = _resize_roi(roi, rank, axes_attr)
    if mode not in ("nearest", "linear", "cubic"):
        raise KernelError(f"Resize mode={mode!r} is not supported")
    res = data
    outside = np.zeros(out.shape, dtype=bool)
    extrapolate = ctm == "tf_crop_and_resize"
    for ax in range(rank):
        if scales[ax] == 1.0 and data.shape[ax] == out.shape[ax]:
            continue  # onnxruntime maps such axes one to one, whatever the transform
        coord = _resize_coords(ctm, out.shape[ax], data.shape[ax], scales[ax], starts[ax], ends[ax])
        if extrapolate:
            bad = (coord < 0) | (coord > data.shape[ax] - 1)
            outside |= bad.reshape((-1,) + (1,) * (rank - 1 - ax))
        if mode == "nearest":
            res = np.take(res, _nearest_index(coord, nearest, scales[ax], data.shape[ax]), axis=ax)
        elif mode == "linear":
            res = _linear_axis(res, coord, ax)
        else:
            res = _cubic_axis(res, coord, ax, a.get("cubic_coeff_a", -0.75), a.get("exclude_outside", 0))
    if extrapolate and outside.any():
        res = np.where(outside, np.asarray(a.get("extrapolation_value", 0.0)).astype(out.dtype), res)
    if res.shape != out.shape:
        raise KernelError(f"Resize to {out.shape} from {data.shape} with scales {scales.tolist()} is inconsistent")
    return res


def _resize_scales(a, in_shape, scales, sizes, opset):
    """Per-axis float32 scales as onnxruntime uses them in the coordinate transform."""
    rank = len(in_shape)
    axes = [_axis(int(v), rank) for v in a.get("axes", [])] if opset >= 18 else []
    if scales is not None and np.asarray(scales).size > 0:
        given = np.asarray(scales, dtype=np.float32).reshape(-1)
        if not axes:
            return given
        full = np.ones(rank, dtype=np.float32)
        full[axes] = given
        return full
    if sizes is None:
        raise KernelError("Resize needs scales or sizes")
    target = list(in_shape)
    for ax, s in zip(axes or range(rank), _ints(sizes)):
        target[ax] = s
    res = np.array([np.float32(t) / np.float32(i) if i else 1.0 for t, i in zip(target, in_shape)],
                   dtype=np.float32)
    policy = a.get("keep_aspect_ratio_policy", "stretch")
    if policy != "stretch":
        chosen = axes or list(range(rank))
        pick = np.min if policy == "not_larger" else np.max
        s = pick(res[chosen])
        res = np.ones(rank, dtype=np.float32)
        res[chosen] = s
    return res


def _resize_roi(roi, rank, axes):
    starts, ends = [0.0] * rank, [1.0] * rank
    if roi is None or np.asarray(roi).size == 0:
        return starts, ends
    r = np.asarray(roi, dtype=np.float32).reshape(-1)
    which = axes or list(range(rank))
    k = len(which)
    for i, ax in enumerate(which):
        starts[ax], ends[ax] = r[i], r[k + i]
    return starts, ends


def _resize_coords(ctm, n_out, n_in, scale, roi_start, roi_end):
    """Source coordinate of every output index, in float32 as onnxruntime computes it."""
    f = np.float32
    xr = np.arange(n_out, dtype=np.float32)
    s = f(scale)
    lo, li = f(n_out), f(n_in)
    if ctm == "asymmetric":
        return xr / s
    if ctm == "half_pixel":
        return (xr + f(0.5)) / s - f(0.5)
    if ctm == "pytorch_half_pixel":
        return (xr + f(0.5)) / s - f(0.5) if n_out > 1 else np.zeros(n_out, np.float32)
    if ctm == "tf_half_pixel_for_nn":
        return (xr + f(0.5)) / s
    if ctm == "align_corners":
        return np.zeros(n_out, np.float32) if n_out == 1 else xr * (li - f(1)) / (lo - f(1))
    if ctm == "tf_crop_and_resize":
        rs, re = f(roi_start), f(roi_end)
        if n_out > 1:
            return rs * (li - f(1)) + (xr * (re - rs) * (li - f(1))) / (lo - f(1))
        return np.full(n_out, 0.5 * (float(rs) + float(re)) * (n_in - 1), dtype=np.float32)
    if ctm == "half_pixel_symmetric":
        adjustment = lo / (s * li)
        offset = float((li / f(2)) * (f(1) - adjustment))
        return (offset + (xr.astype(np.float64) + 0.5) / float(s) - 0.5).astype(np.float32)
    raise KernelError(f"Resize coordinate_transformation_mode={ctm!r} is not supported")


def _nearest_index(coord, nearest, scale, n_in):
    if nearest == "simple":
        idx = np.ceil(coord) if scale < 1 else np.trunc(coord)
    elif nearest in ("round_prefer_floor", "round_prefer_ceil"):
        # onnxruntime treats a fraction within 1e-6 of .5 as a tie, absorbing float32
        # error in the coordinate (7 -> 4 asymmetric gives 3.4999998 for 3.5).
        base = np.floor(coord)
        tie = np.abs(coord - base - np.float32(0.5)) <= np.float32(1e-6)
        pick = base if nearest == "round_prefer_floor" else base + 1
        idx = np.where(tie, pick, _round_half_away(coord))
    elif nearest == "floor":
        idx = np.floor(coord)
    elif nearest == "ceil":
        idx = np.ceil(coord)
    else:
        raise KernelError(f"Resize nearest_mode={nearest!r} is not supported")
    return np.clip(idx, 0, n_in - 1).astype(np.int64)


def _linear_axis(v, coord, ax):
    n = v.shape[ax]
    c = np.clip(coord, 0, n - 1)
    lo = np.minimum(c.astype(np.int64), n - 1)
    hi = np.minimum(lo + 1, n - 1)
    w_hi = np.where(lo == hi, np.float32(0.5), c - lo).astype(np.float32)
    w_lo = np.where(lo == hi, np.float32(0.5), hi - c).astype(np.float32)
    shape = (-1,) + (1,) * (v.ndim - 1 - ax)
    vf = v.astype(_float_type(v), copy=False)
    return np.take(vf, lo, axis=ax) * w_lo.reshape(shape) + np.take(vf, hi, axis=ax) * w_hi.reshape(shape)


def _cubic_axis(v, coord, ax, coeff_a, exclude_outside):
    n = v.shape[ax]
    f = np.float32
    a = f(coeff_a)
    base = np.floor(coord)
    s = np.abs(coord - base).astype(np.float32)
    # Keys cubic convolution weights for taps base-1 .. base+2 (onnxruntime's formulas).
    t0, t2, t3 = s + f(1), f(1) - s, f(2) - s
    weights = [
        ((a * t0 - f(5) * a) * t0 + f(8) * a) * t0 - f(4) * a,
        ((a + f(2)) * s - (a + f(3))) * s * s + f(1),
        ((a + f(2)) * t2 - (a + f(3))) * t2 * t2 + f(1),
        ((a * t3 - f(5) * a) * t3 + f(8) * a) * t3 - f(4) * a,
    ]
    taps = [base.astype(np.int64) + j for j in (-1, 0, 1, 2)]
    if exclude_outside:
        weights = [np.where((t < 0) | (t >= n), f(0), w) for t, w in zip(taps, weights)]
        total = sum(weights)
        weights = [w / total for w in weights]
    shape = (-1,) + (1,) * (v.ndim - 1 - ax)
    vf = v.astype(_float_type(v), copy=False)
    res = None
    for t, w in zip(taps, weights):
        term = np.take(vf, np.clip(t, 0, n - 1), axis=ax) * w.reshape(shape)
        res = term if res is None else res + term
    return res


# ----------------------------------------------------------------------------
# quantisation


def _q_param(p, data, axis):
    """Scale / zero point broadcast along ``axis`` when per-axis (1-D, size > 1)."""
    p = np.asarray(p)
    if p.ndim == 1 and data.ndim > 0 and p.size > 1:
        shape = [1] * data.ndim
        shape[_axis(axis, data.ndim)] = -1
        return p.reshape(shape)
    return p.reshape(()) if p.size == 1 else p


def _quantize_linear(a, x, y, opset):
    if int(a.get("block_size", 0)):
        raise KernelError("QuantizeLinear block_size (blocked quantization) is not supported")
    data, out = x[0], y[0]
    axis = int(a.get("axis", 1))
    scale = _q_param(x[1], data, axis).astype(np.float32)
    zp = _opt(x, 2)
    zp = np.float32(0) if zp is None else _q_param(zp, data, axis).astype(np.float32)
    info = np.iinfo(out.dtype)
    # float32 divide, round half to even, then saturate: as MLAS does.
    q = np.rint(data.astype(np.float32) / scale) + zp
    return np.clip(q, info.min, info.max)


def _dequantize_linear(a, x, y, opset):
    if int(a.get("block_size", 0)):
        raise KernelError("DequantizeLinear block_size (blocked quantization) is not supported")
    data = x[0]
    axis = int(a.get("axis", 1))
    scale = _q_param(x[1], data, axis)
    zp = _opt(x, 2)
    zp = np.int64(0) if zp is None else _q_param(zp, data, axis).astype(np.int64)
    return (data.astype(np.int64) - zp).astype(np.float32) * scale.astype(np.float32)


def _requantize(acc, scale, zp, out):
    """int accumulator * float32 scale, round half even, add zero point, saturate."""
    info = np.iinfo(out.dtype)
    v = np.rint(acc.astype(np.float32) * scale) + np.asarray(zp).astype(np.float32)
    return np.clip(v, info.min, info.max)


def _qlinear_matmul(a, x, y, opset):
    qa, sa, za, qb, sb, zb, sy, zy = x[:8]
    # Integer products summed in float64 are exact for any realistic size.
    acc = np.matmul(qa.astype(np.float64) - np.asarray(za, np.float64),
                    qb.astype(np.float64) - np.asarray(zb, np.float64))
    scale = (np.float32(sa.reshape(-1)[0]) * np.asarray(sb, np.float32)) / np.float32(sy.reshape(-1)[0])
    return _requantize(acc, scale, zy, y[0])


def _qlinear_conv(a, x, y, opset):
    qx, sx, zx, qw, sw, zw, sy, zy = x[:8]
    bias = _opt(x, 8)
    out = y[0]
    nd = qx.ndim - 2
    kernel, strides, dilations = _spatial_params(a, qw.shape[2:], nd)
    out_spatial = list(out.shape[2:])
    heads, _ = _pads(a, qx.shape[2:], kernel, strides, dilations)
    zw = np.asarray(zw, np.float64)
    wshift = qw.astype(np.float64) - (zw.reshape((-1,) + (1,) * (qw.ndim - 1)) if zw.size > 1 else zw)
    xshift = qx.astype(np.float64) - np.float64(np.asarray(zx).reshape(-1)[0])
    acc = _conv_core(xshift, wshift, int(a.get("group", 1)), heads, strides, dilations, out_spatial)
    if bias is not None:
        acc = acc + bias.astype(np.float64).reshape((-1,) + (1,) * nd)
    scale = np.float32(sx.reshape(-1)[0]) * np.asarray(sw, np.float32).reshape(-1) / np.float32(sy.reshape(-1)[0])
    scale = scale.reshape((-1,) + (1,) * nd) if scale.size > 1 else scale.reshape(())
    return _requantize(acc, scale, zy, out)


# ----------------------------------------------------------------------------
# dispatch

_KERNELS = {
    # arithmetic
    "Add": _binary(np.add), "Sub": _binary(np.subtract), "Mul": _binary(np.multiply),
    "Div": _div, "Pow": _pow,
    "Sqrt": _unary(np.sqrt), "Neg": _unary(np.negative), "Abs": _unary(np.absolute),
    "Exp": _unary(np.exp), "Log": _unary(np.log), "Reciprocal": _unary(np.reciprocal),
    "Floor": _unary(np.floor), "Ceil": _unary(np.ceil), "Sign": _unary(np.sign),
    "Sin": _unary(np.sin), "Cos": _unary(np.cos), "Tanh": _unary(np.tanh),
    "Sum": _variadic(np.add), "Max": _variadic(np.maximum), "Min": _variadic(np.minimum),
    "Mean": _variadic(np.add, mean=True),
    # activations
    "Relu": _relu, "LeakyRelu": _leaky_relu, "PRelu": _prelu, "Elu": _elu, "Selu": _selu,
    "Clip": _clip, "Sigmoid": _sigmoid, "HardSigmoid": _hard_sigmoid, "HardSwish": _hard_swish,
    "Softplus": _softplus, "Softsign": _softsign, "Erf": _erf_kernel, "Gelu": _gelu, "Mish": _mish,
    # logic
    "Equal": _binary(np.equal), "Less": _binary(np.less), "Greater": _binary(np.greater),
    "LessOrEqual": _binary(np.less_equal), "GreaterOrEqual": _binary(np.greater_equal),
    "Not": _unary(np.logical_not), "And": _binary(np.logical_and), "Or": _binary(np.logical_or),
    "Xor": _binary(np.logical_xor), "Where": _where,
    # convolution, pooling, matrix products
    "Conv": _conv, "ConvTranspose": _conv_transpose,
    "MaxPool": _max_pool, "AveragePool": _average_pool,
    "GlobalAveragePool": _global_average_pool, "GlobalMaxPool": _global_max_pool,
    "Gemm": _gemm, "MatMul": _matmul,
    # normalisation
    "BatchNormalization": _batch_norm, "InstanceNormalization": _instance_norm,
    "LayerNormalization": _layer_norm, "LRN": _lrn,
    "Softmax": _softmax_family(log=False), "LogSoftmax": _softmax_family(log=True),
    # reductions
    "ReduceSum": _reduce(np.sum, 13), "ReduceMean": _reduce(np.mean, 18),
    "ReduceMax": _reduce(np.max, 18), "ReduceMin": _reduce(np.min, 18), "ReduceProd": _reduce(np.prod, 18),
    "ReduceL1": _reduce(np.sum, 18, pre=np.abs), "ReduceL2": _reduce(np.sum, 18, pre=_square, post=np.sqrt),
    "ReduceSumSquare": _reduce(np.sum, 18, pre=_square), "ReduceLogSum": _reduce(np.sum, 18, post=np.log),
    "ReduceLogSumExp": _reduce(_log_sum_exp, 18),
    "ArgMax": _arg(np.argmax), "ArgMin": _arg(np.argmin),
    # shape and data movement
    "Reshape": _reshape, "Flatten": _flatten, "Transpose": _transpose,
    "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Identity": _identity, "Dropout": _dropout,
    "Concat": _concat, "Split": _split, "Slice": _slice, "Pad": _pad,
    "Expand": _expand, "Tile": _tile, "Gather": _gather, "Cast": _cast,
    "Shape": _shape, "Size": _size, "ConstantOfShape": _constant_of_shape, "Constant": _constant,
    "DepthToSpace": _depth_to_space, "SpaceToDepth": _space_to_depth,
    "Resize": _resize, "Upsample": _resize,
    # quantisation
    "QuantizeLinear": _quantize_linear, "DequantizeLinear": _dequantize_linear,
    "QLinearMatMul": _qlinear_matmul, "QLinearConv": _qlinear_conv,
}
