"""Control flow made static: If with a known condition inlined, Loop and Scan with a static
trip count unrolled; each checked against onnxruntime on the original model."""
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from memplan.errors import ModelError
from memplan.graph.onnx import load, static_model
from memplan.planner import plan
from memplan.verify.executor import run_in_arena

from helpers import save
from ort_single import ort_model_run

n = helper.make_node
F = TensorProto.FLOAT


_run = ort_model_run


def _model(nodes, inputs, outputs, inits=(), opset=13):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _branch(name, op, weight_value):
    """y = op(x, w) with its own weight initializer, reading x from the outer scope."""
    w = numpy_helper.from_array(np.full((4,), weight_value, dtype=np.float32), f"{name}_w")
    return helper.make_graph([n(op, ["x", f"{name}_w"], [f"{name}_out"], name=f"{name}_op")], name, [],
                             [helper.make_tensor_value_info(f"{name}_out", F, [1, 4])], [w])


def if_model(cond_node):
    """relu(x) -> If(cond) then: +2 else: *3 -> sigmoid."""
    nodes = [cond_node,
             n("If", ["cond"], ["branch_y"], name="choose",
               then_branch=_branch("then", "Add", 2.0), else_branch=_branch("else", "Mul", 3.0)),
             n("Sigmoid", ["branch_y"], ["y"], name="sig")]
    return _model(nodes, [helper.make_tensor_value_info("x", F, [1, 4]),
                          helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                  [helper.make_tensor_value_info("y", F, [1, 4])], [numpy_helper.from_array(np.array(16000), "rate")])


def test_if_with_constant_condition_is_inlined(tmp_path):
    cond = n("Constant", [], ["cond"], name="c", value=numpy_helper.from_array(np.array(False)))
    model = if_model(cond)
    g = load(save(model, tmp_path / "if.onnx"))
    # the else branch's node keeps its name, writes the If's output and brings its weight
    assert [(op.name, op.op_type) for op in g.ops] == [("else_op", "Mul"), ("sig", "Sigmoid")]
    assert g.ops[0].outputs == ("branch_y",) and "else_w" in g.weights and "then_w" not in g.tensors
    x = np.arange(4, dtype=np.float32).reshape(1, 4)
    expected = _run(model, {"x": x, "sr": np.array(0)})[0]
    np.testing.assert_allclose(_run(static_model(model), {"x": x, "sr": np.array(0)})[0], expected, rtol=1e-6)
    run = run_in_arena(g, plan(g, algorithm="greedy_by_size"), {"x": x, "sr": np.array(0)})
    np.testing.assert_allclose(run.outputs["y"], expected, rtol=1e-6)


def test_if_on_an_input_is_inlined_once_pinned(tmp_path):
    model = if_model(n("Equal", ["sr", "rate"], ["cond"], name="is_16k"))
    path = save(model, tmp_path / "vad.onnx")
    kept = load(path)  # without a pinned value the If stays, its branches planned apart (test_branches)
    assert [op.op_type for op in kept.ops] == ["Equal", "If", "Sigmoid"]
    for sr, op in ((16000, "Add"), (8000, "Mul")):
        g = load(path, input_values={"sr": np.array([sr])})
        assert g.inputs == ("x",) and [op.op_type for op in g.ops] == [op, "Sigmoid"]
        x = np.ones((1, 4), dtype=np.float32)
        np.testing.assert_allclose(_run(static_model(model, input_values={"sr": np.array(sr)}), {"x": x})[0],
                                   _run(model, {"x": x, "sr": np.array(sr)})[0], rtol=1e-6)


def test_if_branch_returning_an_outer_tensor_gets_an_identity(tmp_path):
    then = helper.make_graph([], "then", [], [helper.make_tensor_value_info("x", F, [1, 4])])
    nodes = [n("Constant", [], ["cond"], name="c", value=numpy_helper.from_array(np.array(True))),
             n("If", ["cond"], ["same"], name="pass", then_branch=then, else_branch=_branch("else", "Mul", 3.0)),
             n("Relu", ["same"], ["y"], name="relu")]
    model = _model(nodes, [helper.make_tensor_value_info("x", F, [1, 4])], [helper.make_tensor_value_info("y", F, [1, 4])])
    g = load(save(model, tmp_path / "p.onnx"))
    assert [(op.op_type, op.inputs, op.outputs) for op in g.ops] == [("Identity", ("x",), ("same",)),
                                                                    ("Relu", ("same",), ("y",))]


def loop_model(trips=3, cond_from_input=False):
    """Loop(trips): h = tanh(h @ w + x); scan output: every h. Outer-scope reads of x and w."""
    body = helper.make_graph(
        [n("MatMul", ["h_in", "w"], ["hw"], name="mm"), n("Add", ["hw", "x"], ["pre"], name="add"),
         n("Tanh", ["pre"], ["h_out"], name="tanh"), n("Identity", ["cond_in"], ["cond_out"], name="keep"),
         n("Identity", ["h_out"], ["h_scan"], name="scan")],
        "body", [helper.make_tensor_value_info("i", TensorProto.INT64, []),
                 helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
                 helper.make_tensor_value_info("h_in", F, [1, 4])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
         helper.make_tensor_value_info("h_out", F, [1, 4]), helper.make_tensor_value_info("h_scan", F, [1, 4])])
    w = numpy_helper.from_array(np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32) * 0.5, "w")
    inputs = [helper.make_tensor_value_info("x", F, [1, 4]), helper.make_tensor_value_info("h0", F, [1, 4])]
    inits = [w, numpy_helper.from_array(np.array(True), "go")]
    if cond_from_input:
        inputs.append(helper.make_tensor_value_info("M", TensorProto.INT64, []))
    else:
        inits.append(numpy_helper.from_array(np.array(trips, dtype=np.int64), "M"))
    nodes = [n("Loop", ["M", "go", "h0"], ["h_final", "h_all"], name="rnn", body=body)]
    return _model(nodes, inputs, [helper.make_tensor_value_info("h_final", F, [1, 4]),
                                  helper.make_tensor_value_info("h_all", F, [3, 1, 4])], inits)


def test_loop_with_static_trip_count_is_unrolled(tmp_path):
    model = loop_model()
    g = load(save(model, tmp_path / "loop.onnx"))
    names = [op.name for op in g.ops]
    assert [nm for nm in names if nm.endswith("/tanh")] == ["rnn/0/tanh", "rnn/1/tanh", "rnn/2/tanh"]
    assert g.tensors["h_all"].shape == (3, 1, 4) and g.tensors["h_final"].shape == (1, 4)
    assert "w" in g.weights
    rng = np.random.default_rng(2)
    feed = {"x": rng.standard_normal((1, 4)).astype(np.float32), "h0": rng.standard_normal((1, 4)).astype(np.float32)}
    expected = _run(model, feed)
    for got, want in zip(_run(static_model(model), feed), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    run = run_in_arena(g, plan(g, algorithm="greedy_by_size"), feed)
    np.testing.assert_allclose(run.outputs["h_all"], expected[1], rtol=1e-5, atol=1e-6)


def test_loop_with_trip_count_from_an_input(tmp_path):
    path = save(loop_model(cond_from_input=True), tmp_path / "dyn.onnx")
    with pytest.raises(ModelError, match=r"dyn\.onnx: node 'rnn' \(Loop\): its trip count is not known statically "
                                         r"\(it depends on inputs: M\)"):
        load(path)
    g = load(path, input_values={"M": np.array([3])})
    assert sum(op.op_type == "Tanh" for op in g.ops) == 3


def test_nested_loop_in_if_is_expanded(tmp_path):
    loop = loop_model()
    then = helper.make_graph(list(loop.graph.node), "then", [], [helper.make_tensor_value_info("h_final", F, [1, 4]),
                                                                 helper.make_tensor_value_info("h_all", F, [3, 1, 4])])
    other = helper.make_graph([n("Identity", ["h0"], ["e0"], name="e0"), n("Concat", ["h0", "h0", "h0"], ["e1"],
                               name="e1", axis=0)], "else", [],
                              [helper.make_tensor_value_info("e0", F, [1, 4]), helper.make_tensor_value_info("e1", F, None)])
    nodes = [n("Constant", [], ["cond"], name="c", value=numpy_helper.from_array(np.array(True))),
             n("If", ["cond"], ["a", "b"], name="outer", then_branch=then, else_branch=other)]
    model = _model(nodes, list(loop.graph.input), [helper.make_tensor_value_info("a", F, [1, 4]),
                                                   helper.make_tensor_value_info("b", F, None)],
                   list(loop.graph.initializer))
    g = load(save(model, tmp_path / "nested.onnx"))
    assert sum(op.op_type == "Tanh" for op in g.ops) == 3 and g.tensors["b"].shape == (3, 1, 4)
    feed = {"x": np.ones((1, 4), np.float32), "h0": np.zeros((1, 4), np.float32)}
    for got, want in zip(_run(static_model(model), feed), _run(model, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_scan_is_unrolled_both_directions(tmp_path):
    """Running sum over axis 1 forwards and a reversed per-step output."""
    body = helper.make_graph(
        [n("Add", ["acc_in", "x_t"], ["acc_out"], name="acc"), n("Mul", ["acc_out", "two"], ["y_t"], name="dbl")],
        "body", [helper.make_tensor_value_info("acc_in", F, [2]), helper.make_tensor_value_info("x_t", F, [2])],
        [helper.make_tensor_value_info("acc_out", F, [2]), helper.make_tensor_value_info("y_t", F, [2])],
        [numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")])
    nodes = [n("Scan", ["acc0", "xs"], ["acc", "ys"], name="cumsum", body=body, num_scan_inputs=1,
               scan_input_axes=[1], scan_output_directions=[1])]
    model = _model(nodes, [helper.make_tensor_value_info("acc0", F, [2]), helper.make_tensor_value_info("xs", F, [2, 5])],
                   [helper.make_tensor_value_info("acc", F, [2]), helper.make_tensor_value_info("ys", F, None)], opset=16)
    g = load(save(model, tmp_path / "scan.onnx"))
    assert g.tensors["ys"].shape == (5, 2) and sum(op.op_type == "Add" for op in g.ops) == 5
    feed = {"acc0": np.zeros(2, np.float32), "xs": np.arange(10, dtype=np.float32).reshape(2, 5)}
    expected = _run(model, feed)
    for got, want in zip(_run(static_model(model), feed), expected):
        np.testing.assert_allclose(got, want)
    run = run_in_arena(g, plan(g, algorithm="greedy_by_size"), feed)
    np.testing.assert_allclose(run.outputs["ys"], expected[1])


def test_loop_whose_condition_depends_on_values_is_one_line_error(tmp_path):
    model = loop_model()
    body = model.graph.node[0].attribute[0].g
    keep = next(node for node in body.node if node.name == "keep")  # cond_out = ReduceSum(h_out) < 100
    keep.CopyFrom(n("Less", ["h_sum", "limit"], ["cond_out"], name="keep"))
    nodes = list(body.node)
    del body.node[:]
    body.node.extend(nodes[:3] + [n("ReduceSum", ["h_out"], ["h_sum"], name="sum", keepdims=0)] + nodes[3:])
    body.initializer.append(numpy_helper.from_array(np.array(100.0, dtype=np.float32), "limit"))
    with pytest.raises(ModelError, match=r"node 'rnn' \(Loop\): whether iteration 1 runs depends on values computed "
                                         r"at run time \(condition 'rnn/0/cond_out'\)"):
        load(save(model, tmp_path / "while.onnx"))
