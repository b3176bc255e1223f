"""Contrib-op kernels (com.microsoft) and the dynamic quantisation they share, against
onnxruntime on hand-built one-node models."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper

from memplan.verify.ops import KernelError, run_op

SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6
DQLSTM = "com.microsoft.DynamicQuantizeLSTM"


def ort_node(op, domain, inputs, attrs, n_out):
    """Run one node in onnxruntime: ``inputs`` arrays or None (skipped optional input)."""
    names = [f"x{i}" if v is not None else "" for i, v in enumerate(inputs)]
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, names, outs, domain=domain, **attrs)
    graph = helper.make_graph([node], "case", [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in zip(names, inputs) if n], [onnx.ValueInfoProto(name=n) for n in outs])
    opsets = [helper.make_opsetid("", 17)] + ([helper.make_opsetid(domain, 1)] if domain else [])
    model = helper.make_model(graph, opset_imports=opsets, ir_version=9)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: v for n, v in zip(names, inputs) if n})


def ours(key, inputs, attrs, ref):
    outs = [np.full(r.shape, np.nan if r.dtype.kind == "f" else 7, r.dtype) for r in ref]
    run_op(key, attrs, list(inputs), outs)
    return outs


def quantised_lstm_inputs(rng, dirs, *, signed, per_column, lens=None, states=True):
    def weights(rows):
        if signed:  # 7 bits (``reduce_range``): see kernels_contrib on int16 saturation
            return rng.integers(-64, 65, (dirs, rows, 4 * HIDDEN)).astype(np.int8)
        return rng.integers(0, 256, (dirs, rows, 4 * HIDDEN)).astype(np.uint8)

    def scale():
        shape = (dirs, 4 * HIDDEN) if per_column else (dirs,)
        return rng.uniform(0.002, 0.01, shape).astype(np.float32)

    def zero(shape_like):
        dtype = np.int8 if signed else np.uint8
        return np.zeros(shape_like.shape, dtype) if signed else np.full(shape_like.shape, 128, dtype)

    w_scale, r_scale = scale(), scale()
    def f(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    return [f(SEQ, BATCH, INPUT), weights(INPUT), weights(HIDDEN), f(dirs, 8 * HIDDEN) * 0.5,
            None if lens is None else np.array(lens, np.int32),
            f(dirs, BATCH, HIDDEN) if states else None, f(dirs, BATCH, HIDDEN) if states else None, None,
            w_scale, zero(w_scale), r_scale, zero(r_scale)]


@pytest.mark.parametrize("direction, dirs", [("forward", 1), ("reverse", 1), ("bidirectional", 2)])
@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("per_column", [True, False])
def test_dynamic_quantize_lstm_matches_onnxruntime(direction, dirs, signed, per_column):
    rng = np.random.default_rng(dirs * 4 + signed * 2 + per_column)
    inputs = quantised_lstm_inputs(rng, dirs, signed=signed, per_column=per_column)
    attrs = {"hidden_size": HIDDEN, "direction": direction}
    ref = ort_node("DynamicQuantizeLSTM", "com.microsoft", inputs, attrs, 3)
    for got, want in zip(ours(DQLSTM, inputs, attrs, ref), ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dynamic_quantize_lstm_sequence_lengths_and_no_initial_state():
    rng = np.random.default_rng(11)
    inputs = quantised_lstm_inputs(rng, 2, signed=True, per_column=False, lens=[5, 2, 4], states=False)
    attrs = {"hidden_size": HIDDEN, "direction": "bidirectional"}
    ref = ort_node("DynamicQuantizeLSTM", "com.microsoft", inputs, attrs, 3)
    for got, want in zip(ours(DQLSTM, inputs, attrs, ref), ref):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_dynamic_quantize_lstm_without_scales_is_a_kernel_error():
    rng = np.random.default_rng(0)
    inputs = quantised_lstm_inputs(rng, 1, signed=True, per_column=False)[:8]
    outs = [np.zeros((SEQ, 1, BATCH, HIDDEN), np.float32), None, None]
    with pytest.raises(KernelError, match="W_scale"):
        run_op(DQLSTM, {"hidden_size": HIDDEN}, inputs, outs)


@pytest.mark.parametrize("seed", range(40))
def test_dynamic_quantize_linear_is_bit_exact(seed):
    """Scale, zero point and values equal onnxruntime's: a scale one ulp off flips a later
    rounding step of a quantised model (it did, one case in five, before it was float32)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((3, 50)) * rng.uniform(0.01, 10)).astype(np.float32)
    if seed % 3 == 0:
        x = np.abs(x)  # the range starts at 0
    if seed == 1:
        x[:] = 0  # an empty range: scale 1, zero point 0
    ref = ort_node("DynamicQuantizeLinear", "", [x], {}, 3)
    for got, want in zip(ours("DynamicQuantizeLinear", [x], {}, ref), ref):
        assert got.dtype == want.dtype and np.array_equal(got, want)


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("per_column", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_dynamic_quantize_matmul_matches_onnxruntime(signed, per_column, bias):
    rng = np.random.default_rng(signed * 4 + per_column * 2 + bias)
    a = rng.standard_normal((2, 3, 8)).astype(np.float32)
    if signed:
        b, zero = rng.integers(-64, 65, (8, 5)).astype(np.int8), np.zeros(5 if per_column else 1, np.int8)
    else:
        b, zero = rng.integers(0, 256, (8, 5)).astype(np.uint8), rng.integers(100, 150, 5 if per_column else 1).astype(np.uint8)
    scale = rng.uniform(0.002, 0.01, 5 if per_column else 1).astype(np.float32)
    inputs = [a, b, scale, zero, rng.standard_normal(5).astype(np.float32) if bias else None]
    ref = ort_node("DynamicQuantizeMatMul", "com.microsoft", inputs, {}, 1)
    got = ours("com.microsoft.DynamicQuantizeMatMul", inputs, {}, ref)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op, extra", [("Gelu", {}), ("QuickGelu", {"alpha": 1.5}), ("BiasGelu", {})])
def test_activation_contrib_ops_match_onnxruntime(op, extra):
    rng = np.random.default_rng(3)
    inputs = [rng.standard_normal((4, 6)).astype(np.float32) * 3]
    if op == "BiasGelu":
        inputs.append(rng.standard_normal(6).astype(np.float32))
    ref = ort_node(op, "com.microsoft", inputs, extra, 1)
    got = ours(f"com.microsoft.{op}", inputs, extra, ref)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-6)


def test_every_contrib_kernel_is_tested_here():
    import inspect
    import sys

    from memplan.verify.kernels_contrib import KERNELS

    source = inspect.getsource(sys.modules[__name__])
    assert all(key.split(".")[-1] in source for key in KERNELS)
