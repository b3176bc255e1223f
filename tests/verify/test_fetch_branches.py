"""Weights read only in one branch of a data-dependent If are fetched only when the If takes
that branch (issue 17): the count is the taken branch's bytes, the plan's worst case the
larger branch, and the untaken branch's weights stay poisoned."""
import numpy as np
import onnx
import pytest
from branch_models import X_ELSE, X_THEN, if_model
from test_fetch import rom_device

import memplan
from memplan.graph.weight_access import analyze
from memplan.tiers.placement import place
from memplan.verify.check_tiers import check_tiered
from memplan.verify.executor import weight_values
from memplan.verify.fetch import tiered_fetcher
from memplan.verify.prove import prove

THEN_BYTES, ELSE_BYTES = 8 * 8 * 4, 8 * 4  # w_then (8 x 8 fp32), w_else (1 x 8 fp32)


def outer_weights_if(path) -> str:
    """`branch_models.if_model` with each branch's weight moved to the outer graph (read from
    the outer scope, as exporters write shared initializers): one weight per branch."""
    model = if_model()
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                model.graph.initializer.extend(attr.g.initializer)
                del attr.g.initializer[:]
    onnx.save(model, path)
    return str(path)


def _run(path, x, weights="on-demand", addressable=False):
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(1 << 20, addressable), weights=weights)
    assert check_tiered(g, tp) == []
    run_plan, fetch = tiered_fetcher(g, tp, weight_values(g))
    return prove(path, g, run_plan, fetch=fetch, inputs={"x": x}), tp, fetch


def test_branch_weights_are_branch_access(tmp_path):
    g = memplan.load(outer_weights_if(tmp_path / "if.onnx"))
    access = analyze(g)
    assert access["w_then"].kind == access["w_else"].kind == "branch"
    assert access["w_then"].branch == ("branch", "then") and access["w_else"].branch == ("branch", "else")


@pytest.mark.parametrize("x, taken", [(X_THEN, THEN_BYTES), (X_ELSE, ELSE_BYTES)], ids=["then", "else"])
def test_only_the_taken_branch_is_fetched(tmp_path, x, taken):
    proof, tp, fetch = _run(outer_weights_if(tmp_path / "if.onnx"), x)
    assert tp.weight_modes["w_then"] == tp.weight_modes["w_else"] == "on-demand"
    assert [dict(s.weights).keys() for s in tp.staging] == [{"w_then", "w_else"}]  # fetched into the If's slot
    assert fetch.branch == {"w_then": ("branch", "then"), "w_else": ("branch", "else")}
    assert proof.ok and proof.fetched == taken
    assert (fetch.worst, tp.demand_bytes[1]) == (THEN_BYTES, THEN_BYTES)  # the larger branch


def test_branch_weights_read_in_place_are_counted_too(tmp_path):
    proof, tp, _ = _run(outer_weights_if(tmp_path / "if.onnx"), X_ELSE, weights="in-place", addressable=True)
    assert tp.weight_modes["w_else"] == "in-place" and proof.ok and proof.fetched == ELSE_BYTES


def test_the_untaken_branch_weights_stay_poisoned(tmp_path):
    """A fetcher that fetches the wrong branch's weights leaves the taken one's poisoned: the
    proof fails."""
    path = outer_weights_if(tmp_path / "if.onnx")
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(1 << 20), weights="on-demand")
    run_plan, fetch = tiered_fetcher(g, tp, weight_values(g))
    fetch.branch = {w: (node, "else" if label == "then" else "then") for w, (node, label) in fetch.branch.items()}
    assert not prove(path, g, run_plan, fetch=fetch, inputs={"x": X_THEN}).ok


def test_resident_branch_weights_are_not_fetched(tmp_path):
    proof, _, fetch = _run(outer_weights_if(tmp_path / "if.onnx"), X_THEN, weights="resident")
    assert proof.ok and fetch.branch == {} and proof.fetched == 0


@pytest.mark.parametrize("value, taken", [(0.0, 0), (-5.0, 411_396)], ids=["else", "then"])
def test_openwakeword_fetches_its_verifier_only_when_it_runs(value, taken):
    """hey_jarvis reads its ten verifier weights (411,396 B) only in the then branch (a
    constant input of -5 takes it, zeros do not)."""
    from memplan.graph import corpus
    from memplan.tiers.devices import load_device

    path = corpus.model_path("kws_oww_hey_jarvis")
    g = memplan.load("corpus:kws_oww_hey_jarvis")
    p = memplan.plan(g)
    tp = place(g, p, load_device("n64"), weights="on-demand")
    run_plan, fetch = tiered_fetcher(g, tp, weight_values(g))
    x = np.full((1, 16, 96), value, dtype=np.float32)
    proof = prove(path, g, run_plan, fetch=fetch, inputs={"x.1": x})
    assert len(fetch.branch) == 10 and proof.ok and proof.fetched == taken
    assert tp.demand_bytes == (411_396 // 2, 411_396) == (fetch.expected, fetch.worst)


def test_branch_weights_land_in_the_ifs_staging_slot(tmp_path):
    """Moved onto ``r`` (live across the If, read after it), the then branch's fetched weight
    clobbers it: the run fails; the validator rejects the plan too."""
    import dataclasses

    path = outer_weights_if(tmp_path / "if.onnx")
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(1 << 20), weights="on-demand")
    (d,) = tp.staging
    r = next(b for b in p.buffers if b.id == p.buffer_of["r"])
    end_on_r = max(tp.buffer_offset[r.id] + r.size - THEN_BYTES - dict(d.weights)["w_then"], 0)  # w_then's slot
    bad = dataclasses.replace(tp, staging=(dataclasses.replace(d, offset=end_on_r),))
    assert any("overlap" in f.message for f in check_tiered(g, bad))
    run_plan, fetch = tiered_fetcher(g, bad, weight_values(g))
    assert not prove(path, g, run_plan, fetch=fetch, inputs={"x": X_THEN}).ok
