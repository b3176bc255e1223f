"""Whether a model's float weights hold one value, as the zoo's do (every large weight 0.02).

Then a run inside the arena proves less than it seems: a tensor read from the wrong buffer
of the same shape may give the same numbers. `memplan verify` says so (and names
``--random-weights``) rather than randomising by default, because verifying a user's own
model with its own weights is what the command means without that option.
"""
from __future__ import annotations

import numpy as np

FLOAT = ("float16", "float32", "float64", "bfloat16")


def single_weight_value(graph, share: float = 0.9) -> tuple[float, float] | None:
    """(value, fraction of the float weight bytes) when at least ``share`` of the float weight
    bytes hold one and the same value — the zoo's large weights are ``ConstantOfShape``
    0.02 while their small biases are real — else None. Only initializers and
    ``ConstantOfShape`` are looked at (nothing is computed)."""
    producer = {t: op for op in graph.const_ops for t in op.outputs if t}
    by_value: dict[float, int] = {}
    total = 0
    for name in graph.weights:
        t = graph.tensors[name]
        if t.dtype not in FLOAT:
            continue
        total += t.nbytes
        value = _constant(name, graph.initializers, producer)
        if value is not None:
            by_value[value] = by_value.get(value, 0) + t.nbytes
    if not total or not by_value:
        return None
    value, nbytes = max(by_value.items(), key=lambda kv: kv[1])
    return (value, nbytes / total) if nbytes >= share * total else None


def _constant(name, initializers, producer) -> float | None:
    if name in initializers:
        array = np.asarray(initializers[name])
        if array.size and np.all(array == array.flat[0]):
            return float(array.flat[0])
        return None
    op = producer.get(name)
    if op is not None and op.op_type == "ConstantOfShape":
        value = np.asarray(op.attrs.get("value", 0.0))
        return float(value.flat[0]) if value.size == 1 else None
    return None


def note(graph) -> str | None:
    """One line for the verify report, or None."""
    found = single_weight_value(graph)
    if found is None:
        return None
    value, share = found
    return (f"note: {share:.0%} of this model's float weight bytes hold one value ({value:.3g}), so a tensor read "
            f"from the wrong buffer can give the same numbers; --random-weights replaces every float weight "
            f"by seeded random values")
