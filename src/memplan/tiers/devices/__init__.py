"""Device profiles: memory tiers (fastest first) and a compute rate, from small TOML files.

Format (sizes and bandwidths accept ``4MiB``/``562MB`` strings or plain numbers; bandwidths
are bytes per second)::

    name = "n64"
    description = "..."
    compute_macs_per_s = 93.75e6        # fp32 (and every non-int8 op) multiply-adds per second
    compute_macs_per_s_int8 = 250e6     # optional: ops writing int8/uint8; default the fp32 rate
    [[tiers]]                  # fastest first
    name = "rdram"
    capacity = "4MiB"
    read_bandwidth = "562MB"   # bytes/s
    write_bandwidth = "562MB"  # bytes/s; 0 for read-only
    latency_ns = 640           # per transfer
    writable = true
    addressable = true         # optional (default true): the compute can read it directly, so
                               # weights stored here may be read in place

Time estimates use ``Device.macs_per_s(dtype)``: the int8 rate for an op whose output is int8
or uint8 (a folded QDQ graph, or the ``--dtype int8`` what-if), the fp32 rate otherwise. Int8
kernels are usually faster than fp32 ones on the same core (SIMD lanes hold four int8 values
where they hold one fp32): e.g. a Cortex-M7 with CMSIS-NN does ~2 int8 MACs per cycle with
its dual 16-bit multiply-accumulate (``SMLAD``), against ~1 fp32 MAC per cycle on its FPU.

Bundled: ``n64``, ``l2-2mib``, ``l2-4mib``, ``cortex-m7``; or pass a path to your own file.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass

from ...errors import InputError
from ...limits import MAX_VALUE
from ...units import parse_size

HERE = os.path.dirname(__file__)


@dataclass(frozen=True)
class Tier:
    name: str
    capacity: int
    read_bandwidth: float  # bytes/s
    write_bandwidth: float  # bytes/s
    latency_s: float
    writable: bool
    addressable: bool = True  # the compute reads it directly (execute in place)

    def read_seconds(self, nbytes: int) -> float:
        return self.latency_s + nbytes / self.read_bandwidth if nbytes else 0.0

    def write_seconds(self, nbytes: int) -> float:
        if not nbytes:
            return 0.0
        if not self.writable or self.write_bandwidth <= 0:
            raise InputError(f"tier {self.name!r} is read-only")
        return self.latency_s + nbytes / self.write_bandwidth


@dataclass(frozen=True)
class Device:
    name: str
    description: str
    tiers: tuple[Tier, ...]  # fastest first
    compute_macs_per_s: float
    source: str = ""
    compute_macs_per_s_int8: float | None = None  # None: the fp32 rate

    def macs_per_s(self, dtype: str = "float32") -> float:
        """Compute rate for an op producing ``dtype`` (int8/uint8 use the int8 rate)."""
        if dtype in ("int8", "uint8") and self.compute_macs_per_s_int8:
            return self.compute_macs_per_s_int8
        return self.compute_macs_per_s

    def tier(self, name: str) -> Tier:
        for t in self.tiers:
            if t.name == name:
                return t
        raise InputError(f"device {self.name!r} has no tier {name!r} (tiers: {', '.join(t.name for t in self.tiers)})")

    @property
    def fast(self) -> Tier:
        return self.tiers[0]


def bundled() -> list[str]:
    return sorted(f[:-5] for f in os.listdir(HERE) if f.endswith(".toml"))


def load_device(spec: str) -> Device:
    """A bundled profile by name, or a TOML file by path."""
    path = spec if (os.sep in spec or spec.endswith(".toml")) else os.path.join(HERE, f"{spec}.toml")
    if not os.path.exists(path):
        raise InputError(f"unknown device {spec!r}: no such file; bundled devices: {', '.join(bundled())}")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file, so not a device TOML") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_device(data, path)


def parse_device(data: dict, source: str = "<device>") -> Device:
    where = f"{source}"
    unknown = set(data) - {"name", "description", "compute_macs_per_s", "compute_macs_per_s_int8", "tiers"}
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))} "
                         f"(known: name, description, compute_macs_per_s, compute_macs_per_s_int8, [[tiers]])")
    tiers_data = data.get("tiers")
    if not isinstance(tiers_data, list) or not tiers_data:
        raise InputError(f"{where}: needs at least one [[tiers]] table")
    tiers = tuple(_tier(t, f"{where}: tier {k}") for k, t in enumerate(tiers_data))
    names = [t.name for t in tiers]
    if len(set(names)) != len(names):
        raise InputError(f"{where}: tier names must be unique, got {names}")
    if not any(t.writable for t in tiers):
        raise InputError(f"{where}: needs at least one writable tier for activations")
    rate = _positive(data.get("compute_macs_per_s"), f"{where}: compute_macs_per_s")
    rate8 = data.get("compute_macs_per_s_int8")
    if rate8 is not None:
        rate8 = _positive(rate8, f"{where}: compute_macs_per_s_int8")
    return Device(str(data.get("name") or os.path.basename(source).removesuffix(".toml")),
                  str(data.get("description", "")), tiers, rate, source, rate8)


def _tier(t, where: str) -> Tier:
    if not isinstance(t, dict):
        raise InputError(f"{where}: must be a table")
    unknown = set(t) - {"name", "capacity", "read_bandwidth", "write_bandwidth", "latency_ns", "writable",
                        "addressable"}
    if unknown:
        raise InputError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    name = t.get("name")
    if not isinstance(name, str) or not name:
        raise InputError(f"{where}: needs a name")
    where = f"{where.rsplit(':', 1)[0]}: tier {name!r}"
    writable, addressable = t.get("writable", True), t.get("addressable", True)
    if not isinstance(writable, bool):
        raise InputError(f"{where}: writable must be true or false")
    if not isinstance(addressable, bool):
        raise InputError(f"{where}: addressable must be true or false")
    capacity = _size(t.get("capacity"), f"{where}: capacity")
    read_bw = _positive(_size(t.get("read_bandwidth"), f"{where}: read_bandwidth"), f"{where}: read_bandwidth")
    write_bw = float(_size(t.get("write_bandwidth", 0), f"{where}: write_bandwidth"))
    if writable and write_bw <= 0:
        raise InputError(f"{where}: a writable tier needs write_bandwidth > 0")
    latency = t.get("latency_ns", 0)
    if not isinstance(latency, (int, float)) or isinstance(latency, bool) or not math.isfinite(latency) \
            or not 0 <= latency <= MAX_VALUE:
        raise InputError(f"{where}: latency_ns must be a number >= 0, got {latency!r}")
    return Tier(name, capacity, float(read_bw), write_bw, latency * 1e-9, writable, addressable)


def _size(value, where: str) -> int:
    if value is None:
        raise InputError(f"{where} is missing")
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a size, got {value}")
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"{where}: must be a finite number, got {value!r}")
        if value < 0:
            raise InputError(f"{where}: must not be negative")
        if value > MAX_VALUE:
            raise InputError(f"{where}: {value!r} is beyond memplan's limit of 2**53")
        return int(value)
    try:
        return parse_size(value)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _positive(value, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value <= 0 \
            or value > MAX_VALUE:
        raise InputError(f"{where} must be a positive number, got {value!r}")
    return float(value)
