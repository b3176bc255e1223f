"""What a new user meets (issue #18): real examples, one vocabulary, messages that explain."""
import os
import subprocess
import sys

import pytest

from helpers import chain_model, save

MEMPLAN = [sys.executable, "-m", "memplan.cli"]


def run(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(MEMPLAN + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def one_line_error(result, *needles):
    assert result.returncode == 2, (result.returncode, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


# --- item 2: inputs and --input-shape ----------------------------------------------------

def test_wrong_input_name_lists_only_the_real_inputs_with_dims():
    line = one_line_error(run("plan", "zoo:resnet50", "--input-shape", "data=1,3,224,224"),
                          "unknown input 'data'", "gpu_0/data_0 [1,3,224,224] float32")
    assert "conv1_w" not in line and line.count("[") == 1  # no weights listed


def test_wrong_rank_names_the_option_not_shape_inference():
    line = one_line_error(run("plan", "zoo:squeezenet", "--input-shape", "data_0=1,3,224"),
                          "--input-shape data_0=1,3,224", "3 dims", "has 4")
    assert "shape inference" not in line


def test_real_input_shape_example_plans_at_batch_4():
    r = run("plan", "zoo:squeezenet", "--input-shape", "data_0=4,3,224,224")
    assert r.returncode == 0, r.stderr


def test_inputs_command_onnx_tflite_and_dynamic(tmp_path):
    r = run("inputs", "zoo:squeezenet")
    assert r.returncode == 0, r.stderr
    assert "data_0" in r.stdout and "[1,3,224,224]" in r.stdout and "softmaxout_1" in r.stdout
    assert "conv1_w_0" not in r.stdout
    r = run("inputs", "mediapipe:hand_landmark_full")
    assert r.returncode == 0, r.stderr
    assert "input_1" in r.stdout and "[1,224,224,3]" in r.stdout and "Identity_3" in r.stdout
    path = save(chain_model(dynamic=True), tmp_path / "d.onnx")
    r = run("inputs", path)
    assert r.returncode == 0, r.stderr
    assert "[batch,8,16,16]" in r.stdout and "--input-shape x=N,8,16,16" in r.stdout
    one_line_error(run("inputs", str(tmp_path / "missing.onnx")), "missing.onnx", "no such file")


def test_plan_help_names_every_kind_of_model():
    text = " ".join(run("plan", "-h").stdout.split())
    for needle in (".tflite", "mediapipe:", "zoo:", "data_0=4,3,224,224", "memplan inputs"):
        assert needle in text


# --- item 4: one meaning of naive, of tensor_offsets ------------------------------------

def test_naive_means_no_reuse_and_no_sharing_everywhere():
    import memplan
    from memplan.lifetimes import Sharing
    from memplan.report.plan_json import plan_from_dict, plan_to_dict

    g = memplan.load("zoo:squeezenet")
    shared = memplan.plan(g, order="file", algorithm="greedy_by_size")
    unshared = memplan.plan(g, order="file", algorithm="greedy_by_size", sharing=Sharing.off())
    assert shared.naive_bytes == unshared.naive_bytes == unshared.sharing_only_bytes  # what study calls naive
    assert shared.sharing_only_bytes < shared.naive_bytes  # concat in place, views, in-place ops
    assert memplan.plan(g, order="file", algorithm="naive").arena_bytes == shared.sharing_only_bytes
    d = plan_to_dict(shared)
    assert d["naive_bytes"] == shared.naive_bytes and d["sharing_only_bytes"] == shared.sharing_only_bytes
    inside = [b for b in d["buffers"] if "offsets_in_buffer" in b]
    assert inside and not any("tensor_offsets" in b for b in d["buffers"])  # squeezenet's concats
    back = plan_from_dict(d)
    assert (back.buffers, back.naive_bytes, back.sharing_only_bytes) == (shared.buffers, shared.naive_bytes,
                                                                         shared.sharing_only_bytes)
    # a plan file from before the rename: tensor_offsets inside buffers, naive_bytes = sharing only
    for b in inside:
        b["tensor_offsets"] = b.pop("offsets_in_buffer")
    del d["sharing_only_bytes"]
    old = plan_from_dict(d)
    assert old.tensor_offsets == shared.tensor_offsets and old.sharing_only_bytes == shared.naive_bytes


def test_plan_report_names_both_figures():
    out = run("plan", "zoo:squeezenet", "--order", "file").stdout
    assert "naive (no reuse, no sharing)" in out and "sharing only (no reuse)" in out
