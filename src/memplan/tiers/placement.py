"""Plan -> TieredPlan: which memory tier every buffer and weight lives in, on a `Device`.

The base `Plan` fixes the order and the buffers (lifetimes, sharing). Placement then puts:

- **activations** in the fastest writable tier that holds them. When that tier's arena does
  not fit, some buffers are *spilled* to the next writable tier. A spilled buffer costs its
  size once for the write plus its size for every step that reads it (the bytes moved). The
  choice minimises that cost (or the estimated seconds) while the rest fits;
- **weights** in their home — the slowest read-only tier (ROM, flash), else the slowest
  tier — and, at run time, one of three modes:

  ``resident``  copied once at load time into the fast tier: one block live at every step;
  ``stream``    copied before the op that reads them into a *stream buffer*, a block of the
                fast-tier problem live on ``[s - 1, s]`` for the op at step ``s``: the copy for
                step ``s + 1`` runs while step ``s`` computes (double buffering, as in XLA's
                memory-space assignment prefetch and Arm Vela's weight streaming);
  ``in-place``  read straight from their home tier at every use (execute in place; only
                when the tier is ``addressable``);
  ``on-demand`` weights read in part (embedding rows, routed experts: `on_demand`): only the
                slices the indices select, fetched into a staging buffer of the fast tier
                live at the step that reads them;
  ``auto``      a mode *per weight tensor* (`weight_modes`), chosen together with the spills
                of the fast tier: the hot and small weights resident, big ones streamed or
                read in place, as Vela and XLA's memory-space assignment do. The least bytes
                moved per inference (or seconds) whose arena the real allocator fits. When
                that search cannot prove its answer optimal, the three single modes are
                placed too and the best of all wins (ties: mixed, then the order above).

Spill selection (per tier, fastest first) is `memplan.tiers.spills`.

Time estimates: per step, compute (MACs at the device's rate for the op's output dtype, see
`Device.macs_per_s`) plus spill traffic plus in-place reads (latency + bytes / bandwidth, per
tensor); the stream copy for step ``s + 1`` overlaps step ``s``. Without op costs the
estimate is the data movement alone.

Example: the N64 (4 MiB RDRAM, 5 MB/s ROM) with SqueezeNet fp32: the 3.9 MiB activation arena
leaves too little RDRAM for much more than a few stream buffers; ``shortfalls`` lists every
tier over capacity when nothing fits; at ``--dtype int8`` the small weights become resident
and the rest stream from ROM.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from .. import alloc
from ..units import align_up
from .devices import Device, Tier
from ..errors import PlanError
from ..graph.ir import Graph, step_weights
from ..planner import Plan
from ..problem import Block
from .spills import SpillResult, choose_spills, pack_kept
from .on_demand import bytes_moved, demand_costs, demand_read, partial_access, step_read_bytes
from .traffic import buffer_reads, estimate, spill_cost, step_compute
from .weight_modes import MODES, WeightItem, layout, mode_blocks

WEIGHT_MODES = ("auto", "resident", "stream", "in-place", "on-demand")  # on-demand: the others streamed
OBJECTIVES = ("bytes", "time")


@dataclass(frozen=True)
class StreamBuffer:
    """Weights of the op at ``step``, copied in on ``[first_step, last_step]`` (inclusive)."""

    id: str
    step: int
    first_step: int
    last_step: int
    size: int
    offset: int  # in the fast tier's arena
    weights: tuple[tuple[str, int], ...]  # (weight name, byte offset inside the buffer)


@dataclass(frozen=True)
class TierUse:
    """One tier: its arena (activations, stream buffers, resident weights), the weights stored
    there, and the bytes read and written per inference by data movement between tiers."""

    name: str
    capacity: int
    writable: bool
    arena_bytes: int
    lower_bound_bytes: int
    weights_bytes: int
    read_bytes: int
    write_bytes: int

    @property
    def used_bytes(self) -> int:
        return self.arena_bytes + self.weights_bytes

    @property
    def fits(self) -> bool:
        return self.used_bytes <= self.capacity


@dataclass(frozen=True)
class TieredPlan:
    plan: Plan
    device: Device
    weight_mode: str  # the one mode of every weight, or "mixed" (see weight_modes)
    weights_home: str
    buffer_tier: Mapping[int, str]
    buffer_offset: Mapping[int, int]  # inside its tier's arena (after any weights stored there)
    streams: tuple[StreamBuffer, ...]
    resident_offset: int | None  # the resident weight blob in the fast tier (slots: ``resident``)
    tiers: tuple[TierUse, ...]
    spilled_bytes_moved: int  # per inference: spilled activations written + read
    weight_bytes_moved: int  # per inference: weights copied (stream) or read in place
    spill_method: str  # "none" | "exact" | "greedy"
    spill_status: str  # "optimal" | "feasible" | "infeasible"
    seconds: float  # estimated per inference
    load_seconds: float  # once, at load time (resident weights)
    compute_known: bool
    algorithm: str
    objective: str = "bytes"
    stats: Mapping[str, float] = field(default_factory=dict)
    weight_modes: Mapping[str, str] = field(default_factory=dict)  # every weight some step reads
    resident: tuple[tuple[str, int], ...] = ()  # (weight, byte offset inside the resident blob)
    staging: tuple[StreamBuffer, ...] = ()  # on-demand staging buffers, live on [step, step]
    weight_bytes_worst: int = -1  # per inference, worst case (-1: as weight_bytes_moved)
    demand_bytes: tuple[int, int] = (0, 0)  # (expected, worst) fetched by weights read in part
    branches: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # as given to `place`

    @property
    def bytes_moved_worst(self) -> int:
        worst = self.weight_bytes_worst if self.weight_bytes_worst >= 0 else self.weight_bytes_moved
        return self.spilled_bytes_moved + worst

    @property
    def fits(self) -> bool:
        return all(t.fits for t in self.tiers)

    @property
    def shortfalls(self) -> tuple[tuple[str, int], ...]:
        """(tier, bytes over its capacity) for every tier that does not fit."""
        return tuple((t.name, t.used_bytes - t.capacity) for t in self.tiers if not t.fits)

    def mode_totals(self) -> dict[str, tuple[int, int]]:
        """Weight mode -> (how many weights, their bytes), for the modes in use."""
        sizes = {w.name: w.size for w in self.plan.weights}
        out: dict[str, tuple[int, int]] = {}
        for w, m in self.weight_modes.items():
            count, total = out.get(m, (0, 0))
            out[m] = (count + 1, total + sizes[w])
        return {m: out[m] for m in MODES if m in out}

    @property
    def shortfall(self) -> int:
        """Bytes over capacity in the first tier that does not fit (0 when all fit)."""
        return next((t.used_bytes - t.capacity for t in self.tiers if not t.fits), 0)

    @property
    def bytes_moved(self) -> int:
        return self.spilled_bytes_moved + self.weight_bytes_moved

    def tier_of(self, tier: str) -> TierUse:
        return next(t for t in self.tiers if t.name == tier)

    @property
    def spilled(self) -> tuple[int, ...]:
        fast = self.tiers[0].name if self.tiers else ""
        return tuple(b for b, t in self.buffer_tier.items() if t != fast)


def weights_home(device: Device) -> Tier:
    readonly = [t for t in device.tiers if not t.writable]
    return readonly[-1] if readonly else device.tiers[-1]


def weight_items(graph: Graph, plan: Plan, device: Device, objective: str, *,
                 modes: Sequence[str] = MODES, access=None) -> tuple[list[WeightItem], int]:
    """One `WeightItem` per weight some step reads (first-use order), with the cost of each of
    ``modes`` the device allows, and the factor spill costs are scaled by to match.

    Bytes: streamed and in-place weights move ``size * uses``; in-place costs one unit more per
    weight so that, bytes being equal, streaming (which hides the copy) wins; every byte
    count is scaled by ``items + 1`` so those units never outweigh a byte. Time: in-place
    costs its reads in ns; a stream copy costs only the stall the step before does not hide
    (`weight_modes` models it from ``WeightItem.copy`` and the per-step compute). ``access``:
    weight -> `Access` of the weights read in part (`on_demand.partial_access`), which may
    also be ``on-demand`` and read in place for the bytes they read."""
    per_step = step_weights(graph, plan)
    uses: dict[str, list[int]] = {}
    for s, ws in enumerate(per_step):
        for w in ws:
            uses.setdefault(w, []).append(s)
    names = [w for w in graph.weights if w in uses]
    home, fast = weights_home(device), next(t for t in device.tiers if t.writable)
    allowed = [m for m in modes if m != "in-place" or home.addressable]
    if home.name == fast.name:
        allowed = ["in-place"]  # stored in the fast tier already
    scale = len(names) + 1 if objective == "bytes" else 1
    items = []
    for name in names:
        size, steps = graph.tensors[name].nbytes, tuple(uses[name])
        copy = _ns(home.read_seconds(size))
        if objective == "bytes":
            moved = scale * size * len(steps)
            costs = {"resident": 0, "stream": moved, "in-place": moved + 1}
        else:
            costs = {"resident": 0, "stream": 0, "in-place": copy * len(steps)}
        if home.name == fast.name:
            costs["in-place"] = 0
        item_costs, staged = {m: costs[m] for m in allowed if m != "on-demand"}, 0
        if access and name in access and home.name != fast.name:
            item_costs.update(demand_costs(access[name], home, objective, scale, allowed))
            staged = access[name].worst
        items.append(WeightItem(name, size, steps, item_costs, copy, staged))
    return items, scale


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


def place(graph: Graph, plan: Plan, device: Device, *, weights: str = "auto", objective: str = "bytes",
          method: str = "auto", algorithm: str | None = None, time_limit: float = 6.0,
          macs: Sequence[float] | None = None, partial: bool = True, branches=None) -> TieredPlan:
    """Place ``plan`` (made for ``graph``) on ``device``; validated by `check_tiered`.

    ``weights``: one mode for every weight, or ``auto``: a mode per weight (`weight_modes`),
    falling back to the best single mode when that search cannot prove its answer optimal.
    ``macs``: multiply-accumulates of the op at each step, for the time estimate (optional).
    ``time_limit``: seconds for the exact searches, shared by the candidates. ``partial``: False
    treats every weight as read whole (as before weight access analysis; for comparisons).
    ``branches``: weight -> (If node, branch) of the weights read in one branch only."""
    if weights not in WEIGHT_MODES:
        raise PlanError(f"unknown weight mode {weights!r}; choose one of: {', '.join(WEIGHT_MODES)}")
    if objective not in OBJECTIVES:
        raise PlanError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")
    algorithm = algorithm or (plan.algorithm if plan.algorithm in alloc.ALGORITHMS else "greedy_by_size")
    access = partial_access(graph, enabled=partial, branches=branches)
    job = _Job(graph, plan, device, objective, method, algorithm, macs, access)
    if weights == "in-place" and not weights_home(device).addressable and job.items:
        raise PlanError(f"device {device.name}: tier {weights_home(device).name!r} is not addressable, so weights "
                        f"cannot be read in place; use --weights stream, resident or auto")
    if weights != "auto":
        candidates = [job.uniform(weights, time_limit)]
    else:
        mixed, proven = job.mixed(time_limit / 2)
        candidates = [mixed]
        if not proven:
            modes = [m for m in MODES if all(m in w.costs for w in job.items)]
            candidates += [job.uniform(m, time_limit / 2 / max(len(modes), 1)) for m in modes]
    best = _pick(candidates, objective)
    if branches:
        best = dataclasses.replace(best, branches=dict(branches))
    from ..verify.check_tiers import check_tiered

    findings = check_tiered(graph, best)
    if findings:
        raise PlanError(f"the tiered plan failed validation (a bug, nothing written): {findings[0]}")
    return best


def _pick(candidates: Sequence[TieredPlan], objective: str) -> TieredPlan:
    """The fitting plan that moves the least (or is fastest), earlier on ties; when none fits,
    the one short by the fewest bytes over all tiers."""
    key = (lambda p: p.bytes_moved) if objective == "bytes" else (lambda p: p.seconds)
    fitting = [p for p in candidates if p.fits]
    if fitting:
        return min(fitting, key=key)
    return min(candidates, key=lambda p: (sum(b for _, b in p.shortfalls), key(p)))


class _Job:
    """What every candidate placement of one (graph, plan, device) shares."""

    def __init__(self, graph, plan, device, objective, method, algorithm, macs, access):
        self.graph, self.plan, self.device, self.objective = graph, plan, device, objective
        self.method, self.algorithm, self.macs, self.access = method, algorithm, macs, access
        self.items, self.scale = weight_items(graph, plan, device, objective, access=access)
        self.reads = buffer_reads(graph, plan)
        self.act_tiers = [t for t in device.tiers if t.writable]
        self.home = weights_home(device)

    def uniform(self, mode: str, time_limit: float) -> TieredPlan:
        fallback = "stream" if mode == "on-demand" else ""
        modes = tuple(mode if mode in w.costs else fallback if fallback in w.costs else next(iter(w.costs))
                      for w in self.items)
        return self.assign(modes, None, time_limit)

    def mixed(self, time_limit: float) -> tuple[TieredPlan, bool]:
        """The per-weight search on the fast tier; (plan, proven optimal)."""
        from .weight_modes import choose_modes

        fast, n, align = self.act_tiers[0], len(self.plan.order), self.plan.alignment
        blocks, costs = self.fast_blocks()
        capacity = max(fast.capacity - self.stored_base(fast), 0)
        slack = None
        if self.objective == "time":
            slack = [_ns(c) for c in step_compute(self.graph, self.plan, self.device, self.macs)]
        result = choose_modes(self.items, blocks, costs, capacity, n, alignment=align, slack=slack,
                              algorithm=self.algorithm, method=self.method, time_limit=time_limit)
        fixed = mode_blocks(self.items, result.modes, n, align)
        offsets, height, bound = pack_kept(blocks, fixed, result.spilled, self.algorithm)
        first = SpillResult(result.spilled, offsets, height, bound, result.method,
                            result.status if height <= capacity else "infeasible", result.rounds)
        return self.assign(result.modes, first, time_limit), result.status == "optimal"

    def stored_base(self, tier: Tier) -> int:
        stored = self.plan.weights_bytes if tier.name == self.home.name else 0
        return align_up(stored, self.plan.alignment) if stored else 0

    def fast_blocks(self) -> tuple[list[Block], list[int] | None]:
        """The fast tier's activation blocks and their spill costs (None: nowhere to spill)."""
        align = self.plan.alignment
        remaining = sorted(self.plan.buffers, key=lambda b: b.id)
        blocks = [Block(str(b.id), b.size, b.first_step, b.last_step + 1, align) for b in remaining]
        if len(self.act_tiers) < 2:
            return blocks, None
        nxt = self.act_tiers[1]
        return blocks, [self.scale * spill_cost(nxt, b.size, self.reads[b.id], self.objective) for b in remaining]

    def assign(self, modes: tuple[str, ...], first: SpillResult | None, time_limit: float) -> TieredPlan:
        """The TieredPlan for these weight modes; the fast tier's spills are ``first`` when given,
        else chosen by `choose_spills`; every later tier by `choose_spills`."""
        start = time.perf_counter()
        plan, graph, align = self.plan, self.graph, self.plan.alignment
        n = len(plan.order)
        fixed = mode_blocks(self.items, modes, n, align)
        placed = self.tiers(fixed, first, time_limit)
        by_name = dict(zip((w.name for w in self.items), modes))
        streams = self.streams(by_name, placed.fixed_offsets)
        resident = layout([(w.name, w.size) for w in self.items if by_name[w.name] == "resident"], align)[0]
        moved, worst = bytes_moved(self.items, by_name, self.access)
        uses = self.traffic(placed, moved, by_name)
        seconds, load_seconds = estimate(graph, plan, self.device, by_name, placed.buffer_tier, self.home, self.macs,
                                         step_read_bytes(self.items, self.access))
        return TieredPlan(
            plan=plan, device=self.device, weight_mode=summary_mode(by_name), weights_home=self.home.name,
            buffer_tier=placed.buffer_tier, buffer_offset=placed.buffer_offset, streams=streams,
            resident_offset=placed.fixed_offsets.get("weights"), tiers=uses,
            spilled_bytes_moved=placed.spilled_moved(self.reads), weight_bytes_moved=moved,
            spill_method=placed.method, spill_status=placed.status, seconds=seconds, load_seconds=load_seconds,
            compute_known=self.macs is not None, algorithm=self.algorithm, objective=self.objective,
            stats={"seconds": time.perf_counter() - start}, weight_modes=by_name, resident=resident,
            staging=self.staging(by_name, placed.fixed_offsets), weight_bytes_worst=worst,
            demand_bytes=demand_read(by_name, self.access))

    def tiers(self, fixed: list[Block], first: SpillResult | None, time_limit: float) -> "_Tiers":
        plan, align = self.plan, self.plan.alignment
        out = _Tiers()
        remaining = sorted(plan.buffers, key=lambda b: b.id)
        for k, tier in enumerate(self.act_tiers):
            base = self.stored_base(tier)
            capacity = max(tier.capacity - base, 0)
            tier_fixed = fixed if k == 0 else []
            blocks = [Block(str(b.id), b.size, b.first_step, b.last_step + 1, align) for b in remaining]
            if k == 0 and first is not None:
                result = first
            elif k == len(self.act_tiers) - 1:
                offsets, height, bound = pack_kept(blocks, tier_fixed, frozenset(), self.algorithm)
                result = SpillResult(frozenset(), offsets, height, bound, "none",
                                     "optimal" if height <= capacity else "infeasible", 0)
            else:
                nxt = self.act_tiers[k + 1]
                costs = [spill_cost(nxt, b.size, self.reads[b.id], self.objective) for b in remaining]
                result = choose_spills(blocks, tier_fixed, costs, capacity, algorithm=self.algorithm,
                                       method=self.method, time_limit=time_limit)
            kept = [b for i, b in enumerate(remaining) if i not in result.spilled]
            out.add(tier, base, kept, result, tier_fixed, self.stored(tier))
            remaining = [b for i, b in enumerate(remaining) if i in result.spilled]
            if not remaining:
                for later in self.act_tiers[k + 1:]:
                    out.uses.append(TierUse(later.name, later.capacity, True, 0, 0, self.stored(later), 0, 0))
                    out.kept[later.name] = []
                break
        if not self.home.writable:
            out.uses.append(TierUse(self.home.name, self.home.capacity, False, 0, 0, plan.weights_bytes, 0, 0))
        return out

    def stored(self, tier: Tier) -> int:
        return self.plan.weights_bytes if tier.name == self.home.name else 0

    def streams(self, by_name: Mapping[str, str], offsets: Mapping[str, int]) -> tuple[StreamBuffer, ...]:
        out = []
        for s, ws in enumerate(step_weights(self.graph, self.plan)):
            streamed = [(w, self.graph.tensors[w].nbytes) for w in ws if by_name.get(w) == "stream"]
            if streamed:
                slots, size = layout(streamed, self.plan.alignment)
                out.append(StreamBuffer(f"w@{s}", s, max(s - 1, 0), s, size, offsets[f"w@{s}"], slots))
        return tuple(out)

    def staging(self, by_name: Mapping[str, str], offsets: Mapping[str, int]) -> tuple[StreamBuffer, ...]:
        """The on-demand staging buffer of every step that fetches slices, one slot per weight."""
        out = []
        for s, ws in enumerate(step_weights(self.graph, self.plan)):
            staged = [(w, self.access[w].worst) for w in ws if by_name.get(w) == "on-demand"]
            if staged:
                slots, size = layout(staged, self.plan.alignment)
                out.append(StreamBuffer(f"d@{s}", s, s, s, size, offsets[f"d@{s}"], slots))
        return tuple(out)

    def traffic(self, placed: "_Tiers", weight_moved: int, by_name) -> tuple[TierUse, ...]:
        """Bytes read and written per inference in each tier."""
        fast = self.act_tiers[0].name
        traffic = {u.name: [0, 0] for u in placed.uses}
        for tier_name, kept in placed.kept.items():
            if tier_name != fast:
                for b in kept:
                    traffic[tier_name][1] += b.size
                    traffic[tier_name][0] += b.size * self.reads[b.id]
        traffic[self.home.name][0] += weight_moved
        traffic[fast][1] += sum(w.size * len(w.steps) for w in self.items if by_name[w.name] == "stream")
        traffic[fast][1] += sum(self.access[w.name].expected for w in self.items if by_name[w.name] == "on-demand")
        return tuple(dataclasses.replace(u, read_bytes=traffic[u.name][0], write_bytes=traffic[u.name][1])
                     for u in placed.uses)


class _Tiers:
    """Where the buffers of every writable tier went, accumulated tier by tier."""

    def __init__(self):
        self.buffer_tier: dict[int, str] = {}
        self.buffer_offset: dict[int, int] = {}
        self.fixed_offsets: dict[str, int] = {}
        self.kept: dict[str, list] = {}
        self.uses: list[TierUse] = []
        self.methods: list[str] = []
        self.statuses: list[str] = []

    def add(self, tier: Tier, base: int, kept, result: SpillResult, fixed, stored: int) -> None:
        for b, off in zip(kept, result.offsets):
            self.buffer_tier[b.id] = tier.name
            self.buffer_offset[b.id] = base + off
        for blk, off in zip(fixed, result.offsets[len(kept):]):
            self.fixed_offsets[blk.id] = off
        self.kept[tier.name] = kept
        self.methods.append(result.method)
        self.statuses.append(result.status)
        self.uses.append(TierUse(tier.name, tier.capacity, True, result.height, result.bound, stored, 0, 0))

    @property
    def method(self) -> str:
        return next((m for m in self.methods if m != "none"), "none")

    @property
    def status(self) -> str:
        return next((s for s in ("infeasible", "feasible") if s in self.statuses), "optimal")

    def spilled_moved(self, reads: Mapping[int, int]) -> int:
        fast = self.uses[0].name if self.uses else ""
        return sum(b.size * (1 + reads[b.id]) for name, kept in self.kept.items() if name != fast for b in kept)


def summary_mode(by_name: Mapping[str, str]) -> str:
    """The one mode every weight takes, or ``mixed``."""
    modes = set(by_name.values())
    return modes.pop() if len(modes) == 1 else ("mixed" if modes else "in-place")
