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
  ``in-place``  read straight from their home tier at every use (execute in place);
  ``auto``      the mode with the least bytes moved per inference (or seconds) that fits,
                ties in the order above.

Spill selection (per tier, fastest first). Let ``x_i = 1`` when buffer ``i`` leaves the tier.
The real constraint is that the allocator's arena height for the kept buffers plus the fixed
blocks (stream buffers or the resident blob) fits the capacity; height >= the live bytes at
every step, so we solve the relaxation

    min  sum_i cost_i x_i   s.t.  sum_{i live at t} size_i (1 - x_i) + fixed_t <= capacity  (all t)

(a multi-dimensional knapsack) and then run the allocator on the kept set. If its height is
over the capacity, the kept set K is cut off (``sum_{i in K} x_i >= 1``: any superset of K
cannot fit either) and the relaxation is solved again. ``exact`` solves the relaxation with
OR-tools CP-SAT, so the result is minimal whenever the allocator packs every kept set it is
given as tightly as its live bytes (small cases are checked against brute force in the
tests). ``greedy`` (for large graphs, O(rounds * n * steps)) spills, while some step is over
the capacity, the buffer with the least cost per byte of overload it removes, then returns
spilled buffers that turn out unnecessary, most expensive first; if the allocator's height is
still over, the capacity it aims at shrinks by the excess and it runs again.

Time estimates: per step, compute (MACs / rate, when op costs are known) plus the spilled and
in-place bytes each tier moves (latency + bytes / bandwidth); a stream copy for step ``s + 1``
overlaps step ``s``. Without op costs the estimate is the data movement alone.

Example: the N64 (4 MiB RDRAM, 5 MB/s ROM) with SqueezeNet fp32: the 6.0 MiB activation arena
does not fit RDRAM and RDRAM is the only writable tier, so ``fits`` is False and
``shortfall`` says by how much; at ``--dtype int8`` it fits, weights streamed from ROM.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from . import alloc
from .alloc.common import align_up
from .devices import Device, Tier
from .errors import PlanError
from .ir import Graph
from .planner import Plan
from .problem import Block, Problem

WEIGHT_MODES = ("auto", "resident", "stream", "in-place")
OBJECTIVES = ("bytes", "time")
METHODS = ("auto", "exact", "greedy")
EXACT_LIMIT = 1500  # spillable buffers above which "auto" uses the greedy


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
    weight_mode: str
    weights_home: str
    buffer_tier: Mapping[int, str]
    buffer_offset: Mapping[int, int]  # inside its tier's arena (after any weights stored there)
    streams: tuple[StreamBuffer, ...]
    resident_offset: int | None  # the resident weight blob in the fast tier
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

    @property
    def fits(self) -> bool:
        return all(t.fits for t in self.tiers)

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


# ---------------------------------------------------------------- spill selection

@dataclass(frozen=True)
class SpillResult:
    spilled: frozenset[int]  # indices into the spillable list
    offsets: tuple[int, ...]  # of kept + fixed blocks, in that order (kept in index order)
    height: int
    bound: int
    method: str
    status: str  # "optimal" | "feasible" | "infeasible"
    rounds: int


def choose_spills(spillable: Sequence[Block], fixed: Sequence[Block], costs: Sequence[int], capacity: int, *,
                  algorithm: str = "greedy_by_size", method: str = "auto", time_limit: float = 10.0,
                  max_rounds: int = 30) -> SpillResult:
    """Which of ``spillable`` to move out so that the allocator's arena of the rest plus
    ``fixed`` fits ``capacity``, at the least total ``costs``. Pure; see the module docstring."""
    if method not in METHODS:
        raise PlanError(f"unknown spill method {method!r}; choose one of: {', '.join(METHODS)}")
    search = _Search(tuple(spillable), tuple(fixed), tuple(int(c) for c in costs), capacity, algorithm)
    kept_all = search.evaluate(frozenset())
    if kept_all[1] <= capacity:
        return SpillResult(frozenset(), *kept_all, "none", "optimal", 0)
    everything = frozenset(range(len(spillable)))
    floor = search.evaluate(everything)
    if floor[1] > capacity:  # even with everything spilled
        return SpillResult(everything, *floor, "none", "infeasible", 0)
    if method == "auto":
        method = "exact" if len(spillable) <= EXACT_LIMIT else "greedy"
    if method == "exact":
        return _exact(search, time_limit, max_rounds)
    return _greedy(search)


class _Search:
    """The allocator runs of one spill search, with the best feasible set found so far."""

    def __init__(self, spillable, fixed, costs, capacity, algorithm):
        self.spillable, self.fixed, self.costs = spillable, fixed, costs
        self.capacity, self.algorithm = capacity, algorithm
        self.spans, self.fixed_live, self.members = _live_sets(spillable, fixed)
        self.sizes = [b.size for b in spillable]
        self.best: tuple[int, frozenset[int], tuple] | None = None  # (cost, spilled, evaluation)
        self.runs = 0

    def cost(self, spilled) -> int:
        return sum(self.costs[i] for i in spilled)

    def evaluate(self, spilled: frozenset[int]) -> tuple[tuple[int, ...], int, int]:
        """(offsets of kept + fixed, height, bound) from the allocator; remembers the best fit."""
        self.runs += 1
        result = _solve(self.spillable, self.fixed, spilled, self.algorithm)
        if result[1] <= self.capacity:
            c = self.cost(spilled)
            if self.best is None or (c, len(spilled)) < (self.best[0], len(self.best[1])):
                self.best = (c, spilled, result)
        return result

    def repair(self, spilled: frozenset[int]) -> frozenset[int]:
        """Spill what sticks out above the capacity in the allocator's layout until it fits
        (monotone: the spilled set only grows)."""
        while True:
            offsets, height, _ = self.evaluate(spilled)
            if height <= self.capacity:
                return spilled
            kept = [i for i in range(len(self.spillable)) if i not in spilled]
            out = {i for i, o in zip(kept, offsets) if o + self.sizes[i] > self.capacity}
            if not out:  # only fixed blocks stick out: drop the highest kept block
                out = {max(zip(kept, offsets), key=lambda p: (p[1] + self.sizes[p[0]], p[0]))[0]}
            spilled = spilled | out

    def result(self, method: str, status: str, rounds: int) -> SpillResult:
        _, spilled, (offsets, height, bound) = self.best
        return SpillResult(spilled, offsets, height, bound, method, status, rounds)


def _solve(spillable, fixed, spilled: frozenset[int], algorithm: str) -> tuple[tuple[int, ...], int, int]:
    blocks = tuple(b for i, b in enumerate(spillable) if i not in spilled) + tuple(fixed)
    if not blocks:
        return (), 0, 0
    problem = Problem(blocks)
    solution = alloc.solve(problem, algorithm)
    return solution.offsets, solution.height(problem), solution.bound


def _steps(spillable, fixed):
    """Compressed time: the distinct interval starts; per block the range of step indices."""
    import bisect

    points = sorted({b.lower for b in (*spillable, *fixed) if b.timed and b.upper > b.lower})

    def span(b):
        if not b.timed or b.upper <= b.lower:
            return range(0)
        return range(bisect.bisect_left(points, b.lower), bisect.bisect_left(points, b.upper))

    return len(points), [span(b) for b in spillable], [span(b) for b in fixed]


def _live_sets(spillable, fixed):
    import numpy as np

    n_steps, spans, fixed_spans = _steps(spillable, fixed)
    fixed_live = np.zeros(n_steps, dtype=np.int64)
    for b, s in zip(fixed, fixed_spans):
        fixed_live[s.start:s.stop] += b.size
    members: list[list[int]] = [[] for _ in range(n_steps)]
    for i, s in enumerate(spans):
        for t in s:
            members[t].append(i)
    return spans, fixed_live, members


def _exact(search: _Search, time_limit: float, max_rounds: int) -> SpillResult:
    """CP-SAT on the live-bytes relaxation; each answer the allocator cannot pack is repaired
    (an upper bound) and cut off; after a few cuts the relaxation's capacity shrinks by the
    excess instead (faster, no longer a proof). Stops when the relaxation cannot beat the best."""
    from ortools.sat.python import cp_model

    cap, n = search.capacity, len(search.spillable)
    deadline = time.perf_counter() + time_limit
    rows, seen = [], set()
    for t, m in enumerate(search.members):
        key = (int(search.fixed_live[t]), *m)
        if key not in seen:
            seen.add(key)
            rows.append((m, int(search.fixed_live[t]), sum(search.sizes[i] for i in m)))
    proven, tightened, target = True, False, cap
    cuts: list[list[int]] = []
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        model = cp_model.CpModel()
        x = [model.NewBoolVar(f"x{i}") for i in range(n)]
        for m, fixed, total in rows:
            if total + fixed > target:
                model.Add(sum(search.sizes[i] * (1 - x[i]) for i in m) <= target - fixed)
        for kept in cuts:
            model.AddBoolOr([x[i] for i in kept])
        objective = sum(c * v for c, v in zip(search.costs, x))
        if search.best is not None:
            model.Add(objective < search.best[0])
            for i in range(n):
                model.AddHint(x[i], i in search.best[1])
        model.Minimize(objective)
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 0.05)
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = 0
        status = solver.Solve(model)
        if status == cp_model.INFEASIBLE:
            break  # nothing in the relaxation beats the best found
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            proven = False
            break
        proven = proven and status == cp_model.OPTIMAL
        spilled = frozenset(i for i in range(n) if solver.Value(x[i]))
        offsets, height, _ = search.evaluate(spilled)
        if height <= cap:
            if status == cp_model.OPTIMAL:
                break  # the relaxation's optimum packs: nothing cheaper exists
            continue
        search.repair(spilled)
        kept = [i for i in range(n) if i not in spilled]
        if len(cuts) < 8 and kept:
            cuts.append(kept)
        else:
            target -= height - cap
            tightened = True
        if time.perf_counter() > deadline:
            proven = False
            break
    else:
        proven = False
    if search.best is None:
        search.repair(frozenset())
    return search.result("exact", "optimal" if proven and not tightened else "feasible", rounds)


def _greedy(search: _Search) -> SpillResult:
    """Spill by least cost per byte of overload removed until every step fits, repair what the
    allocator cannot pack, then give back spilled buffers that are not needed."""
    import numpy as np

    cap = search.capacity
    sizes = np.array(search.sizes, dtype=np.int64)
    spans, members = search.spans, search.members
    live = search.fixed_live.copy()
    for i, s in enumerate(spans):
        live[s.start:s.stop] += sizes[i]
    spilled: set[int] = set()
    while True:
        excess = live - cap
        t = int(excess.argmax())
        if excess[t] <= 0:
            break
        over = excess.clip(min=0)
        best, best_score = None, None
        for i in members[t]:
            if i in spilled:
                continue
            gain = int(np.minimum(over[spans[i].start:spans[i].stop], sizes[i]).sum())
            score = (search.costs[i] / gain, -int(sizes[i]), i)
            if best_score is None or score < best_score:
                best, best_score = i, score
        if best is None:
            break
        spilled.add(best)
        live[spans[best].start:spans[best].stop] -= sizes[best]
    repaired = search.repair(frozenset(spilled))
    # give back, most expensive first, what the live bytes allow; keep it if the allocator agrees
    live = search.fixed_live.copy()
    for i, s in enumerate(spans):
        if i not in repaired:
            live[s.start:s.stop] += sizes[i]
    back = set(repaired)
    for i in sorted(repaired, key=lambda i: (-search.costs[i], i)):
        s = spans[i]
        if (live[s.start:s.stop] + sizes[i] <= cap).all():
            back.discard(i)
            live[s.start:s.stop] += sizes[i]
    if back != repaired:
        search.evaluate(frozenset(back))
    return search.result("greedy", "feasible", 1)


# ---------------------------------------------------------------- placement

def buffer_reads(graph: Graph, plan: Plan) -> dict[int, int]:
    """Buffer id -> how many steps read it (a step reading several of its tensors counts once)."""
    step = {name: s for s, name in enumerate(plan.order)}
    op_step = [step[op.name] for op in graph.ops]
    out = {}
    for b in plan.buffers:
        steps = {op_step[i] for name in b.names for i in graph.consumers.get(name, ())}
        out[b.id] = len(steps)
    return out


def step_weights(graph: Graph, plan: Plan) -> list[tuple[str, ...]]:
    """The distinct weights the op at each step reads."""
    by_name = {op.name: op for op in graph.ops}
    return [tuple(dict.fromkeys(t for t in by_name[name].inputs if t and graph.tensors[t].kind == "weight"))
            for name in plan.order]


def _stream_layout(weights: tuple[str, ...], graph: Graph, alignment: int) -> tuple[tuple[tuple[str, int], ...], int]:
    slots, top = [], 0
    for w in weights:
        top = align_up(top, alignment)
        slots.append((w, top))
        top += graph.tensors[w].nbytes
    return tuple(slots), top


def step_macs(graph: Graph, plan: Plan) -> list[int] | None:
    """MACs of the op at each step from `memplan.costs`, or None where that is not installed."""
    try:
        from .costs import op_macs
    except ImportError:
        return None
    by_name = {op.name: op for op in graph.ops}
    return [op_macs(graph, by_name[name]) for name in plan.order]


def spill_cost(tier: Tier, size: int, reads: int, objective: str) -> int:
    """Bytes moved (written once, read ``reads`` times), or nanoseconds on ``tier``."""
    if objective == "bytes":
        return size * (1 + reads)
    seconds = tier.write_seconds(size) + reads * tier.read_seconds(size)
    return max(int(round(seconds * 1e9)), 1)


def weights_home(device: Device) -> Tier:
    readonly = [t for t in device.tiers if not t.writable]
    return readonly[-1] if readonly else device.tiers[-1]


def place(graph: Graph, plan: Plan, device: Device, *, weights: str = "auto", objective: str = "bytes",
          method: str = "auto", algorithm: str | None = None, time_limit: float = 6.0,
          macs: Sequence[float] | None = None) -> TieredPlan:
    """Place ``plan`` (made for ``graph``) on ``device``; validated by `check_tiered`.

    ``macs``: multiply-accumulates of the op at each step, for the time estimate (optional).
    ``time_limit``: seconds for the exact spill search, shared by the weight modes tried."""
    if weights not in WEIGHT_MODES:
        raise PlanError(f"unknown weight mode {weights!r}; choose one of: {', '.join(WEIGHT_MODES)}")
    if objective not in OBJECTIVES:
        raise PlanError(f"unknown objective {objective!r}; choose one of: {', '.join(OBJECTIVES)}")
    algorithm = algorithm or (plan.algorithm if plan.algorithm in alloc.ALGORITHMS else "greedy_by_size")
    modes = ("resident", "stream", "in-place") if weights == "auto" else (weights,)
    candidates = [_place_mode(graph, plan, device, mode, objective, method, algorithm, time_limit / len(modes), macs)
                  for mode in modes]
    key = (lambda p: p.bytes_moved) if objective == "bytes" else (lambda p: p.seconds)
    fitting = [p for p in candidates if p.fits]
    best = min(fitting, key=key) if fitting else min(candidates, key=lambda p: (p.shortfall, key(p)))
    from .verify.tiers import check_tiered

    findings = check_tiered(graph, best)
    if findings:
        raise PlanError(f"the tiered plan failed validation (a bug, nothing written): {findings[0]}")
    return best


def _place_mode(graph, plan, device, mode, objective, method, algorithm, time_limit, macs) -> TieredPlan:
    start = time.perf_counter()
    align = plan.alignment
    n = len(plan.order)
    act_tiers = [t for t in device.tiers if t.writable]
    home = weights_home(device)
    if home.name == act_tiers[0].name:
        mode = "in-place"  # weights are stored in the fast tier already
    reads = buffer_reads(graph, plan)
    per_step = step_weights(graph, plan)

    fixed: list[Block] = []
    streams_layout = []
    if mode == "resident" and plan.weights_bytes:
        fixed.append(Block("weights", plan.weights_bytes, 0, max(n, 1), align))
    elif mode == "stream":
        for s, ws in enumerate(per_step):
            if ws:
                slots, size = _stream_layout(ws, graph, align)
                streams_layout.append((s, slots, size))
                fixed.append(Block(f"w@{s}", size, max(s - 1, 0), s + 1, align))

    remaining = sorted(plan.buffers, key=lambda b: b.id)
    buffer_tier: dict[int, str] = {}
    buffer_offset: dict[int, int] = {}
    uses: list[TierUse] = []
    stream_offsets: dict[str, int] = {}
    resident_offset = None
    methods, statuses = [], []
    spill_by_tier: dict[str, list] = {}
    for k, tier in enumerate(act_tiers):
        last = k == len(act_tiers) - 1
        tier_fixed = fixed if k == 0 else []
        stored = plan.weights_bytes if tier.name == home.name else 0
        base = align_up(stored, align) if stored else 0
        capacity = max(tier.capacity - base, 0)
        blocks = [Block(str(b.id), b.size, b.first_step, b.last_step + 1, align) for b in remaining]
        next_tier = act_tiers[k + 1] if not last else None
        costs = [spill_cost(next_tier, b.size, reads[b.id], objective) if next_tier else 0 for b in remaining]
        if last:
            offsets, height, bound = _solve(blocks, tier_fixed, frozenset(), algorithm)
            result = SpillResult(frozenset(), offsets, height, bound, "none", "optimal" if height <= capacity
                                 else "infeasible", 0)
        else:
            result = choose_spills(blocks, tier_fixed, costs, capacity, algorithm=algorithm, method=method,
                                   time_limit=time_limit)
        methods.append(result.method)
        statuses.append(result.status)
        kept = [b for i, b in enumerate(remaining) if i not in result.spilled]
        for b, off in zip(kept, result.offsets):
            buffer_tier[b.id] = tier.name
            buffer_offset[b.id] = base + off
        for blk, off in zip(tier_fixed, result.offsets[len(kept):]):
            if blk.id == "weights":
                resident_offset = off
            else:
                stream_offsets[blk.id] = off
        spilled = [b for i, b in enumerate(remaining) if i in result.spilled]
        spill_by_tier[tier.name] = kept
        uses.append(TierUse(tier.name, tier.capacity, True, result.height, result.bound, stored, 0, 0))
        remaining = spilled
        if not remaining:
            for later in act_tiers[k + 1:]:
                later_stored = plan.weights_bytes if later.name == home.name else 0
                uses.append(TierUse(later.name, later.capacity, True, 0, 0, later_stored, 0, 0))
                spill_by_tier[later.name] = []
            break
    if not home.writable:
        uses.append(TierUse(home.name, home.capacity, False, 0, 0, plan.weights_bytes, 0, 0))

    streams = tuple(StreamBuffer(f"w@{s}", s, max(s - 1, 0), s, size, stream_offsets[f"w@{s}"], slots)
                    for s, slots, size in streams_layout)
    fast = act_tiers[0]
    # traffic per inference
    traffic = {u.name: [0, 0] for u in uses}
    spilled_moved = 0
    for tier_name, kept in spill_by_tier.items():
        if tier_name == fast.name:
            continue
        for b in kept:
            traffic[tier_name][1] += b.size
            traffic[tier_name][0] += b.size * reads[b.id]
            spilled_moved += b.size * (1 + reads[b.id])
    weight_moved = 0
    if mode in ("stream", "in-place"):
        weight_moved = sum(graph.tensors[w].nbytes for ws in per_step for w in ws)
        traffic[home.name][0] += weight_moved
        if mode == "stream":
            traffic[fast.name][1] += weight_moved
    uses = [TierUse(u.name, u.capacity, u.writable, u.arena_bytes, u.lower_bound_bytes, u.weights_bytes,
                    *traffic[u.name]) for u in uses]
    seconds, load_seconds = _estimate(graph, plan, device, mode, buffer_tier, per_step, home, macs)
    method_used = next((m for m in methods if m != "none"), "none")
    status = "infeasible" if "infeasible" in statuses else ("feasible" if "feasible" in statuses else "optimal")
    return TieredPlan(
        plan=plan, device=device, weight_mode=mode, weights_home=home.name, buffer_tier=buffer_tier,
        buffer_offset=buffer_offset, streams=streams, resident_offset=resident_offset, tiers=tuple(uses),
        spilled_bytes_moved=spilled_moved, weight_bytes_moved=weight_moved, spill_method=method_used,
        spill_status=status, seconds=seconds, load_seconds=load_seconds, compute_known=macs is not None,
        algorithm=algorithm, objective=objective, stats={"seconds": time.perf_counter() - start})


def _estimate(graph, plan, device, mode, buffer_tier, per_step, home: Tier, macs) -> tuple[float, float]:
    """(seconds per inference, seconds to load resident weights once)."""
    n = len(plan.order)
    fast = next(t for t in device.tiers if t.writable)
    io = [0.0] * n
    step = {name: s for s, name in enumerate(plan.order)}
    op_step = [step[op.name] for op in graph.ops]
    for b in plan.buffers:
        tier_name = buffer_tier[b.id]
        if tier_name == fast.name:
            continue
        tier = device.tier(tier_name)
        io[b.first_step] += tier.write_seconds(b.size)
        for s in sorted({op_step[i] for name in b.names for i in graph.consumers.get(name, ())}):
            io[s] += tier.read_seconds(b.size)
    load = [home.read_seconds(sum(graph.tensors[w].nbytes for w in ws)) for ws in per_step]
    compute = [(macs[s] / device.compute_macs_per_s if macs is not None else 0.0) for s in range(n)]
    if mode == "in-place":
        return sum(c + i + ld for c, i, ld in zip(compute, io, load)), 0.0
    if mode == "stream":
        total = load[0] if n else 0.0
        for s in range(n):
            nxt = load[s + 1] if s + 1 < n else 0.0
            total += max(compute[s] + io[s], nxt)
        return total, 0.0
    return sum(c + i for c, i in zip(compute, io)), home.read_seconds(plan.weights_bytes)
