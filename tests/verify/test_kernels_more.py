"""memplan.verify.kernels_more against onnxruntime, one single-node model per case."""
from __future__ import annotations

import numpy as np
import pytest
from ort_single import ort_run

from memplan.verify.kernels_more import KERNELS
from memplan.verify.ops import KernelError, run_op

RNG = np.random.default_rng(99)
CASES: list = []


def rand(*shape, lo=-1.0, hi=1.0, dtype=np.float32):
    return RNG.uniform(lo, hi, size=shape).astype(dtype)


def ints(*shape, lo=-5, hi=5, dtype=np.int64):
    return RNG.integers(lo, hi, size=shape).astype(dtype)


def i64(*values):
    return np.array(values, dtype=np.int64)


def scalar(v, dtype):
    return np.array(v, dtype=dtype)


def case(op, inputs, attrs=None, *, opset=18, n_out=1, atol=1e-5, rtol=1e-4):
    attrs = attrs or {}
    label = "-".join([op, f"op{opset}"] + [f"{k}={str(v)[:16]}" for k, v in sorted(attrs.items())])
    CASES.append(pytest.param(op, inputs, attrs, opset, n_out, atol, rtol, id=f"{label}#{len(CASES)}"))


X = rand(2, 3, 4, 5, lo=-3, hi=3)
SPECIAL = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1.5, -2.5, 0.5, 2.5, -0.5], np.float32)

# elementwise
case("Mod", [ints(20, lo=-9, hi=9), ints(20, lo=1, hi=5) * np.where(RNG.random(20) < .5, -1, 1)])
case("Mod", [ints(20, lo=-9, hi=9, dtype=np.int32), ints(20, lo=1, hi=5, dtype=np.int32)], {"fmod": 1})
case("Mod", [rand(3, 4, lo=-9, hi=9), rand(4, lo=1, hi=3)], {"fmod": 1})
case("Mod", [ints(3, 4, lo=-9, hi=9), i64(4).reshape(())])
case("Round", [np.concatenate([SPECIAL, rand(20, lo=-5, hi=5)])])
case("IsNaN", [SPECIAL])
case("IsInf", [SPECIAL])
case("IsInf", [SPECIAL], {"detect_negative": 0})
case("IsInf", [SPECIAL], {"detect_positive": 0})
case("ThresholdedRelu", [X])
case("ThresholdedRelu", [X], {"alpha": 0.5})
case("Celu", [X])
case("Celu", [X], {"alpha": 2.0})
case("Shrink", [X])
case("Shrink", [X], {"lambd": 1.0, "bias": 0.3})
case("Hardmax", [X], opset=11)
case("Hardmax", [X], {"axis": 2}, opset=11)
case("Hardmax", [np.round(X)], opset=13)
case("Hardmax", [np.round(X)], {"axis": 1}, opset=13)
for op in ["Tan", "Atan", "Sinh", "Cosh", "Asinh"]:
    case(op, [X])
for op in ["Asin", "Acos", "Atanh"]:
    case(op, [rand(3, 4, lo=-0.9, hi=0.9)])
case("Acosh", [rand(3, 4, lo=1, hi=5)])
case("CastLike", [X, np.zeros(1, np.int32)], opset=15)
case("CastLike", [ints(3, 4), np.zeros(1, np.float32)], opset=15)
case("BitShift", [ints(3, 4, lo=0, hi=200, dtype=np.uint8), ints(3, 4, lo=0, hi=4, dtype=np.uint8)],
     {"direction": "LEFT"}, opset=11)
case("BitShift", [ints(3, 4, lo=0, hi=2 ** 20, dtype=np.uint32), ints(4, lo=0, hi=9, dtype=np.uint32)],
     {"direction": "RIGHT"}, opset=11)
for op in ["BitwiseAnd", "BitwiseOr", "BitwiseXor"]:
    case(op, [ints(3, 4, lo=-100, hi=100, dtype=np.int32), ints(4, lo=-100, hi=100, dtype=np.int32)])
case("BitwiseNot", [ints(3, 4, lo=0, hi=255, dtype=np.uint8)])

# shape-subgraph ops
case("Range", [scalar(0, np.int64), scalar(7, np.int64), scalar(1, np.int64)], opset=11)
case("Range", [scalar(10, np.int64), scalar(-3, np.int64), scalar(-3, np.int64)], opset=11)
case("Range", [scalar(2, np.int32), scalar(3, np.int32), scalar(5, np.int32)], opset=11)
case("Range", [scalar(0.5, np.float32), scalar(3.2, np.float32), scalar(0.3, np.float32)], opset=11)
case("Range", [scalar(1.0, np.float32), scalar(-1.0, np.float32), scalar(-0.25, np.float32)], opset=11)
for upper in [0, 1]:
    case("Trilu", [rand(2, 5, 6)], {"upper": upper}, opset=14)
    case("Trilu", [rand(2, 5, 6), scalar(2, np.int64)], {"upper": upper}, opset=14)
    case("Trilu", [rand(4, 3), scalar(-1, np.int64)], {"upper": upper}, opset=14)
    case("Trilu", [np.ones((1, 1, 6, 6), bool), scalar(1, np.int64)], {"upper": upper}, opset=14)
for attrs in [{}, {"exclusive": 1}, {"reverse": 1}, {"exclusive": 1, "reverse": 1}]:
    case("CumSum", [X, scalar(2, np.int64)], attrs, opset=14)
    case("CumSum", [ints(3, 5), scalar(-1, np.int32)], attrs, opset=14)
ONEHOT_IDX = ints(2, 3, lo=-4, hi=4)
case("OneHot", [ONEHOT_IDX, scalar(4, np.int64), np.array([0, 1], np.float32)], opset=11)
case("OneHot", [ONEHOT_IDX, np.array([4], np.int64), np.array([-2, 5], np.int64)], {"axis": 0}, opset=11)
case("OneHot", [ONEHOT_IDX, np.array([3.0], np.float32), np.array([-2, 5], np.float32)], {"axis": -2}, opset=11)
case("OneHot", [ONEHOT_IDX.astype(np.int32), scalar(5, np.int32), np.array([0.1, 0.9], np.float32)],
     {"axis": 1}, opset=11)
case("EyeLike", [rand(4, 5)], opset=9)
case("EyeLike", [rand(5, 3)], {"k": -1}, opset=9)
case("EyeLike", [rand(3, 3)], {"k": 1, "dtype": 7}, opset=9)

# indexing
case("GatherElements", [rand(3, 4), ints(3, 2, lo=-4, hi=4)], {"axis": 1})
case("GatherElements", [rand(3, 4, 2), ints(2, 4, 2, lo=-3, hi=3)], {"axis": 0})
case("GatherElements", [rand(3, 5), ints(2, 3, lo=0, hi=5)], {"axis": 1})
case("GatherElements", [rand(4, 6, 3), ints(2, 2, 2, lo=0, hi=4)], {"axis": 0})
case("GatherND", [rand(3, 4, 5), ints(2, 2, lo=0, hi=3)])
case("GatherND", [rand(3, 4, 5), ints(6, 3, lo=-3, hi=3)])
case("GatherND", [rand(3, 4, 5), ints(2, 1, lo=0, hi=3)])
case("GatherND", [rand(2, 4, 5), ints(2, 3, 1, lo=0, hi=4)], {"batch_dims": 1})
case("GatherND", [rand(2, 3, 4, 5), ints(2, 3, 2, lo=0, hi=4)], {"batch_dims": 2})
case("ScatterND", [rand(4, 5), i64(2, 0, 3).reshape(3, 1), rand(3, 5)], opset=11)
case("ScatterND", [rand(4, 5, 3), i64(1, 2, 3, 4, 0, -1).reshape(3, 2), rand(3, 3)], opset=11)
for red in ["add", "mul"]:
    case("ScatterND", [rand(4, 5), i64(2, 0, 2).reshape(3, 1), rand(3, 5)], {"reduction": red}, opset=16)
for red in ["max", "min"]:
    case("ScatterND", [rand(4, 5), i64(2, 0, 2).reshape(3, 1), rand(3, 5)], {"reduction": red}, opset=18)
SE_IDX = np.array([[1, 0, 2], [0, 2, -1]], np.int64)
case("ScatterElements", [rand(3, 3), SE_IDX, rand(2, 3)], opset=11)
case("ScatterElements", [rand(3, 4), SE_IDX.T.copy(), rand(3, 2)], {"axis": 1}, opset=13)
for red in ["add", "mul"]:
    case("ScatterElements", [rand(3, 3), np.array([[1, 1, 2], [1, 0, 2]], np.int64), rand(2, 3)],
         {"reduction": red}, opset=16)
for red in ["max", "min"]:
    case("ScatterElements", [rand(3, 3), np.array([[1, 1, 2], [1, 0, 2]], np.int64), rand(2, 3)],
         {"reduction": red}, opset=18)
case("Scatter", [rand(3, 3), SE_IDX, rand(2, 3)], opset=9)
TIES = RNG.integers(0, 4, size=(3, 7)).astype(np.float32)
case("TopK", [TIES, i64(3)], n_out=2, opset=11)
case("TopK", [TIES, i64(4)], {"largest": 0}, n_out=2, opset=11)
case("TopK", [rand(4, 5, 6), i64(2)], {"axis": 1}, n_out=2, opset=11)
case("TopK", [ints(3, 8, lo=0, hi=5, dtype=np.int32), i64(8)], n_out=2, opset=11)
case("TopK", [TIES], {"k": 2}, n_out=2, opset=9)
case("ReverseSequence", [rand(5, 3, 2), i64(5, 2, 1)], {"time_axis": 0, "batch_axis": 1}, opset=10)
case("ReverseSequence", [rand(3, 5, 2), i64(1, 5, 3)], {"time_axis": 1, "batch_axis": 0}, opset=10)

# normalisation and products
case("GroupNormalization", [rand(2, 6, 4, 5), rand(3), rand(3)], {"num_groups": 3}, opset=18)
case("GroupNormalization", [rand(2, 6, 7), rand(6), rand(6)], {"num_groups": 2, "epsilon": 1e-2}, opset=21)
case("GroupNormalization", [rand(2, 4, 3, 3), rand(4), rand(4)], {"num_groups": 4}, opset=21)
case("MeanVarianceNormalization", [X], opset=13)
case("MeanVarianceNormalization", [X], {"axes": [1, 3]}, opset=13)
case("LpNormalization", [X])
case("LpNormalization", [X], {"axis": 1, "p": 1})
for eq, shapes in [("ij,jk->ik", [(3, 4), (4, 5)]), ("bhqd,bhkd->bhqk", [(2, 3, 4, 5), (2, 3, 6, 5)]),
                   ("bhqk,bhkd->bhqd", [(2, 3, 4, 6), (2, 3, 6, 5)]), ("ii->i", [(4, 4)]),
                   ("ij->ji", [(3, 4)]), ("i,j->ij", [(3,), (4,)]), ("...ij,...jk", [(2, 3, 4), (2, 4, 5)]),
                   ("bij -> b", [(2, 3, 4)])]:
    case("Einsum", [rand(*s) for s in shapes], {"equation": eq}, opset=12)
case("Det", [rand(3, 3)], opset=11)
case("Det", [rand(2, 4, 4)], opset=11)
case("MatMulInteger", [ints(3, 4, lo=0, hi=255, dtype=np.uint8), ints(4, 5, lo=0, hi=255, dtype=np.uint8),
                       np.array(128, np.uint8), np.array(120, np.uint8)], opset=10)
case("MatMulInteger", [ints(2, 3, 4, lo=-128, hi=127, dtype=np.int8), ints(4, 5, lo=-128, hi=127, dtype=np.int8)],
     opset=10)
# u8 x s8: weights kept to 7 bits, as quantizers do, since onnxruntime's AVX2 kernel saturates
# pairs of u8*s8 products in int16 (an artefact of the CPU, not of the op)
case("MatMulInteger", [ints(3, 4, lo=0, hi=255, dtype=np.uint8), ints(4, 5, lo=-64, hi=63, dtype=np.int8),
                       np.array(3, np.uint8), ints(5, lo=-5, hi=5, dtype=np.int8)], opset=10)
case("ConvInteger", [ints(1, 3, 6, 6, lo=0, hi=255, dtype=np.uint8), ints(4, 3, 3, 3, lo=0, hi=255, dtype=np.uint8),
                     np.array(120, np.uint8), np.array(130, np.uint8)], {"pads": [1, 1, 1, 1]}, opset=10)
case("ConvInteger", [ints(1, 4, 7, 7, lo=0, hi=255, dtype=np.uint8), ints(4, 2, 3, 3, lo=0, hi=255, dtype=np.uint8),
                     np.array(3, np.uint8)], {"group": 2, "strides": [2, 2]}, opset=10)
case("ConvInteger", [ints(1, 2, 5, 5, lo=0, hi=255, dtype=np.uint8), ints(3, 2, 2, 2, lo=-64, hi=63, dtype=np.int8)],
     {"auto_pad": "SAME_UPPER"}, opset=10)
case("LpPool", [rand(2, 3, 7, 6)], {"kernel_shape": [3, 3]}, opset=18)
case("LpPool", [rand(2, 3, 7, 6)], {"kernel_shape": [2, 3], "p": 1, "strides": [2, 2], "pads": [1, 1, 0, 0]}, opset=18)
case("LpPool", [rand(1, 2, 9)], {"kernel_shape": [3], "p": 3, "dilations": [2]}, opset=18)
case("LpPool", [rand(2, 3, 7, 6)], {"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, opset=18)
case("LpPool", [rand(2, 3, 7, 6)], {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, opset=18)
case("LpPool", [rand(2, 3, 7, 6)], {"kernel_shape": [3, 2], "strides": [2, 1], "auto_pad": "VALID"}, opset=11)
case("ConvInteger", [ints(1, 2, 9, 9, lo=0, hi=255, dtype=np.uint8), ints(3, 2, 3, 3, lo=0, hi=255, dtype=np.uint8),
                     np.array(7, np.uint8), np.array(9, np.uint8)], {"dilations": [2, 2], "pads": [2, 1, 2, 1]}, opset=10)
case("GlobalLpPool", [rand(2, 3, 4, 5)])
case("GlobalLpPool", [rand(2, 3, 5)], {"p": 1})
case("RMSNormalization", [rand(2, 3, 8), rand(8)], opset=23)
case("RMSNormalization", [rand(2, 3, 8), rand(3, 8)], {"axis": 1, "epsilon": 1e-2}, opset=23)
Q4, K4, V4 = rand(2, 4, 3, 8), rand(2, 4, 5, 8), rand(2, 4, 5, 6)
KG, VG = rand(2, 2, 5, 8), rand(2, 2, 5, 6)
ATT_BOOL = RNG.random((3, 5)) < 0.7
ATT_BOOL[:, 0] = True
case("Attention", [Q4, K4, V4], opset=23)
case("Attention", [Q4, KG, VG], {"scale": 0.3}, opset=23)
case("Attention", [Q4, K4, V4, ATT_BOOL], opset=23)
case("Attention", [Q4, K4, V4, rand(2, 1, 3, 5)], opset=23)
case("Attention", [Q4, K4, V4, rand(3, 5)], {"softcap": 2.0}, opset=23)
case("Attention", [rand(2, 5, 8), rand(2, 5, 8), rand(2, 5, 8)], {"is_causal": 1, "q_num_heads": 2, "kv_num_heads": 2},
     opset=23)
case("Attention", [rand(1, 2, 5, 4), rand(1, 2, 3, 4), rand(1, 2, 3, 4)], {"is_causal": 1}, opset=23)
case("Attention", [Q4, K4, V4, None, rand(2, 4, 2, 8), rand(2, 4, 2, 6)], n_out=3, opset=23)
case("Attention", [Q4, K4, V4, None, rand(2, 4, 2, 8), rand(2, 4, 2, 6)], {"is_causal": 1}, n_out=3, opset=23)
case("Attention", [rand(2, 3, 32), rand(2, 5, 16), rand(2, 5, 12)], {"q_num_heads": 4, "kv_num_heads": 2},
     opset=23)
for mode in range(4):
    case("Attention", [Q4, K4, V4, rand(3, 5)], {"qk_matmul_output_mode": mode, "softcap": 1.5},
         n_out=4, opset=23)
GS_DATA, GS_GRID = rand(2, 3, 5, 6), rand(2, 4, 7, 2, lo=-1.6, hi=1.6)
for mode in ["bilinear", "nearest", "bicubic"]:
    for padding in ["zeros", "border", "reflection"]:
        for align in [0, 1]:
            case("GridSample", [GS_DATA, GS_GRID], {"mode": mode, "padding_mode": padding, "align_corners": align},
                 opset=16)
GS_WIDE = rand(2, 3, 5, 2, lo=-5, hi=5)
for mode in ["bilinear", "nearest", "bicubic"]:
    for padding in ["zeros", "border", "reflection"]:
        case("GridSample", [GS_DATA, GS_WIDE], {"mode": mode, "padding_mode": padding, "align_corners": 1}, opset=16)
case("GridSample", [GS_DATA, GS_GRID], {"mode": "linear"}, opset=20)
case("GridSample", [GS_DATA, GS_GRID], {"mode": "cubic", "padding_mode": "border"}, opset=20)
case("DynamicQuantizeLinear", [rand(3, 4, lo=-2, hi=5)], n_out=3, atol=1, opset=11)
case("DynamicQuantizeLinear", [rand(3, 4, lo=0.5, hi=3)], n_out=3, atol=1, opset=11)


@pytest.mark.parametrize("op, inputs, attrs, opset, n_out, atol, rtol", CASES)
def test_matches_onnxruntime(op, inputs, attrs, opset, n_out, atol, rtol):
    want = ort_run(op, inputs, attrs, opset, [True] * n_out)
    outputs = [np.full(w.shape, 77, dtype=w.dtype) for w in want]
    run_op(op, attrs, list(inputs), outputs, opset=opset)
    for got, exp in zip(outputs, want):
        assert got.shape == exp.shape and got.dtype == exp.dtype
        if exp.dtype.kind == "f":
            np.testing.assert_allclose(got, exp, rtol=rtol, atol=atol)
        elif atol >= 1:
            assert np.abs(got.astype(np.int64) - exp.astype(np.int64)).max(initial=0) <= atol
        else:
            np.testing.assert_array_equal(got, exp)


def test_every_op_is_tested():
    tested = {p.values[0] for p in CASES}
    assert set(KERNELS) <= tested, sorted(set(KERNELS) - tested)


@pytest.mark.parametrize("largest", [0, 1])
def test_top_k_unsorted_selects_the_same_elements(largest):
    # sorted=0 leaves the order to the implementation (onnxruntime's follows its selection
    # algorithm); ours is sorted, which the spec allows: the same elements, maybe reordered.
    x, k = rand(4, 9), i64(3)
    attrs = {"sorted": 0, "largest": largest}
    want_v, want_i = ort_run("TopK", [x, k], attrs, 11, [True, True])
    got_v, got_i = np.empty_like(want_v), np.empty_like(want_i)
    run_op("TopK", attrs, [x, k], [got_v, got_i], opset=11)
    np.testing.assert_array_equal(np.sort(got_i, axis=1), np.sort(want_i, axis=1))
    np.testing.assert_array_equal(np.sort(got_v, axis=1), np.sort(want_v, axis=1))


def test_output_aliases_input():
    x = rand(3, 5)
    want = np.empty_like(x)
    run_op("CumSum", {}, [x.copy(), scalar(1, np.int64)], [want])
    run_op("CumSum", {}, [x, scalar(1, np.int64)], [x])
    np.testing.assert_array_equal(x, want)


def test_float_mod_without_fmod_is_refused():
    with pytest.raises(KernelError, match="fmod"):
        run_op("Mod", {}, [rand(3), rand(3)], [np.empty(3, np.float32)])


def test_out_of_range_index_is_named():
    with pytest.raises(KernelError, match="GatherElements.*out of range"):
        run_op("GatherElements", {"axis": 0}, [rand(3), i64(5)], [np.empty(1, np.float32)])
