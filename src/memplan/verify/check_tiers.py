"""The tiered-plan validator: a pure function from (graph, TieredPlan) to findings.

It trusts nothing the placement computed: the base plan is re-checked against the graph
(`check_plan`), then every writable tier is checked on its own — each block inside the tier
(after the weights stored there), aligned, and no two blocks live at one step sharing a
byte — with the stream buffers and the resident weight blob as blocks of the fast tier.
Every buffer sits in exactly one writable tier; read-only tiers hold only weights. Weights:
every weight an op reads has one mode; a resident one has a slot inside the blob; an
in-place one lives in a tier the compute can address. Stream buffers: the op at step ``s``
finds each of its streamed weights (and only those) in the buffer for ``s``, which is live on
``[s - 1, s]`` (the prefetch), and each weight lies inside its buffer without overlapping
another. On-demand staging buffers: the op at step ``s`` finds a slot of each of its
on-demand weights (and only those) in the buffer for ``s``, live at ``s``, as large as the
weight's worst-case read (`graph.weight_access`). A plan that claims to fit has every tier within its capacity, and
each tier's reported arena is the real highest byte.
"""
from __future__ import annotations

from ..graph.ir import step_weights
from ..units import align_up
from ..problem import Block, Problem
from .check import Finding, check_offsets, check_plan


def check_tiered(graph, tp, *, limit: int = 20) -> list[Finding]:
    plan, device = tp.plan, tp.device
    findings = list(check_plan(graph, plan, limit=limit))
    writable = {t.name for t in device.tiers if t.writable}
    fast = next(t.name for t in device.tiers if t.writable)
    uses = {u.name: u for u in tp.tiers}
    ids = {b.id for b in plan.buffers}
    if set(tp.buffer_tier) != ids or set(tp.buffer_offset) != ids:
        findings.append(Finding("missing", "some buffer has no tier or no offset"))
        return findings[:limit]
    for b in plan.buffers:
        if tp.buffer_tier[b.id] not in writable:
            findings.append(Finding("tier", f"buffer {b.id} is in {tp.buffer_tier[b.id]!r}, not a writable tier"))
    n = max(len(plan.order), 1)
    for tier in device.tiers:
        if tier.name not in writable:
            continue
        stored = plan.weights_bytes if tier.name == tp.weights_home else 0
        blocks, offsets = [], []
        if stored:
            blocks.append(Block("stored weights", stored, 0, n, 1))
            offsets.append(0)
        for b in plan.buffers:
            if tp.buffer_tier[b.id] == tier.name:
                blocks.append(Block(f"buffer {b.id}", b.size, b.first_step, b.last_step + 1, plan.alignment))
                offsets.append(tp.buffer_offset[b.id])
        if tier.name == fast:
            if tp.resident_offset is not None:
                base = align_up(stored, plan.alignment) if stored else 0
                blocks.append(Block("resident weights", _blob_bytes(graph, tp.resident), 0, n, plan.alignment))
                offsets.append(base + tp.resident_offset)
            for s in tp.streams + getattr(tp, "staging", ()):
                base = align_up(stored, plan.alignment) if stored else 0
                blocks.append(Block(s.id, s.size, s.first_step, s.last_step + 1, plan.alignment))
                offsets.append(base + s.offset)
        problem = Problem(tuple(blocks), capacity=tier.capacity if tp.fits else None)
        for f in check_offsets(problem, offsets, limit=limit):
            findings.append(Finding(f.kind, f"tier {tier.name!r}: {f.message}"))
        top = max((o + b.size for o, b in zip(offsets, blocks) if b.id != "stored weights"), default=0)
        base = align_up(stored, plan.alignment) if stored else 0
        use = uses.get(tier.name)
        if use is None:
            findings.append(Finding("tier", f"tier {tier.name!r} is missing from the report"))
        elif max(top - base, 0) != use.arena_bytes and top:
            findings.append(Finding("tier", f"tier {tier.name!r} reports an arena of {use.arena_bytes} bytes, "
                                            f"its blocks reach {top - base}"))
    per_step = step_weights(graph, plan)
    findings += _check_modes(graph, tp, per_step)
    findings += _check_streams(graph, tp, per_step)
    if any(m == "on-demand" for m in tp.weight_modes.values()) or getattr(tp, "staging", ()):
        findings += _check_staging(graph, tp, per_step)
    return findings[:limit]


def _check_staging(graph, tp, per_step) -> list[Finding]:
    from ..graph.weight_access import analyze

    access = analyze(graph, branches=getattr(tp, "branches", None) or None)  # {}: the default analysis
    findings = []
    by_step = {s.step: s for s in tp.staging}
    for step, ws in enumerate(per_step):
        ws = tuple(w for w in ws if tp.weight_modes.get(w) == "on-demand")
        s = by_step.get(step)
        if not ws or s is None:
            if ws or s is not None:
                findings.append(Finding("staging", f"step {step}: on-demand weights {sorted(ws)} but staging "
                                                   f"buffer {s.id if s else None}"))
            continue
        if (s.first_step, s.last_step) != (step, step):
            findings.append(Finding("staging", f"staging buffer {s.id} lives on [{s.first_step}, {s.last_step}], "
                                               f"not at step {step}"))
        slots = dict(s.weights)
        if set(slots) != set(ws):
            findings.append(Finding("staging", f"staging buffer {s.id} holds {sorted(slots)}, step {step} fetches "
                                               f"{sorted(ws)}"))
            continue
        spans = sorted((rel, rel + access[w].worst, w) for w, rel in slots.items())
        if any(not access[w].partial for w in ws):
            findings.append(Finding("staging", f"step {step}: a weight read whole is fetched on demand"))
        for (lo1, hi1, w1), (lo2, hi2, w2) in zip(spans, spans[1:] + [(s.size, s.size, "")]):
            if lo1 < 0 or lo2 < hi1:
                findings.append(Finding("staging", f"weight {w1!r} [{lo1}, {hi1}) overlaps the next slot or "
                                                   f"exceeds staging buffer {s.id} of {s.size} bytes"))
    return findings


def _blob_bytes(graph, slots) -> int:
    return max((rel + graph.tensors[w].nbytes for w, rel in slots if w in graph.tensors), default=0)


def _check_modes(graph, tp, per_step) -> list[Finding]:
    findings = []
    read = {w for ws in per_step for w in ws if w not in graph.shape_constants}  # not in the weights blob
    missing = sorted(read - set(tp.weight_modes))
    if missing:
        findings.append(Finding("weights", f"weight {missing[0]!r} has no mode"))
    home = tp.device.tier(tp.weights_home)
    bad = sorted(w for w, m in tp.weight_modes.items() if m not in ("resident", "stream", "in-place", "on-demand"))
    if bad:
        findings.append(Finding("weights", f"weight {bad[0]!r} has mode {tp.weight_modes[bad[0]]!r}"))
    inplace = sorted(w for w, m in tp.weight_modes.items() if m == "in-place")
    fast = next(t.name for t in tp.device.tiers if t.writable)
    if inplace and not home.addressable and home.name != fast:
        findings.append(Finding("weights", f"weight {inplace[0]!r} is read in place from {home.name!r}, "
                                           f"which the compute cannot address"))
    resident = {w for w, m in tp.weight_modes.items() if m == "resident"}
    slots = dict(tp.resident)
    if set(slots) != resident:
        findings.append(Finding("weights", f"the resident blob holds {len(slots)} weights, "
                                           f"{len(resident)} are resident"))
    if resident and tp.resident_offset is None:
        findings.append(Finding("weights", "resident weights but no resident blob in the fast tier"))
    spans = sorted((rel, rel + graph.tensors[w].nbytes, w) for w, rel in slots.items() if w in graph.tensors)
    for (lo1, hi1, w1), (lo2, hi2, w2) in zip(spans, spans[1:]):
        if lo2 < hi1:
            findings.append(Finding("weights", f"resident weights {w1!r} and {w2!r} overlap in the blob"))
    return findings


def _check_streams(graph, tp, per_step) -> list[Finding]:
    findings = []
    by_step = {s.step: s for s in tp.streams}
    for step, ws in enumerate(per_step):
        ws = tuple(w for w in ws if tp.weight_modes.get(w) == "stream")
        if not ws:
            if step in by_step:
                findings.append(Finding("stream", f"stream buffer {by_step[step].id} for step {step}, "
                                                  f"which streams no weight"))
            continue
        s = by_step.get(step)
        if s is None:
            findings.append(Finding("stream", f"step {step} reads weights but has no stream buffer"))
            continue
        if s.last_step < step or s.first_step > max(step - 1, 0):
            findings.append(Finding("stream", f"stream buffer {s.id} lives on [{s.first_step}, {s.last_step}], "
                                              f"not from step {max(step - 1, 0)} (prefetch) to {step}"))
        slots = dict(s.weights)
        if set(slots) != set(ws):
            findings.append(Finding("stream", f"stream buffer {s.id} holds {sorted(slots)}, step {step} reads {sorted(ws)}"))
        spans = sorted((rel, rel + graph.tensors[w].nbytes, w) for w, rel in slots.items() if w in graph.tensors)
        for lo, hi, w in spans:
            if lo < 0 or hi > s.size:
                findings.append(Finding("stream", f"weight {w!r} [{lo}, {hi}) exceeds stream buffer {s.id} "
                                                  f"of {s.size} bytes"))
        for (lo1, hi1, w1), (lo2, hi2, w2) in zip(spans, spans[1:]):
            if lo2 < hi1:
                findings.append(Finding("stream", f"weights {w1!r} and {w2!r} overlap in stream buffer {s.id}"))
    return findings
