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
    from memplan.memory_model import Sharing
    from memplan.formats.plan_json import plan_from_dict, plan_to_dict

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


# --- item 6: verify says what it proves ---------------------------------------------------

def test_verify_notes_constant_weights_and_not_random_ones():
    r = run("verify", "zoo:squeezenet")
    assert r.returncode == 0, r.stderr
    assert "hold one value (0.02)" in r.stdout and "--random-weights" in r.stdout
    r = run("verify", "zoo:squeezenet", "--random-weights")
    assert r.returncode == 0, r.stderr
    assert "hold one value" not in r.stdout


def test_weight_note_needs_most_bytes_constant(tmp_path):
    import memplan
    from memplan.verify.reference import randomize_weights
    from memplan.verify.weight_note import note, single_weight_value
    from memplan.graph.zoo import zoo_path

    assert single_weight_value(memplan.load("zoo:squeezenet"))[0] == pytest.approx(0.02)
    random = randomize_weights(zoo_path("squeezenet"), str(tmp_path / "r.onnx"), 0)
    assert single_weight_value(memplan.load(random)) is None
    assert note(memplan.load(save(chain_model(ops=("Relu",)), tmp_path / "m.onnx"))) is None  # no weights


def test_verify_with_another_models_plan_names_that_model(tmp_path):
    p = tmp_path / "alex.json"
    assert run("plan", "zoo:alexnet", "--json", str(p)).returncode == 0
    one_line_error(run("verify", "zoo:squeezenet", "--plan", str(p)), "made for zoo:alexnet")


# --- item 10: the C header's alignment is one macro ---------------------------------------

C_MAIN = """#include <stdint.h>
#include <stdio.h>
#include "plan.h"
PLAN_ARENA_DEFINE(arena);
int main(void) { printf("%u %u\\n", (unsigned)((uintptr_t)arena % PLAN_ALIGNMENT), (unsigned)sizeof(arena)); return 0; }
"""


@pytest.mark.parametrize("flags", [
    ["-std=c99", "-pedantic"],                                    # the GCC branch
    ["-std=c11", "-DMEMPLAN_ALIGNED(n)=_Alignas(n)"],             # the user's own: the C11 form
])
def test_c_header_aligns_the_arena_with_a_redefinable_macro(tmp_path, flags):
    import shutil

    import memplan
    from memplan.formats.c_header import c_header

    gcc = shutil.which("gcc")
    assert gcc, "gcc is needed to compile the emitted header"
    p = memplan.plan(memplan.load(save(chain_model(), tmp_path / "m.onnx")), alignment=64)
    (tmp_path / "plan.h").write_text(c_header(p, "PLAN"))
    (tmp_path / "main.c").write_text(C_MAIN)
    header = (tmp_path / "plan.h").read_text()
    assert "__attribute__" not in header.split("#ifndef MEMPLAN_ALIGNED")[0]
    assert "static MEMPLAN_ALIGNED(64) uint8_t" in header
    cc = subprocess.run([gcc, *flags, "-Wall", "-Wextra", "-Werror", "-o", str(tmp_path / "a.out"),
                         str(tmp_path / "main.c")], capture_output=True, text=True, cwd=tmp_path)
    assert cc.returncode == 0, cc.stderr
    out = subprocess.run([str(tmp_path / "a.out")], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["0", str(p.arena_bytes)]


def test_c_header_without_any_alignment_form_stops_with_a_message(tmp_path):
    import shutil

    import memplan
    from memplan.formats.c_header import c_header

    p = memplan.plan(memplan.load(save(chain_model(), tmp_path / "m.onnx")))
    (tmp_path / "plan.h").write_text(c_header(p, "PLAN"))
    (tmp_path / "main.c").write_text('#include "plan.h"\n')
    cc = subprocess.run([shutil.which("gcc"), "-std=c99", "-U__GNUC__", "-fsyntax-only", str(tmp_path / "main.c")],
                        capture_output=True, text=True, cwd=tmp_path)
    assert cc.returncode != 0 and "define MEMPLAN_ALIGNED(n)" in cc.stderr


# --- item 5: one vocabulary -----------------------------------------------------------------

MINIMALLOC_A = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks", "data", "minimalloc", "A.1048576.csv")


@pytest.mark.parametrize("option", ["--budget", "--capacity", "-c"])
def test_alloc_budget_and_its_old_names(option, tmp_path):
    out = tmp_path / "s.csv"
    r = run("alloc", MINIMALLOC_A, option, "1000000", "-a", "greedy_by_size", "-o", str(out))
    assert r.returncode == 3 and "does not fit" in r.stdout  # greedy needs 1.7 MiB
    assert r.stdout.strip().splitlines()[-1] == f"wrote {out}"
    assert run("alloc", MINIMALLOC_A, option, "2MiB", "-a", "greedy_by_size").returncode == 0


def test_old_size_names_are_hidden_from_help():
    for command, old in (("alloc", "--capacity"), ("study", "--budgets"), ("pipeline", "--stage-memory")):
        text = run(command, "-h").stdout
        assert "--budget" in text and old not in text, command


def test_alloc_progress_line():
    r = run("alloc", os.path.join(os.path.dirname(MINIMALLOC_A), "input.12.csv"), "--budget", "12", "-a", "exact",
            "--progress")
    assert r.returncode == 0 and "bound" in r.stdout


def test_every_written_file_is_named(tmp_path):
    j, png, h = tmp_path / "p.json", tmp_path / "p.png", tmp_path / "p.h"
    r = run("plan", "zoo:squeezenet", "--order", "file", "--json", str(j), "--picture", str(png))
    assert r.returncode == 0 and f"wrote {j}" in r.stdout and f"wrote {png}" in r.stdout
    r = run("emit-c", str(j), "-o", str(h))
    assert r.returncode == 0 and r.stdout.strip() == f"wrote {h}"


def test_plan_and_export_tflm_agree_on_a_fp16_tflite(tmp_path):
    r = run("plan", "mediapipe:hand_landmark_full", "--order", "file", "-a", "tflm_greedy")
    arena = next(line for line in r.stdout.splitlines() if "│ arena " in line).split("│")[2].split()[0]
    e = run("export-tflm", "mediapipe:hand_landmark_full", "--order", "file", "-a", "tflm_greedy",
            "-o", str(tmp_path / "o.tflite"))
    assert e.returncode == 0 and f"({arena.replace(',', '')} bytes" in e.stdout


def test_fold_on_import_turns_fp16_dequantize_into_weights():
    import memplan

    raw = memplan.load("mediapipe:hand_landmark_lite", fold=False)
    folded = memplan.load("mediapipe:hand_landmark_lite")
    assert sum(op.op_type == "DEQUANTIZE" for op in raw.ops) == 102
    assert not any(op.op_type == "DEQUANTIZE" for op in folded.ops)
    assert len(folded.ops) == len(raw.ops) - 102 and folded.weight_bytes > raw.weight_bytes


def test_zoo_lists_the_mediapipe_models_too():
    r = run("zoo")
    assert r.returncode == 0 and "zoo:densenet121" in r.stdout
    assert "mediapipe:hand_landmark_full" in r.stdout and "[1,224,224,3]" in r.stdout


# --- item 8: messages ---------------------------------------------------------------------

def test_missing_tflite_extra_says_what_works_from_a_clone(monkeypatch):
    import builtins

    from memplan.graph import tflite as tflite_import
    from memplan.errors import ModelError

    real_import = builtins.__import__

    def no_tflite_micro(name, *args, **kwargs):
        if name.startswith("tflite_micro"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tflite_micro)
    with pytest.raises(ModelError, match=r"pip install -e '\.\[tflite\]'"):
        tflite_import.schema()


def test_verify_tflm_last_line_reads_as_a_sentence():
    r = run("verify-tflm", "mediapipe:hand_recrop")
    assert r.returncode == 0, r.stderr
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith("arena head with memplan's plan: ") and "TFLM's planner" in last
    assert ("less than" in last or "more than" in last or "the same as" in last) and "head -" not in last


# --- item 7: pictures that explain themselves -------------------------------------------------

def _memory_axes(fig):
    return next(ax for ax in fig.axes if ax.get_ylabel().startswith("arena address"))


@pytest.mark.parametrize("spec", ["zoo:squeezenet", "mediapipe:hand_landmark_lite"])
def test_picture_labels_fit_their_boxes_and_never_overlap(spec):
    import memplan
    from memplan.report.picture import memory_figure

    g = memplan.load(spec)
    p = memplan.plan(g, order="file", algorithm="greedy_by_size")
    fig = memory_figure(p, g)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = _memory_axes(fig)
    names = [t for t in ax.texts if not t.get_text().startswith(" peak")]
    assert names, "some buffer is labelled"
    frame = ax.get_window_extent(renderer)
    boxes = [t.get_window_extent(renderer) for t in names]
    for t, box in zip(names, boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1, f"{t.get_text()!r} cut at the edge"
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), "two labels run together"
    legend = [t.get_text() for ax_ in fig.axes if ax_.get_legend() for t in ax_.get_legend().get_texts()]
    used = {op.op_type for op in g.ops}
    assert used <= set(legend), "every op type colour is in the legend"
    assert "arena / lower bound" in ax.get_title() and " x1." not in ax.get_title()


def test_label_names_prefer_the_layer_of_a_tflite_path():
    from memplan.report.picture import _label_names

    assert _label_names("r14") == ["r14"]
    assert _label_names("model_1/model/conv2d_4/Conv2D") == ["conv2d_4/Conv2D", "conv2d_4", "…model/conv2d_4/Conv2D"]
    assert _label_names("gpu_0/res5_2_branch2c_w_0")[0] == "res5_2_branch2c_w_0"


def test_steps_picture_has_a_legend():
    out = run("plan", "zoo:squeezenet", "--order", "file", "--steps").stdout
    assert "one column = " in out and "a letter = a buffer" in out and "Live at the peak step" in out
    assert "  B = buffer 1: r0" in out


def test_graph_strip_is_not_a_solid_band_for_densenet():
    """DenseNet's many edges are drawn faint, and as high as they are long."""
    import memplan
    from memplan.report.picture import memory_figure

    g = memplan.load("zoo:densenet121")
    p = memplan.plan(g, order="file", algorithm="naive")
    fig = memory_figure(p, g)
    strip = next(ax for ax in fig.axes if ax.get_title().startswith("graph:"))
    arcs = strip.collections[0]
    assert arcs.get_alpha() <= 0.2
    heights = sorted(seg[:, 1].max() for seg in arcs.get_segments())
    assert heights[-1] >= 5 * heights[0]


def test_a_message_quoting_a_damaged_name_stays_one_line():
    """Found by the long fuzz run: an op type with a newline broke the one-line error."""
    from memplan.cli.common import one_line

    assert one_line("node 'n0' (\ndd) depends on x") == "node 'n0' (\\ndd) depends on x"
    assert one_line("plain message, café") == "plain message, café"
