"""What a placement costs per inference: the steps that read each buffer, MACs per step,
the cost of spilling a buffer, and the time estimate (compute + spill traffic + in-place
weight reads; the stream copy for step ``s + 1`` overlaps step ``s``)."""
from __future__ import annotations

from typing import Mapping, Sequence

from ..graph.ir import Graph, step_weights
from ..planner import Plan
from .devices import Device, Tier


def buffer_reads(graph: Graph, plan: Plan) -> dict[int, int]:
    """Buffer id -> how many steps read it (a step reading several of its tensors counts once)."""
    step = {name: s for s, name in enumerate(plan.order)}
    op_step = [step[op.name] for op in graph.ops]
    out = {}
    for b in plan.buffers:
        steps = {op_step[i] for name in b.names for i in graph.consumers.get(name, ())}
        out[b.id] = len(steps)
    return out


def step_macs(graph: Graph, plan: Plan) -> list[int] | None:
    """MACs of the op at each step from `memplan.graph.costs`, or None where that is not installed."""
    try:
        from ..graph.costs import op_macs
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


def step_compute(graph: Graph, plan: Plan, device: Device, macs: Sequence[float] | None) -> list[float]:
    """Seconds of compute per step: MACs at the device's rate for the op's output dtype (int8
    kernels at ``compute_macs_per_s_int8``); zeros without op costs."""
    if macs is None:
        return [0.0] * len(plan.order)
    by_name = {op.name: op for op in graph.ops}
    out = []
    for s, name in enumerate(plan.order):
        outs = [t for t in by_name[name].outputs if t]
        dtype = graph.tensors[outs[0]].dtype if outs else "float32"
        out.append(macs[s] / device.macs_per_s(dtype))
    return out


def estimate(graph, plan, device, modes: Mapping[str, str], buffer_tier, home: Tier, macs,
             partial: Mapping[str, int] | None = None) -> tuple[float, float]:
    """(seconds per inference, seconds to load the resident weights once). Per step: compute
    + spill traffic + in-place reads + on-demand fetches; the stream copy for step s + 1
    overlaps step s. ``partial``: weight read in part -> bytes it reads at each step that
    reads it (in place or on demand; a stream or resident copy is still the whole weight)."""
    n = len(plan.order)
    fast = next(t for t in device.tiers if t.writable)
    io = [0.0] * n
    step = {name: s for s, name in enumerate(plan.order)}
    op_step = [step[op.name] for op in graph.ops]
    for b in plan.buffers:
        if buffer_tier[b.id] == fast.name:
            continue
        tier = device.tier(buffer_tier[b.id])
        io[b.first_step] += tier.write_seconds(b.size)
        for s in sorted({op_step[i] for name in b.names for i in graph.consumers.get(name, ())}):
            io[s] += tier.read_seconds(b.size)
    per_step = step_weights(graph, plan)
    copy = {w: home.read_seconds(graph.tensors[w].nbytes) for w in modes}
    load = [sum(copy[w] for w in ws if modes.get(w) == "stream") for ws in per_step]
    part = {w: home.read_seconds(b) for w, b in (partial or {}).items()}
    inplace = [sum(part.get(w, copy[w]) for w in ws if modes.get(w) in ("in-place", "on-demand")) for ws in per_step]
    compute = step_compute(graph, plan, device, macs)
    total = load[0] if n else 0.0
    for s in range(n):
        nxt = load[s + 1] if s + 1 < n else 0.0
        total += max(compute[s] + io[s] + inplace[s], nxt)
    return total, sum(copy[w] for w, m in modes.items() if m == "resident")
