"""Buffer sharing: views, in-place writes and concats built in place — what merges, what
must not, and (where the arena executor exists) that running inside the shared plan gives
onnxruntime's results."""
import numpy as np
import pytest

import memplan
from memplan.graph.ir import Graph, Op, Tensor
from memplan.memory_model import MemoryModel, Sharing
from memplan.lifetimes import buffers
from memplan.planner import plan
from memplan.order.schedule import Schedule, file_order
from memplan.verify.check import check_plan



def graph(specs, inputs=(("x", (8,)),), outputs=("y",), weights=()):
    """specs: (name, op_type, inputs, output, shape[, attrs])."""
    tensors = {n: Tensor(n, s, "float32", "input") for n, s in inputs}
    tensors.update({n: Tensor(n, s, "float32", "weight") for n, s in weights})
    ops = []
    for name, op_type, ins, out, shape, *attrs in specs:
        tensors[out] = Tensor(out, shape, "float32", "output" if out in outputs else "activation")
        ops.append(Op(name, op_type, tuple(ins), (out,), attrs[0] if attrs else {}))
    return Graph("g", tuple(ops), tensors, tuple(n for n, _ in inputs), tuple(outputs))


def groups(g, sharing=Sharing(), order=None):
    sched = Schedule(tuple(order), "manual") if order else file_order(g)
    return sorted(sorted(b.names) for b in buffers(g, sched, sharing=sharing))


def test_elementwise_chain_is_one_buffer_but_io_is_never_overwritten():
    #  x -> Conv -> c -> BN -> b -> Mul(w) -> m -> Relu -> r -> Conv -> y
    g = graph([("conv", "Conv", ["x"], "c", (8,)), ("bn", "BatchNormalization", ["c"], "b", (8,)),
               ("mul", "Mul", ["b", "w"], "m", (8,)), ("relu", "Relu", ["m"], "r", (8,)),
               ("out", "Relu", ["r"], "y", (8,))], weights=[("w", (1,))])
    assert groups(g) == [["b", "c", "m", "r"], ["x"], ["y"]]
    assert groups(g, Sharing.off()) == [["b"], ["c"], ["m"], ["r"], ["x"], ["y"]]
    assert groups(g, Sharing(views=True, inplace=False, concat=True)) == [["b"], ["c"], ["m"], ["r"], ["x"], ["y"]]


def test_inplace_needs_the_input_to_die_there():
    # c is read by relu and later by add: relu may not overwrite it; add may (c dies at add).
    g = graph([("conv", "Conv", ["x"], "c", (8,)), ("relu", "Relu", ["c"], "r", (8,)),
               ("add", "Add", ["r", "c"], "a", (8,)), ("out", "Conv", ["a"], "y", (8,))])
    assert groups(g) == [["a", "r"], ["c"], ["x"], ["y"]]  # relu makes r; add overwrites r
    bufs = buffers(g, file_order(g), sharing=Sharing())
    live = {name: (b.first, b.last) for b in bufs for name in b.names}
    assert live["c"] == (0, 2)


def test_order_decides_which_reader_writes_in_place():
    # c read by two unordered ops: Relu (in-place candidate) and Conv. Relu may overwrite c
    # only when the Conv has already run.
    g = graph([("conv", "Conv", ["x"], "c", (8,)), ("relu", "Relu", ["c"], "r", (8,)),
               ("other", "Conv", ["c"], "o", (8,)), ("join", "Join", ["r", "o"], "y", (1,))])
    model = MemoryModel(g, sharing=Sharing())
    relu_last = [0, 2, 1, 3]
    relu_first = [0, 1, 2, 3]
    assert model.peak(relu_last) == 4 * 17 and model.peak(relu_first) == 4 * 24
    assert ["c", "r"] in groups(g, order=relu_last)
    assert ["c", "r"] not in groups(g, order=relu_first)
    for order in (relu_last, relu_first):
        p = plan(g, schedule=Schedule(tuple(order), "manual"), algorithm="naive")
        assert check_plan(g, p) == [] and p.lower_bound_bytes == model.peak(order)


def test_broadcast_operand_is_never_overwritten():
    g = graph([("conv", "Conv", ["x"], "c", (1,)), ("conv2", "Conv", ["x"], "d", (8,)),
               ("add", "Add", ["c", "d"], "a", (8,)), ("out", "Relu", ["a"], "y", (8,))])
    assert ["a", "d"] in groups(g) and ["c"] in groups(g)


def test_views_share_and_protect_their_input():
    # v = Reshape(c) is read after relu; relu may not overwrite c (v is c's bytes).
    g = graph([("conv", "Conv", ["x"], "c", (8,)), ("view", "Reshape", ["c", "s"], "v", (2, 4)),
               ("relu", "Relu", ["c"], "r", (8,)), ("join", "Join", ["r", "v"], "y", (8,))],
              weights=[("s", (2,))])
    assert groups(g) == [["c", "v"], ["r"], ["x"], ["y"]]
    # without views v is a copy, so relu may overwrite c
    assert groups(g, Sharing(views=False)) == [["c", "r"], ["v"], ["x"], ["y"]]


def test_concat_in_place_places_slices():
    g = graph([("a", "Conv", ["x"], "ta", (1, 2, 4)), ("b", "Conv", ["x"], "tb", (1, 3, 4)),
               ("cat", "Concat", ["ta", "tb", "x3"], "c", (1, 7, 4), {"axis": 1}),
               ("out", "Conv", ["c"], "y", (8,))], inputs=(("x", (8,)), ("x3", (1, 2, 4))))
    bufs = buffers(g, file_order(g), sharing=Sharing())
    cat = next(b for b in bufs if "c" in b.names)
    assert dict(cat.tensors) == {"c": 0, "ta": 0, "tb": 32}  # the graph input x3 is copied
    assert cat.size == 7 * 4 * 4 and cat.first == 0
    assert ["ta"] in groups(g, Sharing(concat=False))


def test_concat_along_a_non_contiguous_axis_is_copied():
    g = graph([("a", "Conv", ["x"], "ta", (2, 2)), ("b", "Conv", ["x"], "tb", (2, 2)),
               ("cat", "Concat", ["ta", "tb"], "c", (2, 4), {"axis": 1}), ("out", "Conv", ["c"], "y", (8,))])
    assert groups(g) == [["c"], ["ta"], ["tb"], ["x"], ["y"]]


def test_concat_that_raises_the_peak_is_dropped():
    # DenseNet-like: building the last concat in place reserves it early, at the peak.
    g = memplan.load("zoo:densenet121")
    full = MemoryModel(g, sharing=Sharing())
    order = file_order(g).order
    fewer = full.without_hosts(order)
    assert fewer is not None and fewer.peak(order) < full.peak(order)
    assert plan(g, order="file").lower_bound_bytes == fewer.peak(order) == 7225344


def test_scheduler_cost_equals_plan_lower_bound_on_the_zoo():
    for name in ("squeezenet", "inception_v1", "resnet50"):
        g = memplan.load(f"zoo:{name}")
        p = plan(g)
        assert check_plan(g, p) == []
        assert p.order_stats["peak"] == p.lower_bound_bytes
        assert sum(len(b.tensors) for b in p.buffers) > len(p.buffers)  # something is shared


# --- the execution check: run the shared plan inside its arena, compare with onnxruntime -----
def _small_models():

    return [("randwire", dict(nodes=8, channels=4, hw=8, image=16, classes=5)),
            ("nas_cells", dict(cells=2, nodes=3, channels=4, hw=8, image=16, classes=5)),
            ("unet", dict(depth=2, channels=4, hw=16, image=16, classes=3)),
            ("inception", dict(modules=2, channels=8, hw=8, image=16, classes=5))]


@pytest.mark.parametrize("order", ["file", "heuristic", "exact"])
@pytest.mark.parametrize("name,params", _small_models())
def test_sharing_never_changes_results(tmp_path, name, params, order):
    arena_exec = pytest.importorskip("memplan.verify.executor")
    from memplan.graph.generators import write
    from memplan.verify.reference import make_inputs, reference_outputs

    path = write(name, str(tmp_path / f"{name}.onnx"), seed=1, **params)
    g = memplan.load(path)
    p = plan(g, order=order)
    assert check_plan(g, p) == []
    assert sum(len(b.tensors) for b in p.buffers) > len(p.buffers)
    inputs = make_inputs(g, seed=0)
    ours = arena_exec.run_in_arena(g, p, inputs).outputs
    ref = reference_outputs(path, inputs)
    for k, v in ref.items():
        np.testing.assert_allclose(ours[k], v, rtol=1e-4, atol=1e-5)


def test_shared_zoo_plan_runs_like_onnxruntime():
    arena_exec = pytest.importorskip("memplan.verify.executor")
    from memplan.verify.reference import make_inputs, reference_outputs
    from memplan.graph.zoo import zoo_path

    g = memplan.load("zoo:squeezenet")
    p = plan(g)
    assert any(rel for b in p.buffers for _, rel in b.tensors)  # concats built in place
    inputs = make_inputs(g, seed=0)
    ours = arena_exec.run_in_arena(g, p, inputs).outputs
    for k, v in reference_outputs(zoo_path("squeezenet"), inputs).items():
        np.testing.assert_allclose(ours[k], v, rtol=1e-4, atol=1e-6)
