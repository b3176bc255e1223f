"""memplan.verify.kernels against onnxruntime, one single-node model per case."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from memplan.verify.ops import SUPPORTED_OPS, KernelError, run_op

RNG = np.random.default_rng(1234)
CASES: list = []


def rand(*shape, lo=-1.0, hi=1.0, dtype=np.float32):
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


def ints(*shape, lo=-5, hi=5, dtype=np.int64):
    return RNG.integers(lo, hi, size=shape).astype(dtype)


def i64(*values):
    return np.array(values, dtype=np.int64)


def f32(*values):
    return np.array(values, dtype=np.float32)


def case(op, inputs, attrs=None, *, opset=13, n_out=1, atol=1e-5, rtol=1e-4, id=None):
    """Register one single-node case; ``inputs`` may hold None for a skipped optional input."""
    attrs = attrs or {}
    label = id or "-".join([op, f"op{opset}"] + [f"{k}={_short(v)}" for k, v in sorted(attrs.items())])
    CASES.append(pytest.param(op, inputs, attrs, opset, n_out, atol, rtol, id=f"{label}#{len(CASES)}"))


def _short(v):
    text = str(v.tolist() if isinstance(v, np.ndarray) else v).replace(" ", "")
    return text[:24]


def ort_run(op, inputs, attrs, opset, n_out):
    names = [f"x{i}" if v is not None else "" for i, v in enumerate(inputs)]
    while names and names[-1] == "":
        names.pop()
    onnx_attrs = {k: numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v for k, v in attrs.items()}
    out_names = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, names, out_names, **onnx_attrs)
    graph_inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
        for n, v in zip(names, inputs) if n
    ]
    graph = helper.make_graph([node], "case", graph_inputs, [onnx.ValueInfoProto(name=n) for n in out_names])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    model = onnx.shape_inference.infer_shapes(model)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return sess.run(None, {n: v for n, v in zip(names, inputs) if n})


def check(got, want, atol, rtol):
    assert got.shape == want.shape and got.dtype == want.dtype
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    elif atol >= 1:  # quantised outputs: allow one step of rounding difference
        assert np.abs(got.astype(np.int64) - want.astype(np.int64)).max(initial=0) <= atol
    else:
        np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------------
# elementwise

POS = rand(2, 3, 4, 5, lo=0.1, hi=3.0)
X4 = rand(2, 3, 4, 5, lo=-3.0, hi=3.0)

for op in ["Neg", "Abs", "Exp", "Floor", "Ceil", "Sign", "Sin", "Cos", "Tanh", "Relu", "Sigmoid",
           "Softplus", "Softsign", "Erf", "Identity"]:
    case(op, [X4])
case("Sigmoid", [rand(50, lo=-100, hi=100)], id="Sigmoid-extreme")
case("Erf", [rand(1000, lo=-6, hi=6)], id="Erf-wide")
for op in ["Sqrt", "Log", "Reciprocal"]:
    case(op, [POS])
case("HardSwish", [X4], opset=14)
case("Mish", [X4], opset=18)
case("LeakyRelu", [X4])
case("LeakyRelu", [X4], {"alpha": 0.3})
case("Elu", [X4], {"alpha": 0.7})
case("Selu", [X4])
case("Selu", [X4], {"alpha": 1.5, "gamma": 2.0})
case("HardSigmoid", [X4])
case("HardSigmoid", [X4], {"alpha": 0.3, "beta": 0.4})
case("Gelu", [X4], opset=20)
case("Gelu", [X4], {"approximate": "tanh"}, opset=20)
case("PRelu", [X4, rand(3, 1, 1)])
case("PRelu", [X4, rand(5)])
case("PRelu", [X4, rand(1)], opset=9)
case("Clip", [X4], {"min": -0.5, "max": 0.7}, opset=6)
case("Clip", [X4], {"min": -0.5}, opset=6)
case("Clip", [X4, f32(-0.5).reshape(()), f32(0.8).reshape(())], opset=11)
case("Clip", [X4, None, f32(0.8).reshape(())], opset=12)
case("Clip", [X4, f32(-0.2).reshape(())], opset=13)
case("Clip", [X4], opset=13)
case("Clip", [ints(3, 4, lo=-9, hi=9, dtype=np.int32), np.array(-3, np.int32), np.array(4, np.int32)], opset=13)

for op in ["Add", "Sub", "Mul", "Div"]:
    case(op, [X4, rand(5, lo=0.5, hi=2)])
    case(op, [rand(2, 1, 4, 1), rand(1, 3, 1, 5, lo=0.5, hi=2)], opset=7)
    case(op, [X4, f32(1.5).reshape(())], opset=14)
case("Add", [ints(3, 4), ints(4)], id="Add-int64")
case("Div", [ints(40, lo=-20, hi=20, dtype=np.int32), ints(40, lo=1, hi=6, dtype=np.int32) *
             np.where(RNG.random(40) < 0.5, -1, 1).astype(np.int32)], id="Div-int-trunc")
case("Pow", [POS, rand(5, lo=-2, hi=2)])
case("Pow", [POS, f32(2.0).reshape(())])
case("Pow", [POS, i64(3).reshape(())], opset=15, id="Pow-int-exponent")
for op in ["Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"]:
    case(op, [ints(3, 4, lo=0, hi=3), ints(4, lo=0, hi=3)])
    case(op, [rand(3, 4), rand(3, 1)], opset=16)
BOOL_A = RNG.random((3, 4)) < 0.5
BOOL_B = RNG.random((4,)) < 0.5
case("Not", [BOOL_A])
for op in ["And", "Or", "Xor"]:
    case(op, [BOOL_A, BOOL_B])
for op in ["Sum", "Max", "Min", "Mean"]:
    case(op, [X4])
    case(op, [X4, rand(5)])
    case(op, [rand(3, 1, 5), rand(4, 1), rand(1, 5)])
case("Max", [ints(3, 4, dtype=np.int32), ints(4, dtype=np.int32)], id="Max-int")
case("Where", [RNG.random((3, 4)) < 0.5, rand(3, 4), rand(4)])
case("Where", [RNG.random((4,)) < 0.5, ints(3, 4), ints(1)])

# ---------------------------------------------------------------------------
# convolution


def conv_case(x_shape, w_shape, attrs, bias=True, opset=13, dtype=np.float32):
    x = rand(*x_shape)
    w = rand(*w_shape)
    inputs = [x, w] + ([rand(w_shape[0])] if bias else [])
    case("Conv", inputs, attrs, opset=opset)


conv_case((1, 3, 9, 9), (4, 3, 3, 3), {"pads": [1, 1, 1, 1]})
conv_case((2, 3, 10, 9), (4, 3, 3, 3), {"strides": [2, 2], "pads": [0, 1, 1, 2]})
conv_case((1, 3, 11, 11), (4, 3, 3, 3), {"dilations": [2, 2], "pads": [2, 2, 2, 2]})
conv_case((1, 3, 11, 10), (4, 3, 3, 2), {"dilations": [2, 3], "strides": [2, 1]}, bias=False)
conv_case((1, 4, 8, 8), (6, 2, 3, 3), {"group": 2, "pads": [1, 1, 1, 1]})
conv_case((2, 6, 8, 8), (6, 1, 3, 3), {"group": 6, "pads": [1, 1, 1, 1]})
conv_case((1, 6, 9, 9), (6, 1, 3, 3), {"group": 6, "strides": [2, 2], "pads": [1, 1, 1, 1]}, bias=False)
conv_case((1, 4, 8, 8), (8, 1, 3, 3), {"group": 4, "dilations": [2, 2], "pads": [2, 2, 2, 2]})
conv_case((1, 8, 6, 6), (8, 2, 3, 3), {"group": 4, "pads": [1, 1, 1, 1]})
conv_case((1, 3, 10, 9), (4, 3, 3, 3), {"auto_pad": "SAME_UPPER", "strides": [2, 2]})
conv_case((1, 3, 10, 9), (4, 3, 4, 4), {"auto_pad": "SAME_UPPER"})
conv_case((1, 3, 10, 9), (4, 3, 4, 4), {"auto_pad": "SAME_LOWER"})
conv_case((1, 3, 10, 9), (4, 3, 3, 3), {"auto_pad": "SAME_LOWER", "strides": [2, 2]})
conv_case((1, 3, 10, 9), (4, 3, 3, 3), {"auto_pad": "VALID", "strides": [2, 3]})
conv_case((1, 8, 9, 9), (16, 8, 1, 1), {"strides": [2, 2]}, bias=False)
conv_case((2, 8, 5, 5), (4, 8, 1, 1), {})
conv_case((1, 3, 32, 32), (8, 3, 7, 7), {"strides": [2, 2], "pads": [3, 3, 3, 3]})
conv_case((2, 3, 20), (4, 3, 5), {"strides": [2], "pads": [2, 1], "dilations": [1]})
conv_case((1, 4, 20), (4, 1, 3), {"group": 4, "pads": [1, 1]})
conv_case((1, 2, 6, 7, 5), (3, 2, 3, 3, 3), {"pads": [1, 1, 1, 1, 1, 1], "strides": [1, 2, 1]})
conv_case((1, 3, 9, 9), (4, 3, 3, 3), {"kernel_shape": [3, 3]}, opset=11)


def convt_case(x_shape, w_shape, attrs, bias=True, opset=13):
    inputs = [rand(*x_shape), rand(*w_shape)] + ([rand(w_shape[1] * attrs.get("group", 1))] if bias else [])
    case("ConvTranspose", inputs, attrs, opset=opset)


convt_case((1, 3, 5, 5), (3, 4, 3, 3), {})
convt_case((2, 3, 5, 4), (3, 4, 3, 3), {"strides": [2, 2], "pads": [1, 1, 1, 1]})
convt_case((1, 3, 5, 5), (3, 2, 3, 3), {"strides": [2, 2], "pads": [1, 0, 1, 0], "output_padding": [1, 1]})
convt_case((1, 4, 5, 5), (4, 2, 3, 3), {"group": 2, "strides": [2, 1]}, bias=False)
convt_case((1, 4, 5, 5), (4, 1, 3, 3), {"group": 4, "strides": [2, 2], "pads": [1, 1, 1, 1]})
convt_case((1, 3, 5, 5), (3, 2, 3, 3), {"dilations": [2, 2]})
convt_case((1, 3, 5, 5), (3, 2, 4, 4), {"strides": [2, 2], "output_shape": [10, 10]})
convt_case((1, 3, 5, 5), (3, 2, 3, 3), {"strides": [2, 2], "output_shape": [10, 9]})
convt_case((1, 3, 5, 5), (3, 2, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_UPPER"})
convt_case((1, 3, 5, 5), (3, 2, 3, 3), {"strides": [2, 2], "auto_pad": "SAME_LOWER"})
convt_case((1, 3, 5, 5), (3, 2, 3, 3), {"strides": [2, 2], "auto_pad": "VALID"})
convt_case((1, 3, 7), (3, 2, 4), {"strides": [3], "pads": [1, 2]})
convt_case((1, 2, 3, 4, 3), (2, 2, 3, 2, 3), {"strides": [2, 1, 2], "pads": [1, 0, 0, 0, 1, 1]})

# ---------------------------------------------------------------------------
# matrix products

case("Gemm", [rand(4, 5), rand(5, 3), rand(3)])
case("Gemm", [rand(5, 4), rand(3, 5), rand(4, 1)], {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0})
case("Gemm", [rand(4, 5), rand(3, 5), rand(1, 3)], {"transB": 1, "beta": 0.0})
case("Gemm", [rand(4, 5), rand(5, 3), f32(0.3).reshape(())], {"alpha": 2.0}, opset=9)
case("Gemm", [rand(4, 5), rand(5, 3), rand(4, 3)], opset=11)
case("Gemm", [rand(4, 5), rand(5, 3)], opset=11)
case("MatMul", [rand(4, 5), rand(5, 3)])
case("MatMul", [rand(2, 3, 4, 5), rand(5, 6)])
case("MatMul", [rand(2, 1, 4, 5), rand(3, 5, 2)])
case("MatMul", [rand(5), rand(2, 5, 3)])
case("MatMul", [rand(2, 4, 5), rand(5)])

# ---------------------------------------------------------------------------
# pooling

XP = rand(2, 3, 11, 10)
for attrs in [
    {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]},
    {"kernel_shape": [2, 2], "strides": [2, 2]},
    {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1},
    {"kernel_shape": [3, 2], "strides": [2, 3], "pads": [1, 0, 1, 1], "ceil_mode": 1},
    {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"},
    {"kernel_shape": [4, 4], "strides": [3, 3], "auto_pad": "SAME_LOWER"},
    {"kernel_shape": [3, 3], "auto_pad": "VALID", "strides": [1, 2]},
]:
    case("MaxPool", [XP], attrs, opset=12)
    case("AveragePool", [XP], attrs, opset=11)
    case("AveragePool", [XP], {**attrs, "count_include_pad": 1}, opset=11)
case("MaxPool", [XP], {"kernel_shape": [3, 3], "dilations": [2, 2], "pads": [2, 1, 2, 1]}, opset=12)
case("MaxPool", [XP], {"kernel_shape": [3, 3], "dilations": [2, 1], "ceil_mode": 1, "strides": [2, 2]}, opset=12)
case("MaxPool", [XP], {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, opset=12, n_out=2)
case("MaxPool", [XP], {"kernel_shape": [2, 3], "strides": [2, 2], "storage_order": 1}, opset=12, n_out=2)
case("MaxPool", [rand(1, 2, 9, 8, 7)], {"kernel_shape": [2, 3, 2], "strides": [2, 2, 1], "pads": [1, 1, 0, 0, 1, 1]},
     opset=12, n_out=2)
case("MaxPool", [rand(2, 3, 15)], {"kernel_shape": [3], "strides": [2], "pads": [1, 1]}, opset=9)
case("MaxPool", [ints(1, 2, 6, 6, lo=0, hi=255, dtype=np.uint8)], {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]},
     opset=12)
case("MaxPool", [ints(1, 2, 6, 6, lo=-100, hi=100, dtype=np.int8)], {"kernel_shape": [2, 2], "strides": [2, 2]},
     opset=12)
case("AveragePool", [rand(2, 3, 15)], {"kernel_shape": [4], "strides": [3], "pads": [2, 1]}, opset=11)
case("AveragePool", [rand(1, 2, 8, 7, 6)], {"kernel_shape": [3, 3, 2], "pads": [1, 1, 0, 1, 1, 1]}, opset=11)
case("AveragePool", [XP], {"kernel_shape": [3, 3], "dilations": [2, 2], "pads": [1, 1, 1, 1]}, opset=19)
case("AveragePool", [XP], {"kernel_shape": [3, 3], "dilations": [2, 2], "pads": [1, 1, 1, 1],
                           "count_include_pad": 1, "ceil_mode": 1, "strides": [2, 2]}, opset=19)
case("AveragePool", [XP], {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER",
                           "count_include_pad": 1}, opset=11)
case("GlobalAveragePool", [XP])
case("GlobalMaxPool", [XP])
case("GlobalAveragePool", [rand(2, 3, 5)])
case("GlobalMaxPool", [rand(1, 3, 4, 5, 6)])

# ---------------------------------------------------------------------------
# normalisation

BN_IN = [X4, rand(3), rand(3), rand(3), rand(3, lo=0.1, hi=2)]
case("BatchNormalization", BN_IN, opset=9)
case("BatchNormalization", BN_IN, {"epsilon": 1e-3}, opset=14)
case("BatchNormalization", BN_IN, {"momentum": 0.8}, opset=15)
case("BatchNormalization", [rand(4, 3), rand(3), rand(3), rand(3), rand(3, lo=0.1, hi=2)], opset=15)
case("InstanceNormalization", [X4, rand(3), rand(3)])
case("InstanceNormalization", [rand(2, 4, 7), rand(4), rand(4)], {"epsilon": 1e-2})
case("LRN", [X4], {"size": 3})
case("LRN", [rand(2, 7, 4, 4)], {"size": 5, "alpha": 1e-2, "beta": 0.5, "bias": 2.0})
case("LRN", [rand(1, 3, 4, 4)], {"size": 7})
case("LayerNormalization", [rand(2, 5, 8), rand(8), rand(8)], opset=17)
case("LayerNormalization", [rand(2, 5, 8), rand(5, 8)], {"axis": 1, "epsilon": 1e-3}, opset=17, n_out=3)
case("LayerNormalization", [rand(3, 6), rand(6), rand(6)], {"axis": -1}, opset=17, n_out=2)
for op in ["Softmax", "LogSoftmax"]:
    case(op, [X4], opset=11)
    case(op, [X4], {"axis": 2}, opset=11)
    case(op, [X4], {"axis": -1}, opset=12)
    case(op, [X4], opset=13)
    case(op, [X4], {"axis": 1}, opset=13)
    case(op, [rand(3, 7, lo=-50, hi=50)], {"axis": 0}, opset=13)

# ---------------------------------------------------------------------------
# reductions

for op in ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
           "ReduceSumSquare", "ReduceLogSumExp"]:
    case(op, [X4], {"axes": [1, -1]}, opset=11)
    case(op, [X4], {"axes": [2], "keepdims": 0}, opset=11)
    case(op, [X4], opset=11)
    since = 13 if op == "ReduceSum" else 18
    case(op, [X4, i64(0, 2)], {"keepdims": 0}, opset=since)
    case(op, [X4], {"keepdims": 1}, opset=since)
    case(op, [X4, np.zeros(0, np.int64)], {"noop_with_empty_axes": 1}, opset=since)
case("ReduceLogSum", [POS], {"axes": [1]}, opset=11)
case("ReduceLogSum", [POS, i64(-1)], opset=18)
case("ReduceLogSum", [POS, np.zeros(0, np.int64)], {"noop_with_empty_axes": 1}, opset=18)
case("ReduceMax", [ints(3, 4, 5, dtype=np.int32)], {"axes": [1]}, opset=13)
case("ReduceSum", [ints(3, 4, 5)], {"axes": [0]}, opset=11)
TIES = RNG.integers(0, 3, size=(4, 5, 6)).astype(np.float32)
for op in ["ArgMax", "ArgMin"]:
    case(op, [TIES])
    case(op, [TIES], {"axis": 1, "keepdims": 0})
    case(op, [TIES], {"axis": -1, "select_last_index": 1})
    case(op, [TIES], {"axis": 1, "select_last_index": 1, "keepdims": 0}, opset=12)

# ---------------------------------------------------------------------------
# shape and data movement

case("Reshape", [X4, i64(6, -1)])
case("Reshape", [X4, i64(0, 0, -1)])
case("Reshape", [X4, i64(2, 60, 1)], opset=5)
case("Reshape", [np.zeros((0, 4), np.float32), i64(0, 2, 2)], {"allowzero": 1}, opset=14)
case("Reshape", [X4, i64(-1, 0, 5)], {"allowzero": 0}, opset=14)
case("Flatten", [X4])
case("Flatten", [X4], {"axis": 0}, opset=9)
case("Flatten", [X4], {"axis": -2}, opset=11)
case("Flatten", [X4], {"axis": 4})
case("Transpose", [X4])
case("Transpose", [X4], {"perm": [0, 2, 3, 1]})
X1 = rand(3, 1, 4, 1)
case("Squeeze", [X1], {"axes": [1]}, opset=11)
case("Squeeze", [X1], {"axes": [-1, 1]}, opset=11)
case("Squeeze", [X1], opset=11)
case("Squeeze", [X1, i64(3)], opset=13)
case("Squeeze", [X1], opset=13)
case("Unsqueeze", [rand(3, 4)], {"axes": [0, 3]}, opset=11)
case("Unsqueeze", [rand(3, 4)], {"axes": [-1]}, opset=11)
case("Unsqueeze", [rand(3, 4), i64(1, -1)], opset=13)
case("Unsqueeze", [f32(2.0).reshape(()), i64(0)], opset=13)
case("Identity", [ints(3, 4)], opset=16)
case("Dropout", [X4], opset=10)
case("Dropout", [X4], {"ratio": 0.3}, opset=10, n_out=2)
case("Dropout", [X4, f32(0.4).reshape(())], opset=12, n_out=2)
case("Dropout", [X4, f32(0.4).reshape(()), np.array(False)], opset=13, n_out=2)
case("Dropout", [X4], opset=9, n_out=2)

case("Concat", [rand(2, 3), rand(4, 3)], {"axis": 0})
case("Concat", [rand(2, 3, 2), rand(2, 1, 2), rand(2, 4, 2)], {"axis": 1})
case("Concat", [ints(2, 3), ints(2, 2), ints(2, 0)], {"axis": -1})
case("Concat", [rand(3)], {"axis": 0}, opset=11)
XS = rand(6, 7, 4)
case("Split", [XS], {"axis": 1, "split": [2, 5]}, opset=11, n_out=2)
case("Split", [XS], {"axis": 0}, opset=11, n_out=3)
case("Split", [XS, i64(1, 2, 4)], {"axis": -2}, opset=13, n_out=3)
case("Split", [XS], {"axis": 2}, opset=13, n_out=2)
case("Split", [XS], {"axis": 1, "num_outputs": 3}, opset=18, n_out=3)
case("Split", [XS], {"axis": 0, "num_outputs": 2}, opset=18, n_out=2)
case("Split", [XS, i64(3, 3, 1)], {"axis": 1}, opset=18, n_out=3)
XL = rand(5, 6, 7)
case("Slice", [XL], {"starts": [1, 0], "ends": [4, 100], "axes": [0, 2]}, opset=9)
case("Slice", [XL], {"starts": [-3], "ends": [-1]}, opset=9)
case("Slice", [XL, i64(1, -5), i64(4, 1000)], opset=10)
case("Slice", [XL, i64(4, 1), i64(0, 6), i64(0, 1), i64(-1, 2)], opset=13)
case("Slice", [XL, i64(-1), i64(-1000), i64(-1), i64(-2)], opset=13)
case("Slice", [XL, i64(100), i64(-100), i64(1), i64(-3)], opset=13)
case("Slice", [XL, i64(0, 2), i64(9223372036854775807, 5), i64(2, 0), None], opset=13)
case("Slice", [XL, i64(2), i64(2), i64(1)], opset=13)
case("Slice", [np.zeros((0, 3), np.float32), i64(-1), i64(-5), i64(0), i64(-1)], opset=13)

XPAD = rand(2, 3, 5, 4)
case("Pad", [XPAD], {"pads": [0, 0, 1, 2, 0, 0, 2, 1]}, opset=10)
case("Pad", [XPAD], {"pads": [0, 0, 1, 2, 0, 0, 2, 1], "value": 1.5}, opset=10)
case("Pad", [XPAD], {"pads": [0, 0, 1, 2, 0, 0, 2, 1], "mode": "reflect"}, opset=10)
case("Pad", [XPAD], {"pads": [0, 1, 1, 2, 0, 0, 2, 1], "mode": "edge"}, opset=10)
case("Pad", [XPAD, i64(0, 0, 2, 1, 0, 0, 1, 3), f32(-2.0).reshape(())], opset=11)
case("Pad", [XPAD, i64(0, 0, 2, 1, 0, 0, 1, 3)], {"mode": "reflect"}, opset=13)
case("Pad", [XPAD, i64(0, 0, 2, 1, 0, 0, 1, 3)], {"mode": "edge"}, opset=13)
case("Pad", [XPAD, i64(0, 0, -1, 2, 0, 0, 1, -2)], opset=13)
case("Pad", [ints(3, 4), i64(1, 1, 1, 1), i64(7).reshape(())], opset=13)
case("Pad", [XPAD, i64(1, 2, 3, 1), f32(0.5).reshape(()), i64(1, -1)], opset=18)
case("Pad", [XPAD, i64(0, 0, 1, 2, 0, 0, 2, 1)], {"mode": "wrap"}, opset=19)
case("Expand", [rand(3, 1), i64(2, 3, 4)])
case("Expand", [rand(3, 4), i64(3, 1)])
case("Tile", [rand(2, 3), i64(2, 3)])
case("Tile", [ints(2, 1, 3), i64(1, 4, 1)])
case("Gather", [XL, i64(0, 4, -1, 2)])
case("Gather", [XL, ints(2, 3, lo=-6, hi=6)], {"axis": 1})
case("Gather", [XL, i64(3).reshape(())], {"axis": -1})
case("Gather", [XL, np.array([1, 0], np.int32)], {"axis": 2}, opset=11)
case("Cast", [rand(3, 4, lo=-10, hi=10)], {"to": onnx.TensorProto.INT32})
case("Cast", [rand(3, 4, lo=0, hi=200)], {"to": onnx.TensorProto.UINT8})
case("Cast", [ints(3, 4)], {"to": onnx.TensorProto.FLOAT})
case("Cast", [np.array([0.0, 1.5, -0.0, 2.0], np.float32)], {"to": onnx.TensorProto.BOOL})
case("Cast", [BOOL_A], {"to": onnx.TensorProto.FLOAT}, opset=19)
case("Cast", [rand(3, 4)], {"to": onnx.TensorProto.DOUBLE}, opset=9)
case("Shape", [X4])
case("Shape", [X4], {"start": 1}, opset=15)
case("Shape", [X4], {"start": -3, "end": -1}, opset=15)
case("Size", [X4])
case("ConstantOfShape", [i64(2, 3)], opset=9)
case("ConstantOfShape", [i64(2, 3)], {"value": f32(1.25)})
case("ConstantOfShape", [i64(4)], {"value": i64(7)})
case("Constant", [], {"value": rand(2, 3)})
case("Constant", [], {"value_float": 2.5}, opset=12)
case("Constant", [], {"value_floats": [1.0, 2.0]}, opset=12)
case("Constant", [], {"value_int": 3}, opset=12)
case("Constant", [], {"value_ints": [3, 4, 5]}, opset=12)
XD = rand(2, 8, 3, 4)
case("DepthToSpace", [XD], {"blocksize": 2})
case("DepthToSpace", [XD], {"blocksize": 2, "mode": "CRD"})
case("DepthToSpace", [XD], {"blocksize": 2}, opset=9)
case("SpaceToDepth", [rand(2, 3, 6, 4)], {"blocksize": 2})

# ---------------------------------------------------------------------------
# Resize / Upsample

XR = rand(1, 2, 4, 5)
SC_UP = f32(1, 1, 2, 1.5)
SC_DOWN = f32(1, 1, 0.6, 0.5)
EMPTY = np.zeros(0, np.float32)
for mode in ["nearest", "linear"]:
    case("Resize", [XR, SC_UP], {"mode": mode}, opset=10)
    case("Resize", [XR, SC_DOWN], {"mode": mode}, opset=10)
    case("Upsample", [XR, f32(1, 1, 2, 3)], {"mode": mode}, opset=9)
    for ctm in ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel", "tf_half_pixel_for_nn"]:
        if ctm == "tf_half_pixel_for_nn" and mode != "nearest":
            continue
        case("Resize", [XR, EMPTY, SC_UP], {"mode": mode, "coordinate_transformation_mode": ctm}, opset=11)
        case("Resize", [XR, None, SC_DOWN], {"mode": mode, "coordinate_transformation_mode": ctm}, opset=13)
        case("Resize", [XR, None, None, i64(1, 2, 7, 3)], {"mode": mode, "coordinate_transformation_mode": ctm},
             opset=13)
    case("Resize", [XR, None, None, i64(1, 2, 1, 9)], {"mode": mode, "coordinate_transformation_mode":
                                                        "pytorch_half_pixel"}, opset=13)
    case("Resize", [XR, f32(0, 0, 0.2, 0.1, 1, 1, 0.9, 0.8), None, i64(1, 2, 6, 7)],
         {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize"}, opset=13)
    case("Resize", [XR, f32(0, 0, -0.2, 0.1, 1, 1, 1.3, 0.8), None, i64(1, 2, 6, 7)],
         {"mode": mode, "coordinate_transformation_mode": "tf_crop_and_resize", "extrapolation_value": 9.0},
         opset=13)
    case("Resize", [XR, None, SC_UP], {"mode": mode, "coordinate_transformation_mode": "half_pixel_symmetric"},
         opset=19)
    case("Resize", [XR, None, f32(2, 1.5)], {"mode": mode, "axes": [2, 3]}, opset=18)
    case("Resize", [XR, None, None, i64(8, 8)], {"mode": mode, "axes": [2, 3],
                                                 "keep_aspect_ratio_policy": "not_larger"}, opset=18)
    case("Resize", [XR, None, None, i64(8, 8)], {"mode": mode, "axes": [2, 3],
                                                 "keep_aspect_ratio_policy": "not_smaller"}, opset=18)
for nm in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]:
    for ctm in ["asymmetric", "half_pixel", "align_corners"]:
        case("Resize", [rand(1, 1, 6, 7), None, None, i64(1, 1, 9, 4)],
             {"mode": "nearest", "nearest_mode": nm, "coordinate_transformation_mode": ctm}, opset=13)
case("Resize", [rand(1, 1, 4, 4), EMPTY, f32(1, 1, 3, 3)], {"mode": "nearest", "nearest_mode": "round_prefer_ceil",
                                                            "coordinate_transformation_mode": "asymmetric"}, opset=11)
case("Resize", [rand(2, 3, 4), None, f32(1, 1.5, 2)], {"mode": "nearest"}, opset=13)
case("Resize", [rand(4, 5), None, f32(1.5, 2)], {"mode": "linear"}, opset=13)
case("Resize", [rand(1, 2, 3, 4, 5), None, f32(1, 1, 2, 1.5, 0.6)], {"mode": "linear"}, opset=13)
case("Resize", [ints(1, 2, 4, 5, lo=0, hi=255, dtype=np.uint8), None, SC_UP], {"mode": "nearest"}, opset=13)
for ctm in ["half_pixel", "asymmetric", "align_corners", "pytorch_half_pixel"]:
    case("Resize", [XR, None, SC_UP], {"mode": "cubic", "coordinate_transformation_mode": ctm}, opset=13)
case("Resize", [XR, None, SC_DOWN], {"mode": "cubic"}, opset=13)
case("Resize", [XR, None, SC_UP], {"mode": "cubic", "cubic_coeff_a": -0.5, "exclude_outside": 1}, opset=13)
case("Resize", [XR, f32(0, 0, 0.2, 0.1, 1, 1, 0.9, 0.8), None, i64(1, 2, 6, 7)],
     {"mode": "cubic", "coordinate_transformation_mode": "tf_crop_and_resize"}, opset=13)

# ---------------------------------------------------------------------------
# quantisation

XQ = rand(2, 3, 4, 5, lo=-4, hi=4)
U8 = lambda v: np.array(v, np.uint8)  # noqa: E731
I8 = lambda v: np.array(v, np.int8)  # noqa: E731
case("QuantizeLinear", [XQ, f32(0.03).reshape(()), U8(128)], opset=10)
case("QuantizeLinear", [XQ, f32(0.02).reshape(()), I8(-3)], opset=13)
case("QuantizeLinear", [XQ, f32(0.05).reshape(())], opset=13)
case("QuantizeLinear", [XQ, f32(0.02, 0.03, 0.05), I8([1, -2, 0])], {"axis": 1}, opset=13)
case("QuantizeLinear", [XQ, f32(0.02, 0.03, 0.05, 0.01, 0.04), U8([100, 128, 0, 7, 255])], {"axis": -1}, opset=13)
case("DequantizeLinear", [ints(2, 3, 4, lo=0, hi=255, dtype=np.uint8), f32(0.03).reshape(()), U8(120)], opset=10)
case("DequantizeLinear", [ints(2, 3, 4, lo=-128, hi=127, dtype=np.int8), f32(0.03).reshape(())], opset=13)
case("DequantizeLinear", [ints(2, 3, 4, lo=-128, hi=127, dtype=np.int8), f32(0.1, 0.2, 0.3), I8([1, 0, -4])],
     {"axis": 1}, opset=13)
case("DequantizeLinear", [ints(2, 3, 4, lo=-1000, hi=1000, dtype=np.int32), f32(0.01).reshape(())], opset=13)
case("QLinearMatMul", [ints(3, 8, lo=0, hi=255, dtype=np.uint8), f32(0.02).reshape(()), U8(120),
                       ints(8, 5, lo=0, hi=255, dtype=np.uint8), f32(0.01).reshape(()), U8(130),
                       f32(0.05).reshape(()), U8(128)], atol=1)
case("QLinearMatMul", [ints(2, 3, 8, lo=-128, hi=127, dtype=np.int8), f32(0.02).reshape(()), I8(3),
                       ints(8, 5, lo=-128, hi=127, dtype=np.int8), f32(0.01).reshape(()), I8(0),
                       f32(0.2).reshape(()), I8(-5)], atol=1)
case("QLinearConv", [ints(1, 4, 7, 7, lo=0, hi=255, dtype=np.uint8), f32(0.02).reshape(()), U8(120),
                     ints(6, 4, 3, 3, lo=0, hi=255, dtype=np.uint8), f32(0.01).reshape(()), U8(128),
                     f32(0.5).reshape(()), U8(100), ints(6, lo=-500, hi=500, dtype=np.int32)],
     {"pads": [1, 1, 1, 1], "strides": [2, 2]}, atol=1)
case("QLinearConv", [ints(1, 4, 7, 7, lo=-128, hi=127, dtype=np.int8), f32(0.02).reshape(()), I8(2),
                     ints(4, 1, 3, 3, lo=-128, hi=127, dtype=np.int8), f32(0.01, 0.02, 0.03, 0.04),
                     np.zeros(4, np.int8), f32(0.1).reshape(()), I8(-3)],
     {"pads": [1, 1, 1, 1], "group": 4}, atol=1)


# ---------------------------------------------------------------------------
# the tests


@pytest.mark.parametrize("op, inputs, attrs, opset, n_out, atol, rtol", CASES)
def test_matches_onnxruntime(op, inputs, attrs, opset, n_out, atol, rtol):
    want = ort_run(op, inputs, attrs, opset, n_out)
    outputs = [np.full(w.shape, 77, dtype=w.dtype) for w in want]
    run_op(op, attrs, list(inputs), outputs, opset=opset)
    for got, exp in zip(outputs, want):
        check(got, exp, atol, rtol)


def test_every_supported_op_is_tested():
    from memplan.verify import kernels_contrib, kernels_more, kernels_rnn

    tested = {p.values[0] for p in CASES}
    # tests in their own files
    elsewhere = set(kernels_rnn.KERNELS) | set(kernels_more.KERNELS) | set(kernels_contrib.KERNELS)
    assert SUPPORTED_OPS - elsewhere <= tested, sorted(SUPPORTED_OPS - elsewhere - tested)


def fresh(op, attrs, inputs, shape, dtype=np.float32, opset=13):
    out = np.empty(shape, dtype=dtype)
    run_op(op, attrs, inputs, [out], opset=opset)
    return out


INPLACE = [
    ("Relu", {}, []), ("Sigmoid", {}, []), ("Tanh", {}, []), ("Exp", {}, []), ("Neg", {}, []),
    ("Abs", {}, []), ("LeakyRelu", {"alpha": 0.1}, []), ("Elu", {}, []), ("HardSwish", {}, []),
    ("HardSigmoid", {}, []), ("Softplus", {}, []), ("Erf", {}, []), ("Gelu", {}, []), ("Mish", {}, []),
    ("Clip", {}, [f32(-0.3).reshape(()), f32(0.4).reshape(())]), ("Clip", {}, [f32(-0.3).reshape(())]),
    ("Add", {}, [rand(5)]), ("Sub", {}, [rand(4, 5)]), ("Mul", {}, [rand(2, 3, 4, 5)]),
    ("Div", {}, [rand(5, lo=1, hi=2)]), ("Pow", {}, [f32(2.0).reshape(())]), ("PRelu", {}, [rand(3, 1, 1)]),
    ("Sum", {}, [rand(5), rand(4, 5)]), ("Max", {}, [rand(4, 5)]), ("Mean", {}, [rand(5)]),
    ("Softmax", {}, []), ("LogSoftmax", {"axis": 1}, []), ("Identity", {}, []), ("Dropout", {}, []),
    ("BatchNormalization", {}, [rand(3), rand(3), rand(3), rand(3, lo=0.1, hi=2)]),
]


@pytest.mark.parametrize("op, attrs, rest", INPLACE, ids=[f"{c[0]}-{i}" for i, c in enumerate(INPLACE)])
def test_output_aliases_input(op, attrs, rest):
    x = rand(2, 3, 4, 5, lo=-2, hi=2)
    expected = fresh(op, attrs, [x.copy()] + rest, x.shape)
    buf = x.copy()
    run_op(op, attrs, [buf] + rest, [buf])
    np.testing.assert_allclose(buf, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shift", [-7, 5])
@pytest.mark.parametrize("op, attrs, rest", [("Relu", {}, []), ("Add", {}, [rand(5)]),
                                             ("Sigmoid", {}, []), ("Transpose", {"perm": [0, 1, 3, 2]}, [])])
def test_output_overlaps_input_partially(op, attrs, rest, shift):
    # Arena neighbours: the output starts a few elements before or after the input.
    x = rand(2, 3, 4, 5)
    shape = (2, 3, 5, 4) if op == "Transpose" else x.shape
    expected = fresh(op, attrs, [x.copy()] + rest, shape)
    arena = np.zeros(x.size + 20, np.float32)
    xin = arena[10:10 + x.size].reshape(x.shape)
    xin[...] = x
    out = arena[10 + shift:10 + shift + x.size].reshape(shape)
    run_op(op, attrs, [xin] + rest, [out])
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("op, attrs, second, out_shape", [
    ("Reshape", {}, i64(8, 5), (8, 5)),
    ("Flatten", {"axis": 2}, None, (2, 20)),
    ("Squeeze", {}, i64(1), (2, 4, 5)),
    ("Unsqueeze", {}, i64(0), (1, 2, 1, 4, 5)),
    ("Identity", {}, None, (2, 1, 4, 5)),
    ("Dropout", {}, None, (2, 1, 4, 5)),
])
def test_view_ops_on_their_own_memory(op, attrs, second, out_shape):
    x = rand(2, 1, 4, 5)
    if op == "Unsqueeze":
        x = rand(2, 4, 5)
        out_shape = (1, 2, 4, 5)
    before = x.copy()
    inputs = [x] + ([second] if second is not None else [])
    out = x.reshape(out_shape)
    run_op(op, attrs, inputs, [out])
    np.testing.assert_array_equal(out.reshape(-1), before.reshape(-1))


def test_concat_in_place_and_split_views():
    out = np.zeros((2, 7, 3), np.float32)
    a = out[:, :3]  # the first input is already a view of the output
    a[...] = rand(2, 3, 3)
    b_src = rand(2, 4, 3)
    expected = np.concatenate([a.copy(), b_src], axis=1)
    run_op("Concat", {"axis": 1}, [a, b_src], [out])
    np.testing.assert_array_equal(out, expected)
    # Split whose outputs are views of the input memory.
    x = rand(6, 4)
    want = [x[:2].copy(), x[2:].copy()]
    run_op("Split", {"axis": 0}, [x, i64(2, 4)], [x[:2], x[2:]], opset=13)
    np.testing.assert_array_equal(x[:2], want[0])
    np.testing.assert_array_equal(x[2:], want[1])


def test_conv_output_overlapping_input():
    x = rand(1, 4, 6, 6)
    w = rand(4, 4, 3, 3)
    expected = fresh("Conv", {"pads": [1, 1, 1, 1]}, [x, w], (1, 4, 6, 6))
    buf = x.copy()
    run_op("Conv", {"pads": [1, 1, 1, 1]}, [buf, w], [buf])
    np.testing.assert_allclose(buf, expected, rtol=1e-6, atol=1e-6)


def test_non_contiguous_inputs():
    x = rand(2, 3, 10, 10)[:, :, ::2, 1::2]
    w = rand(4, 3, 3, 3)
    want = fresh("Conv", {"pads": [1, 1, 1, 1]}, [np.ascontiguousarray(x), w], (2, 4, 5, 5))
    got = fresh("Conv", {"pads": [1, 1, 1, 1]}, [x, w], (2, 4, 5, 5))
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)
    t = rand(4, 6).T
    b = rand(4, 2)
    np.testing.assert_allclose(fresh("MatMul", {}, [t, b], (6, 2)), np.ascontiguousarray(t) @ b, rtol=1e-6)


def test_unused_optional_output_is_skipped():
    x = rand(1, 2, 6, 6)
    out = np.empty((1, 2, 3, 3), np.float32)
    run_op("MaxPool", {"kernel_shape": [2, 2], "strides": [2, 2]}, [x], [out, None], opset=12)
    np.testing.assert_array_equal(out, x.reshape(1, 2, 3, 2, 3, 2).max(axis=(3, 5)))
    run_op("Dropout", {}, [x, None, None], [x.copy(), None], opset=13)


def test_erf_is_accurate():
    import math
    xs = np.linspace(-7, 7, 20001)
    got = np.empty_like(xs)
    run_op("Erf", {}, [xs], [got])
    want = np.array([math.erf(v) for v in xs])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-300)


def test_unknown_op_raises():
    with pytest.raises(KernelError, match="NonMaxSuppression"):
        run_op("NonMaxSuppression", {}, [rand(1, 4, 4)], [np.empty(1)])


@pytest.mark.parametrize("op, attrs, inputs, out_shape", [
    ("Resize", {"mode": "linear", "antialias": 1}, [rand(1, 1, 4, 4), None, f32(1, 1, 0.5, 0.5)], (1, 1, 2, 2)),
    ("BatchNormalization", {"training_mode": 1}, [rand(2, 3), rand(3), rand(3), rand(3), rand(3, lo=0.1)], (2, 3)),
    ("Pad", {"mode": "mirror"}, [rand(3, 4), i64(1, 1, 1, 1)], (5, 6)),
    ("Gelu", {"approximate": "cubic"}, [rand(3)], (3,)),
])
def test_unsupported_attributes_raise(op, attrs, inputs, out_shape):
    with pytest.raises(KernelError, match=op):
        run_op(op, attrs, inputs, [np.empty(out_shape, np.float32)], opset=20)
