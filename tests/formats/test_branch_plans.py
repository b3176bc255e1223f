"""An If planned per branch in the plan JSON (``subplans``), the plan-file checker and the C
header: round trip, every broken piece named, and the header compiles."""
import json
import os
import shutil
import subprocess

import pytest

import memplan
from memplan.errors import InputError
from memplan.formats.c_header import c_header
from memplan.formats.plan_file import checked_plan
from memplan.formats.plan_json import plan_to_dict
from memplan.verify.check import check_plan

from branch_models import if_model
from cli_inprocess import run_cli
from helpers import save

GCC = shutil.which("gcc")


@pytest.fixture(scope="module")
def nested(tmp_path_factory):
    path = save(if_model(nested=True), tmp_path_factory.mktemp("nested") / "nested.onnx")
    graph = memplan.load(path)
    return path, graph, memplan.plan(graph)


def test_plan_json_round_trip_keeps_every_nested_plan(nested):
    _, graph, plan = nested
    data = json.loads(json.dumps(plan_to_dict(plan)))
    entry = data["subplans"]["branch"]
    region = next(b for b in data["buffers"] if b["id"] == entry["region"]["buffer"])
    assert region["tensors"] == [] and region["first_step"] == region["last_step"] == data["order"].index("branch")
    assert entry["region"]["size"] == max(entry["then"]["arena_bytes"], entry["else"]["arena_bytes"])
    assert entry["then"]["io_in_arena"] is False and "inner_if" in entry["then"]["subplans"]
    assert entry["weights_only_in"] == {"then": ["one", "w_then", "zero", "zero_f"], "else": ["w_else"]}
    back = checked_plan(data)
    assert check_plan(graph, back) == []
    assert back.subplans["branch"].branches["then"].order == plan.subplans["branch"].branches["then"].order


def _broken(plan, edit):
    data = json.loads(json.dumps(plan_to_dict(plan)))
    edit(data)
    return data


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["subplans"]["branch"]["region"].update(buffer=0), r"buffer 0 is not a buffer without tensors"),
    (lambda d: d["subplans"]["branch"]["then"].update(io_in_arena=True), r"then: field 'io_in_arena' must be false"),
    (lambda d: d["subplans"]["branch"]["then"].update(arena_bytes=10**6), r"then: .*does not fit the region"),
    (lambda d: d["subplans"]["branch"].pop("else"), r"subplans\['branch'\]: expected"),
    (lambda d: d["subplans"]["branch"]["then"]["buffers"][0].update(offset=3), r"then: buffer 0 at offset 3 is not"),
    (lambda d: d["subplans"].update(ghost=d["subplans"]["branch"]), r"'ghost' is no op of the order"),
])
def test_plan_file_checker_names_what_is_wrong_in_a_nested_plan(nested, edit, message):
    _, _, plan = nested
    with pytest.raises(InputError, match=message):
        checked_plan(_broken(plan, edit), "p.json")


def test_region_steps_are_checked(nested):
    _, _, plan = nested

    def widen(d):
        region = next(b for b in d["buffers"] if b["id"] == d["subplans"]["branch"]["region"]["buffer"])
        region["first_step"], region["size"] = 0, 0  # size 0: no overlap hides the step check
    with pytest.raises(InputError, match=r"region: buffer \d+ is live on \[0, \d+\], not only at the If's step"):
        checked_plan(_broken(plan, widen), "p.json")


def test_c_header_has_a_plan_per_branch(nested, tmp_path):
    _, _, plan = nested
    text = c_header(plan, "NET")
    region = next(b for b in plan.buffers if b.id == plan.subplans["branch"].region)
    assert f"#define NET_IF_BRANCH_REGION_OFFSET {region.offset}u" in text
    assert "static const memplan_plan_t net_if_branch_then = {" in text
    assert "static const memplan_plan_t net_if_branch_then_if_inner_if_else = {" in text
    then = plan.subplans["branch"].branches["then"]
    t1 = then.tensor_offsets["t1"] + region.offset
    assert f"#define NET_IF_BRANCH_THEN_T_T1_OFFSET {t1}u /* t1 */" in text
    if GCC is None:
        pytest.skip("gcc is not installed")
    (tmp_path / "net.h").write_text(text)
    (tmp_path / "main.c").write_text('#include "net.h"\nint main(void) { return (int)(net.num_steps + '
                                     'net_if_branch_then.num_steps + net_if_branch_else.arena_bytes) > 0 ? 0 : 1; }\n')
    subprocess.run([GCC, "-std=c99", "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "main"),
                    str(tmp_path / "main.c")], check=True, capture_output=True)


def test_cli_plan_then_verify_and_emit_c_from_the_plan_file(nested, tmp_path):
    path, _, _ = nested
    out = str(tmp_path / "p.json")
    code, stdout, stderr = run_cli("plan", path, "--json", out)
    assert code == 0, stderr
    assert "If branch" in stdout and "region" in stdout
    code, _, stderr = run_cli("verify", path, "--plan", out)
    assert code == 0, stderr
    code, _, stderr = run_cli("emit-c", out, "-o", str(tmp_path / "p.h"))
    assert code == 0, stderr and os.path.exists(tmp_path / "p.h")
