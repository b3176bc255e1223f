"""Hand-built ONNX models with an If whose condition depends on input values, shared by the
graph, verify and formats tests: ``x`` with a positive sum takes the then branch, a negative
sum the else branch."""
from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

n = helper.make_node
F = TensorProto.FLOAT
SHAPE = [1, 8]

X_THEN = np.linspace(0.5, 2.0, 8, dtype=np.float32).reshape(SHAPE)   # sum > 0: then branch
X_ELSE = -X_THEN                                                     # sum < 0: else branch


def _vi(name, shape=SHAPE, dtype=F):
    return helper.make_tensor_value_info(name, dtype, shape)


def then_branch(nested: bool = False):
    """A few ops with intermediates of their own and a weight read only here; with
    ``nested``, its last step is another data-dependent If (on the first element of ``r``)."""
    w = numpy_helper.from_array(np.arange(64, dtype=np.float32).reshape(8, 8) / 64, "w_then")
    nodes = [n("MatMul", ["r", "w_then"], ["t1"], name="then_mm"),
             n("Tanh", ["t1"], ["t2"], name="then_tanh"),
             n("Add", ["t2", "x"], ["t3"], name="then_add")]
    if nested:
        nodes += [n("Slice", ["t3", "zero", "one", "one"], ["first"], name="then_slice"),
                  n("ReduceSum", ["first"], ["first_sum"], name="then_sum", keepdims=0),
                  n("Greater", ["first_sum", "zero_f"], ["inner_cond"], name="then_cmp"),
                  n("If", ["inner_cond"], ["then_out"], name="inner_if",
                    then_branch=helper.make_graph([n("Exp", ["t3"], ["in_t"], name="in_exp")], "inner_then", [],
                                                  [_vi("in_t")]),
                    else_branch=helper.make_graph([n("Neg", ["t3"], ["in_e"], name="in_neg")], "inner_else", [],
                                                  [_vi("in_e")]))]
        inits = [w, numpy_helper.from_array(np.array([0], np.int64), "zero"),
                 numpy_helper.from_array(np.array([1], np.int64), "one"),
                 numpy_helper.from_array(np.array(0.0, np.float32), "zero_f")]
    else:
        nodes.append(n("Mul", ["t3", "t3"], ["then_out"], name="then_sq"))
        inits = [w]
    return helper.make_graph(nodes, "then", [], [_vi("then_out")], inits)


def else_branch(out_shape=SHAPE, out_type=F):
    w = numpy_helper.from_array(np.full(SHAPE, 0.25, dtype=np.float32), "w_else")
    nodes = [n("Sigmoid", ["x"], ["e1"], name="else_sig"),
             n("Mul", ["e1", "w_else"], ["e2"], name="else_mul")]
    if out_shape != SHAPE:
        shape = numpy_helper.from_array(np.array(out_shape, np.int64), "else_shape")
        nodes.append(n("Reshape", ["e2", "else_shape"], ["else_out"], name="else_reshape"))
        return helper.make_graph(nodes, "else", [], [_vi("else_out", out_shape)], [w, shape])
    if out_type != F:
        nodes.append(n("Cast", ["e2"], ["else_out"], name="else_cast", to=out_type))
        return helper.make_graph(nodes, "else", [], [_vi("else_out", out_shape, out_type)], [w])
    nodes.append(n("Add", ["e2", "r"], ["else_out"], name="else_add"))
    return helper.make_graph(nodes, "else", [], [_vi("else_out")], [w])


def if_model(*, nested: bool = False, else_graph=None, opset: int = 13):
    """x -> Relu -> r; cond = ReduceSum(x) > 0; If(cond) -> b; y = b + r."""
    nodes = [n("Relu", ["x"], ["r"], name="relu"),
             n("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
             n("Greater", ["s", "zero_s"], ["cond"], name="positive"),
             n("If", ["cond"], ["b"], name="branch", then_branch=then_branch(nested),
               else_branch=else_graph if else_graph is not None else else_branch()),
             n("Add", ["b", "r"], ["y"], name="out")]
    graph = helper.make_graph(nodes, "if_model", [_vi("x")], [_vi("y")],
                              [numpy_helper.from_array(np.array(0.0, np.float32), "zero_s")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
