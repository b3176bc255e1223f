"""Import of an If whose condition depends on input values: one op of the outer graph, a
Graph per branch; bad branches and data-dependent loops are one-line errors."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import memplan
from memplan.errors import ModelError
from memplan.graph.branches import branch_graphs, branch_weights, free_names, has_branches

from branch_models import else_branch, if_model, then_branch
from cli_inprocess import run_cli
from helpers import save


def test_if_stays_one_op_reading_what_its_branches_read(tmp_path):
    graph = memplan.load(save(if_model(), tmp_path / "if.onnx"))
    op = next(op for op in graph.ops if op.op_type == "If")
    assert has_branches(op) and op.name == "branch"
    assert op.inputs == ("cond", "r", "x") and op.outputs == ("b",)
    branches = branch_graphs(op)
    then, other = branches["then"], branches["else"]
    assert then.inputs == ("r", "x") and then.outputs == ("then_out",)
    assert [o.name for o in then.ops] == ["then_mm", "then_tanh", "then_add", "then_sq"]
    assert other.inputs == ("x", "r") and other.weights == ("w_else",)
    assert graph.tensors["b"].shape == (1, 8)


def test_branch_weights_maps_each_branch_only_weight_to_its_branch(tmp_path):
    graph = memplan.load(save(if_model(nested=True), tmp_path / "nested.onnx"))
    found = branch_weights(graph)
    assert found["w_then"] == ("branch", "then") and found["w_else"] == ("branch", "else")
    assert "zero_s" not in found  # read by the outer graph: every run needs it


def test_a_weight_read_by_both_branches_or_outside_is_not_branch_only(tmp_path):
    shared = numpy_helper.from_array(np.ones((1, 8), np.float32), "shared")
    n = helper.make_node
    vi = helper.make_tensor_value_info
    then = helper.make_graph([n("Add", ["x", "shared"], ["a"], name="a")], "t", [], [vi("a", 1, [1, 8])])
    other = helper.make_graph([n("Mul", ["x", "shared"], ["m"], name="m")], "e", [], [vi("m", 1, [1, 8])])
    nodes = [n("ReduceSum", ["x"], ["s"], name="sum", keepdims=0), n("Greater", ["s", "zero"], ["c"], name="gt"),
             n("If", ["c"], ["y"], name="pick", then_branch=then, else_branch=other)]
    model = helper.make_model(helper.make_graph(
        nodes, "g", [vi("x", 1, [1, 8])], [vi("y", 1, [1, 8])],
        [shared, numpy_helper.from_array(np.array(0.0, np.float32), "zero")]),
        opset_imports=[helper.make_opsetid("", 13)])
    graph = memplan.load(save(model, tmp_path / "shared.onnx"))
    assert branch_weights(graph) == {}
    assert "shared" in graph.weights  # the outer blob holds it once


def test_free_names_are_what_a_branch_reads_from_outside():
    assert free_names(then_branch()) == ["r", "x"]
    assert free_names(then_branch(nested=True)) == ["r", "x"]


def test_branches_with_different_shapes_or_types_are_one_line_errors(tmp_path):
    shape = save(if_model(else_graph=else_branch(out_shape=[2, 4])), tmp_path / "shape.onnx")
    with pytest.raises(ModelError, match=r"shape\.onnx: node 'branch' \(If\): output 'b' is \[1, 8\] float32 in the "
                                         r"then branch but \[2, 4\] float32 in the else branch"):
        memplan.load(shape)
    dtype = save(if_model(else_graph=else_branch(out_type=TensorProto.DOUBLE)), tmp_path / "dtype.onnx")
    out = tmp_path / "p.json"
    code, stdout, stderr = run_cli("plan", dtype, "--json", str(out))
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and not out.exists()
    assert "[1, 8] float32 in the then branch but [1, 8] float64 in the else branch" in stderr


def test_an_error_inside_a_branch_names_the_if_and_the_branch(tmp_path):
    n = helper.make_node
    vi = helper.make_tensor_value_info
    bad = helper.make_graph([n("NonZero", ["x"], ["nz"], name="nz"), n("Cast", ["nz"], ["e"], name="cast", to=1)],
                            "e", [], [vi("e", 1, None)])
    path = save(if_model(else_graph=bad), tmp_path / "nz.onnx")
    with pytest.raises(ModelError, match=r"nz\.onnx: node 'branch' \(If\), else branch: shape of tensor 'nz'"):
        memplan.load(path)


def test_loop_with_a_data_dependent_trip_count_stays_an_error(tmp_path):
    n = helper.make_node
    vi = helper.make_tensor_value_info
    body = helper.make_graph([n("Identity", ["c_in"], ["c_out"], name="keep"), n("Add", ["v_in", "v_in"], ["v_out"], name="dbl")],
                             "body", [vi("i", TensorProto.INT64, []), vi("c_in", TensorProto.BOOL, []), vi("v_in", 1, [1, 8])],
                             [vi("c_out", TensorProto.BOOL, []), vi("v_out", 1, [1, 8])])
    nodes = [n("Loop", ["m", "", "x"], ["y"], name="rnn", body=body)]
    model = helper.make_model(helper.make_graph(nodes, "g", [vi("x", 1, [1, 8]), vi("m", TensorProto.INT64, [])],
                                                [vi("y", 1, [1, 8])]), opset_imports=[helper.make_opsetid("", 13)])
    path = save(model, tmp_path / "loop.onnx")
    out = tmp_path / "p.json"
    code, _, stderr = run_cli("plan", path, "--json", str(out))
    assert code == 2 and len(stderr.strip().splitlines()) == 1 and not out.exists()
    assert "node 'rnn' (Loop): its trip count is not known statically" in stderr


def test_weight_access_marks_outer_weights_read_in_one_branch():
    """The hook for weights17: analyze() defaults its ``branches`` to branch_weights()."""
    from memplan.graph.weight_access import analyze

    graph = memplan.load("corpus:kws_oww_hey_jarvis")
    access = analyze(graph)
    assert access["verifier_model.1.weight"].kind == "branch"
    assert access["model.1.weight"].kind == "whole"
