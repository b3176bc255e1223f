"""A data-dependent If runs in its arena: the condition picks the branch, the branch runs in
the If's region and writes the If's output in place; both branches match onnxruntime."""
from dataclasses import replace

import numpy as np
import pytest

import memplan
from memplan.verify.check import check_plan
from memplan.verify.executor import run_in_arena
from memplan.verify.prove import prove

from branch_models import X_ELSE, X_THEN, if_model
from helpers import save
from ort_single import ort_model_run


@pytest.fixture(scope="module")
def if_file(tmp_path_factory):
    return save(if_model(), tmp_path_factory.mktemp("if") / "if.onnx")


@pytest.mark.parametrize("x", [X_THEN, X_ELSE], ids=["then", "else"])
@pytest.mark.parametrize("algorithm", ["naive", "greedy_by_size", "best"])
def test_both_branches_run_in_the_arena_and_match_onnxruntime(if_file, x, algorithm):
    graph = memplan.load(if_file)
    plan = memplan.plan(graph, algorithm=algorithm)
    expected = ort_model_run(if_model(), {"x": x})[0]
    run = run_in_arena(graph, plan, {"x": x})
    np.testing.assert_allclose(run.outputs["y"], expected, rtol=1e-5, atol=1e-6)
    assert prove(if_file, graph, plan, inputs={"x": x}).ok


def test_the_two_inputs_really_take_different_branches(if_file):
    graph = memplan.load(if_file)
    plan = memplan.plan(graph)
    seen = []
    run_in_arena(graph, plan, {"x": X_THEN}, observe=lambda name, _: seen.append(name))
    assert "t1" in seen and "e1" not in seen
    seen.clear()
    run_in_arena(graph, plan, {"x": X_ELSE}, observe=lambda name, _: seen.append(name))
    assert "e1" in seen and "t1" not in seen


def test_nested_data_dependent_if_runs_every_path(tmp_path):
    model = if_model(nested=True)
    path = save(model, tmp_path / "nested.onnx")
    graph = memplan.load(path)
    plan = memplan.plan(graph)
    assert "inner_if" in plan.subplans["branch"].branches["then"].subplans
    # first element positive -> inner then (Exp); a sum > 0 with a negative first element -> inner else (Neg)
    mixed = X_THEN.copy()
    mixed[0, 0] = -5.0
    for x in (X_THEN, X_ELSE, mixed):
        expected = ort_model_run(model, {"x": x})[0]
        np.testing.assert_allclose(run_in_arena(graph, plan, {"x": x}).outputs["y"], expected, rtol=1e-5, atol=1e-6)


def test_a_region_moved_onto_a_live_buffer_is_caught(if_file):
    graph = memplan.load(if_file)
    plan = memplan.plan(graph, algorithm="naive")
    region = plan.subplans["branch"].region
    live = next(b for b in plan.buffers if b.id != region and b.tensors and "r" in b.names)  # read after the If
    moved = tuple(replace(b, offset=live.offset) if b.id == region else b for b in plan.buffers)
    findings = check_plan(graph, replace(plan, buffers=moved))
    assert any(f.kind == "overlap" for f in findings), findings


def test_a_branch_plan_larger_than_its_region_is_caught(if_file):
    graph = memplan.load(if_file)
    plan = memplan.plan(graph)
    ip = plan.subplans["branch"]
    then = ip.branches["then"]
    bigger = replace(then, arena_bytes=ip.size + 64)
    bad = replace(plan, subplans={"branch": replace(ip, branches={**ip.branches, "then": bigger})})
    assert any("If 'branch', then branch: its arena" in str(f) for f in check_plan(graph, bad))


def test_a_broken_branch_plan_is_caught_and_named(if_file):
    graph = memplan.load(if_file)
    plan = memplan.plan(graph, algorithm="naive")
    ip = plan.subplans["branch"]
    then = ip.branches["then"]
    a = then.buffers[0]
    broken = replace(then, buffers=(replace(a, offset=then.arena_bytes + 16),) + then.buffers[1:])
    bad = replace(plan, subplans={"branch": replace(ip, branches={**ip.branches, "then": broken})})
    assert any(str(f).startswith("If 'branch', then branch: buffer") for f in check_plan(graph, bad))
    missing = replace(plan, subplans={})
    assert any("If 'branch' has no nested plans" in str(f) for f in check_plan(graph, missing))


@pytest.mark.parametrize("value, branch", [(0.0, "else"), (-5.0, "then")])
def test_openwakeword_if_takes_each_branch_and_matches_onnxruntime(value, branch):
    """hey_jarvis runs its verifier MLP (then) only when the first model's score is >= 0.5:
    a constant input of -5 scores 0.85, zeros score 0.0002."""
    from memplan.graph import corpus

    graph = memplan.load("corpus:kws_oww_hey_jarvis")
    plan = memplan.plan(graph)
    x = np.full((1, 16, 96), value, dtype=np.float32)
    seen = []
    run_in_arena(graph, plan, {"x.1": x}, observe=lambda name, _: seen.append(name))
    assert ("p2" in seen) == (branch == "then")
    assert prove(corpus.model_path("kws_oww_hey_jarvis"), graph, plan, inputs={"x.1": x}).ok


def test_corrupt_plan_of_a_model_with_an_if_fails():
    """--corrupt must not clobber a tensor read only by the If: the untaken branch hides it."""
    from memplan.graph import corpus
    from memplan.verify.executor import corrupt

    graph = memplan.load("corpus:kws_oww_hey_jarvis")
    bad, _ = corrupt(memplan.plan(graph))
    assert not prove(corpus.model_path("kws_oww_hey_jarvis"), graph, bad, seed=0).ok
