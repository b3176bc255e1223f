"""Small helpers shared by the allocators."""
from __future__ import annotations

from ..units import align_up

__all__ = ["align_up"]
