import dataclasses

import numpy as np
import pytest
from hypothesis import given, strategies as st

import memplan
from memplan.errors import PlanError
from memplan.memory_model import Sharing
from memplan.planner import plan
from memplan.formats.plan_json import plan_to_dict, write_plan
from memplan.formats.plan_file import read_plan
from memplan.verify.check import check_plan
from memplan.graph.zoo import MODELS

from helpers import chain_model, random_graph, save

# Ground truth: the largest live total in file order without sharing (fp32, graph input in
# the arena).
FILE_ORDER_LB = {"resnet50": 9633792, "shufflenet": 3110912, "squeezenet": 6308352,
                 "inception_v1": 6422528, "inception_v2": 6422528, "densenet121": 8429568}


@pytest.mark.parametrize("name", list(MODELS))
def test_every_zoo_model_plans_and_validates(name):
    g = memplan.load(f"zoo:{name}")
    for algorithm in ("naive", "greedy_by_size"):
        p = plan(g, algorithm=algorithm, order="file", sharing=Sharing.off())
        assert check_plan(g, p) == []
        assert p.lower_bound_bytes <= p.arena_bytes <= p.naive_bytes
    if name in FILE_ORDER_LB:
        assert p.lower_bound_bytes == FILE_ORDER_LB[name]


def test_chain_reuses_memory(tmp_path):
    g = memplan.load(save(chain_model(), tmp_path / "m.onnx"))
    p = plan(g, sharing=Sharing.off(), algorithm="tflm_greedy")  # TVM greedy_by_size never fills a gap below
    size = 8 * 16 * 16 * 4
    assert p.lower_bound_bytes == 2 * size
    assert p.arena_bytes == 2 * size
    assert p.naive_bytes == 4 * size
    shared = plan(g)  # Sigmoid overwrites Relu's output: t0 and t1 are one buffer
    assert shared.naive_bytes == 4 * size and shared.lower_bound_bytes == 2 * size  # naive: no sharing
    assert shared.sharing_only_bytes == 3 * size == plan(g, algorithm="naive").arena_bytes


def test_weights_blob_is_contiguous_and_aligned():
    g = memplan.load("zoo:squeezenet")
    p = plan(g, alignment=64)
    offsets = [w.offset for w in p.weights]
    assert offsets == sorted(offsets)
    assert all(o % 64 == 0 for o in offsets)
    assert p.weights_bytes == p.weights[-1].offset + p.weights[-1].size
    assert [w.name for w in p.weights] == list(g.weights)


@pytest.mark.parametrize("alignment", [1, 16, 256])
def test_alignment(alignment):
    g = memplan.load("zoo:inception_v1")
    p = plan(g, alignment=alignment)
    assert all(b.offset % alignment == 0 for b in p.buffers)


def test_bad_alignment():
    g = memplan.load("zoo:squeezenet")
    with pytest.raises(PlanError, match="power of two"):
        plan(g, alignment=12)


def test_unknown_algorithm_lists_choices():
    g = memplan.load("zoo:squeezenet")
    with pytest.raises(PlanError, match="greedy_by_size"):
        plan(g, algorithm="nope")


def test_validator_catches_overlap_and_lifetime_lies():
    g = memplan.load("zoo:squeezenet")
    p = plan(g)
    a, b = p.buffers[1], p.buffers[2]  # consecutive tensors: live together at one step
    moved = dataclasses.replace(p, buffers=tuple(
        dataclasses.replace(x, offset=a.offset) if x.id == b.id else x for x in p.buffers))
    assert any(f.kind == "overlap" for f in check_plan(g, moved))
    shrunk = dataclasses.replace(p, buffers=tuple(
        dataclasses.replace(x, last_step=x.first_step) if x.id == a.id else x for x in p.buffers))
    assert any(f.kind == "lifetime" for f in check_plan(g, shrunk))
    dropped = dataclasses.replace(p, buffers=p.buffers[1:])
    assert any(f.kind == "missing" for f in check_plan(g, dropped))
    outside = dataclasses.replace(p, arena_bytes=p.arena_bytes - 1)
    assert any(f.kind == "capacity" for f in check_plan(g, outside))


def test_lifetime_bug_is_caught_even_if_buffers_agree():
    """The validator recomputes liveness from the order: a planner that shortened a tensor's
    life (and placed a neighbour over it) is caught, though its own buffers look consistent."""
    g = memplan.load("zoo:squeezenet")
    p = plan(g)
    first = p.buffers[0]  # the graph input, read at step 0
    lie = dataclasses.replace(first, last_step=0)
    second = p.buffers[1]
    fake = tuple(lie if x.id == first.id else dataclasses.replace(x, offset=first.offset) if x.id == second.id
                 else x for x in p.buffers)
    findings = check_plan(g, dataclasses.replace(p, buffers=fake))
    assert findings


def test_plan_json_round_trip(tmp_path):
    g = memplan.load("zoo:resnet50")
    p = plan(g)
    path = tmp_path / "p.json"
    write_plan(p, str(path))
    q = read_plan(str(path))
    assert plan_to_dict(q) == plan_to_dict(p)
    d = plan_to_dict(p)
    assert d["format"] == "memplan.plan/1"
    assert d["order"][0] == g.ops[0].name
    assert {"id", "offset", "size", "first_step", "last_step", "tensors"} <= set(d["buffers"][0])
    assert check_plan(g, q) == []


@given(seed=st.integers(0, 10_000), n=st.integers(1, 25), io=st.booleans())
def test_random_dags_plan_validly(seed, n, io):
    g = random_graph(np.random.default_rng(seed), n)
    for algorithm in ("naive", "greedy_by_size"):
        p = plan(g, algorithm=algorithm, io_in_arena=io)
        assert check_plan(g, p) == []
        assert p.lower_bound_bytes <= p.arena_bytes <= p.naive_bytes


def test_validator_rejects_a_plan_made_for_another_model():
    other = plan(memplan.load("zoo:squeezenet"))
    g = memplan.load("zoo:alexnet")
    findings = check_plan(g, other)
    assert [f.kind for f in findings] == ["order"]
    assert "does not match the graph" in findings[0].message
