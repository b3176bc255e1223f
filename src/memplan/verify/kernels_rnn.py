"""NumPy kernels for ONNX's recurrent operators: LSTM, GRU and RNN.

Everything the operator spec lists: directions forward / reverse / bidirectional, the
eleven activation functions with ``activation_alpha`` / ``activation_beta``, ``clip``,
``input_forget`` and peepholes (LSTM), ``linear_before_reset`` (GRU), ``layout`` 0 and 1,
``initial_h`` / ``initial_c``, ``sequence_lens`` and every optional output.

Method: one matmul projects the whole input sequence onto the gates (``X W^T + Wb``), then
one small matmul per time step adds the recurrence. Variable sequence lengths are handled
with a per-batch mask: a finished sequence keeps its state and writes zeros into ``Y``, as
onnxruntime does. The reverse direction of sequence ``b`` reads ``X[L_b - 1], .., X[0]``
(reversed within its own length, not from the padded end). Gate arithmetic follows
onnxruntime's order: the peephole term is added before ``clip``, and ``clip`` bounds every
activation's input. Cost: O(seq * batch * H * (I + H)) per direction, like the op itself.

Example: an LSTM with ``direction="bidirectional"``, ``hidden_size=4`` over X of shape
(5, 2, 3) gives ``Y`` (5, 2, 2, 4), ``Y_h`` and ``Y_c`` (2, 2, 4).
"""
from __future__ import annotations

import numpy as np

from .kernels import KernelError

__all__ = ["KERNELS"]

# name -> (how many of alpha/beta it consumes, default alpha, default beta), as onnxruntime
# reads them: the attribute lists are consumed in activation order, only by functions that
# take parameters. onnxruntime's defaults for Affine, ThresholdedRelu and ScaledTanh are 0
# (not the standalone ops' 1.0): verify compares with onnxruntime, so these follow it.
_ACTIVATIONS = {
    "relu": (0, 0.0, 0.0), "tanh": (0, 0.0, 0.0), "sigmoid": (0, 0.0, 0.0),
    "affine": (2, 0.0, 0.0), "leakyrelu": (1, 0.01, 0.0), "thresholdedrelu": (1, 0.0, 0.0),
    "scaledtanh": (2, 0.0, 0.0), "hardsigmoid": (2, 0.2, 0.5), "elu": (1, 1.0, 0.0),
    "softsign": (0, 0.0, 0.0), "softplus": (0, 0.0, 0.0),
}


def _sigmoid(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1 / (1 + e), e / (1 + e))


def _apply(name: str, alpha: float, beta: float, v: np.ndarray) -> np.ndarray:
    t = v.dtype.type
    if name == "relu":
        return np.maximum(v, t(0))
    if name == "tanh":
        return np.tanh(v)
    if name == "sigmoid":
        return _sigmoid(v)
    if name == "affine":
        return t(alpha) * v + t(beta)
    if name == "leakyrelu":
        return np.where(v >= 0, v, t(alpha) * v)
    if name == "thresholdedrelu":
        return np.where(v > t(alpha), v, t(0))
    if name == "scaledtanh":
        return t(alpha) * np.tanh(t(beta) * v)
    if name == "hardsigmoid":
        return np.clip(t(alpha) * v + t(beta), 0, 1).astype(v.dtype)
    if name == "elu":
        return np.where(v >= 0, v, t(alpha) * np.expm1(v))
    if name == "softsign":
        return v / (1 + np.abs(v))
    return np.logaddexp(t(0), v)  # softplus


def _activations(a: dict, defaults: list[str], dirs: int) -> list[list]:
    """Per direction, the list of activation callables (f, g, h for LSTM)."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in (a.get("activations") or [])]
    per_dir = len(defaults)
    if not names:
        names = defaults * dirs
    elif len(names) == per_dir and dirs == 2:
        names = names * 2  # one set given for a bidirectional op: both directions use it
    if len(names) != per_dir * dirs:
        raise KernelError(f"expected {per_dir * dirs} activations, got {len(names)}")
    alphas = list(a.get("activation_alpha") or [])
    betas = list(a.get("activation_beta") or [])
    funcs = []
    for name in names:
        key = name.lower()
        if key not in _ACTIVATIONS:
            raise KernelError(f"activation {name!r} is not supported")
        count, alpha, beta = _ACTIVATIONS[key]
        if count >= 1 and alphas:
            alpha = alphas.pop(0)
        if count >= 2 and betas:
            beta = betas.pop(0)
        funcs.append(lambda v, k=key, al=alpha, be=beta: _apply(k, al, be, v))
    return [funcs[d * per_dir:(d + 1) * per_dir] for d in range(dirs)]


def _clipper(a: dict):
    clip = a.get("clip")
    if clip is None:
        return lambda v: v
    c = float(clip)
    return lambda v: np.clip(v, -c, c).astype(v.dtype, copy=False)


class _Seq:
    """Sequence bookkeeping shared by the three ops: layout, lengths, reversal."""

    def __init__(self, a, x, seq_lens, dirs):
        self.layout = int(a.get("layout", 0))
        if self.layout not in (0, 1):
            raise KernelError(f"layout={self.layout} is not supported")
        self.x = x.transpose(1, 0, 2) if self.layout else x  # (seq, batch, input)
        self.seq, self.batch = self.x.shape[:2]
        lens = np.full(self.batch, self.seq, np.int64) if seq_lens is None else np.asarray(seq_lens, np.int64)
        self.lens = np.minimum(lens.reshape(-1), self.seq)
        self.direction = a.get("direction", "forward")
        if isinstance(self.direction, bytes):
            self.direction = self.direction.decode()
        expected = 2 if self.direction == "bidirectional" else 1
        if self.direction not in ("forward", "reverse", "bidirectional") or dirs != expected:
            raise KernelError(f"direction={self.direction!r} with {dirs} weight direction(s) is not supported")
        steps = np.arange(self.seq).reshape(-1, 1)
        self.valid = steps < self.lens.reshape(1, -1)  # (seq, batch)
        # Time index read at step t by a reversed pass: L_b - 1 - t inside the sequence.
        self.rev_index = np.where(self.valid, self.lens.reshape(1, -1) - 1 - steps, steps)

    def reversed(self, d: int) -> bool:
        return self.direction == "reverse" or (self.direction == "bidirectional" and d == 1)

    def state(self, init, d, hidden, dtype):
        """Initial state of direction d as (batch, hidden); zeros when not given."""
        if init is None:
            return np.zeros((self.batch, hidden), dtype)
        init = init.transpose(1, 0, 2) if self.layout else init
        return np.array(init[d], dtype=dtype)

    def inputs(self, d):
        """(seq, batch, input): the input in the order direction d reads it."""
        if not self.reversed(d):
            return self.x
        return self.x[self.rev_index, np.arange(self.batch)]

    def place(self, y, d, per_step):
        """Write per-step outputs (seq, batch, H) of direction d into y (seq, dirs, batch, H)."""
        per_step = np.where(self.valid[:, :, None], per_step, 0)
        if self.reversed(d):
            y[self.rev_index, d, np.arange(self.batch)] = per_step
        else:
            y[:, d] = per_step

    def outputs(self, y, finals):
        """Y and the final states in the op's layout."""
        if self.layout:
            y = y.transpose(2, 0, 1, 3)  # (batch, seq, dirs, H)
            finals = [f.transpose(1, 0, 2) for f in finals]  # (batch, dirs, H)
        return (y, *finals)


def _common(a, x):
    data, w, r = x[0], x[1], x[2]
    b = x[3] if len(x) > 3 else None
    seq_lens = x[4] if len(x) > 4 else None
    init_h = x[5] if len(x) > 5 else None
    dirs = w.shape[0]
    hidden = r.shape[-1]
    if a.get("hidden_size") is not None and int(a["hidden_size"]) != hidden:
        raise KernelError(f"hidden_size={a['hidden_size']} does not match R's last dimension {hidden}")
    return data, w, r, b, seq_lens, init_h, dirs, hidden


def _projection(xs, w, b, gates, hidden):
    """X W^T + Wb for all steps at once: (seq, batch, gates * hidden)."""
    proj = xs @ w.T
    if b is not None:
        proj = proj + b[:gates * hidden]
    return proj


def _lstm(a, x, y, opset):
    _, w, r, _, _, _, dirs, hid = _common(a, x)
    return lstm_core(a, x, dirs, hid, lambda d, xs: xs @ w[d].T, lambda d, h, _: h @ r[d].T)


def lstm_core(a, x, dirs, hid, project, recur):
    """The LSTM recurrence with the two matrix products supplied: ``project(d, xs)`` is
    ``X W^T`` of direction d for all steps, ``recur(d, h, live)`` is ``H R^T`` for one step
    (``live``: which sequences were still running at the step before, None at step 0)
    (float for LSTM, quantised for com.microsoft.DynamicQuantizeLSTM). ``x`` are the op's
    inputs in LSTM's positions (X, W, R, B, sequence_lens, initial_h, initial_c, P)."""
    data = x[0]
    b = x[3] if len(x) > 3 else None
    seq_lens = x[4] if len(x) > 4 else None
    init_h = x[5] if len(x) > 5 else None
    init_c = x[6] if len(x) > 6 else None
    peep = x[7] if len(x) > 7 else None
    dt = data.dtype
    s = _Seq(a, data, seq_lens, dirs)
    acts = _activations(a, ["Sigmoid", "Tanh", "Tanh"], dirs)
    clip = _clipper(a)
    coupled = bool(a.get("input_forget", 0))
    y_all = np.zeros((s.seq, dirs, s.batch, hid), dt)
    hs, cs = [], []
    for d in range(dirs):
        f, g, h = acts[d]
        proj = project(d, s.inputs(d))
        if b is not None:
            proj = proj + b[d][:4 * hid]
        rb = None if b is None else b[d][4 * hid:]
        ht, ct = s.state(init_h, d, hid, dt), s.state(init_c, d, hid, dt)
        p_i, p_o, p_f = (None, None, None) if peep is None else np.split(peep[d], 3)
        out = np.zeros((s.seq, s.batch, hid), dt)
        for t in range(s.seq):
            z = proj[t] + recur(d, ht, s.valid[t - 1] if t else None)
            if rb is not None:
                z = z + rb
            zi, zo, zf, zc = np.split(z, 4, axis=1)
            if p_i is not None:
                zi, zf = zi + p_i * ct, zf + p_f * ct
            gi = f(clip(zi))
            gf = 1 - gi if coupled else f(clip(zf))
            c_new = gf * ct + gi * g(clip(zc))
            if p_o is not None:
                zo = zo + p_o * c_new
            h_new = f(clip(zo)) * h(c_new)
            live = s.valid[t][:, None]
            ht, ct = np.where(live, h_new, ht), np.where(live, c_new, ct)
            out[t] = h_new
        s.place(y_all, d, out)
        hs.append(ht)
        cs.append(ct)
    return s.outputs(y_all, [np.stack(hs), np.stack(cs)])


def _gru(a, x, y, opset):
    data, w, r, b, seq_lens, init_h, dirs, hid = _common(a, x)
    dt = data.dtype
    s = _Seq(a, data, seq_lens, dirs)
    acts = _activations(a, ["Sigmoid", "Tanh"], dirs)
    clip = _clipper(a)
    before_reset = bool(a.get("linear_before_reset", 0))
    y_all = np.zeros((s.seq, dirs, s.batch, hid), dt)
    hs = []
    for d in range(dirs):
        f, g = acts[d]
        proj = _projection(s.inputs(d), w[d], None if b is None else b[d], 3, hid)
        rb = np.zeros(3 * hid, dt) if b is None else b[d][3 * hid:]
        rz_r, rh = r[d][:2 * hid], r[d][2 * hid:]
        ht = s.state(init_h, d, hid, dt)
        out = np.zeros((s.seq, s.batch, hid), dt)
        for t in range(s.seq):
            xz, xr, xh = np.split(proj[t], 3, axis=1)
            hz, hr = np.split(ht @ rz_r.T + rb[:2 * hid], 2, axis=1)
            zt = f(clip(xz + hz))
            rt = f(clip(xr + hr))
            if before_reset:
                cand = xh + rt * (ht @ rh.T + rb[2 * hid:])
            else:
                cand = xh + (rt * ht) @ rh.T + rb[2 * hid:]
            h_new = (1 - zt) * g(clip(cand)) + zt * ht
            ht = np.where(s.valid[t][:, None], h_new, ht)
            out[t] = h_new
        s.place(y_all, d, out)
        hs.append(ht)
    return s.outputs(y_all, [np.stack(hs)])


def _rnn(a, x, y, opset):
    data, w, r, b, seq_lens, init_h, dirs, hid = _common(a, x)
    dt = data.dtype
    s = _Seq(a, data, seq_lens, dirs)
    acts = _activations(a, ["Tanh"], dirs)
    clip = _clipper(a)
    y_all = np.zeros((s.seq, dirs, s.batch, hid), dt)
    hs = []
    for d in range(dirs):
        (f,) = acts[d]
        proj = _projection(s.inputs(d), w[d], None if b is None else b[d], 1, hid)
        rb = None if b is None else b[d][hid:]
        ht = s.state(init_h, d, hid, dt)
        out = np.zeros((s.seq, s.batch, hid), dt)
        for t in range(s.seq):
            z = proj[t] + ht @ r[d].T
            if rb is not None:
                z = z + rb
            h_new = f(clip(z))
            ht = np.where(s.valid[t][:, None], h_new, ht)
            out[t] = h_new
        s.place(y_all, d, out)
        hs.append(ht)
    return s.outputs(y_all, [np.stack(hs)])


KERNELS = {"LSTM": _lstm, "GRU": _gru, "RNN": _rnn}
