"""The order search runs a tiled model's patches patch after patch (`patch_frontier`): the
same peak as letting them interleave on a tiled net, patches never interleaved, and no
chaining where it would contradict the graph."""
from itertools import pairwise

from tiling_nets import Net

from memplan.graph.patches import patch_groups
from memplan.memory_model import Sharing
from memplan.order.heuristic import Frontier, heuristic_order, patch_frontier
from memplan.order.schedule import order_and_storage
from memplan.tiling import tile
from memplan.tiling.search import tiled_graph


def tiled_net(grid=(3, 3)):
    n = Net((1, 3, 30, 30))
    x = n.op("Relu", [n.conv("x", 3, 8, k=3, name="c1")])
    y = n.op("Relu", [n.conv(x, 8, 8, k=3, name="c2")])
    x = n.op("Add", [x, y], name="res")
    x = n.op("MaxPool", [x], name="mp", kernel_shape=[2, 2], strides=[2, 2])
    model = n.model([n.op("GlobalAveragePool", [n.conv(x, 8, 4, k=3, name="c3")], name="gap")])
    return tiled_graph(tile(model, "mp", grid), "net (tiled)")


def test_patches_run_one_after_the_other_at_the_same_peak():
    graph = tiled_net()
    model = order_and_storage(graph, "file", sharing=Sharing())[1]
    chained = heuristic_order(graph, model=model)
    free = heuristic_order(graph, model=model, chain_patches=False)
    assert chained.peak == free.peak
    step = {op: s for s, op in enumerate(chained.order)}
    spans = [(min(step[i] for i in ops), max(step[i] for i in ops)) for ops in patch_groups(graph).values()]
    assert len(spans) == 9 and all(a[1] < b[0] for a, b in pairwise(spans))


def test_chaining_that_would_make_a_cycle_is_dropped():
    graph = tiled_net((2, 1))
    frontier = Frontier(graph)
    groups = list(patch_groups(graph).values())
    assert patch_frontier(graph, frontier) is not frontier
    assert frontier.chained(groups[::-1] + groups[:1]) is frontier  # patch 0 both first and last
    assert frontier.chained(groups[:1]) is frontier
