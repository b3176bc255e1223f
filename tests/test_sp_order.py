"""Series-parallel orders (Liu's hill-valley merge) against brute force, where they apply,
and the fallback where they do not; the crossing and cut bounds never above the optimum."""
import numpy as np
import pytest

from memplan.ir import Graph, Op, Tensor, topological_order
from memplan.lifetimes import MemoryModel, Sharing
from memplan.order_bounds import CrossingBound, CutBound, ancestors_descendants
from memplan.schedule import Frontier, schedule
from memplan.sp_order import SeriesParallel

from test_schedule import brute_force, random_graph, random_series_parallel, random_shared_graph


def multi_graph(specs, inputs):
    """specs: (op_type, inputs, [(output, size), ...]); 1-D float32 tensors."""
    tensors = {n: Tensor(n, (s,), "float32", "input") for n, s in inputs}
    ops = []
    for i, (op_type, ins, outs) in enumerate(specs):
        for t, size in outs:
            tensors[t] = Tensor(t, (size,), "float32", "activation")
        ops.append(Op(f"o{i}", op_type, tuple(ins), tuple(t for t, _ in outs), {}))
    read = {t for op in ops for t in op.inputs}
    outputs = tuple(t for op in ops for t in op.outputs if t not in read)
    for t in outputs:
        tensors[t] = Tensor(t, tensors[t].shape, "float32", "output")
    return Graph("g", tuple(ops), tensors, tuple(n for n, _ in inputs), outputs)


def edge_sp(rng, n):
    """A series-parallel graph whose forks write one tensor per branch (Split-like ops), so
    no tensor is read by two branches: the model Liu and Kayaaslan et al. solve."""
    specs, count = [], [0]

    def op(ins, n_out, kind="Generic"):
        outs = []
        for _ in range(n_out):
            count[0] += 1
            outs.append((f"t{count[0]}", int(rng.integers(1, 40))))
        specs.append((kind, ins, outs))
        return [t for t, _ in outs]

    def block(src, budget, n_out):
        if budget <= 2:
            return op([src], n_out)
        if rng.random() < 0.4:
            cut = int(rng.integers(1, budget))
            return block(block(src, cut, 1)[0], budget - cut, n_out)
        k = 2 + int(rng.integers(2))
        heads = op([src], k)
        each = max(1, (budget - 2) // k)
        ends = [block(h, each, 1)[0] for h in heads]
        return op(ends, n_out)

    block("x", n, 1)
    return multi_graph(specs, [("x", 8)])


def in_tree(rng, n):
    """An in-tree whose leaves read only weights (they start from nothing, as in Liu's model)."""
    specs, pending = [], []
    for i in range(n):
        k = int(rng.integers(0, min(3, len(pending)) + 1)) if i < n - 1 else len(pending)
        ins = [pending.pop(int(rng.integers(len(pending)))) for _ in range(k)]
        specs.append(("Generic", ins, [(f"t{i}", int(rng.integers(1, 40)))]))
        pending.append(f"t{i}")
    return multi_graph(specs, [("x", 1)])


def sp_for(g, model):
    f = Frontier(g)
    anc, desc = ancestors_descendants(f.pred_mask, f.succ, topological_order(g.ops))
    return SeriesParallel(model, anc, desc)


@pytest.mark.parametrize("seed", range(16))
def test_in_tree_order_is_optimal(seed):
    g = in_tree(np.random.default_rng(seed), 9)
    model = MemoryModel(g)
    order = sp_for(g, model).order((1 << len(g.ops)) - 1)
    assert order is not None and sorted(order) == list(range(len(g.ops)))
    assert model.peak(order) == brute_force(model, g)
    exact = schedule(g, "exact", model=model)
    assert exact.peak == model.peak(order) and exact.stats["status"] == "optimal"
    assert schedule(g, "heuristic", model=model).peak == exact.peak


@pytest.mark.parametrize("seed", range(16))
def test_series_parallel_is_optimal_or_falls_back(seed):
    # forks writing one tensor per branch: the parts inherit live storages, outside Liu's model
    for g, sharing in [(edge_sp(np.random.default_rng(seed), 9), Sharing.off()),
                       (random_series_parallel(np.random.default_rng(seed), 7), Sharing.off()),
                       (random_shared_graph(np.random.default_rng(seed), 7), Sharing())]:
        if len(g.ops) > 10:
            continue
        model = MemoryModel(g, sharing=sharing)
        order = sp_for(g, model).order((1 << len(g.ops)) - 1)
        assert order is None or model.peak(order) == brute_force(model, g)


def test_shared_fork_falls_back_to_search():
    g = random_series_parallel(np.random.default_rng(3), 7)
    assert sp_for(g, MemoryModel(g)).order((1 << len(g.ops)) - 1) is None


@pytest.mark.parametrize("seed", range(6))
def test_bounds_never_exceed_the_optimum(seed):
    rng = np.random.default_rng(seed)
    for g, sharing in [(random_graph(rng, 7), Sharing.off()), (random_shared_graph(rng, 7), Sharing())]:
        model = MemoryModel(g, sharing=sharing)
        f = Frontier(g)
        anc, desc = ancestors_descendants(f.pred_mask, f.succ, topological_order(g.ops))
        best = brute_force(model, g)
        crossing = CrossingBound(model, anc, desc)
        cuts = CutBound(model, f.pred_mask, 0, (1 << len(g.ops)) - 1)
        for v in range(len(g.ops)):
            assert model.op_bound(v) <= crossing.static[v] <= best
            assert cuts.at(v, 0, anc[v], desc[v]) <= best
