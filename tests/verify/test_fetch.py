"""The executor fetches the weights read in part slice by slice from a weights image (issue
17): outputs match onnxruntime and the bytes fetched equal the plan's figure."""
import json

import pytest

import memplan
from memplan.errors import PlanError
from memplan.tiers.devices import parse_device
from memplan.tiers.placement import place
from memplan.verify.executor import weight_values
from memplan.verify.fetch import Fetcher, tiered_fetcher
from memplan.verify.prove import prove

from access_models import embedding_model, gather_nd_model, moe_model, save
from cli_inprocess import run_cli

ROM_DEVICE = """name = "toy-rom"
compute_macs_per_s = 1e9

[[tiers]]
name = "ram"
capacity = "{fast}"
read_bandwidth = "1GB"
write_bandwidth = "1GB"

[[tiers]]
name = "rom"
capacity = "1GiB"
read_bandwidth = "5MB"
write_bandwidth = 0
writable = false
addressable = false
"""


def rom_device(fast, addressable=False):
    return parse_device({"name": "toy-rom", "compute_macs_per_s": 1e9, "tiers": [
        {"name": "ram", "capacity": fast, "read_bandwidth": "1GB", "write_bandwidth": "1GB"},
        {"name": "rom", "capacity": "1GiB", "read_bandwidth": "5MB", "write_bandwidth": 0, "writable": False,
         "addressable": addressable}]})


def _proof(path, weights="on-demand", fast=1 << 20, addressable=False):
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(fast, addressable), weights=weights)
    run_plan, fetch = tiered_fetcher(g, tp, weight_values(g))
    return prove(path, g, run_plan, fetch=fetch), tp, fetch


def test_embedding_rows_fetched_equal_the_plan(tmp_path):
    proof, tp, fetch = _proof(save(embedding_model(vocab=1000, width=8, tokens=16), tmp_path / "e.onnx"))
    assert proof.ok and fetch.weights == {"table"}
    assert proof.fetched == tp.demand_bytes[0] == tp.demand_bytes[1] == 16 * 32


def test_top2_experts_fetched_equal_the_plan(tmp_path):
    proof, tp, fetch = _proof(save(moe_model(tokens=1, experts=8, k=2, d=8, hidden=16), tmp_path / "moe.onnx"))
    assert proof.ok and fetch.weights == {"w1", "w2"}
    assert proof.fetched == tp.demand_bytes[0] == 2 * 2 * 512  # 2 experts of each table


def test_experts_over_tokens_fetched_once_each(tmp_path):
    proof, tp, _ = _proof(save(moe_model(tokens=4, experts=8, k=2), tmp_path / "moe4.onnx"))
    assert proof.ok and proof.fetched % 1024 == 0  # whole experts of both tables, each at most once
    assert 2 * 1024 <= proof.fetched <= tp.demand_bytes[1] == 2 * 4096


def test_gather_nd_and_elements_fetched(tmp_path):
    proof, tp, _ = _proof(save(gather_nd_model(rows=64, width=4, picks=3), tmp_path / "nd.onnx"))
    assert proof.ok and proof.fetched == tp.demand_bytes[0] == 3 * 16 + 8 * 4


def test_resident_weights_fetch_nothing(tmp_path):
    proof, tp, fetch = _proof(save(embedding_model(), tmp_path / "e.onnx"), weights="resident")
    assert proof.ok and fetch.weights == set() and proof.fetched == 0 == tp.demand_bytes[0]


def test_cli_verify_prints_the_bytes_fetched(tmp_path):
    path = save(embedding_model(vocab=1000, width=8, tokens=16), tmp_path / "e.onnx")
    device = tmp_path / "toy.toml"
    device.write_text(ROM_DEVICE.format(fast="4KiB"))
    code, out, err = run_cli("verify", path, "--device", str(device))
    assert code == 0, err
    assert "fetched on demand: 512 bytes from the weights image (1 weights read in part); plan on toy-rom: " \
           "expected 512, worst 512 bytes" in " ".join(out.split())


def test_cli_plan_json_has_access_keys(tmp_path):
    path = save(moe_model(tokens=1), tmp_path / "moe.onnx")
    code, out, err = run_cli("plan", path, "--json", str(tmp_path / "p.json"))
    assert code == 0, err
    entries = {w["name"]: w for w in json.loads((tmp_path / "p.json").read_text())["weights"]["tensors"]}
    assert entries["w1"]["access"] == "expert" and entries["w1"]["bytes_read"] == {"expected": 1024, "worst": 1024}
    assert entries["router"]["access"] == "whole" and entries["router"]["bytes_read"]["worst"] == 256
    assert "weights read / inference" in out


def test_a_gather_that_skips_the_fetch_reads_poison(tmp_path):
    """The executor's own copy of a fetched weight is poisoned: reading it instead of the
    fetched rows fails the proof."""
    path = save(embedding_model(), tmp_path / "e.onnx")
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(1 << 20), weights="on-demand")
    fetch = Fetcher(g, p, tp.weight_modes, weight_values(g))
    fetch.inputs = lambda index, op, ins: ins
    assert not prove(path, g, p, fetch=fetch).ok


def test_masked_experts_plan_on_demand_and_run_whole(tmp_path):
    from access_models import masked_moe_model

    proof, tp, fetch = _proof(save(masked_moe_model(tokens=1, experts=4, k=2), tmp_path / "mm.onnx"))
    assert proof.ok and fetch.weights == set() and proof.fetched == 0
    assert fetch.unfetched == {f"w{i}_{e}" for i in (1, 2) for e in range(4)}
    assert tp.demand_bytes == (8 * 256, 2 * 1024)  # each weight: chance 1/2 of its 512 B; worst: 2 experts


def test_cli_verify_device_errors_are_one_line(tmp_path):
    path = save(embedding_model(), tmp_path / "e.onnx")
    code, out, err = run_cli("verify", path, "--device", "no-such-device")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "no-such-device" in err
    code, out, err = run_cli("verify", path, "--device", "n64", "--tile", "auto")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--tile" in err


def _misplaced_staging(g, p, tp):
    """``tp`` with its first staging buffer moved onto an activation live across its step and
    read after it (not the fetching op's own output)."""
    import dataclasses

    d = tp.staging[0]
    op = next(o for o in g.ops if o.name == p.order[d.step])
    victim = next(b for b in p.buffers if b.first_step <= d.step < b.last_step and tp.buffer_tier[b.id] == "ram"
                  and not set(b.names) & set(op.outputs))
    moved = dataclasses.replace(d, offset=tp.buffer_offset[victim.id])
    return dataclasses.replace(tp, staging=(moved,) + tp.staging[1:])


def test_rows_land_in_the_planned_staging_slot(tmp_path):
    """The fetched experts are written at the staging offset the placement chose: moved onto
    a live activation, they clobber it (the run fails) and the validator rejects the plan."""
    from memplan.verify.check_tiers import check_tiered

    path = save(moe_model(tokens=1, experts=8, k=2, d=8, hidden=16), tmp_path / "moe.onnx")
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(1 << 20), weights="on-demand")
    assert tp.staging and check_tiered(g, tp) == []
    bad = _misplaced_staging(g, p, tp)
    assert any("overlap" in f.message for f in check_tiered(g, bad))
    run_plan, fetch = tiered_fetcher(g, bad, weight_values(g))
    with pytest.raises(PlanError, match="is outside 'w2'"):  # the experts overwrote the selected indices
        prove(path, g, run_plan, fetch=fetch)
    run_plan, fetch = tiered_fetcher(g, tp, weight_values(g))
    assert prove(path, g, run_plan, fetch=fetch).ok and fetch.fetched == tp.demand_bytes[0]


def test_a_step_without_a_staging_slot_is_an_error(tmp_path):
    import dataclasses

    path = save(embedding_model(vocab=1000, width=8, tokens=16), tmp_path / "e.onnx")
    g = memplan.load(path)
    p = memplan.plan(g)
    tp = place(g, p, rom_device(1 << 20), weights="on-demand")
    run_plan, fetch = tiered_fetcher(g, dataclasses.replace(tp, staging=()), weight_values(g))
    with pytest.raises(PlanError, match="no staging slot for 'table'"):
        prove(path, g, run_plan, fetch=fetch)


def test_rows_read_in_place_need_no_staging_slot(tmp_path):
    proof, tp, fetch = _proof(save(embedding_model(vocab=1000, width=8, tokens=16), tmp_path / "e.onnx"),
                              weights="in-place", addressable=True)
    assert tp.weight_modes["table"] == "in-place" and tp.staging == ()
    assert proof.ok and fetch.weights == {"table"} and proof.fetched == tp.demand_bytes[0] == 16 * 32
