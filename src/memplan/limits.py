"""The largest numbers memplan accepts, checked where input comes in, so that no size ever
overflows later (NumPy and the compiled search use int64; pictures and times use float64).

- ``MAX_VALUE`` = 2**53 (8 PiB): any one size, offset, step, alignment or capacity. Every
  such integer is exact as a float64 too.
- ``MAX_TOTAL`` = 2**62: the sum of every size of one problem or model (so sums, naive
  arenas and padded heights stay inside int64 with room to spare), and so the largest
  offset or arena a solution or plan file may state.
"""
from __future__ import annotations

from .errors import InputError

MAX_VALUE = 2**53
MAX_TOTAL = 2**62
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1


def check_value(value: int, where: str, error=InputError) -> int:
    """``value`` itself, or a one-line error when it is beyond ``MAX_VALUE``."""
    if value > MAX_VALUE:
        raise error(f"{where}: {_show(value)} is beyond memplan's limit of 2**53 (8 PiB)")
    return value


def check_offset(value: int, where: str, error=InputError) -> int:
    """An offset or arena height: sizes of up to ``MAX_TOTAL`` bytes in all can stack that high."""
    if value > MAX_TOTAL:
        raise error(f"{where}: {_show(value)} is beyond memplan's limit of 2**62 for offsets")
    return value


def check_total(values, where: str, error=InputError) -> int:
    """The sum of ``values``, or a one-line error when it is beyond ``MAX_TOTAL``."""
    total = sum(values)
    if total > MAX_TOTAL:
        raise error(f"{where}: the sizes add up to {_show(total)} bytes, beyond memplan's limit of 2**62")
    return total


def check_width(value: int, limit: int, where: str, target: str, error=InputError) -> int:
    """``value`` itself, or a one-line error naming the target whose integers cannot hold it."""
    if value < 0 or value > limit:
        raise error(f"{where}: {_show(value)} does not fit {target} (0..{limit})")
    return value


def _show(value: int) -> str:
    return str(value) if value.bit_length() < 200 else f"a {value.bit_length()}-bit number"
