"""Orders: the seed example, exact against brute force (random DAGs, trees, series-parallel
graphs, with and without sharing), properties of every scheduler, and the zoo targets."""
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import memplan
from memplan.graph.ir import Graph, Op, Tensor
from memplan.memory_model import MemoryModel, Sharing
from memplan.order.exact import cut_ops, exact_order
from memplan.planner import plan
from memplan.order.schedule import SCHEDULERS, Frontier, check_topological, order_and_storage, schedule
from memplan.verify.check import check_plan
from memplan.graph.zoo import MODELS

from helpers import random_graph


def ir_graph(specs, inputs=(("x", 1),), outputs=None):
    """specs: (name, op_type, inputs, output, size) with 1-D float32 tensors of ``size`` elements."""
    tensors = {n: Tensor(n, (s,), "float32", "input") for n, s in inputs}
    ops = []
    for name, op_type, ins, out, size in specs:
        tensors[out] = Tensor(out, (size,), "float32", "activation")
        ops.append(Op(name, op_type, tuple(ins), (out,), {"axis": 0} if op_type == "Concat" else {}))
    read = {t for op in ops for t in op.inputs}
    outputs = outputs or tuple(op.outputs[0] for op in ops if op.outputs[0] not in read)
    for t in outputs:
        tensors[t] = Tensor(t, tensors[t].shape, "float32", "output")
    return Graph("g", tuple(ops), tensors, tuple(n for n, _ in inputs), tuple(outputs))


def brute_force(model: MemoryModel, graph: Graph) -> int:
    preds = graph.predecessors()
    best = None

    def rec(order, placed):
        nonlocal best
        if len(order) == len(graph.ops):
            p = model.peak(order)
            best = p if best is None else min(best, p)
            return
        for i in range(len(graph.ops)):
            if i not in placed and preds[i] <= placed:
                order.append(i)
                placed.add(i)
                rec(order, placed)
                order.pop()
                placed.discard(i)

    rec([], set())
    return best


# --- the seed example (issue #4) -------------------------------------------------------------
# 1 makes Large; 2a -> 3a makes Medium, 2b -> 3b makes Small; 4 joins. 2a/2b outputs are tiny.
L, M, S, T = 1000, 500, 50, 5


def seed_graph():
    return ir_graph([("1", "Conv", ["x"], "L", L), ("2a", "Conv", ["L"], "a", T), ("3a", "Conv", ["a"], "M", M),
                     ("2b", "Conv", ["L"], "b", T), ("3b", "Conv", ["b"], "S", S),
                     ("4", "Join", ["M", "S"], "y", 1)])


def test_seed_example_orders():
    g = seed_graph()
    model = MemoryModel(g)
    names = [op.name for op in g.ops]
    order_a = [names.index(n) for n in ["1", "2a", "3a", "2b", "3b", "4"]]
    order_b = [names.index(n) for n in ["1", "2a", "2b", "3b", "3a", "4"]]
    assert model.peak(order_a) == 4 * (L + M + T)            # Large + Medium (+ 2b's output)
    assert model.peak(order_b) == 4 * (L + T + T)            # Large freed before Medium exists
    assert model.peak(order_b) < model.peak(order_a)
    exact = schedule(g, "exact", model=model)
    assert exact.peak == model.peak(order_b) == brute_force(model, g)
    assert exact.stats["status"] == "optimal"
    assert schedule(g, "file", model=model).peak == model.peak(order_a)
    assert schedule(g, "heuristic", model=model).peak == exact.peak


def test_seed_example_onnx_plan(tmp_path):
    from helpers import branch_model, save

    g = memplan.load(save(branch_model(), tmp_path / "b.onnx"))
    p_file = plan(g, order="file", sharing=Sharing.off())
    p_exact = plan(g, order="exact", sharing=Sharing.off())
    assert p_exact.lower_bound_bytes <= p_file.lower_bound_bytes
    assert check_plan(g, p_exact) == []
    assert p_exact.order_stats["status"] == "optimal"


# --- exact against brute force ------------------------------------------------------------------
def random_shared_graph(rng, n=7):
    """Random DAG over 1-D tensors mixing views, in-place candidates, concats and generic ops."""
    sizes = [4, 8, 16]
    specs, avail = [], [("x", 8)]
    for i in range(n):
        kind = rng.choice(["Relu", "Add", "Reshape", "Concat", "Generic", "Generic"])
        if kind == "Add":
            a = avail[int(rng.integers(len(avail)))]
            same = [t for t in avail if t[1] == a[1]]
            b = same[int(rng.integers(len(same)))]
            specs.append((f"o{i}", "Add", [a[0], b[0]], f"t{i}", a[1]))
        elif kind == "Concat":
            k = min(len(avail), 2 + int(rng.integers(2)))
            picks = [avail[j] for j in rng.choice(len(avail), size=k, replace=False)]
            specs.append((f"o{i}", "Concat", [p[0] for p in picks], f"t{i}", sum(p[1] for p in picks)))
        elif kind in ("Relu", "Reshape"):
            a = avail[int(rng.integers(len(avail)))]
            specs.append((f"o{i}", kind, [a[0]], f"t{i}", a[1]))
        else:
            k = 1 + int(rng.integers(min(2, len(avail))))
            picks = [avail[j] for j in rng.choice(len(avail), size=k, replace=False)]
            specs.append((f"o{i}", "Generic", [p[0] for p in picks], f"t{i}", int(rng.choice(sizes))))
        avail.append((f"t{i}", specs[-1][4]))
    return ir_graph(specs, inputs=(("x", 8),))


def random_tree(rng, n=8):
    """An in-tree: every op's output is read by exactly one later op (the root's is the output)."""
    specs = []
    pending = []
    for i in range(n):
        k = int(rng.integers(0, min(3, len(pending)) + 1)) if i < n - 1 else len(pending)
        ins = [pending.pop(int(rng.integers(len(pending)))) for _ in range(k)] or ["x"]
        specs.append((f"o{i}", "Generic", ins, f"t{i}", int(rng.integers(1, 40))))
        pending.append(f"t{i}")
    return ir_graph(specs)


def random_series_parallel(rng, n=8):
    """Series and parallel compositions of chains between a fork and a join."""
    specs, count = [], [0]

    def new(ins):
        i = count[0]
        count[0] += 1
        specs.append((f"o{i}", "Generic", ins, f"t{i}", int(rng.integers(1, 40))))
        return f"t{i}"

    def block(src, budget):
        if budget <= 1:
            return new([src])
        if rng.random() < 0.5:  # series
            cut = int(rng.integers(1, budget))
            return block(block(src, cut), budget - cut)
        branches = 2 + int(rng.integers(2))
        each = max(1, (budget - 1) // branches)
        ends = [block(src, each) for _ in range(branches)]
        return new(ends)

    block("x", n)
    return ir_graph(specs)


@pytest.mark.parametrize("kind", ["dag", "shared", "tree", "series_parallel"])
@pytest.mark.parametrize("seed", range(8))
def test_exact_matches_brute_force(kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "dag":
        g, sharing = random_graph(rng, 7), Sharing.off()
    elif kind == "shared":
        g, sharing = random_shared_graph(rng, 7), Sharing()
    elif kind == "tree":
        g, sharing = random_tree(rng, 8), Sharing.off()
    else:
        g, sharing = random_series_parallel(rng, 7), Sharing.off()
    model = MemoryModel(g, sharing=sharing)
    best = brute_force(model, g)
    exact = schedule(g, "exact", model=model)
    assert exact.stats["status"] == "optimal"
    assert exact.peak == best
    assert exact.peak <= schedule(g, "heuristic", model=model).peak <= schedule(g, "file", model=model).peak


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 14), shared=st.booleans(), io=st.booleans())
def test_every_order_is_topological_and_plans_validate(seed, n, shared, io):
    rng = np.random.default_rng(seed)
    g = random_shared_graph(rng, n) if shared else random_graph(rng, n)
    sharing = Sharing() if shared else Sharing.off()
    model = MemoryModel(g, sharing=sharing, io_in_arena=io)
    peaks = {}
    for method in SCHEDULERS:
        s = schedule(g, method, model=model)
        check_topological(g, s.order)
        peaks[method] = s.peak
        p = plan(g, order=method, sharing=sharing, io_in_arena=io, algorithm="naive")
        assert check_plan(g, p) == []
    assert peaks["exact"] <= peaks["heuristic"] <= peaks["file"]


def test_time_limit_returns_best_order_and_bound():
    from memplan.graph.generators import load_generated

    g = load_generated("randwire", nodes=32, seed=0, channels=8, hw=16, image=32)
    model = MemoryModel(g)
    s = exact_order(g, model=model, time_limit=0.05)
    check_topological(g, s.order)
    assert s.stats["bound"] <= s.peak == model.peak(s.order)
    assert s.stats["status"] in ("optimal", "timeout")


def test_cuts_split_chains():
    g = ir_graph([("a", "Generic", ["x"], "t0", 4), ("b", "Generic", ["t0"], "t1", 4),
                  ("c", "Generic", ["t0"], "t2", 4), ("d", "Generic", ["t1", "t2"], "t3", 4)])
    assert cut_ops(g, Frontier(g)) == [0, 3]


# --- the zoo ----------------------------------------------------------------------------------
# Minimum peaks with views and in-place writes (issue #4's measured ground truth).
MIN_PEAK = {"resnet50": 7225344, "squeezenet": 3928576, "inception_v1": 4646400, "inception_v2": 4014080,
            "densenet121": 7225344, "shufflenet": 2885120}


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_exact_is_fast_and_heuristic_matches(name):
    g = memplan.load(f"zoo:{name}")
    model = MemoryModel(g, sharing=Sharing(True, True, False))
    start = time.perf_counter()
    exact = schedule(g, "exact", model=model)
    assert time.perf_counter() - start < 5  # ~0.1-0.3 s alone; generous for a shared machine
    assert exact.stats["status"] == "optimal"
    assert schedule(g, "heuristic", model=model).peak == exact.peak
    if name in MIN_PEAK:
        assert exact.peak == MIN_PEAK[name]
    if name == "shufflenet":  # the one zoo model whose file order is not optimal without sharing
        off = MemoryModel(g)
        assert schedule(g, "file", model=off).peak == 3110912
        assert schedule(g, "exact", model=off).peak == 2885120


@pytest.mark.parametrize("name", list(MIN_PEAK))
def test_default_plan_reaches_the_minimum_peak(name):
    g = memplan.load(f"zoo:{name}")
    p = plan(g)
    assert p.lower_bound_bytes <= MIN_PEAK[name]
    sched, model = order_and_storage(g, "exact", sharing=Sharing())
    assert sched.peak == p.lower_bound_bytes


def test_the_cli_lists_every_scheduler():
    from memplan.order import ORDER_NAMES

    assert tuple(SCHEDULERS) == ORDER_NAMES
