"""The exact search kernel spans several modules; numba's cache only notices edits to the file
of the function it compiled, so every kernel function's cache key carries a digest of all
the kernel modules (``exact_jit``). These tests keep that list and that key honest."""
from __future__ import annotations

import importlib
import os
import re

import pytest

from memplan.alloc import exact_jit, exact_search

ALLOC = os.path.dirname(exact_jit.__file__)


def test_every_module_with_jit_functions_is_in_the_kernel_digest():
    jitted = {f[:-3] for f in os.listdir(ALLOC)
              if f.endswith(".py") and re.search(r"^@jit$", open(os.path.join(ALLOC, f)).read(), re.M)}
    assert jitted <= set(exact_jit.KERNEL_MODULES)
    assert "exact_search" in jitted and "exact_inference" in jitted


def test_exact_search_offers_what_exact_reads():
    for name in ("HAVE_NUMBA", "N_COUNTERS", "N_FIELDS", "CAP", "NODES", "BACKTRACKS", "LIMIT",
                 "PAUSED", "FOUND", "NOT_FOUND", "start", "resume"):
        assert hasattr(exact_search, name), name


@pytest.mark.skipif(not exact_jit.HAVE_NUMBA, reason="the cache key matters only with numba")
def test_each_kernel_function_is_cached_under_the_digest_of_the_whole_kernel():
    checked = 0
    for module in exact_jit.KERNEL_MODULES:
        for fn in vars(importlib.import_module(f"memplan.alloc.{module}")).values():
            if hasattr(fn, "py_func") and fn.py_func.__module__ == f"memplan.alloc.{module}":
                key = fn._cache._index_key((), fn.targetctx.codegen())
                assert key[-1] == exact_jit.KERNEL_DIGEST == exact_jit.kernel_digest()
                checked += 1
    assert checked >= 20  # every kernel function, not just a few
