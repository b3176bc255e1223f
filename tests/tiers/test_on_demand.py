"""On-demand weights (issue 17): a table too large for RAM fits when only the rows read are
fetched; bytes moved count what is read; exact equals brute force with on-demand items; a
model with no data-dependent reads places exactly as before."""
import itertools
import json

import pytest

import memplan
from memplan.formats.plan_json import plan_to_dict
from memplan.graph.weight_access import analyze
from memplan.problem import Block
from memplan.report.tiers import summary_rows
from memplan.tiers.devices import parse_device
from memplan.tiers.placement import place
from memplan.tiers.weight_modes import WeightItem, _Search, choose_modes, mode_blocks
from memplan.verify.check_tiers import check_tiered

from access_models import embedding_model, moe_model, save
from helpers import branch_model


def rom_device(fast):
    """A fast RAM and a ROM the compute cannot address (as the N64's cartridge)."""
    return parse_device({"name": "toy-rom", "compute_macs_per_s": 1e9, "tiers": [
        {"name": "ram", "capacity": fast, "read_bandwidth": "1GB", "write_bandwidth": "1GB"},
        {"name": "rom", "capacity": "1GiB", "read_bandwidth": "5MB", "latency_ns": 2000, "write_bandwidth": 0,
         "writable": False, "addressable": False}]})


@pytest.fixture(scope="module")
def embedding(tmp_path_factory):
    g = memplan.load(save(embedding_model(vocab=1000, width=8, tokens=16), tmp_path_factory.mktemp("m") / "e.onnx"))
    return g, memplan.plan(g)


def test_table_larger_than_ram_fits_on_demand(embedding):
    g, p = embedding
    d = rom_device(p.arena_bytes + 2048)  # the 32,000 B table fits neither resident nor streamed whole
    before = place(g, p, d, partial=False)
    after = place(g, p, d)
    assert not before.fits and after.fits and check_tiered(g, after) == []
    assert after.weight_modes["table"] == "on-demand"
    assert after.demand_bytes == (512, 512)  # 16 rows of 32 B
    assert after.weight_bytes_moved == after.weight_bytes_worst == 512
    (staging,) = after.staging
    assert (staging.first_step, staging.last_step, staging.size) == (0, 0, 512)
    assert staging.weights == (("table", 0),)
    rows = dict(summary_rows(after))
    assert "fetched on demand" in rows["weights"] and "staging buffers" in rows


def test_in_place_reads_count_only_the_rows(embedding):
    g, p = embedding
    d = parse_device({"name": "xip", "compute_macs_per_s": 1e9, "tiers": [
        {"name": "sram", "capacity": p.arena_bytes + 1024, "read_bandwidth": "1GB", "write_bandwidth": "1GB"},
        {"name": "flash", "capacity": "1GiB", "read_bandwidth": "100MB", "write_bandwidth": 0, "writable": False}]})
    tp = place(g, p, d, weights="in-place")
    assert tp.weight_bytes_moved == 512 + 128 + 16  # the rows; the 8 x 4 projection and the shape whole
    assert place(g, p, d, weights="in-place", partial=False).weight_bytes_moved == 32000 + 128 + 16


def test_experts_on_demand_moves_k_of_e(tmp_path):
    g = memplan.load(save(moe_model(tokens=1, experts=8, k=2, d=8, hidden=16), tmp_path / "moe.onnx"))
    p = memplan.plan(g)
    tp = place(g, p, rom_device(p.arena_bytes + 3000), weights="on-demand")
    assert check_tiered(g, tp) == [] and tp.fits
    assert {w: tp.weight_modes[w] for w in ("w1", "w2")} == {"w1": "on-demand", "w2": "on-demand"}
    assert tp.demand_bytes == (2 * 1024, 2 * 1024)  # 2 of 8 experts of each 4,096 B table


def test_no_data_dependent_reads_place_as_before(tmp_path):
    g = memplan.load(save(branch_model(), tmp_path / "b.onnx"))
    p = memplan.plan(g)
    for fast in (p.arena_bytes + 4096, p.arena_bytes + 64 * 1024):
        new, old = place(g, p, rom_device(fast)), place(g, p, rom_device(fast), partial=False)
        assert (new.weight_modes, new.buffer_offset, new.streams, new.bytes_moved, new.seconds) == \
               (old.weight_modes, old.buffer_offset, old.streams, old.bytes_moved, old.seconds)
        assert new.staging == () and new.demand_bytes == (0, 0)
    plain, keyed = plan_to_dict(p), plan_to_dict(p, analyze(g))
    for entry in keyed["weights"]["tensors"]:
        assert entry.pop("access") == "whole" and entry.pop("bytes_read") == {"expected": entry["size"],
                                                                               "worst": entry["size"]}
    assert json.dumps(keyed) == json.dumps(plain)


def test_exact_equals_brute_force_with_on_demand_items():
    n = 4
    items = [WeightItem("emb", 256, (0,), {"resident": 0, "stream": 5 * 256, "on-demand": 5 * 32 + 2}, staged=32),
             WeightItem("w1", 64, (1,), {"resident": 0, "stream": 5 * 64}),
             WeightItem("e", 128, (3,), {"resident": 0, "stream": 5 * 128, "on-demand": 5 * 64 + 2}, staged=64),
             WeightItem("w2", 48, (2,), {"resident": 0, "stream": 5 * 48})]
    buffers = [Block("b0", 64, 0, 2, 16), Block("b1", 96, 1, 4, 16)]
    for capacity in (200, 280, 400, 700):
        search = _Search(tuple(items), tuple(buffers), None, capacity, n, 16, None, "greedy_by_size")
        best = None
        for modes in itertools.product(*[list(w.costs) for w in items]):
            if search.evaluate(modes, frozenset()) <= capacity:
                cost = search.cost(modes, frozenset())
                best = cost if best is None else min(best, cost)
        result = choose_modes(items, buffers, None, capacity, n, method="exact")
        assert (result.cost if result.status != "infeasible" else None) == best
        if best is not None:
            blocks = {b.id: b for b in mode_blocks(items, result.modes, n, 16)}
            for k, w in enumerate(items):
                if result.modes[k] == "on-demand":  # staged at its step only
                    assert (blocks[f"d@{w.steps[0]}"].lower, blocks[f"d@{w.steps[0]}"].upper) == (w.steps[0],
                                                                                                   w.steps[0] + 1)


def test_branch_weights_on_demand_worst_is_the_larger_branch(tmp_path):
    """As if the importer kept an If: branch_model's two big convs marked as the two branches
    of one If (the mapping the control-flow import will supply)."""
    g = memplan.load(save(branch_model(), tmp_path / "b.onnx"))
    p = memplan.plan(g)
    big = sorted(g.weights, key=lambda w: -g.tensors[w].nbytes)[:2]
    branches = {big[0]: ("if0", "then"), big[1]: ("if0", "else")}
    sizes = [g.tensors[w].nbytes for w in big]
    tp = place(g, p, rom_device(1 << 20), weights="on-demand", branches=branches)
    assert check_tiered(g, tp) == [] and tp.fits
    assert {tp.weight_modes[w] for w in big} == {"on-demand"}
    assert tp.demand_bytes == (sum(s // 2 for s in sizes), max(sizes))
    staged = {w: s.size for s in tp.staging for w, _ in s.weights}
    assert all(staged[w] >= g.tensors[w].nbytes for w in big)  # the whole weight, if its branch runs
