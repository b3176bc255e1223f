"""Proof by execution: every zoo model, run inside its planned arena with random weights,
matches onnxruntime; a corrupted plan does not."""
import subprocess
import sys

import numpy as np
import pytest

import memplan
from memplan.alloc import ALGORITHMS
from memplan.errors import PlanError
from memplan.verify.executor import corrupt, run_in_arena, weight_values
from memplan.verify.prove import prove
from memplan.verify.reference import make_inputs, randomize_weights
from memplan.graph.zoo import MODELS, zoo_path

from helpers import chain_model, save

_CACHE = {}


@pytest.fixture(scope="session")
def random_zoo(tmp_path_factory):
    """zoo name -> (path of a random-weight copy, its Graph), made once per session."""

    def get(name):
        if name not in _CACHE:
            path = randomize_weights(zoo_path(name), str(tmp_path_factory.mktemp(name) / "m.onnx"), seed=0)
            _CACHE[name] = (path, memplan.load(path))
        return _CACHE[name]

    yield get
    _CACHE.clear()


@pytest.mark.parametrize("name", list(MODELS))
def test_zoo_model_runs_in_its_arena(random_zoo, name):
    path, graph = random_zoo(name)
    plan = memplan.plan(graph)
    proof = prove(path, graph, plan, seed=1)
    assert proof.ok, proof.first_failure
    assert len(proof.intermediates) == len([t for op in graph.ops for t in op.outputs if t]) - len(graph.outputs)


HEURISTICS = [a for a in ALGORITHMS if a not in ("exact", "best")]


@pytest.mark.parametrize("algorithm", HEURISTICS)
@pytest.mark.parametrize("name", ["squeezenet", "inception_v1"])
def test_every_algorithm_runs_in_its_arena(random_zoo, name, algorithm):
    path, graph = random_zoo(name)
    proof = prove(path, graph, memplan.plan(graph, algorithm=algorithm), seed=2)
    assert proof.ok, (algorithm, proof.first_failure)


@pytest.mark.parametrize("name", ["squeezenet", "resnet50", "alexnet"])
def test_corrupted_plan_fails(random_zoo, name):
    path, graph = random_zoo(name)
    bad, _ = corrupt(memplan.plan(graph))
    proof = prove(path, graph, bad)
    assert not proof.ok


def test_io_outside_arena(random_zoo):
    path, graph = random_zoo("squeezenet")
    plan = memplan.plan(graph, io_in_arena=False)
    assert proof_ok(path, graph, plan)


def proof_ok(path, graph, plan):
    return prove(path, graph, plan).ok


def test_poison_fills_free_bytes(tmp_path):
    """Without a reference: a chain's dead tensors are poisoned, live ones kept."""
    graph = memplan.load(save(chain_model(ops=("Relu", "Relu", "Relu", "Relu")), tmp_path / "c.onnx"))
    plan = memplan.plan(graph, algorithm="naive")
    x = make_inputs(graph, 0)
    run = run_in_arena(graph, plan, x)
    np.testing.assert_allclose(run.outputs["y"], np.maximum(x["x"], 0))
    assert run.poisoned_bytes > 0


def test_weights_are_computed_from_constant_ops():
    graph = memplan.load("zoo:squeezenet")
    values = weight_values(graph)
    conv1 = values["conv1_w_0"]
    assert conv1.shape == graph.tensors["conv1_w_0"].shape
    assert np.all(conv1 == np.float32(0.02))


def test_unknown_kernel_is_a_clear_error():
    from memplan.graph.ir import Graph, Op, Tensor
    from memplan.planner import plan

    t = {"x": Tensor("x", (4,), "float32", "input"), "y": Tensor("y", (4,), "float32", "output")}
    graph = Graph("g", (Op("weird", "NoSuchOp", ("x",), ("y",)),), t, ("x",), ("y",))
    with pytest.raises(PlanError, match="weird.*NoSuchOp"):
        run_in_arena(graph, plan(graph), {"x": np.zeros(4, np.float32)})


def test_verify_command_passes_and_corrupt_fails():
    cmd = [sys.executable, "-m", "memplan.cli", "verify", "zoo:squeezenet", "--random-weights"]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr
    assert "softmaxout_1" in ok.stdout
    bad = subprocess.run(cmd + ["--corrupt"], capture_output=True, text=True, timeout=600)
    assert bad.returncode == 1
    assert "verification FAILED" in bad.stderr and "Traceback" not in bad.stderr
