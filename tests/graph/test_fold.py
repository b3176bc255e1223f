"""Static shape propagation: shape subgraphs fold to constants, the folded model computes
what the original computes (onnxruntime on both), and what stays dynamic is named."""
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from memplan.errors import ModelError
from memplan.graph.onnx import load, static_model
from memplan.planner import plan
from memplan.verify.executor import run_in_arena

from helpers import save
from ort_single import ort_model_run

T, D, H = 6, 8, 2


_run = ort_model_run


def _const(name, values, dtype=np.int64):
    return numpy_helper.from_array(np.array(values, dtype=dtype), name)


def attention_model():
    """A torch-style attention block with a dynamic sequence length: the head split reshape
    target is built by Shape -> Gather -> Unsqueeze -> Concat, and the causal mask by
    Shape -> ConstantOfShape -> Trilu -> Equal -> Where."""
    rng = np.random.default_rng(0)
    n = helper.make_node
    nodes = [
        n("Shape", ["x"], ["shp"], name="/attn/Shape"),
        n("Gather", ["shp", "one"], ["t"], name="/attn/Gather", axis=0),
        n("Unsqueeze", ["t", "zero_axes"], ["t1"], name="/attn/Unsqueeze"),
        n("Concat", ["one_vec", "t1", "heads", "head_dim"], ["split_shape"], name="/attn/Concat", axis=0),
        n("MatMul", ["x", "wq"], ["q"], name="/attn/q"),
        n("MatMul", ["x", "wk"], ["k"], name="/attn/k"),
        n("Reshape", ["q", "split_shape"], ["q4"], name="/attn/Reshape_q"),
        n("Reshape", ["k", "split_shape"], ["k4"], name="/attn/Reshape_k"),
        n("Transpose", ["q4"], ["qh"], name="/attn/Transpose_q", perm=[0, 2, 1, 3]),
        n("Transpose", ["k4"], ["kh"], name="/attn/Transpose_k", perm=[0, 2, 3, 1]),
        n("MatMul", ["qh", "kh"], ["scores"], name="/attn/scores"),
        n("Concat", ["t1", "t1"], ["tt"], name="/mask/Concat", axis=0),
        n("ConstantOfShape", ["tt"], ["ones"], name="/mask/ConstantOfShape",
          value=numpy_helper.from_array(np.array([1.0], dtype=np.float32))),
        n("Trilu", ["ones"], ["lower"], name="/mask/Trilu", upper=0),
        n("Equal", ["lower", "zero_f"], ["blocked"], name="/mask/Equal"),
        n("Where", ["blocked", "neg_inf", "zero_f"], ["mask"], name="/mask/Where"),
        n("Add", ["scores", "mask"], ["masked"], name="/attn/Add"),
        n("Softmax", ["masked"], ["y"], name="/attn/Softmax", axis=-1),
    ]
    inits = [_const("one", 1), _const("zero_axes", [0]), _const("one_vec", [1]), _const("heads", [H]),
             _const("head_dim", [D // H]), _const("zero_f", 0.0, np.float32),
             _const("neg_inf", -np.inf, np.float32),
             numpy_helper.from_array(rng.standard_normal((D, D)).astype(np.float32), "wq"),
             numpy_helper.from_array(rng.standard_normal((D, D)).astype(np.float32), "wk")]
    graph = helper.make_graph(nodes, "attention", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "seq", D])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def test_attention_shape_subgraph_folds_and_plans(tmp_path):
    path = save(attention_model(), tmp_path / "attn.onnx")
    g = load(path, input_shapes={"x": (1, T, D)})
    assert [op.op_type for op in g.ops] == ["MatMul", "MatMul", "Reshape", "Reshape", "Transpose", "Transpose",
                                           "MatMul", "Add", "Softmax"]
    # the user's node and tensor names are kept
    assert [op.name for op in g.ops][:3] == ["/attn/q", "/attn/k", "/attn/Reshape_q"]
    assert g.tensors["y"].shape == (1, H, T, T)
    np.testing.assert_array_equal(g.initializers["split_shape"], [1, T, H, D // H])
    # the reshape target is a shape constant, not a weight; the float mask is data and stays one
    assert "split_shape" in g.shape_constants and "split_shape" not in g.weights
    assert "mask" in g.weights and "mask" not in g.shape_constants
    assert g.shape_constant_bytes >= 4 * 8 + T * T * 4
    mask = g.initializers["mask"][0] if g.initializers["mask"].ndim == 3 else g.initializers["mask"]
    assert np.isneginf(mask[0, 1]) and mask[1, 0] == 0


def test_attention_folded_model_matches_original_in_onnxruntime_and_in_the_arena(tmp_path):
    model = attention_model()
    x = np.random.default_rng(1).standard_normal((1, T, D)).astype(np.float32)
    folded = static_model(model, input_shapes={"x": (1, T, D)})
    assert not any(n.op_type in ("Shape", "Trilu", "ConstantOfShape") for n in folded.graph.node)
    expected = _run(model, {"x": x})[0]
    np.testing.assert_allclose(_run(folded, {"x": x})[0], expected, rtol=1e-5, atol=1e-6)
    g = load(save(model, tmp_path / "a.onnx"), input_shapes={"x": (1, T, D)})
    run = run_in_arena(g, plan(g, algorithm="greedy_by_size"), {"x": x})
    np.testing.assert_allclose(run.outputs["y"], expected, rtol=1e-5, atol=1e-6)


def test_range_mod_expand_size_fold(tmp_path):
    """Range(0, Size(x)) % 3, expanded to x's shape: all computable from the shape."""
    n = helper.make_node
    nodes = [n("Size", ["x"], ["numel"], name="size"),
             n("Range", ["zero", "numel", "one"], ["r"], name="range"),
             n("Mod", ["r", "three"], ["m"], name="mod"),
             n("Cast", ["m"], ["mf"], name="cast", to=TensorProto.FLOAT),
             n("Shape", ["x"], ["s"], name="shape"),
             n("Reshape", ["mf", "s"], ["mr"], name="reshape_m"),
             n("Expand", ["mr", "s"], ["e"], name="expand"),
             n("Add", ["x", "e"], ["y"], name="add")]
    inits = [_const("zero", 0), _const("one", 1), _const("three", 3)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["a", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    g = load(save(model, tmp_path / "r.onnx"), input_shapes={"x": (2, 4)})
    assert [op.name for op in g.ops] == ["add"]
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(_run(static_model(model, input_shapes={"x": (2, 4)}), {"x": x})[0],
                                  _run(model, {"x": x})[0])


def test_nonzero_is_named_as_value_dependent(tmp_path):
    n = helper.make_node
    nodes = [n("NonZero", ["x"], ["nz"], name="find"), n("Transpose", ["nz"], ["y"], name="t")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, None)])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "nz.onnx")
    with pytest.raises(ModelError, match=r"nz\.onnx: shape of tensor 'nz' \(output of node 'find' \(NonZero\)\) "
                                         r"depends on input values.*inputs: x"):
        load(path)


def reshape_by_input_model():
    """y = Reshape(x, Concat([2], k)): the target depends on the value of input k."""
    n = helper.make_node
    nodes = [n("Concat", ["two", "k"], ["target"], name="target", axis=0),
             n("Reshape", ["x", "target"], ["y"], name="reshape")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6]),
                                           helper.make_tensor_value_info("k", TensorProto.INT64, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [_const("two", [2])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_shape_from_input_values_is_named_and_pinning_fixes_it(tmp_path):
    path = save(reshape_by_input_model(), tmp_path / "rk.onnx")
    with pytest.raises(ModelError, match=r"rk\.onnx: shape of tensor 'y' \(output of node 'reshape' \(Reshape\)\) "
                                         r"depends on input values \(through 'target'.*inputs: k\).*--input-value"):
        load(path)
    g = load(path, input_values={"k": np.array([3, 2])})
    assert g.inputs == ("x",) and g.tensors["y"].shape == (2, 3, 2)
    assert "target" in g.shape_constants


def test_pinned_input_value_errors(tmp_path):
    path = save(reshape_by_input_model(), tmp_path / "rk.onnx")
    with pytest.raises(ModelError, match=r"rk\.onnx: --input-value names unknown input 'kk' \(inputs: x, k\)"):
        load(path, input_values={"kk": np.array([1])})
    with pytest.raises(ModelError, match=r"--input-value k: 3 value\(s\) do not fit"):
        load(path, input_values={"k": np.array([[1, 2, 3]])})


def test_nothing_to_fold_returns_the_model_unchanged():
    from memplan.graph.zoo import zoo_path

    model = onnx.load(zoo_path("squeezenet"))
    assert static_model(model) is model


@pytest.mark.parametrize("declared", [[-1, 4], ["seqlen", 4]])
def test_declared_output_dims_do_not_shadow_inferred_ones(tmp_path, declared):
    """Paddle writes -1 as an output dim, torch exports a symbolic 'seqlen': after
    --input-shape the inferred shape wins (a -1 used to reach the planner as a size)."""
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, declared)
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 4])], [out])
    path = save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "o.onnx")
    assert load(path, input_shapes={"x": (3, 4)}).tensors["y"].shape == (3, 4)
