"""Patch-based execution: the rewrite equals the original in onnxruntime, the receptive
fields and pads are the hand-computed ones, the search beats the untiled arena, the tiled
plan runs in its arena and matches the original model, and bad input is a one-line error."""
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from tiling_nets import Net, branchy_net, peaky_net, plain_net, shuffle_net

from memplan.graph.costs import total_macs
from memplan.errors import InputError, ModelError
from memplan.planner import plan
from memplan.tiling import tile
from memplan.tiling.receptive import Window, split_axis
from memplan.tiling.report import parse_grid
from memplan.tiling.rewrite import graph_of
from memplan.tiling.search import search, tiled_graph

MEMPLAN = [sys.executable, "-m", "memplan.cli"]


def ort_run(model, x):
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})


def input_of(model, seed=1):
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    return np.random.default_rng(seed).standard_normal(dims).astype(np.float32)


GRIDS = [(2, 2), (3, 1), (1, 4), (4, 3), (5, 5)]  # 23x19 inputs: most grids do not divide evenly


def assert_tiles_match(model, until):
    """Every grid of ``GRIDS`` tiled up to ``until`` computes the original's output."""
    x = input_of(model)
    ref = ort_run(model, x)
    for grid in GRIDS:
        got = ort_run(tile(model, until, grid).model, x)
        np.testing.assert_allclose(got[0], ref[0], rtol=1e-5, atol=1e-5, err_msg=f"{until} {grid}")


@pytest.mark.parametrize("opset", [9, 13])  # Slice with attributes (opset 9) and with inputs
@pytest.mark.parametrize("until", ["c1", "c2", "c3", "mp", "ap", "last"])
def test_plain_net_tiled_equals_original(until, opset):
    """stride 2, dilation 2, groups, BatchNorm, MaxPool with ceil_mode, AveragePool with pads."""
    assert_tiles_match(plain_net(opset=opset), until)


@pytest.mark.parametrize("until", ["stem", "res", "cat", "down", "out"])
def test_branchy_net_tiled_equals_original(until):
    """A residual Add, a Concat of branches with 1x1/5x5/maxpool kernels (the branches need
    different regions: Slices), a SAME_UPPER stride-2 conv."""
    assert_tiles_match(branchy_net(), until)


@pytest.mark.parametrize("until", ["merge", "dw", "unit"])
def test_channel_shuffle_tiled_equals_original(until):
    """Reshape/Transpose that keep the spatial axes run per patch (each patch's Reshape gets
    its own target shape)."""
    assert_tiles_match(shuffle_net(), until)


def test_window_needs_by_hand():
    """3x3, stride 1, pad 1 on 32 rows: rows [8, 16) need [7, 17) unpadded; [0, 8) need
    [0, 9) with one padded row on top; [24, 32) need [23, 32) with one below."""
    w = Window(3, 1, 1, 1, 1)
    assert w.needs((8, 16), 32) == ((7, 17), 0, 0)
    assert w.needs((0, 8), 32) == ((0, 9), 1, 0)
    assert w.needs((24, 32), 32) == ((23, 32), 0, 1)
    assert Window(3, 2, 2, 2, 2).needs((0, 4), 16) == ((0, 9), 2, 0)  # dilation 2: reach 5
    assert split_axis(10, 3) == [(0, 4), (4, 7), (7, 10)]


def test_border_pads_kept_interior_sides_none():
    """c1: 3x3 stride 2 pad 1 on 23x19 -> 12x10. Corner patches keep the padding on their
    border sides only."""
    tiled = tile(plain_net(), "c1", (2, 2))
    pads = {n.name: list(next(a.ints for a in n.attribute if a.name == "pads")) for n in tiled.model.graph.node
            if n.op_type == "Conv" and n.name.startswith("c1__")}
    # [top, left, bottom, right]; bottom-right needs row 23 and column 19, one past the end
    assert pads == {"c1__p0_0": [1, 1, 0, 0], "c1__p0_1": [1, 0, 0, 1],
                    "c1__p1_0": [0, 1, 1, 0], "c1__p1_1": [0, 0, 1, 1]}


def test_stage_macs_match_costs_of_the_rewritten_graph():
    model = branchy_net()
    graph = graph_of(model)
    for grid in [(2, 2), (3, 1), (4, 3)]:
        tiled = tile(model, "down", grid, graph=graph)
        extra = tiled.tiled_stage_macs - tiled.stage_macs
        assert extra > 0
        assert total_macs(graph_of(tiled.model)) - total_macs(graph) == extra


def test_copy_bytes_count_the_assembly():
    model = branchy_net()
    out = graph_of(model).tensors["down"].nbytes
    assert tile(model, "down", (3, 1)).copy_bytes == out  # strips: one concat
    assert tile(model, "down", (2, 2)).copy_bytes == 2 * out  # columns into rows, rows into the output


@pytest.mark.parametrize("until, needle", [
    ("gap", "GlobalAveragePool"), ("flat", "Flatten"), ("nope", "no such node")])
def test_untileable_until_is_named(until, needle):
    with pytest.raises(ModelError, match=needle) as info:
        tile(plain_net(), until, (2, 2))
    assert repr(until) in str(info.value)


def test_shuffle_output_of_rank_5_cannot_end_a_stage():
    with pytest.raises(ModelError, match="not 4-D"):
        tile(shuffle_net(), "swap", (2, 2))


def test_split_inside_a_residual_block_is_refused():
    """r1's stage holds 'stem', whose output the residual Add reads after the split."""
    with pytest.raises(ModelError, match="also read after it"):
        tile(branchy_net(), "r1", (2, 2))


def test_bad_grids():
    with pytest.raises(ModelError, match="more patches than rows"):
        tile(plain_net(), "last", (40, 2))
    for text in ("4", "0x4", "1x1", "axb", "4x-1"):
        with pytest.raises(InputError, match="--grid"):
            parse_grid(text)
    assert parse_grid("8x1") == (8, 1) and parse_grid("4X4") == (4, 4)


def test_budget_takes_the_least_overhead_tiling_that_fits():
    model = peaky_net()
    smallest = search(model, max_overhead=0.3)
    budget = (smallest.plan.arena_bytes + smallest.base_plan.arena_bytes) // 2
    fitted = search(model, max_overhead=0.3, budget=budget)
    assert fitted.fits and fitted.plan.arena_bytes <= budget
    assert fitted.overhead <= smallest.overhead
    assert search(model, max_overhead=0.3, budget=1000).fits is False


def test_search_lowers_the_arena_and_the_file_plans_the_same():
    model = peaky_net()
    outcome = search(model, max_overhead=0.3)
    assert outcome.tiled is not None
    assert outcome.plan.arena_bytes < outcome.base_plan.arena_bytes
    assert 0 < outcome.overhead <= 0.3
    again = plan(graph_of(onnx.load_from_string(outcome.tiled.model.SerializeToString())))
    assert again.arena_bytes == outcome.plan.arena_bytes
    import tempfile

    from memplan.tiling.prove import prove_tiled

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "net.onnx")
        onnx.save(model, path)
        proof = prove_tiled(path, outcome.tiled.model, outcome.graph, outcome.plan,
                            stage_output=outcome.tiled.stage_output)
    assert proof.ok and proof.intermediates


def test_proof_fails_on_a_wrong_rewrite(tmp_path):
    """The proof compares with the original model: a tiled model that reads a shifted
    region must fail."""
    from memplan.tiling.prove import prove_tiled

    model = branchy_net()
    path = str(tmp_path / "net.onnx")
    onnx.save(model, path)
    tiled = tile(model, "res", (2, 1))
    for node in tiled.model.graph.node:  # shift the second strip's input by one row
        if node.op_type == "Slice" and "__p1_0" in node.name and node.input[0] == "x":
            start = onnx.numpy_helper.to_array(next(i for i in tiled.model.graph.initializer
                                                    if i.name == node.input[1]))
            for init in tiled.model.graph.initializer:
                if init.name == node.input[1]:
                    init.CopyFrom(onnx.numpy_helper.from_array(start - np.array([1, 0]), init.name))
                if init.name == node.input[2]:
                    end = onnx.numpy_helper.to_array(init)
                    init.CopyFrom(onnx.numpy_helper.from_array(end - np.array([1, 0]), init.name))
    graph = tiled_graph(tiled, "t")
    proof = prove_tiled(path, tiled.model, graph, plan(graph), stage_output=tiled.stage_output)
    assert not proof.ok


def run(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(MEMPLAN + list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


def one_line_error(result, *needles):
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    for n in needles:
        assert n in lines[0], lines[0]


def test_cli_tile_and_errors(tmp_path):
    src = str(tmp_path / "net.onnx")
    onnx.save(branchy_net(), src)
    out = tmp_path / "tiled.onnx"
    r = run("tile", src, "--grid", "2x2", "--until", "res", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "MACs" in r.stdout and out.exists()
    x = input_of(branchy_net())
    np.testing.assert_allclose(ort_run(onnx.load(str(out)), x)[0], ort_run(branchy_net(), x)[0], rtol=1e-5, atol=1e-5)
    bad = tmp_path / "bad.onnx"
    one_line_error(run("tile", src, "--grid", "2x2", "--until", "nope", "-o", str(bad)), "nope")
    one_line_error(run("tile", src, "--grid", "2x2", "--until", "r1", "-o", str(bad)), "r1")
    one_line_error(run("tile", src, "--grid", "2y2", "--until", "res", "-o", str(bad)), "--grid")
    one_line_error(run("tile", src, "--grid", "99x1", "--until", "res", "-o", str(bad)), "99x1")
    one_line_error(run("tile", src, "--grid", "2x2", "-o", str(bad)), "--until")
    one_line_error(run("plan", src, "--tile", "auto", "--max-overhead", "-1"), "--max-overhead")
    assert not bad.exists()


def test_cli_plan_and_verify_tile_auto(tmp_path):
    src = str(tmp_path / "net.onnx")
    onnx.save(branchy_net((1, 4, 48, 48)), src)
    r = run("plan", src, "--tile", "auto", "--max-overhead", "0.5")
    assert r.returncode == 0, r.stderr
    assert "arena tiled" in r.stdout and "copies" in r.stdout
    r = run("verify", src, "--tile", "auto", "--max-overhead", "0.5", "--random-weights")
    assert r.returncode == 0, r.stderr
    assert "arena tiled" in r.stdout


def test_cli_verify_tile_auto_without_a_tiling_proves_the_untiled_plan(tmp_path):
    n = Net((1, 3, 16, 16))  # a global pool first: no stage to tile
    src = str(tmp_path / "gap.onnx")
    onnx.save(n.model([n.op("GlobalAveragePool", ["x"], name="gap")]), src)
    r = run("verify", src, "--tile", "auto")
    assert r.returncode == 0, r.stderr
    assert "no tiling lowers the arena" in r.stdout and "match" in r.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", ["squeezenet", "resnet50"])
def test_zoo_tiles_and_verifies(name, tmp_path):
    from memplan.tiling.prove import prove_tiled
    from memplan.verify.reference import randomize_weights
    from memplan.graph.zoo import zoo_path

    path = randomize_weights(zoo_path(name), str(tmp_path / "r.onnx"), seed=0)
    outcome = search(onnx.load(path), source=name)
    assert outcome.tiled is not None and outcome.overhead <= 0.15
    assert outcome.plan.arena_bytes * 1.9 < outcome.base_plan.arena_bytes
    proof = prove_tiled(path, outcome.tiled.model, outcome.graph, outcome.plan,
                        stage_output=outcome.tiled.stage_output)
    assert proof.ok, proof.first_failure
