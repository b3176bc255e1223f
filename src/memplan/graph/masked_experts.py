"""Experts computed under a mask: the export runs every expert on every token and multiplies
its output by a gate that is zero unless the router (a ``TopK``) chose it. A runtime that skips
an expert whose gate is all zero reads its weights only when chosen.

Found structurally: a ``TopK``'s index output reaches an ``Equal`` (index == expert id); the
mask flows forward through ``GATE_OPS`` (Cast, Mul by the router's scores, ReduceSum ...) to a
``Mul`` (or ``Where``) whose other input is the expert's output. The expert is the set of ops
that feed only that output (backwards, each op whose every consumer is already in the set);
its weights are those no op outside it reads. O(ops) per mask.

Example (E = 8, k = 2, one token): eight MLPs ``Relu(x W1_e) W2_e``, each times
``ReduceSum(Cast(Equal(idx, e)) * scores)``: each W1_e, W2_e is read with probability 2/8.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .ir import Graph, topological_order

GATE_OPS = frozenset({"Cast", "Mul", "ReduceSum", "ReduceMax", "Unsqueeze", "Squeeze", "Reshape", "Expand",
                      "Where", "Not", "Or", "Identity", "Flatten"})
DEPTH = 8  # ops walked from an Equal to the gate, and back from an Equal to its TopK
MAX_REGION = 400  # ops looked at behind one expert output


@dataclass(frozen=True)
class MaskedExpert:
    router: str  # the TopK op
    expert: str  # the Equal op that selects it
    experts: int  # E
    k: int
    tokens: int

    @property
    def picks(self) -> int:
        """Experts one inference may read at most: ``min(T k, E)``."""
        return min(self.tokens * self.k, self.experts)

    @property
    def chance(self) -> float:
        """Probability that some token picks this expert (uniform routing)."""
        return 1 - (1 - self.k / self.experts) ** self.tokens


def masked_experts(graph: Graph) -> dict[str, MaskedExpert]:
    """Weight -> the masked expert it belongs to, for every weight read only inside one."""
    out: dict[str, MaskedExpert] = {}
    order = topological_order(graph.ops) or list(range(len(graph.ops)))
    rank = {i: r for r, i in enumerate(order)}
    for i, op in enumerate(graph.ops):
        if op.op_type != "Equal":
            continue
        router = _router(graph, op)
        if router is None:
            continue
        for gate_op, value in _gates(graph, op):
            region = _region(graph, value, gate_op, rank)
            for w in _own_weights(graph, region):
                out[w] = MaskedExpert(router[0], op.name, *router[1:])
    return out


def _router(graph: Graph, equal) -> tuple[str, int, int, int] | None:
    """(TopK name, E, k, T) when one input of ``equal`` comes from a TopK's indices and the
    other is a constant."""
    kinds = [graph.tensors[t].kind for t in equal.inputs]
    if kinds.count("weight") != 1:
        return None
    frontier = [t for t in equal.inputs if graph.tensors[t].kind != "weight"]
    for _ in range(DEPTH):
        nxt = []
        for t in frontier:
            if t not in graph.producer:
                continue
            op = graph.ops[graph.producer[t]]
            if op.op_type == "TopK" and len(op.outputs) > 1 and op.outputs[1] == t:
                shape = graph.tensors[t].shape
                axis = int(op.attrs.get("axis", -1)) % max(len(shape), 1)
                k = shape[axis] if shape else 0
                experts = graph.tensors[op.inputs[0]].shape[axis] if shape else 0
                return (op.name, experts, k, max(math.prod(shape) // max(k, 1), 1)) if k and experts else None
            if op.op_type in GATE_OPS | {"Equal"}:
                nxt += [x for x in op.inputs if x and graph.tensors[x].kind != "weight"]
        frontier = nxt
    return None


def _gates(graph: Graph, equal):
    """(gate op index, the expert output it multiplies) reached forward from the mask."""
    gated, frontier, found = set(equal.outputs), list(equal.outputs), []
    for _ in range(DEPTH):
        nxt = []
        for t in frontier:
            for i in graph.consumers.get(t, ()):
                op = graph.ops[i]
                others = [x for x in op.inputs if x and x not in gated and graph.tensors[x].kind != "weight"]
                if op.op_type in ("Mul", "Where") and len(others) == 1 and _has_region(graph, others[0], i):
                    found.append((i, others[0]))
                elif op.op_type in GATE_OPS:
                    new = [o for o in op.outputs if o and o not in gated]
                    gated.update(new)
                    nxt += new
        frontier = nxt
    return found


def _has_region(graph: Graph, value: str, gate: int) -> bool:
    return value in graph.producer and bool(_own_weights(graph, _region(graph, value, gate, None)))


def _region(graph: Graph, value: str, gate: int, rank) -> set[int]:
    """The ops that feed only ``value`` (and through it only the gate op)."""
    if rank is None:
        order = topological_order(graph.ops) or list(range(len(graph.ops)))
        rank = {i: r for r, i in enumerate(order)}
    ancestors, stack = set(), [value]
    while stack and len(ancestors) < MAX_REGION:
        t = stack.pop()
        p = graph.producer.get(t)
        if p is None or p in ancestors:
            continue
        ancestors.add(p)
        stack += [x for x in graph.ops[p].inputs if x and graph.tensors[x].kind != "weight"]
    region: set[int] = set()
    for p in sorted(ancestors, key=lambda i: -rank[i]):
        outs = [o for o in graph.ops[p].outputs if o]
        inside = all(c in region or (c == gate and o == value) for o in outs for c in graph.consumers.get(o, ()))
        if inside and not any(o in graph.outputs for o in outs):
            region.add(p)
    return region


def _own_weights(graph: Graph, region: set[int]) -> list[str]:
    """Weights read by ops of ``region`` and by nothing else (constants folded at load time
    and shape constants excluded)."""
    tied = {t for op in graph.const_ops for t in op.inputs if t}
    read = {t for i in region for t in graph.ops[i].inputs if t and graph.tensors[t].kind == "weight"}
    return sorted(w for w in read if w not in tied and w not in graph.shape_constants and w not in graph.outputs
                  and all(c in region for c in graph.consumers.get(w, ())))
