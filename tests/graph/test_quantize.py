"""The dtype what-if (a Graph rewrite) and real QDQ int8 models from onnxruntime."""
import numpy as np
import pytest

import memplan
from memplan.errors import InputError
from memplan.planner import plan
from memplan.graph.quantize import calibration_feeds, fold_qdq, quantize_model, with_dtype
from memplan.verify.check import check_plan

from helpers import branch_model, chain_model, save


@pytest.mark.parametrize("dtype,divisor", [("int8", 4), ("int16", 2), ("fp16", 2), ("fp32", 1)])
def test_what_if_scales_every_float_tensor(tmp_path, dtype, divisor):
    g = memplan.load(save(branch_model(), tmp_path / "b.onnx"))
    small = with_dtype(g, dtype)
    p, q = plan(g, alignment=1), plan(small, alignment=1)
    assert q.lower_bound_bytes * divisor == p.lower_bound_bytes
    assert q.weights_bytes * divisor == p.weights_bytes
    assert check_plan(small, q) == []
    assert all(t.dtype == {"fp16": "float16", "fp32": "float32"}.get(dtype, dtype) for t in small.tensors.values())


def test_what_if_leaves_integer_tensors():
    g = memplan.load("zoo:resnet50")  # its Reshape shape is an int64 weight
    ints = {n: t for n, t in g.tensors.items() if t.dtype == "int64"}
    assert ints
    small = with_dtype(g, "int8")
    assert all(small.tensors[n] == t for n, t in ints.items())
    assert plan(small).arena_bytes < plan(g).arena_bytes


def test_unknown_dtype():
    g = memplan.load("zoo:squeezenet")
    with pytest.raises(InputError, match="int4|choose"):
        with_dtype(g, "int3")


@pytest.fixture(scope="module")
def quantised(tmp_path_factory):
    d = tmp_path_factory.mktemp("q")
    src = save(branch_model(), d / "b.onnx")
    out = str(d / "b.int8.onnx")
    notes = quantize_model(src, out, seed=0, samples=4)
    return src, out, notes


def test_quantize_writes_a_qdq_int8_model_that_plans(quantised):
    src, out, notes = quantised
    assert notes["samples"] == 4
    g = memplan.load(out)
    kinds = {op.op_type for op in g.ops} | {op.op_type for op in g.const_ops}
    assert {"QuantizeLinear", "DequantizeLinear"} <= kinds
    p = plan(g)
    assert check_plan(g, p) == []
    folded = fold_qdq(g)
    pf = plan(folded)
    assert check_plan(folded, pf) == []
    # only the last DequantizeLinear stays: it makes the float graph output
    assert all(op.outputs[0] in folded.outputs for op in folded.ops if op.op_type == "DequantizeLinear")
    assert all(folded.tensors[w].dtype == "int8" for w in folded.weights if len(folded.tensors[w].shape) == 4)
    fp32 = plan(memplan.load(src))
    assert pf.arena_bytes < fp32.arena_bytes and pf.weights_bytes < fp32.weights_bytes


def test_quantize_is_deterministic(quantised, tmp_path):
    src, out, _ = quantised
    again = str(tmp_path / "again.onnx")
    quantize_model(src, again, seed=0, samples=4)
    a, b = memplan.load(out), memplan.load(again)
    assert a.initializers.keys() == b.initializers.keys()
    for k in a.initializers:
        np.testing.assert_array_equal(a.initializers[k], b.initializers[k])


def test_calibration_data(tmp_path):
    g = memplan.load(save(branch_model(), tmp_path / "b.onnx"))
    data = {"x": np.ones((3, 1, 4, 8, 8), dtype=np.float32)}
    feeds = calibration_feeds(g, data=data)
    assert len(feeds) == 3 and feeds[0]["x"].shape == (1, 4, 8, 8)
    with pytest.raises(InputError, match="no array for input"):
        calibration_feeds(g, data={"y": data["x"]})
    random = calibration_feeds(g, seed=1, samples=2)
    assert len(random) == 2 and random[0]["x"].dtype == np.float32
    np.testing.assert_array_equal(random[0]["x"], calibration_feeds(g, seed=1, samples=2)[0]["x"])
    npz = tmp_path / "cal.npz"
    np.savez(npz, **data)
    out = tmp_path / "c.onnx"
    quantize_model(str(tmp_path / "b.onnx"), str(out), calibration=str(npz))
    assert out.exists()


def test_bad_output_directory(tmp_path):
    src = save(chain_model(), tmp_path / "c.onnx")
    with pytest.raises(InputError, match="does not exist"):
        quantize_model(src, str(tmp_path / "nope" / "c.onnx"))


def test_quantize_command(tmp_path):
    import os
    import subprocess
    import sys

    src = save(branch_model(), tmp_path / "b.onnx")
    out = tmp_path / "b.int8.onnx"
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "quantize", src, "-o", str(out), "--samples", "2"],
                       capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.exists() and "Q/DQ fused" in r.stdout and "2 seeded random samples" in r.stdout
    bad = subprocess.run([sys.executable, "-m", "memplan.cli", "quantize", str(tmp_path / "nope.onnx"), "-o",
                          str(out)], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "no such file" in bad.stderr and "Traceback" not in bad.stderr
