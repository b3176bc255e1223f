"""`python -m memplan.alloc`: compile the exact search kernel into numba's cache, so the
first real solve pays no compile time (make's install step runs it)."""
from .exact import warm_up
from .exact_search import HAVE_NUMBA

print(f"exact search kernel ready in {warm_up():.1f} s (numba: {HAVE_NUMBA})")
