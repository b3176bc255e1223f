"""Small ONNX models whose weights are read in part (issue 17): an embedding looked up by
token ids (optionally tied to the output projection), a top-k-of-E mixture of experts whose
expert weights are gathered by the router's indices, and a GatherND / GatherElements lookup."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _model(nodes, inputs, outputs, inits):
    graph = helper.make_graph(nodes, "g", inputs, outputs,
                              [numpy_helper.from_array(v, k) for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def embedding_model(vocab=1000, width=8, tokens=16, out=4, tied=None, seed=0):
    """ids (1, tokens) int64 -> Gather(table) -> MatMul(proj) -> y. ``tied``: "gemm" reads the
    table again whole as the output projection (Gemm transB), "transpose" through a
    Transpose of the initializer (folded at load time, as exporters write GPT-2's LM head)."""
    rng = np.random.default_rng(seed)
    inits = {"table": rng.standard_normal((vocab, width)).astype(np.float32),
             "proj": rng.standard_normal((width, out)).astype(np.float32),
             "flat": np.array([tokens, width], dtype=np.int64)}
    nodes = [helper.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
             helper.make_node("Reshape", ["emb", "flat"], ["h"], name="flatten")]
    y_shape = [tokens, out]
    if tied == "gemm":
        nodes.append(helper.make_node("Gemm", ["h", "table"], ["y"], name="lm_head", transB=1))
        y_shape = [tokens, vocab]
    elif tied == "transpose":
        nodes += [helper.make_node("Transpose", ["table"], ["table_t"], name="tie", perm=[1, 0]),
                  helper.make_node("MatMul", ["h", "table_t"], ["y"], name="lm_head")]
        y_shape = [tokens, vocab]
    else:
        nodes.append(helper.make_node("MatMul", ["h", "proj"], ["y"], name="head"))
    return _model(nodes, [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, tokens])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)], inits)


def moe_model(tokens=1, experts=8, k=2, d=8, hidden=16, seed=0):
    """x (tokens, d) -> router MatMul -> TopK(k) -> Gather(w1), Gather(w2) by the indices ->
    per-token expert MLP (batched MatMul) -> sum over the k experts -> y (tokens, d)."""
    rng = np.random.default_rng(seed)
    inits = {"router": rng.standard_normal((d, experts)).astype(np.float32),
             "w1": (rng.standard_normal((experts, d, hidden)) / np.sqrt(d)).astype(np.float32),
             "w2": (rng.standard_normal((experts, hidden, d)) / np.sqrt(hidden)).astype(np.float32),
             "k": np.array([k], dtype=np.int64), "xs": np.array([tokens, 1, 1, d], dtype=np.int64),
             "axis1": np.array([1], dtype=np.int64), "ys": np.array([tokens, d], dtype=np.int64)}
    nodes = [helper.make_node("MatMul", ["x", "router"], ["logits"], name="route"),
             helper.make_node("TopK", ["logits", "k"], ["top", "idx"], name="topk", axis=-1),
             helper.make_node("Gather", ["w1", "idx"], ["w1g"], name="pick_w1"),
             helper.make_node("Gather", ["w2", "idx"], ["w2g"], name="pick_w2"),
             helper.make_node("Reshape", ["x", "xs"], ["x4"], name="x4"),
             helper.make_node("MatMul", ["x4", "w1g"], ["hid"], name="up"),
             helper.make_node("Relu", ["hid"], ["act"], name="relu"),
             helper.make_node("MatMul", ["act", "w2g"], ["out4"], name="down"),
             helper.make_node("ReduceSum", ["out4", "axis1"], ["summed"], name="combine", keepdims=0),
             helper.make_node("Reshape", ["summed", "ys"], ["y"], name="y")]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [tokens, d])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [tokens, d])], inits)


def gather_nd_model(rows=64, width=4, picks=3):
    """GatherND(table, idx (picks, 1)) and GatherElements(table2, idx2 (2, width)) -> outputs."""
    rng = np.random.default_rng(1)
    inits = {"table": rng.standard_normal((rows, width)).astype(np.float32),
             "table2": rng.standard_normal((rows, width)).astype(np.float32)}
    nodes = [helper.make_node("GatherND", ["table", "idx"], ["y"], name="nd"),
             helper.make_node("GatherElements", ["table2", "idx2"], ["z"], name="el", axis=0)]
    return _model(nodes, [helper.make_tensor_value_info("idx", TensorProto.INT64, [picks, 1]),
                          helper.make_tensor_value_info("idx2", TensorProto.INT64, [2, width])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [picks, width]),
                   helper.make_tensor_value_info("z", TensorProto.FLOAT, [2, width])], inits)


def save(model, path) -> str:
    onnx.save(model, str(path))
    return str(path)


def masked_moe_model(tokens=1, experts=4, k=2, d=8, hidden=16, seed=0):
    """Every expert computed on every token, times its gate
    ``ReduceSum(Cast(Equal(idx, e)) * scores)``: weights w1_e, w2_e read only if e is picked."""
    rng = np.random.default_rng(seed)
    inits = {"router": rng.standard_normal((d, experts)).astype(np.float32),
             "k": np.array([k], dtype=np.int64), "axis1": np.array([1], dtype=np.int64)}
    nodes = [helper.make_node("MatMul", ["x", "router"], ["logits"], name="route"),
             helper.make_node("TopK", ["logits", "k"], ["top", "idx"], name="topk", axis=-1),
             helper.make_node("Softmax", ["top"], ["scores"], name="scores", axis=-1)]
    outs = []
    for e in range(experts):
        inits[f"id{e}"] = np.array(e, dtype=np.int64)
        inits[f"w1_{e}"] = (rng.standard_normal((d, hidden)) / np.sqrt(d)).astype(np.float32)
        inits[f"w2_{e}"] = (rng.standard_normal((hidden, d)) / np.sqrt(hidden)).astype(np.float32)
        nodes += [helper.make_node("Equal", ["idx", f"id{e}"], [f"is{e}"], name=f"is{e}"),
                  helper.make_node("Cast", [f"is{e}"], [f"isf{e}"], name=f"cast{e}", to=TensorProto.FLOAT),
                  helper.make_node("Mul", [f"isf{e}", "scores"], [f"gs{e}"], name=f"gs{e}"),
                  helper.make_node("ReduceSum", [f"gs{e}", "axis1"], [f"gate{e}"], name=f"gate{e}", keepdims=1),
                  helper.make_node("MatMul", ["x", f"w1_{e}"], [f"h{e}"], name=f"up{e}"),
                  helper.make_node("Relu", [f"h{e}"], [f"a{e}"], name=f"relu{e}"),
                  helper.make_node("MatMul", [f"a{e}", f"w2_{e}"], [f"o{e}"], name=f"down{e}"),
                  helper.make_node("Mul", [f"o{e}", f"gate{e}"], [f"y{e}"], name=f"gated{e}")]
        outs.append(f"y{e}")
    nodes.append(helper.make_node("Sum", outs, ["y"], name="combine"))
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [tokens, d])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, [tokens, d])], inits)
