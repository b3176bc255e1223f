"""The model as memplan sees it: tensors with static shapes, ops, and a DAG.

No protobuf reaches past ``onnx_import``; everything here is plain frozen values.

Tensor kinds:
- ``input``: a graph input fed at run time;
- ``weight``: constant — an initializer, or computed from constants only (``Constant``,
  ``ConstantOfShape(initializer)``, ``Unsqueeze(initializer)``…); weights live in one
  contiguous read-only blob, not in the activation arena;
- ``activation``: produced by a runtime op;
- ``output``: an activation that is also a graph output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping

import numpy as np

from ..errors import ModelError

# Bits per element of every ONNX tensor dtype, by memplan's dtype name (numpy-like).
DTYPE_BITS: Mapping[str, int] = {
    "float32": 32, "uint8": 8, "int8": 8, "uint16": 16, "int16": 16, "int32": 32, "int64": 64,
    "string": 64, "bool": 8, "float16": 16, "float64": 64, "uint32": 32, "uint64": 64,
    "complex64": 64, "complex128": 128, "bfloat16": 16, "float8e4m3fn": 8, "float8e4m3fnuz": 8,
    "float8e5m2": 8, "float8e5m2fnuz": 8, "uint4": 4, "int4": 4, "float4e2m1": 4,
    "float8e8m0": 8, "uint2": 2, "int2": 2,
}

KINDS = ("input", "weight", "activation", "output")


def tensor_kind(name: str, *, constant: bool, inputs, outputs, produced) -> str | None:
    """A tensor's kind as every importer decides it; None when nothing can supply it."""
    if constant:
        return "weight"
    if name in inputs:
        return "input"
    if name in outputs:
        return "output"
    return "activation" if name in produced else None


def tensor_nbytes(shape: tuple[int, ...], dtype: str) -> int:
    """Bytes of a dense tensor; sub-byte types round up per tensor (ONNX packs them)."""
    return -(-math.prod(shape) * DTYPE_BITS[dtype] // 8)


@dataclass(frozen=True)
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    kind: str

    @property
    def nbytes(self) -> int:
        return tensor_nbytes(self.shape, self.dtype)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Op:
    """One node. ``inputs`` keeps ``""`` for a missing optional input so positions hold.
    ``domain`` is ``""`` for standard ONNX ops, else e.g. ``"com.microsoft"`` (a contrib op
    onnxruntime implements; `kernel_key` is how the executor's kernel table names it)."""

    name: str
    op_type: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attrs: Mapping[str, Any] = field(default_factory=dict)
    domain: str = ""

    @property
    def kernel_key(self) -> str:
        return f"{self.domain}.{self.op_type}" if self.domain else self.op_type


@dataclass(frozen=True)
class Graph:
    """``ops`` are the runtime ops in file order; ``const_ops`` compute weights from weights
    and run once at load time (their outputs are ``weight`` tensors); ``initializers`` holds
    the stored constant values. ``shape_constant_bytes`` is the total size of the tensors the
    importer computed at plan time from input shapes (or pinned input values);
    ``shape_constants`` are those of them that are op parameters (shapes, axes, indices):
    constants, not weights — kind ``weight`` and in ``initializers`` so kernels can read
    them, but not in ``weights`` (the weights blob)."""

    name: str
    ops: tuple[Op, ...]
    tensors: Mapping[str, Tensor]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    const_ops: tuple[Op, ...] = ()
    initializers: Mapping[str, np.ndarray] = field(default_factory=dict)
    opset: int = 13
    source: str = ""
    shape_constants: frozenset[str] = frozenset()
    shape_constant_bytes: int = 0

    def __post_init__(self):
        names = [op.name for op in self.ops]
        if len(set(names)) != len(names):
            raise ModelError(f"{self.source or self.name}: node names are not unique")
        self._check_sizes()
        self._check_acyclic()

    def _check_sizes(self) -> None:
        """Every tensor within ``limits.MAX_VALUE`` bytes and all of them within ``MAX_TOTAL``,
        so that no later sum overflows int64 (a hostile file can declare any dimension)."""
        from ..limits import MAX_TOTAL, MAX_VALUE

        where = self.source or self.name
        total = 0
        for t in self.tensors.values():
            if any(d < 0 for d in t.shape):
                raise ModelError(f"{where}: tensor {t.name!r} has a negative dimension (shape {list(t.shape)})")
            nbytes = t.nbytes
            if nbytes > MAX_VALUE:
                raise ModelError(f"{where}: tensor {t.name!r} (shape {list(t.shape)}, {t.dtype}) would take "
                                 f"{nbytes} bytes, beyond memplan's limit of 2**53 (8 PiB)")
            total += nbytes
        if total > MAX_TOTAL:
            raise ModelError(f"{where}: the tensors add up to {total} bytes, beyond memplan's limit of 2**62")

    def _check_acyclic(self) -> None:
        order = topological_order(self.ops)
        if order is None:
            raise ModelError(f"{self.source or self.name}: the graph has a cycle")

    @cached_property
    def producer(self) -> Mapping[str, int]:
        """Tensor name -> index of the runtime op producing it."""
        return {t: i for i, op in enumerate(self.ops) for t in op.outputs if t}

    @cached_property
    def consumers(self) -> Mapping[str, tuple[int, ...]]:
        """Tensor name -> indices of runtime ops reading it (each op once)."""
        out: dict[str, list[int]] = {}
        for i, op in enumerate(self.ops):
            for t in dict.fromkeys(op.inputs):
                if t:
                    out.setdefault(t, []).append(i)
        return {t: tuple(v) for t, v in out.items()}

    @cached_property
    def weights(self) -> tuple[str, ...]:
        """Weight tensors the runtime ops read (or the graph outputs), in first-use order."""
        seen: dict[str, None] = {}
        for op in self.ops:
            for t in op.inputs:
                if t and self.tensors[t].kind == "weight" and t not in self.shape_constants:
                    seen.setdefault(t)
        for t in self.outputs:
            if self.tensors[t].kind == "weight" and t not in self.shape_constants:
                seen.setdefault(t)
        return tuple(seen)

    @cached_property
    def activations(self) -> tuple[str, ...]:
        """Tensors that need arena space: inputs, activations and outputs, in first-use order."""
        seen: dict[str, None] = {t: None for t in self.inputs}
        for op in self.ops:
            for t in op.outputs:
                if t:
                    seen.setdefault(t)
        return tuple(seen)

    @property
    def weight_bytes(self) -> int:
        return sum(self.tensors[t].nbytes for t in self.weights)

    @property
    def activation_bytes(self) -> int:
        return sum(self.tensors[t].nbytes for t in self.activations)

    def predecessors(self) -> list[set[int]]:
        prod = self.producer
        return [{prod[t] for t in op.inputs if t in prod} for op in self.ops]


def topological_order(ops: tuple[Op, ...]) -> list[int] | None:
    """Kahn's algorithm with the file index as tie-break (stable); None on a cycle."""
    import heapq

    producer = {t: i for i, op in enumerate(ops) for t in op.outputs if t}
    succ: list[list[int]] = [[] for _ in ops]
    indeg = [0] * len(ops)
    for i, op in enumerate(ops):
        for p in {producer[t] for t in op.inputs if t in producer}:
            if p != i:
                succ[p].append(i)
                indeg[i] += 1
            else:
                return None
    ready = [i for i, d in enumerate(indeg) if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for j in succ[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                heapq.heappush(ready, j)
    return order if len(order) == len(ops) else None


def step_weights(graph: Graph, plan) -> list[tuple[str, ...]]:
    """The distinct weights the op at each step of ``plan`` reads (what a tier must hold while
    it runs); the placer and the validator of tiered plans both count from it. Shape constants
    are op parameters, not in the weights blob (`Graph.weights`), so no tier holds them."""
    by_name = {op.name: op for op in graph.ops}
    return [tuple(dict.fromkeys(t for t in by_name[name].inputs
                                if t and graph.tensors[t].kind == "weight" and t not in graph.shape_constants))
            for name in plan.order]
