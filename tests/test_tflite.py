"""The .tflite importer: small models built here, and the real mediapipe models."""
import os
import subprocess
import sys

import numpy as np
import pytest

from memplan import plan
from memplan.errors import ModelError
from memplan.tflite_import import load, read, tensor_names
from memplan.verify.check import check_plan
from tflite_models import build, fc_model

pytest.importorskip("tflite_micro")


def write(tmp_path, data, name="m.tflite"):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def mediapipe_model(name):
    """The models come from `make` (python -m memplan.mediapipe fetch). A missing model fails
    the test with the ModelError saying how to fetch it: data a test needs is never a skip."""
    from memplan import mediapipe

    return mediapipe.model_path(name)


mediapipe_or_skip = mediapipe_model  # the old name, for tests written against it


def test_fc_model_kinds_shapes_names(tmp_path):
    g = load(write(tmp_path, fc_model(widths=(8, 64, 4))))
    assert [op.name for op in g.ops] == ["FULLY_CONNECTED_0", "FULLY_CONNECTED_1", "ADD_2"]
    assert [op.op_type for op in g.ops] == ["FULLY_CONNECTED", "FULLY_CONNECTED", "ADD"]
    assert g.ops[0].inputs == ("input", "w0", "")  # the omitted bias keeps its position
    kinds = {n: t.kind for n, t in g.tensors.items()}
    assert kinds == {"input": "input", "w0": "weight", "fc0": "activation", "w1": "weight",
                     "fc1": "activation", "doubled": "output"}
    assert g.tensors["w0"].shape == (64, 8) and g.tensors["fc0"].nbytes == 64 * 4
    assert g.initializers["w1"].dtype == np.float32 and g.initializers["w1"].shape == (4, 64)
    assert g.weight_bytes == (64 * 8 + 4 * 64) * 4


def test_dtypes_int8_int16_fp16(tmp_path):
    tensors = [("x", (1, 10), "int8", None), ("w", (10,), "float16", np.ones(10)),
               ("y", (1, 10), "int16", None), ("z", (1, 10), "float32", None)]
    ops = [("DEQUANTIZE", [0], [1 + 1], None), ("DEQUANTIZE", [2], [3], None)]
    g = load(write(tmp_path, build(tensors, ops, [0], [3])))
    assert {n: (t.dtype, t.nbytes) for n, t in g.tensors.items()} == {
        "x": ("int8", 10), "y": ("int16", 20), "z": ("float32", 40)}
    tensors[1] = ("w", (1, 10), "float16", None)
    g = load(write(tmp_path, build(tensors, [("DEQUANTIZE", [1], [3], None)], [1], [3])))
    assert g.tensors["w"].dtype == "float16" and g.tensors["w"].nbytes == 20


def test_fp16_dequantize_of_constant_stays_a_runtime_op(tmp_path):
    """TFLM runs DEQUANTIZE at every inference: its float32 output is an arena tensor."""
    g = load(write(tmp_path, fc_model(widths=(8, 16, 4), fp16=True)))
    assert g.ops[0].op_type == "DEQUANTIZE" and g.tensors["w0_fp16"].kind == "weight"
    assert g.tensors["w0"].kind == "activation" and g.tensors["w0"].nbytes == 16 * 8 * 4
    p = plan(g, algorithm="greedy_by_size", order="file")
    assert not check_plan(g, p) and "w0" in p.tensor_offsets


def test_variable_tensors_are_not_in_the_arena(tmp_path):
    tensors = [("x", (1, 4), "float32", None), ("state", (1, 4), "float32", None), ("y", (1, 4), "float32", None)]
    g = load(write(tmp_path, build(tensors, [("ADD", [0, 1], [2], None)], [0], [2], variable={1})))
    assert g.tensors["state"].kind == "weight"
    assert "state" not in plan(g, order="file").tensor_offsets


def test_duplicate_and_empty_tensor_names_are_made_unique(tmp_path):
    tensors = [("x", (1, 4), "float32", None), ("", (1, 4), "float32", None), ("x", (1, 4), "float32", None)]
    data = build(tensors, [("ADD", [0, 0], [1], None), ("ADD", [1, 1], [2], None)], [0], [2])
    tfl = read(write(tmp_path, data))
    assert tfl.names == ("x#0", "tensor#1", "x#2") == tuple(tensor_names(tfl.model.subgraphs[0]))
    assert tfl.graph.inputs == ("x#0",) and tfl.graph.outputs == ("x#2",) and tfl.index["x#2"] == 2


@pytest.mark.parametrize("make, needle", [
    (lambda: build([("x", (1, 4), "float32", None)], [], [0], [0], extra_subgraphs=1), "2 subgraphs"),
    (lambda: build([("x", (1, 4), "float32", None), ("y", (1, 4), "float32", None)],
                   [("WHILE", [0], [1], None)], [0], [1]), "control flow"),
    (lambda: build([("x", (-1, 4), "float32", None), ("y", (1, 4), "float32", None)],
                   [("ADD", [0, 0], [1], None)], [0], [1]), "dynamic shape"),
    (lambda: build([("x", (0, 4), "float32", None), ("y", (1, 4), "float32", None)],
                   [("ADD", [0, 0], [1], None)], [0], [1]), "zero elements"),
    (lambda: build([("x", (1, 4), "float32", None), ("ghost", (1, 4), "float32", None),
                    ("y", (1, 4), "float32", None)], [("ADD", [0, 1], [2], None)], [0], [2]),
     "neither produced"),
    (lambda: b"\x00" * 64, "not a TFLite flatbuffer"),
    (lambda: b"1234TFL3" + b"\xff" * 8, "not a readable TFLite model"),
])
def test_unsupported_models_are_one_line_errors(tmp_path, make, needle):
    with pytest.raises(ModelError, match=needle) as info:
        load(write(tmp_path, make()))
    assert "\n" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(ModelError, match="no such file"):
        load(tmp_path / "absent.tflite")
    with pytest.raises(ModelError, match="is a directory"):
        load(tmp_path)


def test_cli_plan_tflite_like_onnx(tmp_path):
    path = write(tmp_path, fc_model())
    json_path = tmp_path / "p.json"
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "plan", path, "--json", str(json_path)],
                       capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "arena / LB" in r.stdout and json_path.exists()
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "plan", str(tmp_path / "no.tflite")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr


def test_mediapipe_hand_landmark_lite_imports_and_plans():
    g = load(mediapipe_or_skip("hand_landmark_lite"))
    assert len(g.ops) == 167 and g.tensors["input_1"].shape == (1, 224, 224, 3)
    assert sum(op.op_type == "DEQUANTIZE" for op in g.ops) == 102
    assert {g.tensors[t].dtype for t in g.weights} >= {"float16"}
    assert len(g.outputs) == 4 and all(g.tensors[t].kind == "output" for t in g.outputs)
    p = plan(g, algorithm="tflm_greedy", order="file")
    assert not check_plan(g, p) and p.arena_bytes >= p.lower_bound_bytes > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(__import__("memplan.mediapipe", fromlist=["MODELS"]).MODELS))
def test_every_mediapipe_model_imports_and_plans(name):
    g = load(mediapipe_or_skip(name))
    p = plan(g, algorithm="best_fit", order="file")
    assert not check_plan(g, p) and p.arena_bytes >= p.lower_bound_bytes


def test_memplan_load_dispatches_tflite(tmp_path):
    import memplan

    g = memplan.load(write(tmp_path, fc_model(widths=(8, 4))))
    assert [op.op_type for op in g.ops] == ["FULLY_CONNECTED", "ADD"]
