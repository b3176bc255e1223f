"""Per-weight modes: which weights stay resident in RAM, which are streamed, which are read in
place, chosen together with the activations spilled out of the fast tier.

Each weight tensor ``w`` (``size_w`` bytes, read at the steps ``U_w``) takes one mode:

  ``resident``  one block of the resident blob, live at every step; moves nothing per inference;
  ``stream``    a slot of the stream buffer of every step ``s`` in ``U_w``; that buffer is live on
                ``[s - 1, s]`` (double buffering), so the copy for ``s`` overlaps step ``s - 1``;
  ``in-place``  no RAM at all; read from its home tier at every use (only when the home tier
                is addressable by the compute);
  ``on-demand`` only for a weight read in part (`graph.weight_access`: embedding rows, routed
                experts): the slices the indices select are fetched at step ``s`` itself (the
                indices are known only then) into a *staging buffer* of ``staged`` bytes live
                on ``[s, s]``; moves the bytes read, not the weight.

Each spillable activation buffer ``i`` is kept (RAM) or spilled (``x_i = 1``, cost ``c_i``).
The fast tier holds the kept buffers, the resident blob and the stream buffers, all placed
together by the allocator. With ``m_{w,k} = 1`` when ``w`` takes mode ``k``, the relaxation is

    min  sum_i c_i x_i + sum_{w,k} c_{w,k} m_{w,k} + sum_s z_s
    s.t. sum_{i live at t} size_i (1 - x_i) + sum_w size_w (m_{w,R} + |U_w & {t, t+1}| m_{w,S})
         <= capacity                                         for every step t
         sum_k m_{w,k} = 1                                   for every weight w

where ``z_s`` is zero for the bytes objective; for the time objective it is the stall
``z_s >= sum_{w in W(s+1)} copy_w m_{w,S} - slack_s - sum_{w in W(s)} copy_w m_{w,P}``,
``z_s >= 0``: the stream copy for step ``s + 1`` beyond what step ``s`` hides (its compute,
``slack_s``, plus its in-place reads; spill traffic is not counted as cover, so the model is
slightly pessimistic). Live bytes are a lower bound on the allocator's height, so each answer
is then packed by the real allocator, as the spill search does (`spills.choose_spills`):
an answer that does not pack is cut off (``at least one RAM decision of it changes``), after a
few cuts the relaxation's capacity shrinks by the excess instead, and the best packed answer
is kept.

``exact`` solves the relaxation with CP-SAT (small and medium models: the tests compare it with
brute force); ``greedy`` (large models, O(items log items + items * steps)) starts from the
least RAM (every weight in place, else streamed; every spillable buffer spilled) and buys
back, in order of benefit per byte, each keep / stream / resident upgrade that still fits the
live bytes; if the allocator's height is over, the target shrinks by the excess and it runs
again. ``auto`` picks ``exact`` up to ``EXACT_LIMIT`` decisions.

Example: the N64 (4 MiB RDRAM) with SqueezeNet int8: 1.0 MiB of activations leave ~3 MiB; the
small fire-module weights become resident, the big final conv streams (or is read in place),
so fewer bytes cross the 5 MB/s cartridge bus than with any single mode that fits.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping, Sequence

from .. import alloc
from ..units import align_up
from ..alloc.cpsat import lazy_cuts, solve_cp
from ..errors import PlanError
from ..problem import Block, Problem

MODES = ("resident", "stream", "in-place", "on-demand")
METHODS = ("auto", "exact", "greedy")
EXACT_LIMIT = 2500  # weights + spillable buffers above which "auto" uses the greedy


@dataclass(frozen=True)
class WeightItem:
    """One weight tensor: ``size`` bytes, read at ``steps``; ``costs`` maps each allowed mode
    to its cost per inference; ``copy`` is one copy (or in-place read) in the units of the
    stall model (used only when ``choose_modes`` gets ``slack``)."""

    name: str
    size: int
    steps: tuple[int, ...]
    costs: Mapping[str, int]
    copy: int = 0
    staged: int = 0  # on-demand: bytes of the staging slot at each step in ``steps``


@dataclass(frozen=True)
class ModeResult:
    modes: tuple[str, ...]  # per weight item
    spilled: frozenset[int]  # indices into the buffers
    offsets: tuple[int, ...]  # of kept buffers, then the mode blocks (see mode_blocks)
    height: int
    cost: int
    method: str
    status: str  # "optimal" | "feasible" | "infeasible"
    rounds: int


def layout(names_sizes: Sequence[tuple[str, int]], alignment: int) -> tuple[tuple[tuple[str, int], ...], int]:
    """Slots (name, offset) of tensors packed in order, each aligned; and the total size."""
    slots, top = [], 0
    for name, size in names_sizes:
        top = align_up(top, alignment)
        slots.append((name, top))
        top += size
    return tuple(slots), top


def step_items(items: Sequence[WeightItem], n_steps: int) -> list[list[int]]:
    """Per step, the indices of the items it reads, in item order."""
    out: list[list[int]] = [[] for _ in range(n_steps)]
    for k, w in enumerate(items):
        for s in w.steps:
            out[s].append(k)
    return out


def mode_blocks(items: Sequence[WeightItem], modes: Sequence[str], n_steps: int, alignment: int) -> list[Block]:
    """The fast-tier blocks the modes need: ``weights`` (the resident blob, live at every step),
    then ``w@s`` (the stream buffer of step ``s``, live on ``[s - 1, s]``) in step order, then
    ``d@s`` (the on-demand staging buffer of step ``s``, live on ``[s, s]``) in step order."""
    blocks = []
    resident = [(w.name, w.size) for w, m in zip(items, modes) if m == "resident"]
    if resident:
        blocks.append(Block("weights", layout(resident, alignment)[1], 0, max(n_steps, 1), alignment))
    for s, ks in enumerate(step_items(items, n_steps)):
        streamed = [(items[k].name, items[k].size) for k in ks if modes[k] == "stream"]
        if streamed:
            blocks.append(Block(f"w@{s}", layout(streamed, alignment)[1], max(s - 1, 0), s + 1, alignment))
    for s, ks in enumerate(step_items(items, n_steps)):
        staged = [(items[k].name, items[k].staged) for k in ks if modes[k] == "on-demand"]
        if staged:
            blocks.append(Block(f"d@{s}", layout(staged, alignment)[1], s, s + 1, alignment))
    return blocks


def choose_modes(items: Sequence[WeightItem], buffers: Sequence[Block], spill_costs: Sequence[int] | None,
                 capacity: int, n_steps: int, *, alignment: int = 16, slack: Sequence[int] | None = None,
                 algorithm: str = "greedy_by_size", method: str = "auto", time_limit: float = 5.0,
                 max_rounds: int = 30) -> ModeResult:
    """A mode per weight and the buffers to spill (``spill_costs`` None: none can spill) so the
    allocator's arena fits ``capacity`` at the least cost. Pure; see the module docstring."""
    if method not in METHODS:
        raise PlanError(f"unknown weight-mode method {method!r}; choose one of: {', '.join(METHODS)}")
    search = _Search(tuple(items), tuple(buffers), spill_costs, capacity, n_steps, alignment, slack, algorithm)
    floor = search.least_ram()
    search.evaluate(*floor)
    if search.best is None:
        return search.infeasible(floor)
    if method == "auto":
        method = "exact" if len(items) + len(search.spillable) <= EXACT_LIMIT else "greedy"
    _greedy(search, max_rounds)
    if method == "greedy":
        return search.result("greedy", "feasible", 1)
    return _exact(search, time_limit, max_rounds)


class _Search:
    """The allocator runs of one search, with the best packed answer so far."""

    def __init__(self, items, buffers, spill_costs, capacity, n_steps, alignment, slack, algorithm):
        self.items, self.buffers, self.capacity, self.n = items, buffers, capacity, n_steps
        self.alignment, self.slack, self.algorithm = alignment, slack, algorithm
        self.spill_costs = tuple(int(c) for c in spill_costs) if spill_costs is not None else None
        self.spillable = range(len(buffers)) if spill_costs is not None else range(0)
        self.per_step = step_items(items, n_steps)
        self.live = [_span(b, n_steps) for b in buffers]
        self.best: tuple[int, tuple, frozenset, tuple] | None = None  # cost, modes, spilled, (offsets, height)
        self.runs = 0

    def least_ram(self) -> tuple[tuple[str, ...], frozenset[int]]:
        modes = tuple(next(m for m in ("in-place", "on-demand", "stream", "resident") if m in w.costs)
                      for w in self.items)
        return modes, frozenset(self.spillable)

    def cost(self, modes, spilled) -> int:
        c = sum(w.costs[m] for w, m in zip(self.items, modes))
        c += sum(self.spill_costs[i] for i in spilled) if spilled else 0
        return c + (sum(self.stalls(modes)) if self.slack is not None else 0)

    def stalls(self, modes) -> list[int]:
        """Per step s in [-1, n - 1): the copy for s + 1 not hidden behind step s."""
        out = []
        for s in range(-1, self.n - 1):
            load = sum(self.items[k].copy for k in self.per_step[s + 1] if modes[k] == "stream")
            cover = 0 if s < 0 else self.slack[s] + sum(self.items[k].copy for k in self.per_step[s]
                                                        if modes[k] == "in-place")
            out.append(max(load - cover, 0))
        return out

    def evaluate(self, modes, spilled) -> int:
        """The allocator's height for these decisions; remembers the best that fits."""
        self.runs += 1
        blocks = [b for i, b in enumerate(self.buffers) if i not in spilled]
        blocks += mode_blocks(self.items, modes, self.n, self.alignment)
        if blocks:
            problem = Problem(tuple(blocks))
            solution = alloc.solve(problem, self.algorithm)
            offsets, height = tuple(solution.offsets), solution.height(problem)
        else:
            offsets, height = (), 0
        if height <= self.capacity:
            c = self.cost(modes, spilled)
            if self.best is None or (c, len(spilled)) < (self.best[0], len(self.best[2])):
                self.best = (c, tuple(modes), frozenset(spilled), (offsets, height))
        return height

    def result(self, method: str, status: str, rounds: int) -> ModeResult:
        cost, modes, spilled, (offsets, height) = self.best
        return ModeResult(modes, spilled, offsets, height, cost, method, status, rounds)

    def infeasible(self, floor) -> ModeResult:
        modes, spilled = floor
        return ModeResult(modes, spilled, (), 0, self.cost(modes, spilled), "none", "infeasible", 0)


def _span(b: Block, n: int) -> range:
    if not b.timed or b.upper <= b.lower:
        return range(0)
    return range(max(b.lower, 0), min(b.upper, n))


def _weight_demand(search: _Search, k: int, mode: str):
    """Live bytes per step that weight ``k`` adds in ``mode``."""
    import numpy as np

    w, out = search.items[k], np.zeros(search.n, dtype=np.int64)
    size = align_up(w.size, search.alignment)
    if mode == "resident":
        out += size
    elif mode == "stream":
        for s in w.steps:
            out[max(s - 1, 0)] += size
            if s > 0:
                out[s] += size
    elif mode == "on-demand":
        for s in w.steps:
            out[s] += align_up(w.staged, search.alignment)
    return out


def _demand(search: _Search, modes, spilled):
    """Live bytes per step (the relaxation's left-hand side)."""
    import numpy as np

    live = np.zeros(search.n, dtype=np.int64)
    for i, b in enumerate(search.buffers):
        if i not in spilled:
            live[search.live[i].start:search.live[i].stop] += b.size
    for k, m in enumerate(modes):
        live += _weight_demand(search, k, m)
    return live


# ---------------------------------------------------------------- greedy

def _upgrades(search: _Search, modes, spilled):
    """Every move that buys RAM back, best benefit per byte first."""
    moves = []
    for i in spilled:
        moves.append((-search.spill_costs[i] / max(search.buffers[i].size, 1), 0, i, "keep"))
    for k, (w, m) in enumerate(zip(search.items, modes)):
        for target in ("on-demand", "stream", "resident"):
            if target in w.costs and target != m:
                gain = _mode_cost(search, k, m) - _mode_cost(search, k, target)
                if gain > 0:
                    moves.append((-gain / max(w.size, 1), 1, k, target))
    return sorted(moves)


def _mode_cost(search: _Search, k: int, mode: str) -> int:
    """A weight's cost in ``mode``; for streaming under the time objective, each copy not
    hidden by the step before it (as if streamed alone)."""
    w = search.items[k]
    cost = w.costs[mode]
    if search.slack is not None and mode == "stream":
        cost += sum(max(w.copy - (search.slack[s - 1] if s > 0 else 0), 0) for s in w.steps)
    return cost


def _greedy(search: _Search, max_rounds: int) -> None:
    target = search.capacity
    for _ in range(max_rounds):
        modes, spilled = search.least_ram()
        modes, spilled = list(modes), set(spilled)
        live = _demand(search, modes, spilled)
        for _, kind, k, to in _upgrades(search, modes, spilled):
            if kind == 0:
                span = search.live[k]
                if (live[span.start:span.stop] + search.buffers[k].size <= target).all():
                    live[span.start:span.stop] += search.buffers[k].size
                    spilled.discard(k)
                continue
            if _mode_cost(search, k, to) >= _mode_cost(search, k, modes[k]):
                continue  # already upgraded to something better
            trial = live - _weight_demand(search, k, modes[k]) + _weight_demand(search, k, to)
            if trial.max(initial=0) <= target:
                live, modes[k] = trial, to
        height = search.evaluate(tuple(modes), frozenset(spilled))
        if height <= search.capacity:
            return
        target -= height - search.capacity


# ---------------------------------------------------------------- exact

def _exact(search: _Search, time_limit: float, max_rounds: int) -> ModeResult:
    """CP-SAT on the relaxation, each answer packed by the allocator (see the module docstring)."""
    if search.best[0] == 0:
        return search.result("exact", "optimal", 0)
    deadline = time.perf_counter() + time_limit

    def pack(answer):
        modes, spilled = answer
        return search.evaluate(modes, spilled), answer

    proven, rounds = lazy_cuts(lambda target, cuts: _solve_relaxation(search, target, cuts, deadline),
                               pack, search.capacity, deadline, max_rounds)
    return search.result("exact", "optimal" if proven else "feasible", rounds)


def _solve_relaxation(search: _Search, target: int, cuts, deadline: float):
    """("optimal" | "feasible" | "infeasible" | "unknown", (modes, spilled) or None)."""
    from ortools.sat.python import cp_model

    model = cp_model.CpModel()
    m = [{k: model.NewBoolVar(f"m{j}_{k}") for k in w.costs} for j, w in enumerate(search.items)]
    for v in m:
        model.AddExactlyOne(v.values())
    x = {i: model.NewBoolVar(f"x{i}") for i in search.spillable}
    _add_rows(model, search, m, x, target)
    for modes, spilled in cuts:  # at least one RAM decision differs
        kept = [x[i] for i in x if i not in spilled]
        moved = [m[j][k].Not() for j, k in enumerate(modes) if k != "in-place"]
        model.AddBoolOr(kept + moved)
    objective = sum(c * m[j][k] for j, w in enumerate(search.items) for k, c in w.costs.items() if c)
    objective += sum(search.spill_costs[i] * x[i] for i in x)
    if search.slack is not None:
        objective += _stall_terms(model, search, m)
    best = search.best
    model.Add(objective < best[0])
    for j, k in enumerate(best[1]):
        model.AddHint(m[j][k], True)
    for i in x:
        model.AddHint(x[i], i in best[2])
    model.Minimize(objective)
    solver, status = solve_cp(model, deadline)
    if status not in ("optimal", "feasible"):
        return status, None
    modes = tuple(next(k for k, v in mv.items() if solver.Value(v)) for mv in m)
    return status, (modes, frozenset(i for i in x if solver.Value(x[i])))



def _add_rows(model, search: _Search, m, x, target: int) -> None:
    """One capacity row per distinct set of live decisions that could exceed ``target``; the
    resident blob is one integer variable shared by every row."""
    sizes = [align_up(w.size, search.alignment) for w in search.items]
    resident = [(sizes[j], m[j]["resident"]) for j in range(len(m)) if "resident" in m[j]]
    top = sum(s for s, _ in resident)
    blob = model.NewIntVar(0, top, "resident")
    model.Add(blob == sum(s * v for s, v in resident))
    terms: list[dict] = [{} for _ in range(search.n)]
    fixed = [0] * search.n
    for i, b in enumerate(search.buffers):
        for t in search.live[i]:
            if i in x:
                terms[t][("x", i)] = b.size
            else:
                fixed[t] += b.size
    for j, w in enumerate(search.items):
        if "stream" in m[j]:
            for s in w.steps:
                for t in {max(s - 1, 0), s}:
                    terms[t][("s", j)] = terms[t].get(("s", j), 0) + sizes[j]
        if "on-demand" in m[j]:
            for s in w.steps:
                terms[s][("d", j)] = terms[s].get(("d", j), 0) + align_up(w.staged, search.alignment)
    seen = set()
    for t in range(search.n):
        key = (fixed[t], tuple(sorted(terms[t].items())))
        if key in seen or fixed[t] + sum(terms[t].values()) + top <= target:
            continue
        seen.add(key)
        expr = sum(size * (1 - x[i]) if kind == "x" else size * m[i][_TERM_MODE[kind]]
                   for (kind, i), size in terms[t].items())
        model.Add(expr + blob <= target - fixed[t])


_TERM_MODE = {"s": "stream", "d": "on-demand"}


def _stall_terms(model, search: _Search, m):
    total = 0
    for s in range(-1, search.n - 1):
        load = [(search.items[k].copy, m[k]["stream"]) for k in search.per_step[s + 1] if "stream" in m[k]]
        if not load or not any(c for c, _ in load):
            continue
        cover = [] if s < 0 else [(search.items[k].copy, m[k]["in-place"]) for k in search.per_step[s]
                                  if "in-place" in m[k]]
        z = model.NewIntVar(0, sum(c for c, _ in load), f"z{s}")
        slack = 0 if s < 0 else int(search.slack[s])
        model.Add(z >= sum(c * v for c, v in load) - slack - sum(c * v for c, v in cover))
        total += z
    return total
