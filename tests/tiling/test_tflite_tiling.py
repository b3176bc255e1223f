"""Tiling .tflite models: NHWC row strips written in place, run in TFLite Micro against the
original; the receptive-field view of TFLite ops; bad input is a one-line error."""
import numpy as np
import pytest
from cli_inprocess import assert_one_line_error, run_cli as run
from tflite_models import strip_net

from memplan.errors import ModelError
from memplan.formats import tflm
from memplan.planner import plan
from memplan.tiling.receptive import find_stage
from memplan.tiling.receptive_tflite import nchw_view
from memplan.tiling.report import strips_line
from memplan.tiling.tflite_rewrite import tile_tflite
from memplan.tiling.tflite_search import search_tflite


def test_budget_takes_the_least_overhead_that_fits():
    data = strip_net(32, 24)
    best = search_tflite(data, max_overhead=0.5)
    budget = (best.base_plan.arena_bytes + best.plan.arena_bytes) // 2
    cheap = search_tflite(data, max_overhead=0.5, budget=budget)
    assert cheap.fits and best.plan.arena_bytes <= cheap.plan.arena_bytes <= budget
    assert cheap.overhead < best.overhead


def run_both(original: bytes, tiled_bytes: bytes, order: str = "heuristic"):
    tfl = tflm.load_bytes(tiled_bytes, "tiled")
    p = plan(tfl.graph, order=order)
    inputs = tflm.seeded_inputs(tflm.load_bytes(original, "m"), 3)
    return tflm.run(original, inputs), tflm.run(tflm.export_model(tfl, p), inputs), tfl, p


@pytest.mark.parametrize("strips", [2, 3, 8, 12])  # 12: two concats (TFLM's takes at most 10 inputs)
def test_strips_run_in_tflm_and_match_the_original_bitwise(strips):
    data = strip_net(32 if strips > 8 else 16)
    tiled = tile_tflite(data, "CONV_2D_5", (strips, 1))
    own, ours, tfl, p = run_both(data, tiled.model, "file")  # strip after strip
    assert all(a.tobytes() == b.tobytes() for a, b in zip(own.outputs, ours.outputs))
    kinds = [op.op_type for op in tfl.graph.ops]
    assert kinds.count("CONCATENATION") == 1 + 2 * (strips > 10) and kinds.count("CONV_2D") == 2 * strips
    assert "SLICE" in kinds and "PAD" in kinds and "PADV2" in kinds  # input rows, conv borders, max-pool borders
    assert ours.head == p.arena_bytes and tiled.copy_bytes == 0
    in_place(tiled, tfl, p)  # strips built in place sit at their rows (the planner may copy when cheaper)


def in_place(tiled, tfl, p) -> int:
    """How many strips the plan writes in place: at their rows of the stage output."""
    out = tiled.stage_output
    shape = tfl.graph.tensors[out].shape
    row_bytes = tfl.graph.tensors[out].nbytes // shape[1]
    offsets, count = p.tensor_offsets, 0
    for r, (rows, _) in enumerate(tiled.patches):
        strip = f"{out}__p{r}"
        if p.buffer_of[strip] == p.buffer_of[out]:
            assert offsets[strip] == offsets[out] + rows[0] * row_bytes
            count += 1
    return count


def test_tiled_file_runs_in_the_tflite_interpreter():
    """LiteRT (the TFLite interpreter, the ``litert`` extra) loads the tiled file as it is and
    computes the original model's outputs."""
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    data = strip_net()
    tiled = tile_tflite(data, "CONV_2D_5", (3, 1)).model
    x = tflm.seeded_inputs(tflm.load_bytes(data, "m"), 1)[0]

    def run(model):
        it = litert.Interpreter(model_content=bytes(model))
        it.allocate_tensors()
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        return [it.get_tensor(d["index"]).copy() for d in it.get_output_details()]

    for a, b in zip(run(data), run(tiled)):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-5)


def test_receptive_view_of_tflite_ops():
    view = nchw_view(tflm.load_bytes(strip_net(), "m"))
    assert view.tensors["x"].shape == (1, 3, 16, 12) and view.tensors["wd"].shape == (4, 1, 3, 3)
    assert [op.op_type for op in view.ops] == ["Conv", "Conv", "MaxPool", "Add", "MaxPool", "Conv", "ReduceMean",
                                                 "Relu"]
    stage = find_stage(view, "CONV_2D_5")
    assert stage.output == "c2" and stage.inputs == ("x",) and len(stage.ops) == 6
    pad = stage.windows[4][0]  # the spatial PAD is a 1x1 window with its pads
    assert (pad.kernel, pad.pad_begin, pad.pad_end) == (1, 1, 1)
    with pytest.raises(ModelError, match="MEAN_6.*whole tensor"):
        find_stage(view, "MEAN_6")


def test_average_pool_border_is_refused_or_unpadded():
    data = strip_net(pool="AVERAGE_POOL_2D")
    with pytest.raises(ModelError, match="AVERAGE_POOL_2D"):
        tile_tflite(data, "CONV_2D_5", (4, 1))


def test_search_lowers_the_arena_and_runs_in_tflm():
    data = strip_net(32, 24)
    outcome = search_tflite(data, max_overhead=0.5, source="net")
    assert outcome.tiled is not None and outcome.tiled.grid[1] == 1
    assert outcome.plan.arena_bytes < outcome.base_plan.arena_bytes and 0 < outcome.overhead <= 0.5
    own, ours, tfl, p = run_both(data, outcome.tiled.model)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(own.outputs, ours.outputs))
    assert ours.head < own.head
    placed = in_place(outcome.tiled, tfl, p)  # here the whole input dominates: copying the strips is as cheap
    line = strips_line(outcome)  # the report says which
    assert ("no assembly copy" in line) == (placed == len(outcome.tiled.patches)), line


def one_line_error(result, *needles):
    line = assert_one_line_error(*result[:1], result[2])
    for n in needles:
        assert n in line, line


def test_cli_tile_tflite_and_errors(tmp_path):
    src = tmp_path / "net.tflite"
    src.write_bytes(strip_net())
    out = tmp_path / "tiled.tflite"
    code, stdout, stderr = run("tile", str(src), "--grid", "4x1", "--until", "CONV_2D_5", "-o", str(out))
    assert code == 0, stderr
    assert "in place" in stdout and out.exists()
    own, ours, _, _ = run_both(src.read_bytes(), out.read_bytes())
    assert all(a.tobytes() == b.tobytes() for a, b in zip(own.outputs, ours.outputs))
    code, stdout, stderr = run("plan", str(out), "--order", "file")  # a plain plan of the file
    assert code == 0 and "arena" in stdout, stderr
    bad = tmp_path / "bad.tflite"
    one_line_error(run("tile", str(src), "--grid", "4x1", "--until", "NOPE_1", "-o", str(bad)), "NOPE_1")
    one_line_error(run("tile", str(src), "--grid", "4x1", "--until", "MEAN_6", "-o", str(bad)), "MEAN_6", "whole")
    one_line_error(run("tile", str(src), "--grid", "2x2", "--until", "CONV_2D_5", "-o", str(bad)), "2x2", "ROWSx1")
    one_line_error(run("tile", str(src), "--grid", "9x1", "--until", "CONV_2D_5", "-o", str(bad)), "9x1")
    one_line_error(run("tile", str(src), "--grid", "0x1", "--until", "CONV_2D_5", "-o", str(bad)), "--grid")
    one_line_error(run("tile", str(src), "--grid", "4x1", "--until", "CONV_2D_5", "-o", str(tmp_path / "t.onnx")),
                   ".tflite")
    one_line_error(run("verify-tflm", str(src), "--tile", "auto", "--max-overhead", "11"), "--max-overhead")
    assert not bad.exists() and not (tmp_path / "t.onnx").exists()


def test_cli_verify_tflm_tile_auto(tmp_path):
    src = tmp_path / "net.tflite"
    src.write_bytes(strip_net(32, 24))
    code, stdout, stderr = run("verify-tflm", str(src), "--tile", "auto", "--max-overhead", "0.5")
    assert code == 0, stderr + stdout
    assert "identical" in stdout and "below TFLM's own arena" in stdout
    code, stdout, stderr = run("plan", str(src), "--tile", "auto", "--max-overhead", "0.5")
    assert code == 0 and "arena tiled" in stdout, stderr


@pytest.mark.slow
def test_mediapipe_hand_landmark_tiles_below_tflm():
    from memplan.graph import mediapipe, tflite_edit

    if not mediapipe.available():
        pytest.skip("the mediapipe models are not unpacked (make)")
    with open(mediapipe.model_path("hand_landmark_full"), "rb") as f:
        data = tflite_edit.fold_fp16_dequantize(f.read())
    outcome = search_tflite(data, source="hand_landmark_full")
    assert outcome.tiled is not None and outcome.overhead <= 0.15
    own, ours, tfl, p = run_both(data, outcome.tiled.model)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(own.outputs, ours.outputs))
    assert ours.head == outcome.plan.arena_bytes < own.head
    in_place(outcome.tiled, tfl, p)
