"""Layer pipeline: op costs, layer grouping, the simulator against a hand-built timeline and
the closed forms, the balancing DP against brute force, validated pipeline memory plans,
the 28-layer generator, pictures and the CLI."""
import itertools
import json
import math
import os
import subprocess
import sys
import time
from dataclasses import replace

import numpy as np
import pytest
from onnx import TensorProto, helper

import memplan
from helpers import save
from memplan.graph.costs import op_cost
from memplan.tiers.devices import load_device
from memplan.errors import InputError, PlanError
from memplan.pipeline.simulate import (Layer, Pipeline, apply_overrides, build_pipeline, full_rate_depth,
                                       gpipe_bubble, group_ops, read_overrides, stats)
from memplan.pipeline.simulate import simulate
from memplan.pipeline.balance import (balance, even_split, expand, make_partition, merge_stages, one_per_layer,
                                      stage_interval, stage_memory)
from memplan.pipeline.memory import depth_table, parse_depths, plan_memory, tensor_spans
from memplan.pipeline.models import residual28

DEVICE = load_device("l2-4mib")


def chain(times, sizes=None):
    """Layers l0..l(n-1) in a chain; ``times`` are (in, compute, out); tensor t_i is l_i's output."""
    sizes = sizes or [100 * (i + 1) for i in range(len(times) + 1)]
    layers = tuple(Layer(f"l{i}", "conv", (f"l{i}",), (i - 1,) if i else (), ("x" if i == 0 else f"t{i - 1}",),
                         (f"t{i}",), 0, 0, 0, 0, *t) for i, t in enumerate(times))
    tensor_bytes = {"x": sizes[0], **{f"t{i}": sizes[i + 1] for i in range(len(times))}}
    return Pipeline("chain", layers, tensor_bytes, ("x",), (f"t{len(times) - 1}",))


def diamond():
    """a -> (b, c) -> d: a join that waits for both branches."""
    spec = [("a", (), ("x",), (2, 1, 1)), ("b", (0,), ("ta",), (1, 4, 1)), ("c", (0,), ("ta",), (1, 1, 1)),
            ("d", (1, 2), ("tb", "tc"), (1, 1, 3))]
    layers = tuple(Layer(n, "res" if n == "d" else "conv", (n,), p, ins, (f"t{n}",), 0, 0, 0, 0, *t)
                   for n, p, ins, t in spec)
    sizes = {"x": 64, "ta": 128, "tb": 256, "tc": 32, "td": 16}
    return Pipeline("diamond", layers, sizes, ("x",), ("td",))


# --- costs -------------------------------------------------------------------------------------


def conv_model(group=1, cin=8, cout=8, hw=10, k=3):
    w = helper.make_tensor("w", TensorProto.FLOAT, [cout, cin // group, k, k], np.zeros(cout * cin // group * k * k))
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", group=group, pads=[k // 2] * 4),
             helper.make_node("BatchNormalization", ["c", "s", "b", "m", "v"], ["n"], name="bn"),
             helper.make_node("Relu", ["n"], ["r"], name="relu"),
             helper.make_node("MaxPool", ["r"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Flatten", ["p"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw"], ["y"], name="fc", transB=1)]
    vec = [helper.make_tensor(n, TensorProto.FLOAT, [cout], np.ones(cout)) for n in "sbmv"]
    fw = helper.make_tensor("fw", TensorProto.FLOAT, [5, cout * (hw // 2) ** 2], np.zeros(5 * cout * (hw // 2) ** 2))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, cin, hw, hw])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 5])], [w, fw, *vec])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_op_costs_conv_groups_gemm_pool_and_views(tmp_path):
    for group in (1, 2, 8):
        g = memplan.load(save(conv_model(group=group), tmp_path / f"c{group}.onnx"))
        ops = {op.name: op for op in g.ops}
        conv = op_cost(g, ops["conv"])
        assert conv.macs == 8 * 10 * 10 * (8 // group) * 9
        assert (conv.input_bytes, conv.weight_bytes, conv.output_bytes) == (3200, 8 * (8 // group) * 9 * 4, 3200)
    assert op_cost(g, ops["bn"]).macs == 800 and op_cost(g, ops["bn"]).weight_bytes == 4 * 8 * 4
    assert op_cost(g, ops["pool"]).macs == 8 * 5 * 5 * 4
    assert op_cost(g, ops["flat"]).output_bytes == 0 and op_cost(g, ops["flat"]).macs == 0
    assert op_cost(g, ops["fc"]).macs == 5 * 200


def test_fused_layers_and_times(tmp_path):
    g = memplan.load(save(conv_model(), tmp_path / "c.onnx"))
    assert [[g.ops[i].name for i in grp] for grp in group_ops(g)] == [["conv", "bn", "relu"], ["pool", "flat"], ["fc"]]
    assert len(group_ops(g, fused=False)) == 6
    pipe = build_pipeline(g, DEVICE)
    conv = pipe.layers[0]
    assert (conv.kind, conv.inputs, conv.outputs, conv.preds) == ("conv", ("x",), ("r",), ())
    assert [l.kind for l in pipe.layers] == ["conv", "pool", "fc"]
    l2 = DEVICE.tiers[0]  # weights (a few KiB) fit the L2
    assert conv.t_in == pytest.approx(l2.read_seconds(3200) + l2.read_seconds(conv.weight_bytes))
    assert conv.t_compute == pytest.approx(conv.macs / DEVICE.compute_macs_per_s)
    assert conv.t_out == pytest.approx(l2.write_seconds(3200))
    resident = build_pipeline(g, DEVICE, weight_reads=0).layers[0]
    assert resident.t_in == pytest.approx(l2.read_seconds(3200))


def test_residual_join_is_its_own_layer():
    g = memplan.load("zoo:resnet50")
    pipe = build_pipeline(g, DEVICE)
    kinds = [l.kind for l in pipe.layers]
    assert (len(pipe.layers), kinds.count("conv"), kinds.count("res"), kinds.count("pool"), kinds.count("fc")) == \
        (72, 53, 16, 2, 1)
    assert all(len(l.preds) == 2 for l in pipe.layers if l.kind == "res")
    assert not pipe.is_chain
    assert DEVICE.tiers[-1].read_bandwidth < DEVICE.tiers[0].read_bandwidth  # 100 MB of weights live in DDR


def test_residual28_generator_has_28_layers():
    g = memplan.graph.onnx.from_model(residual28(width=8, size=32), source="r28")
    pipe = build_pipeline(g, DEVICE)
    kinds = [l.kind for l in pipe.layers]
    assert len(pipe.layers) == 28
    assert (kinds.count("conv"), kinds.count("res"), kinds.count("pool"), kinds.count("fc")) == (18, 7, 2, 1)


# --- simulator ---------------------------------------------------------------------------------

THREE = [(1, 2, 1), (1, 3, 1), (2, 1, 1)]  # II 2, 3, 2; latencies 4, 5, 4


def test_three_layer_timeline_by_hand():
    """Fed every II* = 3. Each batch follows the first one, shifted by 3::

        time  0    3    6    9    12   15   18
        l0    [0--)[1---)[2--)
        l1         [0----)[1----)[2----)
        l2                   [0--)[1---)[2---)     exits 13, 16, 19: II 3, latency 13
    """
    tl = simulate(chain(THREE), 3)
    assert tl.start.tolist() == [[0, 3, 6], [4, 7, 10], [9, 12, 15]]
    assert tl.end.tolist() == [[4, 7, 10], [9, 12, 15], [13, 16, 19]]
    assert tl.out_start.tolist() == [[3, 6, 9], [8, 11, 14], [12, 15, 18]]
    st = stats(tl)
    assert (st.interval, st.first_latency, st.steady_latency, st.makespan) == (3, 13, 13, 19)
    assert st.bottleneck == "l1" and st.utilisation[1] == pytest.approx(9 / 19)


def test_three_layer_backlog_and_depth_one():
    backlog = simulate(chain(THREE), 3, pace=0.0)
    assert backlog.start.tolist() == [[0, 2, 4], [4, 7, 10], [9, 12, 15]]  # l0 runs ahead, latency grows
    assert (backlog.exit - backlog.entry).tolist() == [13, 14, 15]
    st = stats(backlog)
    assert st.interval == st.closed_interval == 3 and st.closed_makespan is None
    one = simulate(chain(THREE), 3, depth=1)
    assert one.start[0].tolist() == [0, 13, 26] and stats(one).interval == 13


def test_closed_forms_on_random_chains():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, batches = int(rng.integers(1, 9)), int(rng.integers(2, 60))
        pipe = chain([tuple(rng.uniform(0.1, 3.0, 3)) for _ in range(n)])
        star, total = max(l.interval for l in pipe.layers), sum(l.latency for l in pipe.layers)
        st = stats(simulate(pipe, batches))
        assert st.interval == pytest.approx(star) and st.closed_interval == pytest.approx(star)
        assert st.first_latency == pytest.approx(total) and st.steady_latency == pytest.approx(total)
        assert st.makespan == pytest.approx((batches - 1) * star + total) == pytest.approx(st.closed_makespan)
        for depth in (1, 2, 3, 5):
            st = stats(simulate(pipe, 8 * depth + 8, depth=depth))
            assert st.interval == pytest.approx(max(star, total / depth)) == pytest.approx(st.closed_interval)
            assert st.steady_latency == pytest.approx(total)


def test_gpipe_bubble_for_equal_layers():
    for k, batches in ((4, 8), (6, 1), (3, 100)):
        st = stats(simulate(chain([(0, 1, 0)] * k), batches))
        assert st.bubble == pytest.approx(gpipe_bubble(k, batches)) == pytest.approx((k - 1) / (batches + k - 1))


def test_join_waits_for_both_branches_and_dag_closed_forms():
    pipe = diamond()  # latencies a 4, b 6, c 3, d 5: critical path a-b-d = 15; II* = 4 (b)
    tl = simulate(pipe, 10)
    assert tl.start[3, 0] == tl.end[1, 0] == 10 and tl.end[2, 0] == 7
    assert pipe.critical_path == 15 and full_rate_depth(pipe) == 4
    st = stats(tl)
    assert (st.interval, st.first_latency, st.steady_latency) == (4, 15, 15)
    assert np.allclose(tl.start - tl.start[:, :1], 4 * np.arange(10))  # one timeline, shifted
    assert stats(simulate(pipe, 30, depth=2)).interval == pytest.approx(7.5)


def test_simulating_1000_batches_through_100_layers_is_fast():
    pipe = chain([(0.1, 0.2 + (i % 7) * 0.01, 0.1) for i in range(100)])
    start = time.perf_counter()
    st = stats(simulate(pipe, 1000))
    assert time.perf_counter() - start < 2.0
    assert st.interval == pytest.approx(0.26)


def test_bad_simulation_arguments():
    with pytest.raises(PlanError, match="batches"):
        simulate(chain(THREE), 0)
    with pytest.raises(PlanError, match="depth"):
        simulate(chain(THREE), 3, depth=0)


# --- overrides ----------------------------------------------------------------------------------


def test_cost_overrides_from_csv(tmp_path):
    path = tmp_path / "costs.csv"
    path.write_text("layer,in,compute,out\nl1,,0.5,\nl2,4,4,4\n")
    pipe = apply_overrides(chain(THREE), read_overrides(str(path)))
    assert [(l.t_in, l.t_compute, l.t_out) for l in pipe.layers] == [(1, 2, 1), (1, 0.5, 1), (4, 4, 4)]
    for text, needle in (("layer,in,compute,out\nnope,1,1,1\n", "unknown layer 'nope'"),
                         ("layer,in,compute,out\nl1,x,1,1\n", "not a number"),
                         ("layer,in,compute,out\nl1,-1,1,1\n", ">= 0"),
                         ("name,a,b\n", "header"), ("layer,in,compute,out\nl1,1\n", "4 cells")):
        path.write_text(text)
        with pytest.raises(InputError, match=needle):
            apply_overrides(chain(THREE), read_overrides(str(path)))


# --- balancing ----------------------------------------------------------------------------------


def brute_force(pipe, stages, capacity=None):
    n, best = len(pipe.layers), math.inf
    for cuts in itertools.combinations(range(1, n), stages - 1):
        bounds = list(zip((0, *cuts), (*cuts, n)))
        if capacity is not None and any(stage_memory(pipe.layers, a, b) > capacity for a, b in bounds):
            continue
        best = min(best, max(stage_interval(pipe.layers, a, b) for a, b in bounds))
    return best


def test_balance_matches_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(40):
        n = int(rng.integers(1, 9))
        pipe = chain([tuple(rng.integers(0, 10, 3).astype(float)) for _ in range(n)])
        pipe = replace(pipe, layers=tuple(replace(l, weight_bytes=int(rng.integers(0, 100)),
                                                  read_bytes=int(rng.integers(0, 50))) for l in pipe.layers))
        for k in range(1, n + 1):
            part = balance(pipe, k)
            assert part.stages == k and part.interval == pytest.approx(brute_force(pipe, k))
            assert part.interval <= even_split(pipe, k).interval + 1e-12
            capacity = int(rng.integers(50, 400))
            expected = brute_force(pipe, k, capacity)
            if math.isinf(expected):
                with pytest.raises(PlanError):
                    balance(pipe, k, capacity=capacity)
            else:
                limited = balance(pipe, k, capacity=capacity)
                assert limited.interval == pytest.approx(expected) and max(limited.memory) <= capacity


def test_balance_doc_example_and_errors():
    pipe = chain([(0, t, 0) for t in (3, 3, 1, 1, 1, 1)])
    assert even_split(pipe, 2).interval == 7
    part = balance(pipe, 2)
    assert (part.bounds, part.interval) == (((0, 2), (2, 6)), 6)
    assert one_per_layer(pipe).interval == 3
    with pytest.raises(PlanError, match="between 1 and"):
        balance(pipe, 7)


def test_stage_pipeline_simulates_with_closed_forms():
    pipe = chain([(1, t, 1) for t in (3, 1, 2, 5, 1, 1)])
    part = balance(pipe, 3)
    staged = merge_stages(pipe, part)
    assert [l.interval for l in staged.layers] == [stage_interval(pipe.layers, a, b) for a, b in part.bounds]
    st = stats(simulate(staged, 50))
    assert st.interval == pytest.approx(part.interval)
    assert st.first_latency == pytest.approx(sum(l.latency for l in pipe.layers))
    assert [len(l.ops) for l in staged.layers] == [b - a for a, b in part.bounds]


# --- memory -------------------------------------------------------------------------------------


def assert_valid(tl, mem):
    """Independent of the Problem: spans overlapping in real time never share a byte."""
    spans = tensor_spans(tl)
    offsets = mem.solution.offsets
    assert len(spans) == len(offsets)
    for i, j in itertools.combinations(range(len(spans)), 2):
        a, b = spans[i], spans[j]
        if a.lower < b.upper - 1e-12 and b.lower < a.upper - 1e-12:
            assert offsets[i] + a.size <= offsets[j] or offsets[j] + b.size <= offsets[i], (a, b)
    assert mem.arena_bytes >= mem.lower_bound


def test_depth_one_chain_needs_only_the_largest_tensor():
    sizes = [64, 512, 96, 1024, 48]
    tl = simulate(chain([(1, 2, 1)] * 4, sizes), 5, depth=1)
    mem = plan_memory(tl, alignment=1)
    assert mem.arena_bytes == mem.lower_bound == 1024
    assert_valid(tl, mem)


@pytest.mark.parametrize("algorithm", ["greedy_by_size", "best_fit", "tflm_greedy"])
def test_every_pipelined_plan_is_valid(algorithm):
    for pipe in (chain(THREE), diamond()):
        for depth in (1, 2, 3, None):
            tl = simulate(pipe, 7, depth=depth)
            assert_valid(tl, plan_memory(tl, algorithm=algorithm))


def test_depth_table_throughput_rises_and_memory_follows():
    pipe = diamond()
    rows = depth_table(pipe, [1, 2, 4, 6], alignment=1)
    assert [r.interval for r in rows] == pytest.approx([15, 7.5, 4, 4])
    assert all(r.latency == pytest.approx(15) for r in rows)
    assert rows[0].arena_bytes < rows[-1].arena_bytes
    assert all(r.arena_bytes >= r.lower_bound for r in rows)


def test_stage_memory_uses_the_layer_timeline_inside_stages():
    pipe = chain([(1, 2, 1)] * 6, [64, 512, 96, 1024, 48, 16, 8])
    part = make_partition(pipe, [(0, 3), (3, 6)], method="test")
    tl = expand(simulate(merge_stages(pipe, part), 6, depth=2), pipe, part)
    assert tl.start[:, 0].tolist() == [0, 4, 8, 12, 16, 20]
    assert_valid(tl, plan_memory(tl))
    rows = depth_table(pipe, [1], partition=part, alignment=1)
    assert rows[0].arena_bytes == 1024


def test_parse_depths():
    pipe = diamond()
    assert parse_depths("1..3,auto", pipe) == [1, 2, 3, 4]
    assert parse_depths("none", pipe) == []
    with pytest.raises(InputError):
        parse_depths("3..1", pipe)


# --- pictures and CLI -----------------------------------------------------------------------------


def test_heatmap_cells_hold_the_batch_ids():
    from memplan.report.pipeline_pictures import occupancy

    batch, share = occupancy(simulate(chain(THREE), 3), 3.0, 7)
    assert batch[0].tolist() == [0, 1, 2, 2, -1, -1, -1]
    assert batch[2].tolist() == [-1, -1, -1, 0, 1, 2, 2]
    assert share[2].tolist() == pytest.approx([0, 0, 0, 1, 1, 1, 1 / 3])


MEMPLAN = [sys.executable, "-m", "memplan.cli"]


def run(*args):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run(MEMPLAN + list(args), capture_output=True, text=True, env=env, timeout=300)


def test_cli_pipeline_end_to_end(tmp_path):
    model = str(tmp_path / "r28.onnx")
    from memplan.pipeline.models import write_residual28

    write_residual28(model, width=8, size=32)
    files = {k: str(tmp_path / f"{k}.{ext}") for k, ext in
             (("heatmap", "png"), ("gantt", "svg"), ("memory-plot", "png"), ("json", "json"))}
    r = run("pipeline", model, "--batches", "200", "--stages", "6", "--stage-memory", "1MiB", "--depths", "1..3",
            *itertools.chain.from_iterable((f"--{k}", v) for k, v in files.items()))
    assert r.returncode == 0, r.stderr
    assert "initiation interval" in r.stdout and "balanced (DP)" in r.stdout and "even split" in r.stdout
    data = json.loads(open(files["json"]).read())
    assert data["format"] == "memplan.pipeline.simulate/1" and len(data["layers"]) == 6
    assert [m["depth"] for m in data["memory"]] == [1, 2, 3]
    assert data["simulation"]["interval"] == pytest.approx(data["simulation"]["closed_interval"])
    assert open(files["heatmap"], "rb").read(4) == b"\x89PNG" and "<svg" in open(files["gantt"]).read(2000)


def test_cli_pipeline_errors_are_one_line(tmp_path):
    costs = tmp_path / "c.csv"
    costs.write_text("layer,in,compute,out\nnot_a_layer,1,1,1\n")
    for args, needle in ((["--costs", str(costs)], "not_a_layer"), (["--stage-memory", "1MiB"], "--stages"),
                         (["--stages", "0"], "--stages"), (["--heatmap", "x.gif"], ".png or .svg"),
                         (["--device", "nope"], "unknown device")):
        r = run("pipeline", "zoo:squeezenet", "--depths", "none", *args)
        assert r.returncode == 2, r.stdout
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr


def test_int8_layers_use_the_int8_compute_rate():
    from memplan.graph.quantize import with_dtype

    graph = with_dtype(memplan.load("zoo:squeezenet"), "int8")
    device = load_device("cortex-m7")
    fast = build_pipeline(graph, device)
    slow = build_pipeline(graph, replace(device, compute_macs_per_s_int8=None))
    ratio = device.compute_macs_per_s_int8 / device.compute_macs_per_s
    for a, b in zip(fast.layers, slow.layers):
        assert a.t_compute == pytest.approx(b.t_compute / ratio)
