"""The verify comparison: numpy.allclose's rtol/atol plus a few ulps of the tensor's largest
value (float sums in another order), and still strict enough that a wrong kernel fails."""
import numpy as np
import pytest

import memplan
from memplan.graph.zoo import zoo_path
from memplan.verify import executor
from memplan.verify.prove import NOISE_ULPS, compare, prove
from memplan.verify.reference import randomize_weights

RTOL, ATOL = 1e-4, 1e-5  # the CLI defaults


def _boxes():
    """A YOLO-style output row set: centres near 316 pixels beside a width near 0.03 that is
    the difference of two values near 316 (reference and ours one ulp of 316 apart)."""
    ref = np.array([315.3, 316.2, 0.0343017578125, 0.97], np.float32)
    ours = ref.copy()
    ours[2] = np.float32(0.034332275390625)  # + 2**-15: one ulp of 316, what nudenet's output showed
    return ours, ref


def test_an_ulp_of_the_largest_value_on_a_small_one_passes():
    ours, ref = _boxes()
    assert compare("output0", ours, ref, RTOL, ATOL).ok
    assert compare("output0", ours, ref, RTOL, ATOL).max_abs > 0


@pytest.mark.parametrize("where, factor", [(2, 1.01), (3, 1.001), (1, 1.0002)])
def test_a_wrong_value_still_fails(where, factor):
    ours, ref = _boxes()
    ours[where] = ref[where] * np.float32(factor)
    assert not compare("output0", ours, ref, RTOL, ATOL).ok


def test_the_noise_allowance_is_ulps_of_the_largest_value():
    ref = np.array([1000.0, 0.0], np.float32)
    allowance = NOISE_ULPS * float(np.finfo(np.float32).eps) * 1000.0
    assert compare("t", np.array([1000.0, 0.9 * allowance], np.float32), ref, 0.0, 0.0).ok
    assert not compare("t", np.array([1000.0, 1.1 * allowance], np.float32), ref, 0.0, 0.0).ok


def test_integers_get_no_allowance():
    ref = np.array([1_000_000, 0], np.int64)
    assert not compare("t", np.array([1_000_000, 1], np.int64), ref, 0.0, 0.5).ok


@pytest.fixture(scope="module")
def squeezenet(tmp_path_factory):
    path = randomize_weights(zoo_path("squeezenet"), str(tmp_path_factory.mktemp("z") / "m.onnx"), seed=0)
    graph = memplan.load(path)
    return path, graph, memplan.plan(graph)


def _perturbing(monkeypatch, op_type, factor, *, first_only):
    real, calls = executor.run_op, []

    def run_op(key, attrs, ins, outs, *, opset=13):
        real(key, attrs, ins, outs, opset=opset)
        if key == op_type and not (first_only and calls):
            calls.append(key)
            outs[0][...] = outs[0] * outs[0].dtype.type(factor)

    monkeypatch.setattr(executor, "run_op", run_op)
    return calls


def test_unperturbed_zoo_model_passes(squeezenet):
    assert prove(*squeezenet, seed=1).ok


@pytest.mark.parametrize("op_type, factor", [("Softmax", 1.001), ("Conv", 1.001)])
def test_a_slightly_wrong_kernel_fails_on_a_zoo_model(squeezenet, monkeypatch, op_type, factor):
    """One part in a thousand, in the last op's output or in one early Conv: both fail."""
    calls = _perturbing(monkeypatch, op_type, factor, first_only=True)
    proof = prove(*squeezenet, seed=1)
    assert calls and not proof.ok
