"""The command as a user runs it: real subprocesses, exit codes, one-line errors."""
import json
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
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_plan_resnet_report_json_and_picture(tmp_path):
    j, png = tmp_path / "p.json", tmp_path / "p.png"
    r = run("plan", "zoo:resnet50", "--json", str(j), "--picture", str(png))
    assert r.returncode == 0, r.stderr
    assert "arena / LB" in r.stdout and "7,225,344" in r.stdout  # LB with sharing (default)
    data = json.loads(j.read_text())
    assert data["format"] == "memplan.plan/1" and data["arena_bytes"] >= data["lower_bound_bytes"]
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_budget_exit_codes():
    assert run("plan", "zoo:squeezenet", "--budget", "8MiB").returncode == 0
    r = run("plan", "zoo:squeezenet", "--budget", "2MiB")
    assert r.returncode == 3 and "does NOT fit" in r.stdout


def test_svg_picture_and_steps(tmp_path):
    svg = tmp_path / "p.svg"
    r = run("plan", "zoo:squeezenet", "--picture", str(svg), "--steps")
    assert r.returncode == 0, r.stderr
    assert svg.read_text().lstrip().startswith("<?xml")
    assert "   0 " in r.stdout


def test_zoo_lists_nine_models():
    r = run("zoo")
    assert r.returncode == 0
    assert sum(line.count("zoo:") for line in r.stdout.splitlines()) >= 9
    assert "1746" in r.stdout  # DenseNet-121's node count


@pytest.mark.parametrize("args,needles", [
    (["plan", "missing.onnx"], ["missing.onnx", "no such file"]),
    (["plan", "zoo:nonet"], ["unknown zoo model", "resnet50"]),
    (["plan", "zoo:squeezenet", "--budget", "lots"], ["cannot read size"]),
    (["plan", "zoo:squeezenet", "--algorithm", "magic"], ["unknown algorithm"]),
    (["plan", "zoo:squeezenet", "--order", "magic"], ["unknown order"]),
    (["plan", "zoo:squeezenet", "--alignment", "3"], ["power of two"]),
    (["plan", "zoo:squeezenet", "--input-shape", "data"], ["--input-shape"]),
    (["plan", "zoo:squeezenet", "--picture", "x.jpg"], ["png or .svg"]),
])
def test_bad_input_is_one_line(args, needles, tmp_path):
    one_line_error(run(*args, cwd=tmp_path), *needles)


def test_garbage_file_and_no_partial_output(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(os.urandom(2000))
    out = tmp_path / "p.json"
    one_line_error(run("plan", str(bad), "--json", str(out)), "bad.onnx")
    assert not out.exists()


def test_dynamic_shape_error_and_remedy(tmp_path):
    path = save(chain_model(dynamic=True), tmp_path / "d.onnx")
    one_line_error(run("plan", path), "dynamic", "--input-shape x=N,8,16,16")
    r = run("plan", path, "--input-shape", "x=1,8,16,16")
    assert r.returncode == 0, r.stderr


def test_no_output_file_left_when_json_dir_missing(tmp_path):
    one_line_error(run("plan", "zoo:squeezenet", "--json", str(tmp_path / "nodir" / "p.json")), "does not exist")


@pytest.mark.parametrize("args,needles", [
    (["plan", "zoo:squeezenet", "--time-limit", "-5"], ["--time-limit"]),
    (["plan"], ["Missing argument"]),
    (["frobnicate"], ["No such command"]),
])
def test_usage_errors_are_one_line_too(args, needles):
    one_line_error(run(*args), *needles)


def test_binary_garbage_as_plan_or_device(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_bytes(bytes(range(256)) * 8)
    one_line_error(run("verify", "zoo:squeezenet", "--plan", str(junk)), "junk.json")
    one_line_error(run("plan", "zoo:squeezenet", "--device", str(junk)), "junk.json")


def test_verify_with_a_plan_for_another_model(tmp_path):
    p = tmp_path / "dense.json"
    assert run("plan", "zoo:alexnet", "--json", str(p)).returncode == 0
    one_line_error(run("verify", "zoo:squeezenet", "--plan", str(p)), "does not match the graph")


@pytest.mark.parametrize("command", ["verify", "quantize"])
def test_onnx_only_commands_name_the_tflite_alternative(command, tmp_path):
    args = [command, "mediapipe:hand_landmark_full"] + (["-o", str(tmp_path / "q.onnx")] if command == "quantize" else [])
    one_line_error(run(*args), "takes an ONNX model")


def test_output_to_stdout_carries_only_that_output(tmp_path):
    """`--json -` (and `alloc -o -`) pipe into another tool: the report goes to stderr."""
    from cli_inprocess import run_cli

    code, out, err = run_cli("plan", "zoo:squeezenet", "--json", "-")
    assert code == 0 and json.loads(out)["format"] == "memplan.plan/1"
    assert "arena" in err and err.rstrip().endswith("wrote -")
    problem = tmp_path / "p.csv"
    problem.write_text("id,lower,upper,size\n0,0,2,8\n1,1,3,8\n2,3,4,16\n")
    code, out, err = run_cli("alloc", str(problem), "--algorithm", "greedy_by_size", "-o", "-")
    assert code == 0 and out.splitlines()[0] == "id,lower,upper,size,offset" and len(out.splitlines()) == 4
    code, out, err = run_cli("plan", "zoo:squeezenet", "--json", "-", "--picture", "-")
    assert code == 2 and "given to both --json and --picture" in err and out == ""
