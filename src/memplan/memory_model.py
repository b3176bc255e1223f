"""Which tensors may share storage, and the live bytes of any order under those rules.

Sharing (`Sharing`, each rule switchable; graph inputs and outputs never share):

- **views** — Reshape, Flatten, Squeeze, Unsqueeze, Identity, inference Dropout: the output
  *is* the input's bytes;
- **concat** — a Concat whose inputs are contiguous slices of its output (every output dim
  before ``axis`` is 1) is built in place: each input's producer writes straight into its
  slice, so the input's whole storage moves into the output's;
- **inplace** — an elementwise op (Relu, Clip, Sigmoid, Add, Mul, inference
  BatchNormalization, …) writes its output over an input of the same shape, dtype and size
  that dies at that op.

Everything is expressed as *storages* (roots): sets of tensors at byte offsets inside one
buffer, live from their first member's birth to their last member's last read. Views and
concat slices keep one *value family* (the tensors whose bytes hold the same data, or slices
of it): a storage may be overwritten in place only once every reader of that family has run,
and never when the family holds a graph input or output.

Views, concat slices and the in-place writes that are legal in *every* order (all other
readers of the family are ancestors of the op) are merged once, before ordering, into
static storages. An in-place write whose legality depends on the order (another reader of
the same value runs in parallel) is decided per step by `MemoryModel.discount`: the set of
ops already run decides it, so the scheduler's cost and the buffers here agree exactly —
the scheduler minimises the very peak the plan will have.

Example: ``Conv -> r0; BatchNormalization(r0) -> r1; Relu(r1) -> r2`` with r0 read only by
the BN: r0, r1, r2 are one buffer, live from the Conv to r2's last reader.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .graph.ir import Graph, topological_order

VIEW_OPS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity", "Dropout"})
# Ops whose output element i depends only on element i of the overwritten operand (the
# others are weights or broadcast operands): the output may overwrite that operand.
UNARY_INPLACE = frozenset({
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip", "Elu", "Selu", "Celu", "HardSigmoid",
    "HardSwish", "Softplus", "Softsign", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal",
    "Floor", "Ceil", "Round", "Sign", "Erf", "Sin", "Cos", "Gelu", "Mish", "ThresholdedRelu",
    "BatchNormalization", "Not"})
CONCAT_OPS = frozenset({"Concat", "CONCATENATION"})  # TFLite's: its importer records the axis
BINARY_INPLACE = frozenset({"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "PRelu",
                            "And", "Or", "Xor"})


@dataclass(frozen=True)
class Sharing:
    """Which sharing rules apply (all on by default; ``Sharing.off()`` for none)."""

    views: bool = True
    inplace: bool = True
    concat: bool = True

    @classmethod
    def off(cls) -> "Sharing":
        return cls(False, False, False)

    @property
    def any(self) -> bool:
        return self.views or self.inplace or self.concat

    def label(self) -> str:
        on = [n for n in ("views", "inplace", "concat") if getattr(self, n)]
        return "+".join(on) or "none"


NO_SHARING = Sharing.off()


class MemoryModel:
    """The sharing analysis of one graph, and the memory cost of running an op next.

    Storages are numbered; ``root_of[t]``/``offset[t]`` place every arena tensor. For the
    scheduler every storage has bit masks over op indices: ``prod`` (ops producing one of its
    tensors) and ``read`` (ops reading one). With ``done`` the mask of ops already run, a
    storage is *born* once ``prod & done`` (or it holds a graph input) and *dead* once
    ``prod | read`` is inside ``done`` (never, if it holds a graph output). The live bytes
    after ``done`` are therefore a function of ``done`` alone, which is what lets the exact
    search memoise on it.

    ``step(done, live, op)`` returns ``(during, after)``: the bytes live while ``op`` runs
    (everything live before, plus the storages it brings to life, less an order-dependent
    in-place write) and the bytes live after it.
    """

    def __init__(self, graph: Graph, *, sharing: Sharing = NO_SHARING, io_in_arena: bool = True,
                 concat_ops: frozenset[int] | None = None):
        self.graph = graph
        self.sharing = sharing
        self.io_in_arena = io_in_arena
        n = len(graph.ops)
        self.n = n
        io = set(graph.inputs) | set(graph.outputs)
        self.io = io
        arena = [t for t in graph.activations]
        # union-find-free storages: a storage is a list of members with offsets; merging moves all
        self.root_of: dict[str, int] = {t: i for i, t in enumerate(arena)}
        self.offset: dict[str, int] = {t: 0 for t in arena}
        members: list[list[str] | None] = [[t] for t in arena]
        size = [graph.tensors[t].nbytes for t in arena]
        fam = {t: t for t in arena}  # value families (union-find over view and slice edges)

        def ffind(t: str) -> str:
            while fam[t] != t:
                fam[t] = fam[fam[t]]
                t = fam[t]
            return t

        def funion(a: str, b: str) -> None:
            fam[ffind(a)] = ffind(b)

        def move(src: int, dst: int, at: int) -> None:
            for t in members[src]:
                self.offset[t] += at
                self.root_of[t] = dst
            members[dst].extend(members[src])
            members[src] = None

        def whole(t: str) -> bool:
            """t's bytes are its storage's bytes, so the storage can move as one block."""
            return self.offset[t] == 0 and size[self.root_of[t]] == graph.tensors[t].nbytes

        def shareable(t: str) -> bool:
            return t in self.root_of and t not in io and graph.tensors[t].kind == "activation"

        consumers = graph.consumers
        producer = graph.producer

        if sharing.views:
            for op in graph.ops:
                x, y = _view_pair(graph, op)
                if x and shareable(x) and shareable(y) and graph.tensors[x].nbytes == graph.tensors[y].nbytes:
                    move(self.root_of[y], self.root_of[x], self.offset[x])
                    funion(y, x)
        self.hosting: dict[int, tuple[str, ...]] = {}  # concat op -> the inputs built in place
        if sharing.concat:
            for index, op in enumerate(graph.ops):
                if op.op_type not in CONCAT_OPS or not shareable(op.outputs[0]):
                    continue
                if concat_ops is not None and index not in concat_ops:
                    continue
                c = op.outputs[0]
                shape = graph.tensors[c].shape
                axis = op.attrs.get("axis", 0)
                if not isinstance(axis, int) or not -len(shape) <= axis < len(shape):
                    continue  # a malformed Concat: the kernels will say so, sharing stays off
                axis = axis + len(shape) if axis < 0 else axis
                if any(d != 1 for d in shape[:axis]):
                    continue  # the slices are not contiguous
                at = 0
                for x in op.inputs:
                    nbytes = graph.tensors[x].nbytes
                    if (shareable(x) and graph.tensors[x].dtype == graph.tensors[c].dtype and whole(x)
                            and self.root_of[x] != self.root_of[c]):
                        move(self.root_of[x], self.root_of[c], self.offset[c] + at)
                        funion(x, c)
                        self.hosting[index] = self.hosting.get(index, ()) + (x,)
                    at += nbytes
        # ancestors as bit masks, for "legal in every order"
        preds = graph.predecessors()
        anc = [0] * n
        for i in _topo(graph):
            a = 0
            for p in preds[i]:
                a |= anc[p] | (1 << p)
            anc[i] = a
        # value families are final now (in-place writes start new values)
        groups: dict[str, tuple[int, set[str]]] = {}
        for t in arena:
            mask, names = groups.setdefault(ffind(t), (0, set()))
            for c in consumers.get(t, ()):
                mask |= 1 << c
            names.add(t)
            groups[ffind(t)] = (mask, names)

        def family(x: str) -> tuple[int, set[str]]:
            return groups[ffind(x)]

        dynamic: list[list[tuple[int, str, str]]] = [[] for _ in range(n)]
        if sharing.inplace:
            for i in _topo(graph):
                op = graph.ops[i]
                y = _inplace_output(op)
                if y is None or not shareable(y):
                    continue
                for x in _inplace_operands(graph, op, y):
                    if not shareable(x):
                        continue
                    readers, names = family(x)
                    if any(t in names and t != x for t in op.inputs if t):
                        continue  # another operand aliases the bytes being overwritten
                    rx, ry = self.root_of[x], self.root_of[y]
                    if rx == ry:
                        continue
                    others = readers & ~(1 << i)
                    if others & ~anc[i] == 0:  # every other reader runs before, in every order
                        if whole(y):
                            move(ry, rx, self.offset[x])
                        elif whole(x):
                            move(rx, ry, self.offset[y])
                        else:
                            continue
                        break
                    if whole(x) and whole(y):
                        dynamic[i].append((others, x, y))
        dynamic = [[(o, x, y) for o, x, y in d if whole(x) and whole(y)] for d in dynamic]
        # freeze storages
        roots = [r for r, m in enumerate(members) if m is not None]
        renum = {r: k for k, r in enumerate(roots)}
        self.root_of = {t: renum[r] for t, r in self.root_of.items()}
        self.root_members: list[tuple[str, ...]] = [tuple(members[r]) for r in roots]
        self.root_size = [size[r] for r in roots]
        if not io_in_arena:
            self.root_cost = [0 if any(t in io for t in m) else s for m, s in zip(self.root_members, self.root_size)]
        else:
            self.root_cost = list(self.root_size)
        prod = [0] * len(roots)
        read = [0] * len(roots)
        keep = [False] * len(roots)
        self.initial = 0
        outs = set(graph.outputs)
        for k, m in enumerate(self.root_members):
            for t in m:
                if t in producer:
                    prod[k] |= 1 << producer[t]
                for c in consumers.get(t, ()):
                    read[k] |= 1 << c
                keep[k] = keep[k] or t in outs
            if prod[k] == 0:  # graph input: live from the start
                self.initial += self.root_cost[k]
        self.prod, self.read, self.keep = prod, read, keep
        self.span = [p | r for p, r in zip(prod, read)]
        self.out_roots = [tuple(dict.fromkeys(self.root_of[t] for t in op.outputs if t in self.root_of))
                          for op in graph.ops]
        self.touch_roots = [tuple(dict.fromkeys(self.root_of[t] for t in (*op.inputs, *op.outputs)
                                                if t in self.root_of)) for op in graph.ops]
        self.dynamic = [tuple((others, self.root_of[x], self.root_of[y], x) for others, x, y in d)
                        for d in dynamic]

    def discount(self, done: int, op: int) -> tuple[int, int, str] | None:
        """The order-dependent in-place write ``op`` makes after ``done``, if any:
        (storage overwritten, storage written, overwritten tensor)."""
        for others, rx, ry, x in self.dynamic[op]:
            if (others & ~done == 0 and self.prod[rx] & ~done == 0 and self.prod[ry] & done == 0):
                return rx, ry, x
        return None

    def step(self, done: int, live: int, op: int) -> tuple[int, int]:
        """(bytes live while ``op`` runs, bytes live after it), given ``live`` after ``done``."""
        born = 0
        for r in self.out_roots[op]:
            if self.prod[r] & done == 0:
                born += self.root_cost[r]
        during = live + born
        if self.dynamic[op]:
            fired = self.discount(done, op)
            if fired is not None:
                during -= self.root_cost[fired[1]]
        after = live + born
        now = done | (1 << op)
        for r in self.touch_roots[op]:
            if not self.keep[r] and self.span[r] & ~now == 0:
                after -= self.root_cost[r]
        return during, after

    def profile(self, order: Iterable[int]) -> list[int]:
        """``during`` of every step of an order."""
        done, live, out = 0, self.initial, []
        for op in order:
            during, live = self.step(done, live, op)
            out.append(during)
            done |= 1 << op
        return out

    def peak(self, order: Iterable[int]) -> int:
        """The largest ``during`` over an order (the plan's lower bound under this sharing)."""
        return max(self.profile(order), default=self.initial)

    def without_hosts(self, order: Iterable[int]) -> "MemoryModel | None":
        """The same sharing with fewer concats built in place, if that lowers this order's peak.

        Building a concat in place reserves its whole output from its first input's birth;
        when the peak falls inside such a reservation, drop the concats reserving there
        (repeatedly, while the peak drops). None if no concat needs dropping."""
        order = list(order)
        step = {op: s for s, op in enumerate(order)}
        model, best = self, self.peak(order)
        changed = False
        while model.hosting:
            prof = model.profile(order)
            top = max(range(len(prof)), key=lambda s: (prof[s], -s))
            producer = self.graph.producer
            reserving = {c for c, xs in model.hosting.items()
                         if step[c] > top and any(step[producer[x]] <= top for x in xs)}
            if not reserving:
                break
            trial = MemoryModel(self.graph, sharing=self.sharing, io_in_arena=self.io_in_arena,
                                concat_ops=frozenset(model.hosting) - reserving)
            peak = trial.peak(order)
            if peak >= best:
                break
            model, best, changed = trial, peak, True
        return model if changed else None

    def op_bound(self, op: int) -> int:
        """Bytes that must be live while ``op`` runs in any order: its inputs' and outputs'
        storages (less the in-place write it might make)."""
        total = sum(self.root_cost[r] for r in self.touch_roots[op])
        if self.dynamic[op]:
            total -= max(self.root_cost[ry] for _, _, ry, _ in self.dynamic[op])
        return total


def _topo(graph: Graph) -> list[int]:
    return topological_order(graph.ops) or list(range(len(graph.ops)))


def _view_pair(graph: Graph, op) -> tuple[str | None, str | None]:
    """(input, output) of a pure view op, or (None, None)."""
    if op.op_type not in VIEW_OPS or not op.inputs or not op.inputs[0] or not op.outputs[0]:
        return None, None
    if any(op.outputs[1:]):
        return None, None  # Dropout's mask is read: not inference mode
    if op.op_type == "Dropout":
        if op.attrs.get("is_test", 1) == 0:
            return None, None
        if len(op.inputs) > 2 and op.inputs[2]:
            value = graph.initializers.get(op.inputs[2])
            if value is None or bool(value.reshape(-1)[0]):
                return None, None
    return op.inputs[0], op.outputs[0]


def _inplace_output(op) -> str | None:
    if op.op_type not in UNARY_INPLACE and op.op_type not in BINARY_INPLACE:
        return None
    outs = [t for t in op.outputs if t]
    if len(outs) != 1 or op.outputs[0] != outs[0]:
        return None
    if op.op_type == "BatchNormalization" and op.attrs.get("training_mode", 0):
        return None
    return outs[0]


def _inplace_operands(graph: Graph, op, y: str) -> list[str]:
    """The inputs ``y`` may overwrite: same shape, dtype and size as ``y``."""
    cands = op.inputs[:1] if op.op_type in UNARY_INPLACE else op.inputs
    ty = graph.tensors[y]
    return [x for x in dict.fromkeys(cands) if x and graph.tensors[x].shape == ty.shape
            and graph.tensors[x].dtype == ty.dtype]
