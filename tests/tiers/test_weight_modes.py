"""Per-weight modes: exact against brute force (bytes and time), greedy never better than
exact, mixed plans on a real model validate and beat every single mode, non-addressable
homes, the int8 compute rate, and the 'short by' message."""
import itertools

import numpy as np
import pytest

import memplan
from memplan.tiers.devices import parse_device
from memplan.errors import PlanError
from memplan.tiers.placement import place
from memplan.tiers.traffic import step_compute, step_macs
from memplan.problem import Block
from memplan.graph.quantize import with_dtype
from memplan.report.tiers import shortfall_message, summary_rows
from memplan.verify.check_tiers import check_tiered
from memplan.tiers.weight_modes import MODES, WeightItem, _Search, choose_modes, mode_blocks

from helpers import branch_model, save

N = 8


def random_case(rng, *, time_objective=False, spill=True):
    n_w, n_b = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    items = []
    for k in range(n_w):
        size = int(rng.integers(1, 6)) * 16
        steps = tuple(sorted({int(s) for s in rng.integers(0, N, size=int(rng.integers(1, 3)))}))
        copy = int(rng.integers(1, 20))
        if time_objective:
            costs = {"resident": 0, "stream": 0, "in-place": copy * len(steps)}
        else:
            moved = (n_w + 1) * size * len(steps)
            costs = {"resident": 0, "stream": moved, "in-place": moved + 1}
        if k == 0 and rng.integers(0, 2):
            costs.pop("in-place")  # this one cannot be read in place
        items.append(WeightItem(f"w{k}", size, steps, costs, copy))
    buffers, spill_costs = [], []
    for i in range(n_b):
        lo = int(rng.integers(0, N - 1))
        hi = min(lo + int(rng.integers(1, 4)), N)
        size = int(rng.integers(1, 6)) * 16
        buffers.append(Block(f"b{i}", size, lo, hi, 16))
        spill_costs.append((n_w + 1) * size * (1 + int(rng.integers(0, 3))))
    slack = [int(s) for s in rng.integers(0, 15, size=N)] if time_objective else None
    return items, buffers, (spill_costs if spill else None), slack


def brute_force(items, buffers, spill_costs, capacity, slack):
    search = _Search(tuple(items), tuple(buffers), spill_costs, capacity, N, 16, slack, "greedy_by_size")
    spill_sets = [frozenset(c) for k in range(len(buffers) + 1) for c in itertools.combinations(range(len(buffers)), k)]
    if spill_costs is None:
        spill_sets = [frozenset()]
    best = None
    for modes in itertools.product(*[list(w.costs) for w in items]):
        for spilled in spill_sets:
            cost = search.cost(modes, spilled)
            if (best is None or cost < best) and search.evaluate(modes, spilled) <= capacity:
                best = cost
    return best


def capacity_for(rng, items, buffers, slack):
    search = _Search(tuple(items), tuple(buffers), None, 0, N, 16, slack, "greedy_by_size")
    least = search.least_ram()[0]
    low = search.evaluate(least, frozenset())
    high = search.evaluate(tuple("resident" for _ in items), frozenset())
    return int(rng.integers(low, high + 1)) if high > low else low


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("time_objective", [False, True])
def test_exact_matches_brute_force(seed, time_objective):
    rng = np.random.default_rng(seed)
    items, buffers, spill_costs, slack = random_case(rng, time_objective=time_objective, spill=seed % 2 == 0)
    capacity = capacity_for(rng, items, buffers, slack)
    expected = brute_force(items, buffers, spill_costs, capacity, slack)
    exact = choose_modes(items, buffers, spill_costs, capacity, N, slack=slack, method="exact")
    assert exact.height <= capacity
    assert exact.cost == expected
    greedy = choose_modes(items, buffers, spill_costs, capacity, N, slack=slack, method="greedy")
    assert greedy.height <= capacity and greedy.cost >= expected


def test_mode_blocks_double_buffer():
    #   step      0 1 2 3
    #   w0 @1,2   S S S       stream buffers w@1 on [0,1], w@2 on [1,2]
    #   w1        R R R R     the resident blob, every step
    items = [WeightItem("w0", 32, (1, 2), {"stream": 1}), WeightItem("w1", 20, (0,), {"resident": 0})]
    blocks = mode_blocks(items, ("stream", "resident"), 4, 16)
    assert [(b.id, b.size, b.lower, b.upper) for b in blocks] == [
        ("weights", 20, 0, 4), ("w@1", 32, 0, 2), ("w@2", 32, 1, 3)]


def test_infeasible_when_even_the_least_ram_does_not_fit():
    items = [WeightItem("w", 64, (0,), {"stream": 1, "resident": 0})]
    result = choose_modes(items, [Block("a", 64, 0, 1, 16)], None, 100, 1)
    assert result.status == "infeasible" and result.modes == ("stream",)


def toy_device(fast, *, addressable=True, slow_writable=False, int8=None):
    data = {"name": "toy", "compute_macs_per_s": 1e9, "tiers": [
        {"name": "sram", "capacity": fast, "read_bandwidth": "1GB", "write_bandwidth": "1GB"},
        {"name": "flash", "capacity": "1GiB", "read_bandwidth": "100MB", "latency_ns": 100,
         "write_bandwidth": "100MB" if slow_writable else 0, "writable": slow_writable,
         "addressable": addressable}]}
    if int8:
        data["compute_macs_per_s_int8"] = int8
    return parse_device(data)


@pytest.fixture(scope="module")
def branches(tmp_path_factory):
    path = save(branch_model(), tmp_path_factory.mktemp("m") / "branches.onnx")
    g = memplan.load(path)
    return g, memplan.plan(g)


@pytest.mark.parametrize("extra", [0, 8 * 1024, 24 * 1024, 48 * 1024])
@pytest.mark.parametrize("objective", ["bytes", "time"])
def test_auto_is_never_worse_than_a_single_mode(branches, extra, objective):
    g, p = branches
    d = toy_device(p.arena_bytes + extra)
    macs = step_macs(g, p)
    auto = place(g, p, d, objective=objective, macs=macs)
    assert check_tiered(g, auto) == [] and auto.fits
    key = (lambda t: t.bytes_moved) if objective == "bytes" else (lambda t: t.seconds)
    for mode in MODES:
        single = place(g, p, d, weights=mode, objective=objective, macs=macs)
        assert check_tiered(g, single) == []
        if single.fits:
            assert key(auto) <= key(single) * (1 + 1e-9)


def test_mixed_keeps_small_weights_resident(branches):
    g, p = branches
    # room for the activations and the two small weights (1 KiB + 2 KiB), not the 16 KiB ones
    tp = place(g, p, toy_device(p.arena_bytes + 4 * 1024))
    assert tp.weight_mode == "mixed" and check_tiered(g, tp) == []
    resident = {w for w, m in tp.weight_modes.items() if m == "resident"}
    assert resident == {"n1_w", "n3b_w"}
    totals = tp.mode_totals()
    assert totals["resident"] == (2, 3 * 1024) and sum(n for n, _ in totals.values()) == 5
    assert tp.weight_bytes_moved == g.weight_bytes - 3 * 1024
    weights_row = dict(summary_rows(tp))["weights"]
    assert "resident 3.00 KiB (2 tensors" in weights_row


def test_not_addressable_home_never_reads_in_place(branches):
    g, p = branches
    d = toy_device(p.arena_bytes + 40 * 1024, addressable=False)
    tp = place(g, p, d)
    assert "in-place" not in tp.weight_modes.values() and check_tiered(g, tp) == []
    with pytest.raises(PlanError, match="not addressable"):
        place(g, p, d, weights="in-place")


def test_int8_rate_for_int8_ops(branches):
    g, p = branches
    small = with_dtype(g, "int8")
    q = memplan.plan(small)
    macs = step_macs(small, q)
    d = toy_device(1 << 20, int8=4e9)
    assert d.macs_per_s("int8") == 4e9 and d.macs_per_s("float32") == 1e9
    assert toy_device(1 << 20).macs_per_s("int8") == 1e9  # default: the fp32 rate
    assert sum(step_compute(small, q, d, macs)) == pytest.approx(sum(macs) / 4e9)
    assert sum(step_compute(g, p, d, step_macs(g, p))) == pytest.approx(sum(step_macs(g, p)) / 1e9)


def test_short_in_ram_and_in_flash(branches):
    g, p = branches
    d = parse_device({"name": "tiny", "compute_macs_per_s": 1e9, "tiers": [
        {"name": "ram", "capacity": p.arena_bytes // 2, "read_bandwidth": "1GB", "write_bandwidth": "1GB"},
        {"name": "rom", "capacity": p.weights_bytes - 1000, "read_bandwidth": "5MB", "writable": False}]})
    tp = place(g, p, d)
    assert not tp.fits and check_tiered(g, tp) == []
    assert dict(tp.shortfalls)["rom"] == 1000
    text = shortfall_message(tp)
    assert text.startswith("ram short by") and "even reading every weight in place from rom" in text
    assert "rom short by 1000 B (1,000 bytes) for the weights" in text


@pytest.mark.parametrize("field,value,message", [
    ("compute_macs_per_s_int8", 0, "compute_macs_per_s_int8 must be a positive number"),
    ("addressable", "yes", "addressable must be true or false"),
])
def test_device_fields(field, value, message):
    from memplan.errors import InputError

    data = {"name": "t", "compute_macs_per_s": 1e9,
            "tiers": [{"name": "sram", "capacity": "1MiB", "read_bandwidth": "1GB", "write_bandwidth": "1GB"}]}
    if field == "addressable":
        data["tiers"][0][field] = value
    else:
        data[field] = value
    with pytest.raises(InputError, match=message):
        parse_device(data)


def test_bundled_profiles_have_int8_rates():
    from memplan.tiers.devices import bundled, load_device

    for name in bundled():
        d = load_device(name)
        assert d.macs_per_s("int8") > d.macs_per_s("float32")
