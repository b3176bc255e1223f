"""Small helpers shared by the allocators."""
from __future__ import annotations


def align_up(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment if alignment > 1 else value
