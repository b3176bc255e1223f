"""The ground the exact search kernel stands on: whether numba compiles it, and the layout of
its flat int64 state arrays (slots of ``cnt`` and ``opt``, columns of ``frames``).

The kernel (see ``exact_search`` for the method) is split over the modules named in
``KERNEL_MODULES``: this one, ``exact_inference`` (placing a block and the pruning tests),
``exact_pieces`` (temporal decomposition and re-ranking) and ``exact_search`` (the main loop).
Each ``@jit`` function calls only ``@jit`` functions, imported at module level.

numba's cache checks only the source file of the function it compiled, not the files of the
jitted functions that one calls (numba's documentation says so: a change to a function in a
different file is not detected). So every kernel function's cache entries are keyed on a
digest of all the kernel modules as well: an edit to any of them recompiles the whole kernel.
"""
from __future__ import annotations

import hashlib
import os

import numpy as np

KERNEL_MODULES = ("exact_jit", "exact_inference", "exact_pieces", "exact_search")


def kernel_digest() -> str:
    """sha256 of the kernel modules' sources, in ``KERNEL_MODULES`` order."""
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in KERNEL_MODULES:
        with open(os.path.join(here, name + ".py"), "rb") as f:
            digest.update(f.read())
    return digest.hexdigest()


try:  # numba is an optional fast path; the code below is plain Python either way.
    if os.environ.get("MEMPLAN_NO_NUMBA"):
        raise ImportError("MEMPLAN_NO_NUMBA is set")
    from numba import njit
    from numba.core.caching import FunctionCache

    HAVE_NUMBA = True
    KERNEL_DIGEST = kernel_digest()

    class KernelCache(FunctionCache):
        """numba's per-function cache, with the digest of the whole kernel in every key."""

        def _index_key(self, sig, codegen):
            return super()._index_key(sig, codegen) + (KERNEL_DIGEST,)

    def jit(fn):
        dispatcher = njit(cache=True, nogil=True)(fn)
        dispatcher._cache = KernelCache(fn)  # what Dispatcher.enable_caching sets, keyed on the kernel
        return dispatcher
except ImportError:  # numba absent, or MEMPLAN_NO_NUMBA set
    HAVE_NUMBA = False

    def jit(fn):
        return fn


NOT_FOUND, FOUND, PAUSED = 0, 1, 2

# Slots of the int64 ``cnt`` array: counters, trail tops, the stack pointer and the value
# the last finished frame handed back to the one below it.
NODES, BACKTRACKS, LIMIT, PLACED, TRAIL, STRAIL, STAMP, CAP, NAFF, SP, RET, HAS_RET, POOL_TOP, META_TOP, \
    PRUNED = range(15)
N_COUNTERS = 15
# Columns of the ``frames`` stack. A NODE frame is one search node: its candidates are
# ordbuf[ROW, :K], I the one being tried, B/O the block placed and its offset. An AND
# frame solves independent pieces one after the other (pieces stored in the pools).
NODE, AND = 0, 1
(F_TYPE, F_ROW, F_K, F_I, F_LO, F_HI, F_LAST_OFF, F_LAST_RANK, F_MIN_HEIGHT, F_B, F_O, F_TRAIL, F_STRAIL,
 F_CUT, F_POOL, F_META, F_NP, F_P, F_HATLESS, F_TOP_TOTAL, F_NC) = range(21)
N_FIELDS = 21  # F_NC: how many of the row's blocks are candidates (all but in point mode)
# Slots of the int64 ``opt`` array (the switches).
CANONICAL, SECTION_INFERENCE, DYNAMIC_ORDERING, DOMINANCE, UNALLOCATED_FLOOR, \
    MONOTONIC_FLOOR, DECOMPOSITION, HATLESS_PRUNING, RELEASE_BOUND, DYNAMIC_PREORDERING, CANONICAL_FLOOR, \
    TWINS, POINT = range(13)
# Letters of a static order, as codes in ``order`` (see exact.PREORDERS).
KEY_WIDTH, KEY_AREA, KEY_TOTAL, KEY_SIZE = range(4)
BIG = np.int64(1) << np.int64(62)
