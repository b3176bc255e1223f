"""JSON input as memplan reads it: every way a JSON file can be hostile is one ``InputError``
naming the file — bad syntax, nesting deep enough to exhaust Python's stack, integers too long
for Python to convert, and the non-standard ``NaN``/``Infinity`` constants."""
from __future__ import annotations

import json

from .errors import InputError


def loads(text: str, source: str):
    """The parsed document, or a one-line ``InputError``."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    except RecursionError:
        raise InputError(f"{source}: JSON nested too deeply to read") from None
    except _Constant as exc:
        raise InputError(f"{source}: not valid JSON: {exc.args[0]} is not a number JSON allows") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{source}: not valid JSON: {str(exc).splitlines()[0][:120]}") from None


class _Constant(Exception):
    pass


def _no_constant(name: str):
    raise _Constant(name)


def show(value) -> str:
    """``repr`` for a message, shortened for very long integers and strings."""
    text = repr(value) if not isinstance(value, int) or value.bit_length() < 200 else f"<{value.bit_length()}-bit integer>"
    return text if len(text) <= 80 else text[:77] + "..."
