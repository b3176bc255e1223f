"""How much of each weight one inference reads: all of it, or only what data-dependent
indices select.

Every weight gets one `Access`:

  ``whole``   some runtime op reads all of it (a MatMul, a Conv, a Gather with constant
              indices ...). A weight read whole anywhere is whole, even if a Gather also
              reads rows of it (GPT-2's token embedding tied to the output projection);
  ``rows``    read only through ``Gather`` / ``GatherElements`` / ``GatherND`` whose indices
              are computed at run time: per inference, one slice per index, the number of
              indices from the index tensor's static shape and the bytes of a slice from the
              table's trailing dimensions;
  ``expert``  the same, with a ``TopK``'s index output feeding the indices (or every expert
              computed and multiplied by a mask from the TopK: `masked_experts`, read whole
              when picked, expected ``size (1 - (1 - k/E)^T)``, worst over a router its
              ``min(T k, E)`` largest experts): a router picks k
              of the E slices (experts) for each of T tokens; each expert read once. Worst
              case ``min(T k, E)`` experts; expected ``E (1 - (1 - k/E)^T)`` (uniform
              routing), both k for T = 1 (a decode step); for T = 8, top-2 of 8: worst all 8,
              expected 7.2;
  ``branch``  read only inside one branch of an ``If`` whose condition depends on the input
              (`branch_access`): expected half of it (each branch as likely), worst all of it;
              the worst over an If is its larger branch (`total_read`).

``rows`` counts every index as one fetched slice, duplicates included (the executor fetches
them so); either falls back to ``whole`` when the expected read is the whole table. A weight
that a load-time constant op reads (a transposed copy for a tied output projection, as the
exporters write GPT-2's LM head) is whole. The weight may reach the Gather through dtype-preserving views (Reshape,
Transpose, Cast, DequantizeLinear, Identity, Squeeze, Unsqueeze, Flatten): the fraction of the
viewed tensor that is read is the fraction of the weight read.

Example: GPT-style decoder, 16 tokens, a 6144 x 16 float32 embedding not tied to the output:
``rows``, 16 x 64 B = 1,024 B of its 393,216 B per inference.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping

from .ir import Graph

KINDS = ("whole", "rows", "expert", "branch")
VIEWS = frozenset({"Reshape", "Transpose", "Cast", "DequantizeLinear", "Identity", "Squeeze", "Unsqueeze",
                   "Flatten"})
GATHERS = frozenset({"Gather", "GatherElements", "GatherND"})
ROUTE_DEPTH = 8  # ops walked back from a Gather's indices looking for a TopK


@dataclass(frozen=True)
class Read:
    """One data-dependent gather of a weight: op ``op`` (index into ``graph.ops``) fetches
    ``count`` slices of ``slice_bytes`` bytes each (of the weight itself, along ``axis`` of the
    gathered tensor); ``experts`` (E) and ``k`` when a TopK routes them (else 0)."""

    op: int
    count: int
    slice_bytes: int
    axis: int = 0
    experts: int = 0
    k: int = 0

    @property
    def worst(self) -> int:
        if self.k:
            return min(self.count, self.experts) * self.slice_bytes
        return self.count * self.slice_bytes

    @property
    def expected(self) -> int:
        if not self.k:
            return self.count * self.slice_bytes
        tokens = max(self.count // self.k, 1)
        missed = (1 - Fraction(self.k, self.experts)) ** tokens
        return round(self.experts * (1 - missed) * self.slice_bytes)


@dataclass(frozen=True)
class Access:
    kind: str
    size: int  # bytes of the weight
    expected: int  # bytes read per inference
    worst: int
    reads: tuple[Read, ...] = ()
    branch: tuple[str, str] | None = None  # (If node, branch) for ``branch``
    group: tuple[str, str] | None = None  # (TopK, expert) for an expert computed under a mask
    picks: int = 0  # masked experts of that TopK one inference may read at most

    @property
    def partial(self) -> bool:
        return self.kind != "whole"

    def as_json(self) -> dict:
        return {"expected": self.expected, "worst": self.worst}


def whole(size: int) -> Access:
    return Access("whole", size, size, size)


def analyze(graph: Graph, *, branches: Mapping[str, tuple[str, str]] | None = None) -> dict[str, Access]:
    """An `Access` for every weight of ``graph.weights``, in that order. O(ops + tensors).
    ``branches``: weight -> (If node, branch) for the weights read only inside one branch of
    an If on input values (control flow kept by the importer); they become ``branch``. By
    default they are `branches.branch_weights(graph)`'s, those of the outer weights blob."""
    from .branches import branch_weights
    from .masked_experts import masked_experts

    if branches is None:
        branches = {w: where for w, where in branch_weights(graph).items() if w in graph.weights}

    tied = {t for op in graph.const_ops for t in op.inputs if t}  # read whole at load time
    masked = masked_experts(graph)
    out = {}
    for w in graph.weights:
        size = graph.tensors[w].nbytes
        reads = None if w in tied else _gather_reads(graph, w, size)
        if not reads:
            out[w] = _masked(masked.get(w), size) if w in masked else whole(size)
            continue
        access = _partial(size, tuple(reads))
        out[w] = access if access.expected < size else whole(size)
    if branches:
        out.update(branch_access({w: graph.tensors[w].nbytes for w in branches}, branches))
    return out


def _masked(expert, size: int) -> Access:
    """An expert computed under a mask: read whole when its router picks it, else not at all."""
    expected = round(size * expert.chance)
    if expected >= size:
        return whole(size)
    return Access("expert", size, expected, size, group=(expert.router, expert.expert), picks=expert.picks)


def _partial(size: int, reads: tuple[Read, ...]) -> Access:
    kind = "expert" if any(r.k for r in reads) else "rows"
    return Access(kind, size, min(sum(r.expected for r in reads), size), min(sum(r.worst for r in reads), size),
                  reads)


def _gather_reads(graph: Graph, weight: str, size: int) -> list[Read] | None:
    """The data-dependent gathers reading ``weight`` (through views); None if any op reads it whole."""
    if weight in graph.outputs:
        return None
    reads, todo = [], [weight]
    while todo:
        t = todo.pop()
        for i in graph.consumers.get(t, ()):
            op = graph.ops[i]
            if op.op_type in VIEWS and op.inputs[0] == t and t not in op.inputs[1:]:
                if op.outputs[0] in graph.outputs:
                    return None
                todo.append(op.outputs[0])
                continue
            read = _gather_read(graph, i, t, size)
            if read is None:
                return None
            reads.append(read)
    return reads


def _gather_read(graph: Graph, i: int, table: str, size: int) -> Read | None:
    """What gather op ``i`` reads of ``table`` (a view of a weight of ``size`` bytes)."""
    op = graph.ops[i]
    if op.op_type not in GATHERS or op.inputs[0] != table or len(op.inputs) < 2 or op.inputs[1] == table:
        return None
    index = graph.tensors[op.inputs[1]]
    if index.kind == "weight":
        return None  # constant indices: a constant slice, planned as read whole
    shape = graph.tensors[table].shape
    numel = math.prod(shape)
    if not numel or not shape:
        return None
    depth = batch = 0
    if op.op_type == "Gather":
        axis = int(op.attrs.get("axis", 0)) % len(shape)
        count, slice_numel = index.numel, numel // shape[axis]
    elif op.op_type == "GatherElements":
        axis, count, slice_numel = 0, index.numel, 1
    else:
        batch = int(op.attrs.get("batch_dims", 0))
        depth = index.shape[-1] if index.shape else 0
        axis, count = 0, math.prod(index.shape[:-1])
        slice_numel = math.prod(shape[batch + depth:])
    slice_bytes = size * slice_numel // numel
    if slice_bytes * numel != size * slice_numel:
        return None  # sub-byte slices: not worth the bookkeeping
    routed = op.op_type == "Gather" or (op.op_type == "GatherND" and depth == 1 and not batch)
    k = _router_k(graph, op.inputs[1]) if routed else 0
    return Read(i, count, slice_bytes, axis, shape[axis] if k else 0, k)


def _router_k(graph: Graph, index: str) -> int:
    """k of the TopK whose index output feeds ``index`` (through any ops, at most ROUTE_DEPTH
    back); 0 when none does."""
    frontier, seen = [index], set()
    for _ in range(ROUTE_DEPTH):
        nxt = []
        for t in frontier:
            if t in seen or t not in graph.producer:
                continue
            seen.add(t)
            op = graph.ops[graph.producer[t]]
            if op.op_type == "TopK" and len(op.outputs) > 1 and op.outputs[1] == t:
                out = graph.tensors[t].shape
                axis = int(op.attrs.get("axis", -1)) % max(len(out), 1)
                return out[axis] if out else 0
            nxt += [x for x in op.inputs if x and graph.tensors[x].kind != "weight"]
        frontier = nxt
    return 0


def _masked_worst(chosen) -> int:
    """Per router: the ``picks`` largest of its masked experts."""
    experts: dict[str, dict[str, int]] = {}
    picks: dict[str, int] = {}
    for a in chosen:
        if a.group is not None:
            router, expert = a.group
            experts.setdefault(router, {})[expert] = experts.get(router, {}).get(expert, 0) + a.size
            picks[router] = a.picks
    return sum(sum(sorted(sizes.values(), reverse=True)[:picks[r]]) for r, sizes in experts.items())


def branch_access(sizes: Mapping[str, int], branch_of: Mapping[str, tuple[str, str]],
                  branches_per_if: Mapping[str, int] | None = None) -> dict[str, Access]:
    """``branch`` accesses for weights read only inside one branch of an input-dependent If:
    ``branch_of`` maps weight -> (If node, branch name), ``sizes`` weight -> bytes. Expected:
    the weight's share if every branch is as likely (1 / branches, default 2); worst: all of
    it (`total_read` takes the larger branch per If)."""
    out = {}
    for w, where in branch_of.items():
        n = (branches_per_if or {}).get(where[0], 2)
        out[w] = Access("branch", sizes[w], sizes[w] // n, sizes[w], branch=where)
    return out


def branch_sizes(accesses: Mapping[str, Access]) -> dict[tuple[str, str], int]:
    """(If node, branch) -> bytes of the weights read only in that branch."""
    out: dict[tuple[str, str], int] = {}
    for a in accesses.values():
        if a.kind == "branch":
            out[a.branch] = out.get(a.branch, 0) + a.size
    return out


def total_read(accesses: Mapping[str, Access], names=None) -> tuple[int, int]:
    """(expected, worst) bytes read per inference over ``names`` (default: all): per weight,
    except that the worst case of an If is its larger branch, not both."""
    chosen = [accesses[w] for w in (accesses if names is None else names)]
    expected = sum(a.expected for a in chosen)
    worst = sum(a.worst for a in chosen if a.kind != "branch" and a.group is None)
    worst += _masked_worst(chosen)
    per_if: dict[str, int] = {}
    for (node, _), size in branch_sizes({str(i): a for i, a in enumerate(chosen)}).items():
        per_if[node] = max(per_if.get(node, 0), size)
    return expected, worst + sum(per_if.values())
