"""Byte sizes as people write them: ``2MiB``, ``512 KiB``, ``1.5MB``, ``1048576``."""
from __future__ import annotations

import re

from .errors import InputError
from .limits import MAX_VALUE

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000**2, "mb": 1000**2,
          "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gib": 1024**3}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Bytes in ``text``; KB/MB/GB are decimal, KiB/MiB/GiB binary. Raises InputError."""
    if isinstance(text, int):
        if text < 0:
            raise InputError(f"size must not be negative: {text}")
        return _bounded(text, text)
    m = _PATTERN.match(str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise InputError(f"cannot read size {text!r}; write e.g. 2MiB, 512KiB, 1.5MB or 1048576")
    number = m.group(1)
    value = int(number) * _UNITS[unit] if number.isdigit() and len(number) < 40 else float(number) * _UNITS[unit]  # ints stay exact
    if value > MAX_VALUE:  # also catches inf from a few hundred digits
        raise InputError(f"size {_short(text)!r} is beyond memplan's limit of 2**53 bytes (8 PiB)")
    if value != int(value):
        raise InputError(f"size {text!r} is not a whole number of bytes")
    return int(value)


def _bounded(text, value: int) -> int:
    if value > MAX_VALUE:
        raise InputError(f"size {_short(text)!r} is beyond memplan's limit of 2**53 bytes (8 PiB)")
    return value


def _short(text) -> str:
    text = str(text) if not isinstance(text, int) or text.bit_length() < 200 else f"<{text.bit_length()}-bit number>"
    return text if len(text) <= 40 else text[:37] + "..."


def format_size(n: int) -> str:
    """Short human form with binary units: 9633792 -> '9.19 MiB'."""
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if abs(n) >= scale:
            return f"{n / scale:.2f} {unit}"
    return f"{n} B"


def align_up(value: int, alignment: int) -> int:
    """``value`` rounded up to a multiple of ``alignment`` (1 or 0: unchanged)."""
    return -(-value // alignment) * alignment if alignment > 1 else value
