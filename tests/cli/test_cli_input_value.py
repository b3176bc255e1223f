"""`memplan plan --input-value`: the CLI side of pinned inputs and shape constants."""
import os
import subprocess
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from helpers import save

MEMPLAN = [sys.executable, "-m", "memplan.cli"]


def run(*args):
    return subprocess.run(MEMPLAN + list(args), capture_output=True, text=True, timeout=300, check=False,
                          env=dict(os.environ, COLUMNS="200"))


def rate_model(tmp_path):
    """If(sr == 16000) picks a branch; the reshape target comes from the input's shape."""
    n = helper.make_node
    w16 = numpy_helper.from_array(np.full((1, 8), 2.0, dtype=np.float32), "w16")
    w8 = numpy_helper.from_array(np.full((1, 8), 3.0, dtype=np.float32), "w8")
    then = helper.make_graph([n("Mul", ["x", "w16"], ["t"], name="mul16")], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 8])], [w16])
    other = helper.make_graph([n("Mul", ["x", "w8"], ["e"], name="mul8")], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, [1, 8])], [w8])
    nodes = [n("Equal", ["sr", "rate"], ["is16k"], name="is16k"),
             n("If", ["is16k"], ["scaled"], name="by_rate", then_branch=then, else_branch=other),
             n("Shape", ["x"], ["s"], name="shape"),
             n("Reshape", ["scaled", "s"], ["y"], name="reshape")]
    graph = helper.make_graph(nodes, "vad", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "n"]),
                                             helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.array(16000), "rate")])
    return save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), tmp_path / "vad.onnx")


def test_plan_with_input_value_reports_shape_constants(tmp_path):
    path = rate_model(tmp_path)
    r = run("plan", path, "--input-shape", "x=1,8", "--input-value", "sr=16000", "-a", "greedy_by_size")
    assert r.returncode == 0, r.stderr
    assert "shape constants folded" in r.stdout and "17 (17 B)" in r.stdout  # Shape (2 x int64) + Equal (bool)


def test_if_on_input_without_value_is_planned_per_branch(tmp_path):
    """Without --input-value the If stays: each branch gets its own plan (graph.branches)."""
    path = rate_model(tmp_path)
    r = run("plan", path, "--input-shape", "x=1,8")
    assert r.returncode == 0, r.stderr
    assert "If by_rate" in r.stdout and "then 0 B (1 ops; 1 weights, 32 B read only here)" in r.stdout


def test_bad_input_value_is_one_line_error(tmp_path):
    path = rate_model(tmp_path)
    for value, needle in (("sr=abc", "--input-value 'sr=abc': write NAME=V1,V2"),
                          ("rate=1", "--input-value names unknown input 'rate'")):
        r = run("plan", path, "--input-shape", "x=1,8", "--input-value", value)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and needle in r.stderr, r.stderr
