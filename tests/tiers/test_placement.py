"""Tiered placement: minimal spilling (against brute force), weight streaming, per-tier
validation, and the 'does not fit, by how much' answer."""
import dataclasses
import itertools

import numpy as np
import pytest

import memplan
from memplan.tiers.devices import load_device, parse_device
from memplan.errors import PlanError
from memplan.tiers.placement import place
from memplan.tiers.traffic import spill_cost
from memplan.tiers.spills import choose_spills, pack_kept
from memplan.problem import Block
from memplan.verify.check_tiers import check_tiered

from helpers import branch_model, chain_model, save


def device(fast_capacity, *, slow_writable=True, name="toy"):
    return parse_device({
        "name": name, "compute_macs_per_s": 1e9,
        "tiers": [
            {"name": "sram", "capacity": fast_capacity, "read_bandwidth": "1GB", "write_bandwidth": "1GB"},
            {"name": "dram", "capacity": "1GiB", "read_bandwidth": "100MB",
             "write_bandwidth": "100MB" if slow_writable else 0, "latency_ns": 100, "writable": slow_writable},
        ]})


def random_case(rng, n):
    blocks, costs = [], []
    for i in range(n):
        lo = int(rng.integers(0, 8))
        hi = lo + int(rng.integers(1, 5))
        size = int(rng.integers(1, 9)) * 16
        blocks.append(Block(f"b{i}", size, lo, hi, 16))
        costs.append(size * (1 + int(rng.integers(0, 4))))
    return blocks, costs


def brute_force(blocks, costs, capacity, fixed=()):
    best = None
    for k in range(len(blocks) + 1):
        for spilled in itertools.combinations(range(len(blocks)), k):
            s = frozenset(spilled)
            cost = sum(costs[i] for i in s)
            if best is not None and cost >= best:
                continue
            if pack_kept(blocks, fixed, s, "greedy_by_size")[1] <= capacity:
                best = cost
    return best


@pytest.mark.parametrize("seed", range(12))
def test_spilling_is_minimal_on_small_cases(seed):
    rng = np.random.default_rng(seed)
    blocks, costs = random_case(rng, int(rng.integers(5, 10)))
    fixed = [Block("w", 32, 2, 5, 16)] if seed % 3 == 0 else []
    full = pack_kept(blocks, fixed, frozenset(), "greedy_by_size")[1]
    capacity = int(rng.integers(max(b.size for b in blocks) + 32, full + 1))
    expected = brute_force(blocks, costs, capacity, fixed)
    exact = choose_spills(blocks, fixed, costs, capacity, method="exact")
    assert exact.height <= capacity
    assert sum(costs[i] for i in exact.spilled) == expected
    greedy = choose_spills(blocks, fixed, costs, capacity, method="greedy")
    assert greedy.height <= capacity
    assert sum(costs[i] for i in greedy.spilled) >= expected


def test_spill_picks_the_cheap_buffer():
    #   step   0 1 2 3
    #   A 64   ###          read once      -> costs 128 to spill
    #   B 64     ###        read three times -> 256
    #   C 32   #######      read once      -> 64, but removes only 32 at the peak
    # capacity 128: steps 1-2 hold A+B+C = 160; spilling C (64) leaves 128 — the cheapest.
    blocks = [Block("A", 64, 0, 2, 16), Block("B", 64, 1, 3, 16), Block("C", 32, 0, 4, 16)]
    costs = [128, 256, 64]
    result = choose_spills(blocks, [], costs, 128, method="exact")
    assert result.spilled == {2} and result.status == "optimal"
    # capacity 96: A+B alone is 128, so C cannot be the one; spilling A (128) leaves B+C = 96.
    assert choose_spills(blocks, [], costs, 96, method="exact").spilled == {0}


def test_nothing_to_spill_when_it_fits():
    blocks = [Block("A", 64, 0, 2, 16)]
    assert choose_spills(blocks, [], [128], 64).spilled == frozenset()


def test_spill_cost_counts_write_and_reads():
    tier = device(1024).tiers[1]
    assert spill_cost(tier, 1000, 3, "bytes") == 4000
    assert spill_cost(tier, 1000, 3, "time") == round((4 * 100e-9 + 4 * 1000 / 100e6) * 1e9)


@pytest.fixture(scope="module")
def branches(tmp_path_factory):
    path = save(branch_model(), tmp_path_factory.mktemp("m") / "branches.onnx")
    g = memplan.load(path)
    return g, memplan.plan(g)


@pytest.mark.parametrize("weights", ["resident", "stream", "in-place", "auto"])
@pytest.mark.parametrize("fraction", [1.0, 0.75, 0.5])
def test_every_tiered_plan_validates_per_tier(branches, weights, fraction):
    g, p = branches
    extra = {"resident": p.weights_bytes, "stream": 2 * max(g.tensors[w].nbytes for w in g.weights)}
    cap = int(p.arena_bytes * fraction) + extra.get(weights, 0)
    tp = place(g, p, device(cap), weights=weights)
    assert check_tiered(g, tp) == []
    assert tp.fits
    fast = tp.tier_of("sram")
    assert fast.arena_bytes <= cap
    spilled = [b for b in p.buffers if tp.buffer_tier[b.id] == "dram"]
    if weights == "in-place":
        assert bool(spilled) == (fraction < 1.0)
    reads = {b.id: len({p.order.index(g.ops[i].name) for n in b.names for i in g.consumers.get(n, ())})
             for b in p.buffers}
    assert tp.spilled_bytes_moved == sum(b.size * (1 + reads[b.id]) for b in spilled)
    assert tp.tier_of("dram").write_bytes == sum(b.size for b in spilled)


def test_streamed_weights_never_exceed_their_buffer(branches):
    g, p = branches
    tp = place(g, p, device(p.arena_bytes * 4), weights="stream")
    assert tp.weight_mode == "stream" and tp.streams
    for s in tp.streams:
        for name, rel in s.weights:
            assert 0 <= rel and rel + g.tensors[name].nbytes <= s.size
        assert s.first_step == max(s.step - 1, 0) and s.last_step == s.step  # prefetch one step early
        assert s.offset + s.size <= tp.tier_of("sram").arena_bytes
    # the streamed bytes are every op's weights, once per use
    assert tp.weight_bytes_moved == g.weight_bytes
    # two consecutive stream buffers are live together (double buffering): never the same bytes
    by_step = {s.step: s for s in tp.streams}
    for k, s in by_step.items():
        if k + 1 in by_step:
            t = by_step[k + 1]
            assert s.offset + s.size <= t.offset or t.offset + t.size <= s.offset


def test_validator_catches_a_stream_buffer_too_small(branches):
    g, p = branches
    tp = place(g, p, device(p.arena_bytes * 4), weights="stream")
    s = tp.streams[0]
    bad = dataclasses.replace(tp, streams=(dataclasses.replace(s, size=s.size - 16),) + tp.streams[1:])
    assert any("exceeds stream buffer" in f.message for f in check_tiered(g, bad))
    late = dataclasses.replace(tp, streams=tp.streams[:1] + (dataclasses.replace(tp.streams[1], first_step=tp.streams[1].step),) + tp.streams[2:])
    assert any("prefetch" in f.message for f in check_tiered(g, late))


def test_validator_catches_overlap_in_a_tier(branches):
    g, p = branches
    tp = place(g, p, device(p.arena_bytes), weights="in-place")
    offsets = {b: 0 for b in tp.buffer_offset}
    findings = check_tiered(g, dataclasses.replace(tp, buffer_offset=offsets))
    assert any(f.kind == "overlap" and "sram" in f.message for f in findings)


def test_does_not_fit_says_by_how_much(tmp_path):
    g = memplan.load(save(chain_model(), tmp_path / "c.onnx"))
    p = memplan.plan(g)
    tp = place(g, p, device(p.arena_bytes - 100, slow_writable=False))
    assert not tp.fits and tp.shortfall == 100
    assert tp.spill_status == "infeasible"


def test_squeezenet_on_the_bundled_devices():
    g = memplan.load("zoo:squeezenet")
    p = memplan.plan(g)
    m7 = place(g, p, load_device("cortex-m7"))
    assert not m7.fits and m7.shortfall == p.arena_bytes - 512 * 1024  # SRAM is the only writable tier
    assert m7.weight_mode == "in-place"  # the least RAM: weights read from flash
    l2 = place(g, p, load_device("l2-2mib"))
    assert l2.fits and l2.spilled and check_tiered(g, l2) == []
    assert l2.tier_of("l2").arena_bytes <= 2 * 2**20


def test_bad_options(branches):
    g, p = branches
    with pytest.raises(PlanError, match="weight mode"):
        place(g, p, device(1024), weights="sometimes")
    with pytest.raises(PlanError, match="objective"):
        place(g, p, device(1024), objective="joy")


def _cli(*args):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "memplan.cli", *args], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200"), timeout=300)


def test_cli_device_fits_and_does_not_fit():
    ok = _cli("plan", "zoo:squeezenet", "--device", "n64", "--dtype", "int8")
    assert ok.returncode == 0, ok.stderr
    assert "rdram" in ok.stdout and "fits n64" in ok.stdout
    short = _cli("plan", "zoo:squeezenet", "--device", "cortex-m7")
    assert short.returncode == 3
    lines = short.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not fit cortex-m7" in lines[0] and "short by" in lines[0]


def test_cli_bad_device_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('compute_macs_per_s = 1e6\n[[tiers]]\nname = "sram"\ncapacity = "1MiB"\nread_bandwidth = 0\n')
    r = _cli("plan", "zoo:squeezenet", "--device", str(bad))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "read_bandwidth must be a positive number" in r.stderr.strip().splitlines()[0]
