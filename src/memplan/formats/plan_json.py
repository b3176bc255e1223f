"""The plan JSON contract (``format: memplan.plan/1``). Steps are inclusive.

Besides the fields the contract lists, each buffer may carry ``offsets_in_buffer`` (byte
offset of each tensor inside the buffer) when tensors share a buffer at different positions
(concat built in place); readers that ignore it still see every tensor of the buffer. Files
written before it was renamed call it ``tensor_offsets``, and are read as well (the Python
`Plan.tensor_offsets` is the absolute arena offset, hence the new name). Reading a plan file,
with every check the file alone allows, is `plan_file.read_plan`.

``shape_constant_bytes`` is the size of the tensors the importer computed at plan time from
the input shapes (``Reshape`` targets, ``Range`` limits, causal masks: the text report's
"shape constants folded"), ``shape_constants`` how many of them are op parameters (shapes,
axes, indices) kept out of the weights blob; both 0 for a model with nothing to fold, and
read as 0 from files written before they existed.

``naive_bytes`` is no reuse and no sharing (every activation tensor its own bytes);
``sharing_only_bytes`` no reuse but tensors sharing storage as planned. An older file without
``sharing_only_bytes`` meant the latter by ``naive_bytes``, and is read so.

``subplans`` (only when the model has an If whose condition depends on input values) holds
each such If's nested plans: ``{"If_32": {"region": {"buffer": 14, "offset": 6144, "size":
6400}, "then": {...}, "else": {...}, "weights_only_in": {"then": [...], "else": []}}}``. The
region is the outer buffer (no tensors, live at the If's step) both branches share; each
branch is a plan document of its own whose buffer offsets are relative to the region and
whose inputs and outputs are the outer tensors (``io_in_arena`` false: the branch writes the
If's outputs where the outer plan put them). See `planner_branches`.
"""
from __future__ import annotations

import json
from typing import Any, Mapping

from ..errors import InputError
from ..fileio import write_atomic
from ..planner import Plan, PlacedBuffer, WeightSlot
from ..planner_branches import BRANCH_LABELS, IfPlan

FORMAT = "memplan.plan/1"


def plan_to_dict(plan: Plan, access: Mapping | None = None) -> dict[str, Any]:
    """``access``: weight -> `graph.weight_access.Access`; when given, each entry of
    ``weights.tensors`` also carries ``"access"`` and ``"bytes_read"`` (expected, worst)."""
    buffers = []
    for b in plan.buffers:
        entry = {"id": b.id, "offset": b.offset, "size": b.size, "first_step": b.first_step,
                 "last_step": b.last_step, "tensors": list(b.names)}
        if any(rel for _, rel in b.tensors):
            entry["offsets_in_buffer"] = {name: rel for name, rel in b.tensors}
        buffers.append(entry)
    return {
        "format": FORMAT, "model": plan.model, "order": list(plan.order),
        "order_method": plan.order_method, "sharing": plan.sharing, "algorithm": plan.algorithm,
        "status": plan.status,
        "alignment": plan.alignment, "io_in_arena": plan.io_in_arena,
        "arena_bytes": plan.arena_bytes, "lower_bound_bytes": plan.lower_bound_bytes,
        "naive_bytes": plan.naive_bytes, "sharing_only_bytes": plan.sharing_only_bytes,
        "shape_constant_bytes": plan.shape_constant_bytes, "shape_constants": plan.shape_constants,
        "buffers": buffers,
        "weights": {"bytes": plan.weights_bytes,
                    "tensors": [_weight_entry(w, access) for w in plan.weights]},
        **({"subplans": subplans_to_dict(plan)} if plan.subplans else {}),
    }


def subplans_to_dict(plan: Plan) -> dict[str, Any]:
    """``{If name: {"region": {"buffer", "offset", "size"}, "then": plan, "else": plan,
    "weights_only_in": {"then": [...], "else": [...]}}}``; each branch plan is a whole plan
    document (its own order, buffers at offsets relative to the region, weights at offsets in
    the model's one weights blob, subplans of its own)."""
    out = {}
    for name, ip in plan.subplans.items():
        region = next(b for b in plan.buffers if b.id == ip.region)
        entry: dict[str, Any] = {"region": {"buffer": ip.region, "offset": region.offset, "size": ip.size}}
        entry.update({label: plan_to_dict(p) for label, p in ip.branches.items()})
        entry["weights_only_in"] = {label: list(ip.only_weights.get(label, ())) for label in ip.branches}
        out[name] = entry
    return out


def subplans_from_dict(data: dict[str, Any], source: str) -> dict[str, IfPlan]:
    return {name: IfPlan({label: plan_from_dict(entry[label], source) for label in BRANCH_LABELS},
                         int(entry["region"]["buffer"]), int(entry["region"]["size"]),
                         {label: tuple(ws) for label, ws in entry.get("weights_only_in", {}).items()})
            for name, entry in data.get("subplans", {}).items()}


def _weight_entry(w: WeightSlot, access: Mapping | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": w.name, "offset": w.offset, "size": w.size}
    if access is not None:
        a = access.get(w.name)
        entry["access"] = a.kind if a is not None else "whole"
        entry["bytes_read"] = a.as_json() if a is not None else {"expected": w.size, "worst": w.size}
    return entry


def plan_from_dict(data: dict[str, Any], source: str = "<plan>") -> Plan:
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{source}: not a memplan plan (expected \"format\": \"{FORMAT}\")")
    try:
        buffers = tuple(
            PlacedBuffer(int(b["id"]), int(b["offset"]), int(b["size"]), int(b["first_step"]),
                         int(b["last_step"]),
                         tuple((n, int(_offsets_in_buffer(b).get(n, 0))) for n in b["tensors"]))
            for b in data["buffers"])
        weights = tuple(WeightSlot(w["name"], int(w["offset"]), int(w["size"])) for w in data["weights"]["tensors"])
        return Plan(
            model=data.get("model", ""), order=tuple(data["order"]), algorithm=data["algorithm"],
            alignment=int(data["alignment"]), arena_bytes=int(data["arena_bytes"]),
            lower_bound_bytes=int(data["lower_bound_bytes"]), naive_bytes=int(data["naive_bytes"]),
            buffers=buffers, weights_bytes=int(data["weights"]["bytes"]), weights=weights,
            order_method=data.get("order_method", "file"), status=data.get("status", "heuristic"),
            sharing=data.get("sharing", "none"),
            sharing_only_bytes=int(data.get("sharing_only_bytes", data["naive_bytes"])),
            io_in_arena=bool(data.get("io_in_arena", True)), subplans=subplans_from_dict(data, source),
            shape_constant_bytes=int(data.get("shape_constant_bytes", 0)),
            shape_constants=int(data.get("shape_constants", 0)))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{source}: malformed plan JSON ({type(exc).__name__}: {exc})") from None


def _offsets_in_buffer(buffer: dict) -> dict:
    """The key's current name, or the one plan files had before (same meaning)."""
    return buffer.get("offsets_in_buffer", buffer.get("tensor_offsets", {}))


def plan_text(plan: Plan, access: Mapping | None = None) -> str:
    return json.dumps(plan_to_dict(plan, access), indent=1) + "\n"


def write_plan(plan: Plan, path: str, access: Mapping | None = None) -> None:
    write_atomic(path, plan_text(plan, access))
