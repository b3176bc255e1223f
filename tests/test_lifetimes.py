import numpy as np

from memplan.lifetimes import buffers, tensor_intervals
from memplan.graph.onnx import load
from memplan.order.schedule import Schedule, file_order

from helpers import branch_model, chain_model, random_graph, save


def test_chain_intervals(tmp_path):
    g = load(save(chain_model(), tmp_path / "m.onnx"))
    spans = tensor_intervals(g, file_order(g))
    # x read at step 0; t0 made at 0, read at 1; t1 made at 1, read at 2; y made at 2, output.
    assert spans == {"x": (0, 0), "t0": (0, 1), "t1": (1, 2), "y": (2, 2)}


def test_inputs_and_outputs_can_live_outside(tmp_path):
    g = load(save(chain_model(), tmp_path / "m.onnx"))
    spans = tensor_intervals(g, file_order(g), io_in_arena=False)
    assert set(spans) == {"t0", "t1"}


def test_branch_intervals_follow_the_order(tmp_path):
    g = load(save(branch_model(), tmp_path / "b.onnx"))
    names = [op.name for op in g.ops]
    order = Schedule(tuple(names.index(n) for n in ["n1", "n2a", "n2b", "n3b", "n3a", "n4"]), "manual")
    spans = tensor_intervals(g, order)
    assert spans["L"] == (0, 2)
    assert spans["S"] == (3, 5)
    assert spans["M"] == (4, 5)
    assert spans["y"] == (5, 5)


def test_graph_output_lives_to_the_end():
    rng = np.random.default_rng(3)
    g = random_graph(rng, 10)
    sched = file_order(g)
    spans = tensor_intervals(g, sched)
    for t in g.outputs:
        assert spans[t][1] == len(g.ops) - 1


def test_one_buffer_per_tensor(tmp_path):
    g = load(save(chain_model(), tmp_path / "m.onnx"))
    bufs = buffers(g, file_order(g))
    assert [b.names for b in bufs] == [("x",), ("t0",), ("t1",), ("y",)]
    assert all(b.size == 8 * 16 * 16 * 4 for b in bufs)
