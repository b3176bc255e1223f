"""Ops outside the default ONNX domain (graph.contrib): onnxruntime's contrib ops import with
their output shapes found by running the node in onnxruntime; anything else is a one-line error."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import save
from onnx import TensorProto, helper, numpy_helper

import memplan
from memplan.errors import ModelError, PlanError
from memplan.graph import contrib
from memplan.graph.onnx import load
from memplan.verify.prove import prove


def _model(nodes, x_shape, inits=(), domain="com.microsoft"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(domain, 1)],
                             ir_version=9)


def _gelu_chain():
    """x [N, 6] -> com.microsoft.Gelu -> Relu -> Reshape(Shape) : shapes flow through the contrib op."""
    nodes = [helper.make_node("Gelu", ["x"], ["g"], name="gelu", domain="com.microsoft"),
             helper.make_node("Relu", ["g"], ["r"], name="relu"),
             helper.make_node("Shape", ["r"], ["s"], name="shape"),
             helper.make_node("Reshape", ["r", "s"], ["y"], name="reshape")]
    return _model(nodes, ["N", 6])


def test_contrib_op_shapes_come_from_onnxruntime(tmp_path):
    path = save(_gelu_chain(), tmp_path / "g.onnx")
    graph = load(path, input_shapes={"x": (3, 6)})
    gelu = next(op for op in graph.ops if op.name == "gelu")
    assert (gelu.domain, gelu.kernel_key) == ("com.microsoft", "com.microsoft.Gelu")
    assert graph.tensors["g"].shape == graph.tensors["y"].shape == (3, 6)


def test_contrib_model_plans_and_matches_onnxruntime(tmp_path):
    path = save(_gelu_chain(), tmp_path / "g.onnx")
    graph = load(path, input_shapes={"x": (3, 6)})
    plan = memplan.plan(graph)
    assert prove(path, graph, plan, seed=0).ok


def test_op_of_an_unknown_domain_is_a_one_line_error(tmp_path):
    nodes = [helper.make_node("FancyOp", ["x"], ["y"], name="f", domain="custom.ops")]
    with pytest.raises(ModelError) as err:
        load(save(_model(nodes, [4], domain="custom.ops"), tmp_path / "u.onnx"))
    assert "node 'f' uses op custom.ops.FancyOp, outside the default ONNX domain and not implemented by " \
           "onnxruntime either" in str(err.value)
    assert "\n" not in str(err.value)


def test_contrib_op_with_a_data_dependent_shape_is_named(tmp_path, monkeypatch):
    runs = iter([[np.zeros((3, 6), np.float32)], [np.zeros((2, 6), np.float32)]])
    monkeypatch.setattr(contrib, "_session_run", lambda *args: next(runs))
    with pytest.raises(ModelError, match=r"tensor 'g' \(output of node 'gelu' \(com.microsoft.Gelu\)\) depends on "
                                         r"input values \(\[3, 6\] for one input, \[2, 6\] for another\)"):
        load(save(_gelu_chain(), tmp_path / "g.onnx"), input_shapes={"x": (3, 6)})


def test_contrib_op_without_a_kernel_fails_verify_naming_it(tmp_path):
    w = numpy_helper.from_array(np.ones((6, 2), np.float32), "w")
    nodes = [helper.make_node("FusedMatMul", ["x", "w"], ["y"], name="fm", domain="com.microsoft", alpha=2.0)]
    path = save(_model(nodes, [3, 6], [w]), tmp_path / "f.onnx")
    graph = load(path)
    assert graph.tensors["y"].shape == (3, 2)
    with pytest.raises(PlanError, match="node 'fm': no kernel for op 'com.microsoft.FusedMatMul'"):
        prove(path, graph, memplan.plan(graph), seed=0)
