"""memplan verify on real data: user inputs from .npz, random weights only where weights
are, infinities in masks, no NumPy warnings, and messages that name the user's file."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from helpers import save
from onnx import TensorProto, helper, numpy_helper

import memplan
from memplan.errors import InputError
from memplan.verify import prove as prove_module
from memplan.verify.inputs import load_inputs
from memplan.verify.prove import compare, prove
from memplan.verify.random_weights import randomize_weights, weight_names

MEMPLAN = [sys.executable, "-m", "memplan.cli"]
RNG = np.random.default_rng(5)


def run(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(MEMPLAN + list(args), check=False, capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=300)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array), name)


def model(nodes, inputs, outputs, inits, opset=17):
    graph = helper.make_graph(nodes, "m", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def f32(*shape):
    return (RNG.standard_normal(shape) * 0.3).astype(np.float32)


def causal_attention(seq=4, dim=8):
    """Self-attention with a causal mask built as Trilu(ConstantOfShape(-inf)), a Linear bias
    (MatMul + Add), LayerNormalization; the masked scores (full of -inf) are an output."""
    inf = numpy_helper.from_array(np.array([-np.inf], np.float32))
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q0"], name="q_proj"),
        helper.make_node("Add", ["q0", "bq"], ["q"], name="q_bias"),
        helper.make_node("MatMul", ["x", "wk"], ["k"], name="k_proj"),
        helper.make_node("MatMul", ["x", "wv"], ["v"], name="v_proj"),
        helper.make_node("Transpose", ["k"], ["kt"], name="kt", perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"], name="scores"),
        helper.make_node("ConstantOfShape", ["mask_shape"], ["neg"], name="neg", value=inf),
        helper.make_node("Trilu", ["neg", "one"], ["mask"], name="mask", upper=1),
        helper.make_node("Add", ["scores", "mask"], ["masked"], name="apply_mask"),
        helper.make_node("Softmax", ["masked"], ["probs"], name="softmax", axis=-1),
        helper.make_node("MatMul", ["probs", "v"], ["ctx"], name="ctx"),
        helper.make_node("LayerNormalization", ["ctx", "gamma", "beta"], ["out"], name="ln", axis=-1),
    ]
    inits = [init("wq", f32(dim, dim)), init("bq", f32(dim)), init("wk", f32(dim, dim)),
             init("wv", f32(dim, dim)), init("mask_shape", np.array([seq, seq], np.int64)),
             init("one", np.array(1, np.int64)), init("gamma", f32(dim) + 1), init("beta", f32(dim))]
    return model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, seq, dim])],
                 [helper.make_tensor_value_info("masked", TensorProto.FLOAT, [1, seq, seq]),
                  helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, seq, dim])], inits)


def detector_head():
    """Conv -> Resize by constant scales -> Reshape by a constant shape; a Paddle-style
    Constant node holds a second conv's weight, a 2-D additive constant and a scalar."""
    conv2_w = helper.make_tensor("cw", TensorProto.FLOAT, [4, 4, 1, 1], f32(4, 4, 1, 1).reshape(-1).tolist())
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Constant", [], ["paddle_w"], name="paddle_const", value=conv2_w),
        helper.make_node("Conv", ["c", "paddle_w"], ["c2"], name="conv2"),
        helper.make_node("Resize", ["c2", "", "scales"], ["up"], name="resize", mode="nearest"),
        helper.make_node("Reshape", ["up", "shape"], ["flat"], name="reshape"),
        helper.make_node("MatMul", ["flat", "proj"], ["p"], name="proj"),
        helper.make_node("Add", ["p", "grid"], ["pg"], name="add_grid"),
        helper.make_node("Mul", ["pg", "two"], ["y"], name="scale"),
    ]
    inits = [init("w", f32(4, 3, 3, 3)), init("b", f32(4)), init("scales", np.array([1, 1, 2, 2], np.float32)),
             init("shape", np.array([1, 4, 64], np.int64)), init("proj", f32(64, 5)),
             init("grid", np.arange(20, dtype=np.float32).reshape(4, 5)), init("two", np.array(2.0, np.float32))]
    return model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 4, 4])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5])], inits, opset=13)


def embedding_lstm(vocab=10, dim=4, hidden=4, seq=5, batch=2):
    """Token ids -> embedding Gather -> LSTM -> last state -> logits by the tied embedding."""
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
        helper.make_node("Transpose", ["emb"], ["xs"], name="to_seq", perm=[1, 0, 2]),
        helper.make_node("LSTM", ["xs", "W", "R", "B", "", "h0"], ["", "yh"], name="lstm", hidden_size=hidden),
        helper.make_node("Squeeze", ["yh", "axis0"], ["h"], name="squeeze"),
        helper.make_node("Transpose", ["table"], ["table_t"], name="tied", perm=[1, 0]),
        helper.make_node("MatMul", ["h", "table_t"], ["logits"], name="logits"),
    ]
    inits = [init("table", f32(vocab, dim)), init("W", f32(1, 4 * hidden, dim)), init("R", f32(1, 4 * hidden, hidden)),
             init("B", f32(1, 8 * hidden)), init("h0", f32(1, batch, hidden)), init("axis0", np.array([0], np.int64))]
    return model(nodes, [helper.make_tensor_value_info("ids", TensorProto.INT64, [batch, seq])],
                 [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, vocab])], inits, opset=14)


# ---------------------------------------------------------------------------
# comparison with infinities and NaNs


@pytest.mark.parametrize("scaled", [False, True])
def test_equal_infinities_and_nans_match(scaled):
    ref = np.array([1.0, -np.inf, np.inf, np.nan, 0.0], np.float32)
    assert compare("t", ref.copy(), ref, 1e-4, 1e-5, scaled=scaled).ok


@pytest.mark.parametrize("ours", [[1.0, np.inf, np.inf, np.nan, 0.0], [1.0, -np.inf, np.inf, 0.0, 0.0],
                                  [1.0, -3.0, np.inf, np.nan, 0.0], [1.0, -np.inf, np.inf, np.nan, np.nan],
                                  [1.5, -np.inf, np.inf, np.nan, 0.0]])
@pytest.mark.parametrize("scaled", [False, True])
def test_different_non_finite_values_fail(ours, scaled):
    ref = np.array([1.0, -np.inf, np.inf, np.nan, 0.0], np.float32)
    with np.errstate(all="raise"):  # and the comparison itself warns about nothing
        assert not compare("t", np.array(ours, np.float32), ref, 1e-4, 1e-5, scaled=scaled).ok


def test_scaled_tolerance_ignores_infinite_magnitudes():
    ref = np.array([-np.inf, 1.0, 2.0], np.float32)
    assert not compare("t", np.array([-np.inf, 1.5, 2.0], np.float32), ref, 1e-4, 1e-5, scaled=True).ok


def test_verify_causal_mask_passes_without_warnings(tmp_path):
    path = save(causal_attention(), tmp_path / "attn.onnx")
    for extra in ([], ["--random-weights"]):
        r = run("verify", path, *extra)
        assert r.returncode == 0, r.stdout + r.stderr
        assert r.stderr == "", r.stderr
        assert "Warning" not in r.stdout


# ---------------------------------------------------------------------------
# --inputs FILE.npz


def test_user_inputs_reach_both_sides(tmp_path, monkeypatch):
    path = save(causal_attention(), tmp_path / "attn.onnx")
    graph = memplan.load(path)
    x = np.arange(32, dtype=np.float32).reshape(1, 4, 8) / 10
    np.savez(tmp_path / "in.npz", x=x)
    seen = {}
    real = prove_module.reference_outputs

    def spy(model_path, feeds, **kw):
        seen.update(feeds)
        return real(model_path, feeds, **kw)

    monkeypatch.setattr(prove_module, "reference_outputs", spy)
    proof = prove(path, graph, memplan.plan(graph), inputs=load_inputs(str(tmp_path / "in.npz"), graph, path))
    assert proof.ok
    np.testing.assert_array_equal(seen["x"], x)


def test_verify_with_inputs_file(tmp_path):
    path = save(embedding_lstm(), tmp_path / "lm.onnx")
    np.savez(tmp_path / "ids.npz", ids=np.array([[1, 2, 3, 4, 5], [9, 9, 0, 0, 1]], np.int64))
    r = run("verify", path, "--random-weights", "--inputs", str(tmp_path / "ids.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""


def test_inputs_not_in_the_file_are_seeded_random(tmp_path):
    nodes = [helper.make_node("Add", ["a", "b"], ["y"], name="add")]
    vi = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [2, 3]) for n in ("a", "b")]
    path = save(model(nodes, vi, [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], []),
                tmp_path / "add.onnx")
    np.savez(tmp_path / "a.npz", a=np.ones((2, 3), np.float32))
    r = run("verify", path, "--inputs", str(tmp_path / "a.npz"))
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("arrays, needles", [
    ({"z": np.zeros((1, 4, 8), np.float32)}, ["'z' is not an input", "inputs: x"]),
    ({"x": np.zeros((1, 4, 7), np.float32)}, ["input 'x'", "(1, 4, 7)", "(1, 4, 8)"]),
    ({"x": np.zeros((1, 4, 8), np.float64)}, ["input 'x'", "float64", "float32"]),
])
def test_bad_inputs_file_is_one_line(tmp_path, arrays, needles):
    path = save(causal_attention(), tmp_path / "attn.onnx")
    npz = tmp_path / "bad.npz"
    np.savez(npz, **arrays)
    r = run("verify", path, "--inputs", str(npz))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert str(npz) in lines[0]
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("content", [None, b"not a zip at all", "npy"])
def test_unreadable_inputs_file_is_one_line(tmp_path, content):
    path = save(causal_attention(), tmp_path / "attn.onnx")
    npz = tmp_path / "in.npz"
    if content == "npy":
        with open(npz, "wb") as fh:
            np.save(fh, np.zeros(3))
    elif content is not None:
        npz.write_bytes(content)
    r = run("verify", path, "--inputs", str(npz))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(npz) in lines[0] and "Traceback" not in r.stderr, r.stderr


def test_load_inputs_accepts_a_good_file(tmp_path):
    graph = memplan.load(save(causal_attention(), tmp_path / "attn.onnx"))
    np.savez(tmp_path / "x.npz", x=np.ones((1, 4, 8), np.float32))
    assert set(load_inputs(str(tmp_path / "x.npz"), graph, "attn.onnx")) == {"x"}
    with pytest.raises(InputError, match="no such file"):
        load_inputs(str(tmp_path / "missing.npz"), graph, "attn.onnx")


# ---------------------------------------------------------------------------
# --random-weights: by consumer and slot


def test_weights_are_chosen_by_consumer_and_slot():
    assert weight_names(causal_attention()) == {"wq", "bq", "wk", "wv", "gamma", "beta"}
    # scales, shape, the 2-D additive grid and the scalar stay; the Constant node's weight is in
    assert weight_names(detector_head()) == {"w", "b", "paddle_w", "proj"}
    # the embedding table (Gather data, and tied through a Transpose), W, R, B; not h0, not axes
    assert weight_names(embedding_lstm()) == {"table", "W", "R", "B"}


def _values(path):
    m = onnx.load(path)
    values = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant":
            values[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return values


@pytest.mark.parametrize("build", [causal_attention, detector_head, embedding_lstm])
def test_randomize_changes_weights_only(tmp_path, build):
    m = build()
    src = save(m, tmp_path / "m.onnx")
    dst = randomize_weights(src, str(tmp_path / "r.onnx"), seed=3)
    before, after = _values(src), _values(dst)
    weights = weight_names(m)
    assert before.keys() == after.keys()
    for name in before:
        assert before[name].shape == after[name].shape and before[name].dtype == after[name].dtype
        if name in weights:
            assert not np.array_equal(before[name], after[name]), name
        else:
            np.testing.assert_array_equal(before[name], after[name])
    assert [n.name for n in onnx.load(dst).graph.node] == [n.name for n in m.graph.node]


def test_randomize_is_deterministic(tmp_path):
    src = save(embedding_lstm(), tmp_path / "m.onnx")
    a = _values(randomize_weights(src, str(tmp_path / "a.onnx"), seed=4))
    b = _values(randomize_weights(src, str(tmp_path / "b.onnx"), seed=4))
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_zoo_constant_of_shape_weights_become_random(tmp_path):
    from memplan.graph.zoo import zoo_path

    dst = randomize_weights(zoo_path("squeezenet"), str(tmp_path / "s.onnx"), seed=0)
    m = onnx.load(dst)
    assert not any(n.op_type == "ConstantOfShape" for n in m.graph.node)
    conv_w = next(numpy_helper.to_array(t) for t in m.graph.initializer if t.dims and len(t.dims) == 4)
    assert np.unique(conv_w).size > 1


@pytest.mark.parametrize("build", [detector_head, embedding_lstm])
def test_verify_random_weights_end_to_end(tmp_path, build):
    path = save(build(), tmp_path / "m.onnx")
    r = run("verify", path, "--random-weights")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""


# ---------------------------------------------------------------------------
# every message names the user's model file


def test_missing_kernel_names_the_model_not_a_temporary_file(tmp_path):
    # a random op: no deterministic kernel can ever match it
    nodes = [helper.make_node("RandomUniformLike", ["x"], ["y"], name="lp")]
    m = model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 3])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 3])], [])
    path = save(m, tmp_path / "lp.onnx")
    for extra in ([], ["--random-weights"]):
        r = run("verify", path, *extra)
        assert r.returncode == 2
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"memplan: error: {path}: "), r.stderr
        assert "RandomUniformLike" in lines[0] and "random.onnx" not in r.stderr


def test_dynamic_input_error_names_the_model_not_a_temporary_file(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    m = model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [])
    path = save(m, tmp_path / "dyn.onnx")
    r = run("verify", path, "--random-weights")
    assert r.returncode == 2
    assert path in r.stderr and "random.onnx" not in r.stderr, r.stderr


def test_failed_verification_names_the_model(tmp_path):
    path = save(causal_attention(), tmp_path / "attn.onnx")
    r = run("verify", path, "--random-weights", "--corrupt", "--algorithm", "naive")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"verification FAILED: {path}: " in r.stderr
    assert "random.onnx" not in r.stdout + r.stderr


def _dynamic_relu(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["y"], name="relu")]
    m = model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])], [])
    return save(m, tmp_path / "dyn.onnx")


def test_inputs_fix_dynamic_shapes(tmp_path):
    path = _dynamic_relu(tmp_path)
    np.savez(tmp_path / "x.npz", x=RNG.standard_normal((5, 3)).astype(np.float32))
    r = run("verify", path, "--inputs", str(tmp_path / "x.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    # an explicit --input-shape wins, and a contradicting array is then a one-line error
    r = run("verify", path, "--inputs", str(tmp_path / "x.npz"), "--input-shape", "x=2,3")
    assert r.returncode == 2 and "input 'x' has shape (5, 3)" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def sample_rate_model():
    """y = Relu(x) * 2 if sr == 16000 else Neg(x): an If on an input value, as VAD models do."""
    x_t = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])
    then_g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                                helper.make_node("Mul", ["r", "two"], ["t_out"], name="double")], "then", [],
                               [helper.make_tensor_value_info("t_out", TensorProto.FLOAT, [2, 3])])
    else_g = helper.make_graph([helper.make_node("Neg", ["x"], ["e_out"], name="neg")], "else", [],
                               [helper.make_tensor_value_info("e_out", TensorProto.FLOAT, [2, 3])])
    nodes = [helper.make_node("Equal", ["sr", "rate16k"], ["is16k"], name="eq"),
             helper.make_node("If", ["is16k"], ["y"], name="branch", then_branch=then_g, else_branch=else_g)]
    inits = [init("rate16k", np.array(16000, np.int64)), init("two", np.array(2.0, np.float32))]
    return model(nodes, [x_t, helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                 [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], inits, opset=13)


@pytest.mark.parametrize("rate", [16000, 8000])
def test_inputs_choose_the_branch(tmp_path, rate):
    path = save(sample_rate_model(), tmp_path / "vad.onnx")
    np.savez(tmp_path / "in.npz", sr=np.array(rate, np.int64), x=RNG.standard_normal((2, 3)).astype(np.float32))
    r = run("verify", path, "--inputs", str(tmp_path / "in.npz"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stderr == ""


def test_input_value_reaches_verify(tmp_path):
    path = save(sample_rate_model(), tmp_path / "vad.onnx")
    r = run("verify", path, "--input-value", "sr=16000", "--random-weights")
    assert r.returncode == 0, r.stdout + r.stderr
    r = run("verify", path)  # unpinned, the If is planned per branch and the seeded input picks one
    assert r.returncode == 0, r.stdout + r.stderr


def test_output_declared_with_minus_one_takes_the_inferred_shape(tmp_path):
    # Paddle exports declare dynamic dims as -1, outputs included (PP-OCR's classifier)
    nodes = [helper.make_node("Softmax", ["x"], ["y"], name="softmax", axis=-1)]
    m = model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 2])],
              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 2])], [], opset=13)
    path = save(m, tmp_path / "paddle.onnx")
    r = run("verify", path, "--input-shape", "x=3,2")
    assert r.returncode == 0, r.stdout + r.stderr
