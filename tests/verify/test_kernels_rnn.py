"""LSTM, GRU and RNN kernels against onnxruntime: every attribute of the ONNX spec."""
from __future__ import annotations

import numpy as np
import pytest
from ort_single import ort_run

from memplan.verify.kernels_rnn import KERNELS
from memplan.verify.ops import run_op

RNG = np.random.default_rng(7)
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
SEQ, BATCH, INPUT, HIDDEN = 5, 3, 4, 6
ACTIVATIONS = ["Relu", "Tanh", "Sigmoid", "Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh",
               "HardSigmoid", "Elu", "Softsign", "Softplus"]
N_ACT = {"LSTM": 3, "GRU": 2, "RNN": 1}
N_OUT = {"LSTM": 3, "GRU": 2, "RNN": 2}


def rand(*shape, scale=0.5):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def make_inputs(op, dirs, *, bias=True, lens=None, init_h=False, init_c=False, peep=False, seq=SEQ):
    g = GATES[op]
    x = [rand(seq, BATCH, INPUT), rand(dirs, g * HIDDEN, INPUT), rand(dirs, g * HIDDEN, HIDDEN),
         rand(dirs, 2 * g * HIDDEN) if bias else None,
         None if lens is None else np.array(lens, np.int32),
         rand(dirs, BATCH, HIDDEN) if init_h else None]
    if op == "LSTM":
        x += [rand(dirs, BATCH, HIDDEN) if init_c else None, rand(dirs, 3 * HIDDEN) if peep else None]
    while x[-1] is None:
        x.pop()
    return x


def ours(op, inputs, attrs, outputs, ref):
    outs = [np.full(r.shape, np.nan, r.dtype) if keep else None for keep, r in zip(outputs, ref)]
    run_op(op, attrs, list(inputs), outs, opset=14)
    return outs


def check(op, inputs, attrs, outputs=None, atol=2e-5):
    outputs = outputs or [True] * N_OUT[op]
    ref = ort_run(op, inputs, {"hidden_size": HIDDEN, **attrs}, 14, outputs)
    got = ours(op, inputs, {"hidden_size": HIDDEN, **attrs}, outputs, ref)
    for g, r in zip(got, ref):
        if r is not None:
            np.testing.assert_allclose(g, r, rtol=1e-4, atol=atol)
    return got


DIRECTIONS = [("forward", 1), ("reverse", 1), ("bidirectional", 2)]


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("direction, dirs", DIRECTIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_directions(op, direction, dirs, bias):
    check(op, make_inputs(op, dirs, bias=bias), {"direction": direction})


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("direction, dirs", DIRECTIONS)
def test_initial_state_and_sequence_lens(op, direction, dirs):
    inputs = make_inputs(op, dirs, lens=[5, 2, 3], init_h=True, init_c=True)
    check(op, inputs, {"direction": direction})


@pytest.mark.parametrize("op", list(KERNELS))
def test_full_sequence_lens_equal_none(op):
    a = check(op, make_inputs(op, 2, lens=[SEQ] * BATCH), {"direction": "bidirectional"})
    assert all(np.isfinite(v).all() for v in a)


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("act", ACTIVATIONS)
def test_every_activation(op, act):
    # The activation under test in every slot of both directions, with explicit alpha/beta.
    n = N_ACT[op]
    attrs = {"direction": "bidirectional", "activations": [act] * (2 * n),
             "activation_alpha": [0.3] * (2 * n), "activation_beta": [0.2] * (2 * n)}
    if act == "ThresholdedRelu":
        attrs["activation_alpha"] = [0.1] * (2 * n)
    check(op, make_inputs(op, 2, seq=3), attrs)


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("act", ["Affine", "LeakyRelu", "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu"])
def test_activation_defaults(op, act):
    n = N_ACT[op]
    check(op, make_inputs(op, 1, seq=3), {"activations": ([act] + ["Sigmoid", "Tanh"])[:n]})


@pytest.mark.parametrize("op", list(KERNELS))
def test_alpha_beta_consumed_in_activation_order(op):
    # Mixed functions: parameters go to the functions that take them, in order.
    acts = {"LSTM": ["HardSigmoid", "ScaledTanh", "Affine", "LeakyRelu", "Elu", "ScaledTanh"],
            "GRU": ["HardSigmoid", "ScaledTanh", "Sigmoid", "Affine"],
            "RNN": ["ScaledTanh", "LeakyRelu"]}[op]
    takes_alpha = [a for a in acts if a not in ("Sigmoid", "Tanh", "Relu", "Softsign", "Softplus")]
    takes_beta = [a for a in acts if a in ("Affine", "ScaledTanh", "HardSigmoid")]
    attrs = {"direction": "bidirectional", "activations": acts,
             "activation_alpha": [0.1 + 0.15 * i for i in range(len(takes_alpha))],
             "activation_beta": [0.3 + 0.2 * i for i in range(len(takes_beta))]}
    check(op, make_inputs(op, 2, seq=4), attrs)


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("direction, dirs", DIRECTIONS)
def test_clip(op, direction, dirs):
    inputs = make_inputs(op, dirs, init_h=True)
    inputs[0] = inputs[0] * 4
    check(op, inputs, {"direction": direction, "clip": 0.4})


@pytest.mark.parametrize("direction, dirs", DIRECTIONS)
def test_lstm_peepholes_input_forget_initial_c(direction, dirs):
    inputs = make_inputs("LSTM", dirs, init_h=True, init_c=True, peep=True, lens=[3, 5, 1])
    check("LSTM", inputs, {"direction": direction})
    check("LSTM", inputs, {"direction": direction, "input_forget": 1})
    check("LSTM", inputs, {"direction": direction, "input_forget": 1, "clip": 0.5})


def test_lstm_initial_c_without_initial_h():
    inputs = make_inputs("LSTM", 1, init_c=True)
    check("LSTM", inputs, {})


@pytest.mark.parametrize("direction, dirs", DIRECTIONS)
@pytest.mark.parametrize("bias", [True, False])
def test_gru_linear_before_reset(direction, dirs, bias):
    inputs = make_inputs("GRU", dirs, bias=bias, init_h=True, lens=[2, 5, 4])
    check("GRU", inputs, {"direction": direction, "linear_before_reset": 1})


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("outputs", [[False, True], [True, False], [False, False, True], [False, True, True]])
def test_optional_outputs(op, outputs):
    if len(outputs) > N_OUT[op] or not any(outputs):
        pytest.skip("output not defined for this op")
    check(op, make_inputs(op, 2, lens=[4, 5, 2]), {"direction": "bidirectional"}, outputs=outputs)


@pytest.mark.parametrize("op", list(KERNELS))
@pytest.mark.parametrize("direction, dirs", DIRECTIONS)
def test_layout_1_is_layout_0_transposed(op, direction, dirs):
    # onnxruntime refuses layout=1 ("batchwise recurrent operations are not supported"): the
    # oracle is its layout=0 result with batch and sequence axes swapped.
    inputs = make_inputs(op, dirs, init_h=True, init_c=True, lens=[5, 3, 1])
    ref = check(op, inputs, {"direction": direction})
    batchwise = list(inputs)
    batchwise[0] = np.ascontiguousarray(inputs[0].transpose(1, 0, 2))
    for i in (5, 6):  # initial_h, initial_c: (dirs, batch, H) -> (batch, dirs, H)
        if i < len(batchwise) and batchwise[i] is not None:
            batchwise[i] = np.ascontiguousarray(batchwise[i].transpose(1, 0, 2))
    shapes = [(BATCH, SEQ, dirs, HIDDEN)] + [(BATCH, dirs, HIDDEN)] * (N_OUT[op] - 1)
    outs = [np.empty(s, np.float32) for s in shapes]
    run_op(op, {"hidden_size": HIDDEN, "direction": direction, "layout": 1}, batchwise, outs, opset=14)
    np.testing.assert_allclose(outs[0], ref[0].transpose(2, 0, 1, 3), rtol=1e-6, atol=1e-7)
    for got, want in zip(outs[1:], ref[1:]):
        np.testing.assert_allclose(got, want.transpose(1, 0, 2), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("op", list(KERNELS))
def test_layout_1_matches_onnx_reference(op):
    from onnx.reference import ReferenceEvaluator
    from ort_single import single_node_model

    inputs = make_inputs(op, 1, init_h=True)
    inputs[0] = np.ascontiguousarray(inputs[0].transpose(1, 0, 2))
    inputs[5] = np.ascontiguousarray(inputs[5].transpose(1, 0, 2))
    attrs = {"hidden_size": HIDDEN, "layout": 1}
    model, names = single_node_model(op, inputs, attrs, 14, [True] * N_OUT[op])
    ref = ReferenceEvaluator(model).run(None, {n: v for n, v in zip(names, inputs) if n})
    outs = [np.empty(r.shape, np.float32) for r in ref]
    run_op(op, attrs, inputs, outs, opset=14)
    for got, want in zip(outs, ref):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_bad_activation_is_named():
    from memplan.verify.ops import KernelError

    inputs = make_inputs("RNN", 1)
    with pytest.raises(KernelError, match="Swish"):
        run_op("RNN", {"hidden_size": HIDDEN, "activations": ["Swish"]}, inputs,
               [np.empty((SEQ, 1, BATCH, HIDDEN), np.float32), None])


@pytest.mark.parametrize("op", list(KERNELS))
def test_recurrent_model_runs_in_its_arena(tmp_path, op):
    # Bidirectional, sequence lengths as a graph input, both outputs used downstream.
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    import memplan
    from memplan.verify.prove import prove

    g = GATES[op]
    inits = [numpy_helper.from_array(rand(2, g * HIDDEN, INPUT), "W"),
             numpy_helper.from_array(rand(2, g * HIDDEN, HIDDEN), "R"),
             numpy_helper.from_array(rand(2, 2 * g * HIDDEN), "B")]
    outs = ["y", "yh"] + (["yc"] if op == "LSTM" else [])
    extra = {"linear_before_reset": 1} if op == "GRU" else {}
    nodes = [helper.make_node("Relu", ["x"], ["xr"], name="pre"),
             helper.make_node(op, ["xr", "W", "R", "B", "lens"], outs, name="rnn", hidden_size=HIDDEN,
                              direction="bidirectional", **extra),
             helper.make_node("ReduceSum", ["y"], ["s"], name="sum", keepdims=0),
             helper.make_node("Tanh", ["yh"], ["t"], name="tanh")]
    graph = helper.make_graph(
        nodes, "rnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [SEQ, BATCH, INPUT]),
                       helper.make_tensor_value_info("lens", TensorProto.INT32, [BATCH])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("t", TensorProto.FLOAT, [2, BATCH, HIDDEN])], inits)
    path = str(tmp_path / "rnn.onnx")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)]), path)
    loaded = memplan.load(path)
    lens = {"lens": np.array([5, 2, 4], np.int32)}
    proof = prove(path, loaded, memplan.plan(loaded), inputs=lens)
    assert proof.ok, proof.first_failure
