"""Small builders shared by the tests: ONNX models made with onnx.helper, written to tmp."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper


def save(model, path) -> str:
    onnx.save(model, str(path))
    return str(path)


def chain_model(shapes=((1, 8, 16, 16),), ops=("Relu", "Sigmoid", "Relu"), dynamic=False):
    """x -> op -> op -> ... -> y, elementwise, fp32."""
    shape = list(shapes[0])
    if dynamic:
        shape = ["batch"] + shape[1:]
    nodes, prev = [], "x"
    for i, op in enumerate(ops):
        out = "y" if i == len(ops) - 1 else f"t{i}"
        nodes.append(helper.make_node(op, [prev], [out], name=f"n{i}"))
        prev = out
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def branch_model(large=64, medium=32, small=8, hw=8):
    """The order example: 1 makes Large; 2a->3a (Medium) and 2b->3b (Small); 4 joins.
    Channel counts set the sizes; 1x1 convs with random weights."""
    rng = np.random.default_rng(0)

    def conv(name, x, y, cin, cout):
        w = helper.make_tensor(f"{name}_w", TensorProto.FLOAT, [cout, cin, 1, 1],
                               rng.standard_normal(cout * cin).astype(np.float32).tolist())
        return helper.make_node("Conv", [x, f"{name}_w"], [y], name=name), w

    specs = [("n1", "x", "L", 4, large), ("n2a", "L", "a2", large, large), ("n3a", "a2", "M", large, medium),
             ("n2b", "L", "b2", large, large), ("n3b", "b2", "S", large, small)]
    nodes, inits = [], []
    for spec in specs:
        n, w = conv(*spec)
        nodes.append(n)
        inits.append(w)
    nodes.append(helper.make_node("Concat", ["M", "S"], ["y"], name="n4", axis=1))
    graph = helper.make_graph(
        nodes, "branches", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, hw, hw])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, medium + small, hw, hw])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def random_graph(rng: np.random.Generator, n_ops: int = 12, max_inputs: int = 3):
    """A random DAG of generic ops over fp32 tensors of random sizes, as a memplan Graph."""
    from memplan.graph.ir import Graph, Op, Tensor

    tensors = {"x": Tensor("x", (int(rng.integers(1, 64)),), "float32", "input")}
    produced = ["x"]
    ops = []
    for i in range(n_ops):
        k = int(rng.integers(1, min(max_inputs, len(produced)) + 1))
        ins = tuple(rng.choice(produced, size=k, replace=False).tolist())
        out = f"t{i}"
        tensors[out] = Tensor(out, (int(rng.integers(1, 64)),), "float32", "activation")
        ops.append(Op(f"op{i}", "Generic", ins, (out,)))
        produced.append(out)
    read = {t for op in ops for t in op.inputs}
    outputs = tuple(t for t in produced[1:] if t not in read) or (produced[-1],)
    for t in outputs:
        tensors[t] = Tensor(t, tensors[t].shape, "float32", "output")
    return Graph("random", tuple(ops), tensors, ("x",), outputs)
