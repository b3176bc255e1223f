"""What one op costs: multiply-accumulates and the bytes it reads and writes, from the
graph's real (static) shapes. No device here; turning work into seconds is the caller's job
(``pipeline.layer_times``, or a tier/spilling planner).

Counting rules (one "MAC" = one multiply-add, the unit of ``Device.compute_macs_per_s``):

=======================================  ===============================================
op                                       MACs
=======================================  ===============================================
Conv (any rank, any ``group``)           ``numel(Y) * prod(W.shape[1:])`` — W is
                                         ``[Cout, Cin/group, k...]``, so groups and
                                         depthwise convs come out right
ConvTranspose                            ``numel(X) * prod(W.shape[1:])``
Gemm, MatMul                             ``numel(Y) * K`` (K = the reduced dimension)
MaxPool, AveragePool, LpPool             ``numel(Y) * prod(kernel_shape)``
GlobalAveragePool, GlobalMaxPool         ``numel(X)``
BatchNormalization                       ``numel(Y)`` (folded to one scale-and-shift)
InstanceNorm, LayerNorm, GroupNorm       ``4 * numel(Y)`` (mean, variance, normalise, scale)
LRN                                      ``numel(Y) * size``
Softmax, LogSoftmax                      ``3 * numel(Y)`` (exp, sum, divide)
n-ary elementwise (Add, Sum, Mul, Max…)  ``numel(Y) * (inputs - 1)``
views (Reshape, Flatten, Squeeze,        0, and no bytes move either
Unsqueeze, Identity, Dropout)
data movement (Concat, Transpose,        0 MACs; the bytes still move
Split, Slice, Gather, Pad, Tile…)
anything else (Relu, Sigmoid, Clip…)     ``numel(Y)``
=======================================  ===============================================

Bytes: ``input_bytes`` counts every distinct activation (or graph input) the op reads,
``weight_bytes`` every distinct weight, once per run (``weight_reads`` scales that: 0 when
the weights stay resident in a processing element, as in FINN), ``output_bytes`` every
output it writes. Example: a 3x3 Conv 64->64 on 56x56 fp32 has 64*56*56*64*9 = 115,605,504
MACs, reads 802,816 + 147,456 bytes and writes 802,816.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .ir import Graph, Op

VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
MOVE_OPS = frozenset({"Concat", "Transpose", "Split", "Slice", "Gather", "GatherElements", "Pad", "Tile",
                      "Expand", "DepthToSpace", "SpaceToDepth", "Cast", "Shape", "Size"})
POOL_OPS = frozenset({"MaxPool", "AveragePool", "LpPool"})
GLOBAL_POOL_OPS = frozenset({"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean", "ReduceMax",
                             "ReduceSum", "ReduceMin"})
NARY_OPS = frozenset({"Add", "Sub", "Mul", "Div", "Sum", "Max", "Min", "Mean", "Pow", "And", "Or", "Xor",
                      "Equal", "Greater", "Less", "Where"})
NORM_OPS = frozenset({"InstanceNormalization", "LayerNormalization", "GroupNormalization"})


@dataclass(frozen=True)
class OpCost:
    """Work and traffic of one run of one op (one batch)."""

    macs: int
    input_bytes: int
    weight_bytes: int
    output_bytes: int

    def read_bytes(self, weight_reads: float = 1.0) -> int:
        return self.input_bytes + round(self.weight_bytes * weight_reads)

    def __add__(self, other: "OpCost") -> "OpCost":
        return OpCost(self.macs + other.macs, self.input_bytes + other.input_bytes,
                      self.weight_bytes + other.weight_bytes, self.output_bytes + other.output_bytes)


def op_cost(graph: Graph, op: Op) -> OpCost:
    """MACs and bytes of ``op`` with ``graph``'s shapes (see the module table)."""
    names = [t for t in dict.fromkeys(op.inputs) if t]
    weights = [t for t in names if graph.tensors[t].kind == "weight"]
    acts = [t for t in names if graph.tensors[t].kind != "weight"]
    outs = [t for t in op.outputs if t]
    if op.op_type in VIEW_OPS:
        return OpCost(0, 0, 0, 0)
    return OpCost(op_macs(graph, op),
                  sum(graph.tensors[t].nbytes for t in acts),
                  sum(graph.tensors[t].nbytes for t in weights),
                  sum(graph.tensors[t].nbytes for t in outs))


def op_macs(graph: Graph, op: Op) -> int:
    shape = {t: graph.tensors[t].shape for t in op.inputs + op.outputs if t}
    ins = [shape[t] for t in op.inputs if t]
    y = shape[op.outputs[0]] if op.outputs and op.outputs[0] else ()
    numel = math.prod(y)
    kind = op.op_type
    if kind == "Conv":
        return numel * math.prod(ins[1][1:])
    if kind == "ConvTranspose":
        return math.prod(ins[0]) * math.prod(ins[1][1:])
    if kind == "Gemm":
        a = ins[0]
        return numel * (a[0] if op.attrs.get("transA", 0) else a[-1])
    if kind == "MatMul":
        return numel * ins[0][-1]
    if kind in POOL_OPS:
        return numel * math.prod(op.attrs.get("kernel_shape", (1,)))
    if kind in GLOBAL_POOL_OPS:
        return math.prod(ins[0])
    if kind in VIEW_OPS or kind in MOVE_OPS:
        return 0
    if kind == "BatchNormalization":
        return numel
    if kind in NORM_OPS:
        return 4 * numel
    if kind == "LRN":
        return numel * int(op.attrs.get("size", 1))
    if kind in ("Softmax", "LogSoftmax"):
        return 3 * numel
    if kind in NARY_OPS:
        return numel * max(1, len(ins) - 1)
    return numel


def graph_costs(graph: Graph) -> tuple[OpCost, ...]:
    """``op_cost`` of every runtime op, in ``graph.ops`` order."""
    return tuple(op_cost(graph, op) for op in graph.ops)


def total_macs(graph: Graph) -> int:
    return sum(c.macs for c in graph_costs(graph))
