import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

import memplan
from memplan.errors import ModelError
from memplan.graph.onnx import load
from memplan.graph.zoo import MODELS, zoo_path

from helpers import branch_model, chain_model, save


def test_chain_tensors_and_kinds(tmp_path):
    g = load(save(chain_model(), tmp_path / "m.onnx"))
    assert [op.name for op in g.ops] == ["n0", "n1", "n2"]
    assert g.tensors["x"].kind == "input"
    assert g.tensors["t0"].kind == "activation"
    assert g.tensors["y"].kind == "output"
    assert g.tensors["t0"].nbytes == 8 * 16 * 16 * 4


def test_initializers_are_weights_in_first_use_order(tmp_path):
    g = load(save(branch_model(), tmp_path / "b.onnx"))
    assert g.weights == ("n1_w", "n2a_w", "n3a_w", "n2b_w", "n3b_w")
    assert all(g.tensors[w].kind == "weight" for w in g.weights)


def test_zoo_resnet_weights_built_by_constant_of_shape_are_weights():
    g = load(zoo_path("resnet50"))
    assert not any(op.op_type == "ConstantOfShape" for op in g.ops)
    assert len(g.const_ops) == 239
    assert g.tensors["gpu_0/conv1_w_0"].kind == "weight"
    assert g.tensors["gpu_0/conv1_w_0"].shape == (64, 3, 7, 7)


def test_densenet_unsqueezed_constants_are_weights():
    g = load(zoo_path("densenet121"))
    assert not any(op.op_type in ("Unsqueeze", "ConstantOfShape") for op in g.ops)
    assert len(g.ops) == 668


def test_unused_dropout_mask_costs_nothing():
    g = load(zoo_path("alexnet"))
    drop = next(op for op in g.ops if op.op_type == "Dropout")
    assert drop.outputs[1] == ""
    assert all(t in g.tensors for op in g.ops for t in op.outputs if t)


def test_unnamed_nodes_get_stable_names(tmp_path):
    m = chain_model()
    for n in m.graph.node:
        n.name = ""
    g = load(save(m, tmp_path / "m.onnx"))
    assert [op.name for op in g.ops] == ["Relu_0", "Sigmoid_1", "Relu_2"]


def test_duplicate_names_made_unique(tmp_path):
    m = chain_model()
    for n in m.graph.node:
        n.name = "same"
    g = load(save(m, tmp_path / "m.onnx"))
    assert [op.name for op in g.ops] == ["same", "same__2", "same__3"]


def test_dynamic_dimension_named_with_remedy(tmp_path):
    path = save(chain_model(dynamic=True), tmp_path / "d.onnx")
    with pytest.raises(ModelError, match=r"dimension 0 \('batch'\) of tensor 'x'.*--input-shape x=N,8,16,16"):
        load(path)
    g = load(path, input_shapes={"x": (2, 8, 16, 16)})
    assert g.tensors["y"].shape == (2, 8, 16, 16)


def test_remedy_names_only_the_dynamic_inputs(tmp_path):
    """A scalar input (silero's sample rate) is static: the remedy must not ask for its shape."""
    from onnx import TensorProto

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    sr = helper.make_tensor_value_info("sr", TensorProto.INT64, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    node = helper.make_node("Relu", ["x"], ["y"], name="relu")
    m = helper.make_model(helper.make_graph([node], "g", [x, sr], [y]))
    with pytest.raises(ModelError, match=r"pass --input-shape x=N,4 with each N") as info:
        load(save(m, tmp_path / "s.onnx"))
    assert "sr=" not in str(info.value)


def test_sub_byte_dtype_rounds_up_per_tensor(tmp_path):
    node = helper.make_node("Identity", ["x"], ["y"], name="id")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.INT4, [3, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.INT4, [3, 3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    g = load(save(model, tmp_path / "i4.onnx"))
    assert g.tensors["x"].dtype == "int4"
    assert g.tensors["x"].nbytes == 5  # 9 nibbles


@pytest.mark.parametrize("dtype,nbytes", [(TensorProto.FLOAT16, 2), (TensorProto.INT8, 1), (TensorProto.DOUBLE, 8),
                                          (TensorProto.BFLOAT16, 2), (TensorProto.INT64, 8), (TensorProto.BOOL, 1)])
def test_dtype_sizes(tmp_path, dtype, nbytes):
    node = helper.make_node("Identity", ["x"], ["y"], name="id")
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", dtype, [5])],
                              [helper.make_tensor_value_info("y", dtype, [5])])
    g = load(save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "t.onnx"))
    assert g.tensors["y"].nbytes == 5 * nbytes


def test_shape_of_static_tensor_is_folded_to_a_shape_constant(tmp_path):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Shape", ["r"], ["s"], name="shape"),
             helper.make_node("Reshape", ["r", "s"], ["y"], name="reshape")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    g = load(save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "s.onnx"))
    assert [op.name for op in g.ops] == ["relu", "reshape"]
    assert g.tensors["s"].kind == "weight" and "s" in g.shape_constants and "s" not in g.weights
    assert g.shape_constant_bytes == 16
    np.testing.assert_array_equal(g.initializers["s"], [2, 3])


@pytest.mark.parametrize("content,match", [
    (None, "no such file"), (b"", "not an ONNX model|not a readable"), (b"\x00garbage\xff" * 10, "not a readable|not an ONNX"),
])
def test_bad_files(tmp_path, content, match):
    path = tmp_path / "bad.onnx"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ModelError, match=match):
        load(path)


def test_truncated_file(tmp_path):
    data = onnx.load(zoo_path("squeezenet")).SerializeToString()
    path = tmp_path / "trunc.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="trunc.onnx"):
        load(path)


def test_cycle_is_rejected(tmp_path):
    nodes = [helper.make_node("Add", ["x", "b"], ["a"], name="n1"), helper.make_node("Relu", ["a"], ["b"], name="n2"),
             helper.make_node("Relu", ["a"], ["y"], name="n3")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
                              value_info=[helper.make_tensor_value_info(n, TensorProto.FLOAT, [4]) for n in "ab"])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ModelError, match="cycle"):
        load(save(model, tmp_path / "c.onnx"))


def test_unknown_op_without_shape(tmp_path):
    nodes = [helper.make_node("FancyOp", ["x"], ["y"], name="f", domain="custom.ops")]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("custom.ops", 1)])
    with pytest.raises(ModelError, match="FancyOp"):
        load(save(model, tmp_path / "u.onnx"))


def test_zero_element_tensor(tmp_path):
    path = save(chain_model(shapes=((1, 0, 4, 4),)), tmp_path / "z.onnx")
    with pytest.raises(ModelError, match="zero elements"):
        load(path)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_zoo_model_imports(name):
    g = memplan.load(f"zoo:{name}")
    assert g.ops and g.weights and g.outputs
    assert g.shape_constant_bytes == 0 and not g.shape_constants  # nothing to fold: imported as before
    for t in g.activations:
        assert g.tensors[t].nbytes > 0
