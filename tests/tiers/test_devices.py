"""Device profiles: the bundled ones load; a malformed profile fails with a clear message."""
import pytest

from memplan.tiers.devices import bundled, load_device, parse_device
from memplan.errors import InputError

GOOD_TIER = {"name": "sram", "capacity": "512KiB", "read_bandwidth": "1GB", "write_bandwidth": "1GB",
             "latency_ns": 2, "writable": True}


def profile(**tier_changes):
    tier = dict(GOOD_TIER, **tier_changes)
    tier = {k: v for k, v in tier.items() if v is not None}
    return {"name": "t", "compute_macs_per_s": 1e9, "tiers": [tier]}


@pytest.mark.parametrize("name", ["n64", "l2-2mib", "l2-4mib", "cortex-m7"])
def test_bundled_profiles_load(name):
    assert name in bundled()
    d = load_device(name)
    assert d.name == name and d.compute_macs_per_s > 0
    assert d.tiers and d.fast.writable
    assert all(t.capacity > 0 and t.read_bandwidth > 0 for t in d.tiers)


def test_bundled_capacities():
    assert load_device("n64").tier("rdram").capacity == 4 * 2**20
    assert not load_device("n64").tier("rom").writable
    assert load_device("l2-2mib").fast.capacity == 2 * 2**20
    assert load_device("l2-4mib").fast.capacity == 4 * 2**20
    assert load_device("cortex-m7").tier("sram").capacity == 512 * 1024


def test_user_file(tmp_path):
    path = tmp_path / "board.toml"
    path.write_text('name = "board"\ncompute_macs_per_s = 1e8\n[[tiers]]\nname = "sram"\ncapacity = "256KiB"\n'
                    'read_bandwidth = "400MB"\nwrite_bandwidth = "400MB"\n[[tiers]]\nname = "flash"\n'
                    'capacity = "2MiB"\nread_bandwidth = "50MB"\nwritable = false\n')
    d = load_device(str(path))
    assert [t.name for t in d.tiers] == ["sram", "flash"]
    assert d.tier("flash").write_bandwidth == 0 and d.tier("sram").capacity == 256 * 1024
    with pytest.raises(InputError, match="read-only"):
        d.tier("flash").write_seconds(10)


@pytest.mark.parametrize("changes,message", [
    ({"capacity": None}, "capacity is missing"),
    ({"capacity": "lots"}, "cannot read size 'lots'"),
    ({"capacity": -5}, "negative"),
    ({"read_bandwidth": 0}, "read_bandwidth must be a positive number"),
    ({"write_bandwidth": 0}, "writable tier needs write_bandwidth > 0"),
    ({"writable": "yes"}, "writable must be true or false"),
    ({"latency_ns": -1}, "latency_ns must be a number >= 0"),
    ({"speed": 3}, "unknown field(s) speed"),
    ({"name": None}, "needs a name"),
])
def test_bad_tier_fields(changes, message):
    with pytest.raises(InputError) as err:
        parse_device(profile(**changes), "board.toml")
    text = str(err.value)
    assert message in text and "board.toml" in text and "\n" not in text


@pytest.mark.parametrize("data,message", [
    ({"compute_macs_per_s": 1e9}, "needs at least one [[tiers]] table"),
    ({"compute_macs_per_s": 1e9, "tiers": ["x"]}, "must be a table"),
    ({"compute_macs_per_s": 0, "tiers": [GOOD_TIER]}, "compute_macs_per_s must be a positive number"),
    ({"tiers": [GOOD_TIER]}, "compute_macs_per_s must be a positive number"),
    ({"compute_macs_per_s": 1e9, "tiers": [GOOD_TIER, GOOD_TIER]}, "tier names must be unique"),
    ({"compute_macs_per_s": 1e9, "tiers": [dict(GOOD_TIER, writable=False, write_bandwidth=0)]},
     "at least one writable tier"),
    ({"compute_macs_per_s": 1e9, "tiers": [GOOD_TIER], "compute": 3}, "unknown field(s) compute"),
])
def test_bad_profiles(data, message):
    with pytest.raises(InputError, match=None) as err:
        parse_device(data, "board.toml")
    assert message in str(err.value)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(InputError, match="unknown device 'gameboy'.*bundled devices: cortex-m7"):
        load_device("gameboy")
    bad = tmp_path / "bad.toml"
    bad.write_text("tiers = [[[")
    with pytest.raises(InputError, match="not valid TOML"):
        load_device(str(bad))
