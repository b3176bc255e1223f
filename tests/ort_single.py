"""Run one ONNX node in onnxruntime: the oracle of the kernel tests."""
from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper


def single_node_model(op, inputs, attrs, opset, outputs):
    """``inputs``: arrays or None (skipped optional input); ``outputs``: True for each output
    to produce, False for a skipped optional one."""
    names = [f"x{i}" if v is not None else "" for i, v in enumerate(inputs)]
    while names and names[-1] == "":
        names.pop()
    out_names = [f"y{i}" if keep else "" for i, keep in enumerate(outputs)]
    while out_names and out_names[-1] == "":
        out_names.pop()
    onnx_attrs = {k: numpy_helper.from_array(v) if isinstance(v, np.ndarray) else v for k, v in attrs.items()}
    node = helper.make_node(op, names, out_names, **onnx_attrs)
    graph_inputs = [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
                    for n, v in zip(names, inputs) if n]
    graph = helper.make_graph([node], "case", graph_inputs,
                              [onnx.ValueInfoProto(name=n) for n in out_names if n])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    return onnx.shape_inference.infer_shapes(model), names


def ort_run(op, inputs, attrs, opset, outputs):
    """One array per output, None for the skipped ones."""
    model, names = single_node_model(op, inputs, attrs, opset, outputs)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    got = iter(sess.run(None, {n: v for n, v in zip(names, inputs) if n}))
    produced = [f"y{i}" if keep else "" for i, keep in enumerate(outputs)]
    return [next(got) if n else None for n in produced[:len([o for o in outputs])]]


def ort_model_run(model, feed):
    """A whole model in onnxruntime, fed only the names it declares as inputs."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    names = {i.name for i in sess.get_inputs()}
    return sess.run(None, {k: v for k, v in feed.items() if k in names})
