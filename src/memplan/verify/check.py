"""The plan validator: a pure function from (problem, solution) to typed findings.

It is independent of every allocator and runs after each of them. Checks: one offset per
block, offsets non-negative and aligned, every block inside the capacity (when there is
one), and no two conflicting blocks sharing a byte. Conflicts are the problem's own notion
(overlapping ``[lower, upper)`` lifetimes or either side's conflict list). The overlap check
sorts each block's conflicts, so it is O(pairs), not O(n^2) over all blocks.

With declared pools each block must sit in a declared pool among its candidates, inside
that pool's limit; blocks in different pools never collide.
"""
from __future__ import annotations

import bisect
import heapq
from dataclasses import dataclass

from ..problem import Problem, Solution


@dataclass(frozen=True)
class Finding:
    kind: str  # "missing" | "negative" | "alignment" | "capacity" | "overlap" | "pool"
    message: str

    def __str__(self) -> str:
        return self.message


def check_solution(problem: Problem, solution: Solution, *, limit: int = 20) -> list[Finding]:
    return check_offsets(problem, solution.offsets, limit=limit, pools=solution.pools)


def check_offsets(problem: Problem, offsets, *, limit: int = 20, pools=()) -> list[Finding]:
    blocks = problem.blocks
    if len(offsets) != len(blocks):
        return [Finding("missing", f"{len(offsets)} offsets for {len(blocks)} blocks")]
    findings, pool_ids = _pool_findings(problem, pools)
    if findings:
        return findings[:limit]
    limits = [problem.capacity] if not problem.pools else [lim for _, lim in problem.pools]
    for b, off, p in zip(blocks, offsets, pool_ids):
        if off < 0:
            findings.append(Finding("negative", f"block {b.id!r} at negative offset {off}"))
        elif off % b.alignment:
            findings.append(Finding("alignment", f"block {b.id!r} at offset {off} is not {b.alignment}-aligned"))
        if limits[p] is not None and off + b.size > limits[p]:
            where = f"pool {problem.pools[p][0]!r} limit" if problem.pools else "capacity"
            findings.append(Finding("capacity", f"block {b.id!r} ends at {off + b.size} > {where} {limits[p]}"))
    findings += _sweep_overlaps(problem, offsets, limit, pool_ids)
    findings += _list_overlaps(problem, offsets, limit, pool_ids)
    return findings[:limit]


def _pool_findings(problem: Problem, pools) -> tuple[list[Finding], list[int]]:
    """Pool index of every block (all 0 without declared pools), or findings."""
    if not problem.pools:
        return [], [0] * len(problem.blocks)
    if len(pools) != len(problem.blocks):
        return [Finding("pool", f"{len(pools)} pool names for {len(problem.blocks)} blocks "
                                f"(the problem declares pools)")], []
    index = {name: k for k, (name, _) in enumerate(problem.pools)}
    findings = []
    for b, p in zip(problem.blocks, pools):
        if p not in index or (b.pools and p not in b.pools):
            findings.append(Finding("pool", f"block {b.id!r} placed in pool {p!r}, not one of its "
                                            f"candidates {list(b.pools or index)}"))
    return findings, [index.get(p, 0) for p in pools]


def _overlap(problem: Problem, offsets, i: int, j: int) -> Finding:
    a, b, oa, ob = problem.blocks[i], problem.blocks[j], offsets[i], offsets[j]
    return Finding(
        "overlap",
        f"blocks {a.id!r} [{oa}, {oa + a.size}) and {b.id!r} [{ob}, {ob + b.size}) "
        f"are live together and overlap")


def _sweep_overlaps(problem: Problem, offsets, limit: int, pool_ids) -> list[Finding]:
    """Time sweep keeping the live blocks sorted by (pool, address): a new block can only
    collide with its address neighbours in its pool, because the live set is kept disjoint.
    O(n log n) plus list shifts of the live set."""
    blocks = problem.blocks
    timed = sorted((b.lower, i) for i, b in enumerate(blocks) if b.timed and b.upper > b.lower and b.size)
    ending: list[tuple[int, int]] = []
    live: list[tuple[int, int, int]] = []  # (pool, offset, index), disjoint in address per pool
    findings: list[Finding] = []
    for lower, i in timed:
        while ending and ending[0][0] <= lower:
            _, j = heapq.heappop(ending)
            del live[bisect.bisect_left(live, (pool_ids[j], offsets[j], j))]
        p, start, end = pool_ids[i], offsets[i], offsets[i] + blocks[i].size
        k = bisect.bisect_left(live, (p, start, -1))
        hit = None
        if k > 0 and live[k - 1][0] == p and live[k - 1][1] + blocks[live[k - 1][2]].size > start:
            hit = live[k - 1][2]
        elif k < len(live) and live[k][0] == p and live[k][1] < end:
            hit = live[k][2]
        if hit is not None:
            findings.append(_overlap(problem, offsets, hit, i))
            if len(findings) >= limit:
                break
            continue
        live.insert(k, (p, start, i))
        heapq.heappush(ending, (blocks[i].upper, i))
    return findings


def _list_overlaps(problem: Problem, offsets, limit: int, pool_ids) -> list[Finding]:
    findings: list[Finding] = []
    for i, b in enumerate(problem.blocks):
        for c in b.conflicts:
            j = problem.index[c]
            a, o = problem.blocks[j], offsets[j]
            if pool_ids[i] != pool_ids[j]:
                continue
            if i != j and b.size and a.size and offsets[i] < o + a.size and o < offsets[i] + b.size:
                findings.append(_overlap(problem, offsets, i, j))
                if len(findings) >= limit:
                    return findings
    return findings


def check_plan(graph, plan, *, limit: int = 20) -> list[Finding]:
    """Validate a model plan against the graph itself, not against the planner's own
    lifetimes: liveness is recomputed here from the order, so a lifetime bug is caught too.

    Tensors in one buffer may share bytes (that is what sharing claims; the arena executor
    proves it); tensors in different buffers live at the same step must not."""
    from ..problem import Block, Problem

    mismatch = _order_mismatch(graph, plan)
    if mismatch:
        return [mismatch]
    spans = tensor_spans(graph, plan)
    findings: list[Finding] = []
    placed: dict[str, int] = {}
    blocks = []
    regions = region_steps(graph, plan)
    for b in plan.buffers:
        if b.offset % plan.alignment:
            findings.append(Finding("alignment", f"buffer {b.id} at {b.offset} is not {plan.alignment}-aligned"))
        if b.offset < 0 or b.offset + b.size > plan.arena_bytes:
            findings.append(Finding("capacity", f"buffer {b.id} [{b.offset}, {b.offset + b.size}) "
                                                f"is outside the arena of {plan.arena_bytes} bytes"))
        steps = []
        for name, rel in b.tensors:
            if name in placed:
                findings.append(Finding("missing", f"tensor {name!r} is placed twice"))
            placed[name] = b.id
            if name not in spans:
                findings.append(Finding("missing", f"buffer {b.id} lists {name!r}, which needs no arena space"))
                continue
            nbytes = graph.tensors[name].nbytes
            if rel < 0 or rel + nbytes > b.size:
                findings.append(Finding("capacity", f"tensor {name!r} ({nbytes} bytes at +{rel}) "
                                                    f"does not fit in buffer {b.id} of {b.size} bytes"))
            steps.append(spans[name])
        if steps:
            first, last = min(s[0] for s in steps), max(s[1] for s in steps)
            if first < b.first_step or last > b.last_step:
                findings.append(Finding("lifetime", f"buffer {b.id} claims steps [{b.first_step}, {b.last_step}] "
                                                    f"but its tensors live on [{first}, {last}]"))
            blocks.append(Block(str(b.id), b.size, first, last + 1))
        elif b.id in regions:  # an If's region: live at the If's step, as the order says
            step = regions[b.id]
            if not b.first_step <= step <= b.last_step:
                findings.append(Finding("lifetime", f"buffer {b.id} (the region of If {plan.order[step]!r}) claims "
                                                    f"steps [{b.first_step}, {b.last_step}], not the If's step {step}"))
            blocks.append(Block(str(b.id), b.size, step, step + 1))
        else:
            blocks.append(Block(str(b.id), b.size))
    for name in spans.keys() - placed.keys():
        findings.append(Finding("missing", f"tensor {name!r} has no place in the arena"))
    offsets = [b.offset for b in plan.buffers]
    findings += check_offsets(Problem(tuple(blocks)), offsets, limit=limit)
    findings += _check_weights(graph, plan)
    findings += _check_branches(graph, plan, limit)
    return findings[:limit]


def region_steps(graph, plan) -> dict[int, int]:
    """Region buffer id -> the step of its If (from the plan's order, not the buffer)."""
    step = {name: s for s, name in enumerate(plan.order)}
    subplans = getattr(plan, "subplans", {}) or {}
    return {ip.region: step[name] for name, ip in subplans.items() if name in step}


def _branches(op) -> dict:
    """``{"then": Graph, "else": Graph}`` of an If planned per branch (`graph.branches`'s
    form, read here without importing it: allocators import this validator, and allocation
    knows no graphs)."""
    if op.op_type != "If" or not hasattr(op.attrs.get("then_branch"), "ops"):
        return {}
    return {"then": op.attrs["then_branch"], "else": op.attrs["else_branch"]}


def _check_branches(graph, plan, limit: int) -> list[Finding]:
    """Every If kept in the graph has a plan per branch, each valid for its branch graph and
    fitting the If's region (`planner_branches`); findings name the If and the branch."""
    subplans = getattr(plan, "subplans", {}) or {}
    ifs = {op.name: op for op in graph.ops if _branches(op)}
    findings = [Finding("branches", f"the plan has nested plans for {name!r}, which is no If of this model")
                for name in sorted(set(subplans) - set(ifs))]
    sizes = {b.id: b.size for b in plan.buffers}
    for name, op in ifs.items():
        ip = subplans.get(name)
        if ip is None or ip.region not in sizes:
            findings.append(Finding("branches", f"If {name!r} has no nested plans or no region buffer"))
            continue
        for label, g in _branches(op).items():
            p = ip.branches.get(label)
            if p is None:
                findings.append(Finding("branches", f"If {name!r} has no plan for its {label} branch"))
                continue
            if p.arena_bytes > sizes[ip.region]:
                findings.append(Finding("capacity", f"If {name!r}, {label} branch: its arena of {p.arena_bytes} bytes "
                                                    f"exceeds the region (buffer {ip.region}) of {sizes[ip.region]}"))
            if p.io_in_arena:
                findings.append(Finding("branches", f"If {name!r}, {label} branch: its inputs and outputs must "
                                                    f"stay outside its region (io_in_arena false)"))
            findings += [Finding(f.kind, f"If {name!r}, {label} branch: {f.message}") for f in check_plan(g, p, limit=limit)]
    return findings


def tensor_spans(graph, plan) -> dict[str, tuple[int, int]]:
    """Inclusive live steps of every tensor that needs arena space, from the order alone."""
    step = {name: s for s, name in enumerate(plan.order)}
    op_step = [step[op.name] for op in graph.ops]
    end = max(len(plan.order) - 1, 0)
    outputs = set(graph.outputs)
    spans = {}
    for name in graph.activations:
        if not plan.io_in_arena and (name in outputs or name in graph.inputs):
            continue
        first = op_step[graph.producer[name]] if name in graph.producer else 0
        reads = [op_step[i] for i in graph.consumers.get(name, ())]
        last = end if name in outputs else max(reads, default=first)
        spans[name] = (first, last)
    return spans


def _order_mismatch(graph, plan) -> Finding | None:
    """A plan made for another model (or edited by hand) must run every op exactly once."""
    ops = [op.name for op in graph.ops]
    if sorted(plan.order) == sorted(ops):
        return None
    unknown = sorted(set(plan.order) - set(ops))
    missing = sorted(set(ops) - set(plan.order))
    if unknown or missing:
        detail = f"runs unknown op {unknown[0]!r}" if unknown else f"never runs op {missing[0]!r}"
    else:
        detail = "runs some op more than once"
    return Finding("order", f"the plan's order does not match the graph: it {detail}")


def _check_weights(graph, plan) -> list[Finding]:
    findings, top = [], 0
    for w in sorted(plan.weights, key=lambda w: w.offset):
        if w.offset < top or w.offset % plan.alignment or w.offset + w.size > plan.weights_bytes:
            findings.append(Finding("weights", f"weight {w.name!r} at {w.offset} overlaps, is misaligned "
                                               f"or leaves the {plan.weights_bytes}-byte blob"))
        if w.name not in graph.tensors:
            findings.append(Finding("weights", f"weight {w.name!r} is not a tensor of this model"))
        elif w.size != graph.tensors[w.name].nbytes:
            findings.append(Finding("weights", f"weight {w.name!r} has {w.size} bytes, needs {graph.tensors[w.name].nbytes}"))
        top = max(top, w.offset + w.size)
    missing = set(graph.weights) - {w.name for w in plan.weights}
    findings += [Finding("weights", f"weight {n!r} has no place in the blob") for n in sorted(missing)]
    return findings
