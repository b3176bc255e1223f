"""The memory picture of a tiled plan shows its patches: each patch's buffers in the patch's
colour, the patches named over their steps, the stage output marked (no pixel tests: the
patch information must reach the drawing code)."""
from itertools import pairwise

import pytest
from tiling_nets import Net

from memplan.graph.patches import patch_groups, patch_of, stage_output_ops
from memplan.planner import plan
from memplan.report.patches import patch_colours, patch_layout
from memplan.report.picture import memory_figure
from memplan.tiling import tile
from memplan.tiling.search import tiled_graph


def small_net():
    n = Net((1, 3, 24, 24))
    x = n.op("Relu", [n.conv("x", 3, 8, k=3, name="c1")])
    x = n.op("Relu", [n.conv(x, 8, 8, k=3, stride=2, name="c2")])
    return n.model([n.op("GlobalAveragePool", [n.conv(x, 8, 4, k=3, name="c3")], name="gap")])


@pytest.fixture(scope="module")
def tiled():
    graph = tiled_graph(tile(small_net(), "c2", (2, 2)), "small (tiled)")
    return graph, plan(graph)


def test_patch_names():
    assert patch_of("c2__p1_0") == (1, 0) and patch_of("x__p0_1__slice3") == (0, 1)
    assert patch_of("c2") is None and patch_of("res__p1") is None


def test_layout_of_a_tiled_plan(tiled):
    graph, p = tiled
    assert list(patch_groups(graph)) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    layout = patch_layout(p, graph)
    assert layout.grid == (2, 2) and layout.patches == ((0, 0), (0, 1), (1, 0), (1, 1))
    spans = [layout.steps[q] for q in layout.patches]
    assert all(a[1] < b[0] for a, b in pairwise(spans))  # patch after patch
    owned = {q for q in layout.buffer_patch if q is not None}
    assert owned == set(layout.patches)
    (out,) = layout.stage_outputs
    (assemble,) = stage_output_ops(graph)
    assert graph.ops[assemble].outputs[0] in p.buffers[out].names
    assert patch_layout(p, None) is None  # no graph: no patches drawn


def test_untiled_plan_has_no_layout():
    from memplan.tiling.rewrite import graph_of

    graph = graph_of(small_net())
    assert patch_layout(plan(graph), graph) is None


def test_picture_draws_the_patches(tiled):
    from matplotlib.collections import PatchCollection

    graph, p = tiled
    fig = memory_figure(p, graph)
    ax = next(a for a in fig.axes if "activations" in a.get_title())
    assert "tiled: 4 patches (2x2)" in ax.get_title()
    texts = [t.get_text() for t in ax.texts]
    assert {"patch 0,0", "patch 1,1"} <= set(texts) or {"0,0", "1,1"} <= set(texts)
    assert any(t.startswith("stage output c2") for t in texts)
    layout = patch_layout(p, graph)
    colours = patch_colours(layout)
    faces = next(c for c in ax.collections if isinstance(c, PatchCollection)).get_facecolors()
    for k, q in enumerate(layout.buffer_patch):
        if q is not None:
            assert tuple(faces[k]) == pytest.approx(colours[q])
