"""The generated irregular networks: valid ONNX, deterministic for a seed, plannable."""
import onnx
import pytest

import memplan
from memplan.graph.generators import GENERATORS, build, load_generated, watts_strogatz, write

SMALL = {"randwire": dict(nodes=10, channels=8, hw=16, image=32, classes=10),
         "nas_cells": dict(cells=2, nodes=3, channels=8, hw=16, image=32, classes=10),
         "unet": dict(depth=2, channels=8, hw=32, image=32, classes=4),
         "inception": dict(modules=2, channels=16, hw=16, image=32, classes=10)}


@pytest.mark.parametrize("name", list(GENERATORS))
def test_valid_and_deterministic(name, tmp_path):
    a = build(name, seed=3, **SMALL[name])
    onnx.checker.check_model(a, full_check=True)
    assert a.SerializeToString() == build(name, seed=3, **SMALL[name]).SerializeToString()
    if name in ("randwire", "nas_cells"):  # the wiring itself is random
        assert a.SerializeToString() != build(name, seed=4, **SMALL[name]).SerializeToString()
    path = write(name, str(tmp_path / "m.onnx"), seed=3, **SMALL[name])
    g = memplan.load(path)
    assert g.tensors[g.inputs[0]].shape == (1, 3, 32, 32)
    p = memplan.plan(g)
    assert p.lower_bound_bytes <= p.arena_bytes


def test_randwire_is_a_watts_strogatz_graph_with_sum_aggregation():
    import numpy as np

    edges = watts_strogatz(24, 4, 0.75, np.random.default_rng(0))
    assert len(edges) == 24 * 4 // 2 and all(a < b for a, b in edges)
    g = load_generated("randwire", nodes=24, channels=8, hw=16, image=32, seed=0)
    types = [op.op_type for op in g.ops]
    assert types.count("Sum") >= 5 and types.count("Conv") >= 2 * 24
    depthwise = [op for op in g.ops if op.op_type == "Conv" and op.attrs.get("group", 1) > 1]
    assert len(depthwise) == 24


def test_default_sizes_are_realistic():
    g = load_generated("randwire", seed=0)
    assert g.tensors[g.inputs[0]].shape == (1, 3, 224, 224)
    assert any(t.shape == (1, 32, 56, 56) for t in g.tensors.values())
    assert 100 <= len(g.ops) <= 140
    u = load_generated("unet", seed=0)
    assert sum(op.op_type == "Concat" for op in u.ops) == 4
