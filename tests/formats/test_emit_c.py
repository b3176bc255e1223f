"""`memplan emit-c`: the header compiles with gcc -Wall -Werror and says what the plan JSON says."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from memplan import plan
from memplan.graph.onnx import load
from memplan.formats.c_header import c_header, identifier
from memplan.formats.plan_json import plan_to_dict, write_plan
from helpers import chain_model, save

GCC = shutil.which("gcc")

MAIN_C = r"""
#include <stdio.h>
#include "model_plan.h"

MODEL_PLAN_ARENA_DEFINE(arena);

int main(void) {
    uint32_t i;
    printf("%u %u %u %u %u %u\n", (unsigned)MODEL_PLAN_ARENA_BYTES, (unsigned)MODEL_PLAN_ALIGNMENT,
           (unsigned)MODEL_PLAN_WEIGHTS_BYTES, (unsigned)model_plan.num_steps,
           (unsigned)model_plan.num_tensors, (unsigned)model_plan.num_weights);
    for (i = 0; i < model_plan.num_tensors; i++) {
        const memplan_tensor_t *t = &model_plan.tensors[i];
        printf("T %s %u %u %u %u\n", t->name, (unsigned)t->offset, (unsigned)t->size,
               (unsigned)t->first_step, (unsigned)t->last_step);
    }
    for (i = 0; i < model_plan.num_weights; i++)
        printf("W %s %u %u\n", model_plan.weights[i].name, (unsigned)model_plan.weights[i].offset,
               (unsigned)model_plan.weights[i].size);
    for (i = 0; i < model_plan.num_steps; i++)
        printf("S %s\n", model_plan.order[i]);
    printf("X %u\n", (unsigned)MODEL_PLAN_T_X_OFFSET);
    arena[MODEL_PLAN_ARENA_BYTES - 1] = 1;
    return ((uintptr_t)arena % MODEL_PLAN_ALIGNMENT) != 0;
}
"""


def test_identifiers():
    assert identifier("gpu_0/conv1_1") == "GPU_0_CONV1_1"
    assert identifier("1x") == "_1X" and identifier("") == "X" and identifier("a:b.c") == "A_B_C"


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
def test_header_compiles_and_matches_the_json(tmp_path):
    graph = load(save(chain_model(ops=("Relu", "Sigmoid", "Relu", "Tanh")), tmp_path / "m.onnx"))
    p = plan(graph, algorithm="greedy_by_size", order="file")
    plan_path = tmp_path / "plan.json"
    write_plan(p, str(plan_path))
    header = tmp_path / "model_plan.h"
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "emit-c", str(plan_path), "-o", str(header)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    (tmp_path / "main.c").write_text(MAIN_C)
    exe = tmp_path / "main"
    for std in ("-std=c99", "-std=c11"):
        cc = subprocess.run([GCC, "-Wall", "-Wextra", "-Werror", "-pedantic", std, "-o", str(exe),
                             str(tmp_path / "main.c")], capture_output=True, text=True, cwd=tmp_path)
        assert cc.returncode == 0, cc.stderr
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    d = plan_to_dict(p)
    assert out[0].split() == [str(v) for v in (d["arena_bytes"], d["alignment"], d["weights"]["bytes"],
                                               len(d["order"]), sum(len(b["tensors"]) for b in d["buffers"]),
                                               len(d["weights"]["tensors"]))]
    tensors = {line.split()[1]: [int(v) for v in line.split()[2:]] for line in out if line.startswith("T ")}
    expected = {}
    for b in d["buffers"]:
        for name in b["tensors"]:
            rel = b.get("offsets_in_buffer", {}).get(name, 0)
            expected[name] = [b["offset"] + rel, b["size"] - rel, b["first_step"], b["last_step"]]
    assert tensors == expected and len(expected) == 5
    assert [line.split()[1] for line in out if line.startswith("S ")] == d["order"]
    assert f"X {p.tensor_offsets['x']}" in out


@pytest.mark.skipif(GCC is None, reason="gcc is not installed")
def test_weights_names_collisions_and_prefix(tmp_path):
    from helpers import branch_model

    p = plan(load(save(branch_model(), tmp_path / "b.onnx")), order="file")
    text = c_header(p, prefix="net-v2")
    assert "#define NET_V2_ARENA_BYTES" in text and "net_v2_tensors[]" in text
    assert len(p.weights) > 0 and all(f"{identifier(w.name)}_OFFSET {w.offset}u" in text for w in p.weights)
    header = tmp_path / "net.h"
    header.write_text(text + text.replace("NET_V2", "OTHER").replace("net_v2", "other"))  # two plans, one TU
    (tmp_path / "m.c").write_text('#include "net.h"\nint main(void) { return (int)(net_v2.num_tensors '
                                  '- NET_V2_NUM_TENSORS + other.num_weights - OTHER_NUM_WEIGHTS); }\n')
    cc = subprocess.run([GCC, "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "m"), str(tmp_path / "m.c")],
                        capture_output=True, text=True, cwd=tmp_path)
    assert cc.returncode == 0, cc.stderr
    assert subprocess.run([str(tmp_path / "m")]).returncode == 0


def test_bad_plan_json_is_a_one_line_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something else"}))
    r = subprocess.run([sys.executable, "-m", "memplan.cli", "emit-c", str(bad), "-o", str(tmp_path / "x.h")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not a memplan plan" in r.stderr and r.stderr.count("\n") == 1
    assert not os.path.exists(tmp_path / "x.h")
