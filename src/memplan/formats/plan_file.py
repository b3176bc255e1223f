"""A plan file checked on its own, without the model: what every consumer of a plan file
(``memplan verify --plan``, ``memplan emit-c``) runs before it believes a single offset.

``read_checked_plan(path)`` reads ``memplan.plan/1`` and raises one ``InputError`` naming the
file and the first thing wrong:

- structure (fields it does not know are ignored, as the contract allows): every field it
  knows of the right JSON type — integers are integers (not ``1.5``, not
  ``"3"``, not ``true``), non-negative and within ``limits.MAX_VALUE``; names are strings;
  the order names each op once;
- steps: ``0 <= first_step <= last_step < len(order)``;
- placement: every buffer aligned and inside ``arena_bytes``; no two buffers live at a common
  step share a byte (the same sweep the allocators' validator uses, ``verify.check``); no
  tensor in two buffers; every ``offsets_in_buffer`` entry (``tensor_offsets`` in older files) inside its buffer;
- weights: each inside the blob, aligned, no two overlapping, each name once;
- nested plans of an If (``subplans``): the region a tensor-less buffer live at the If's
  step only, each branch plan valid on its own and fitting the region.

What needs the model (liveness recomputed from the graph, tensor sizes) is
``verify.check.check_plan``'s job; ``verify --plan`` runs both. ``check_width`` says whether
every integer fits a target's integer type (a C header's ``uint32_t``, TFLM's int32 offsets).
"""
from __future__ import annotations

from ..errors import InputError
from ..jsonio import loads, show
from ..limits import MAX_TOTAL, MAX_VALUE, check_total
from ..planner import Plan
from .plan_json import FORMAT, plan_from_dict

BUFFER_FIELDS = {"id", "offset", "size", "first_step", "last_step", "tensors"}
OFFSET_KEYS = ("offsets_in_buffer", "tensor_offsets")  # the current name, then the old one


def read_checked_plan(path: str) -> Plan:
    """The plan in ``path``, checked as far as the plan alone allows."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({(exc.strerror or type(exc).__name__).lower()})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file, so not a plan JSON") from None
    return checked_plan(loads(text, path), path)


def checked_plan(data, source: str = "<plan>") -> Plan:
    problem = plan_problem(data)
    if problem:
        raise InputError(f"{source}: {problem}")
    return plan_from_dict(data, source)


def plan_problem(data) -> str | None:
    """The first thing wrong with a parsed plan document, or None."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return f"not a memplan plan (expected \"format\": \"{FORMAT}\")"
    try:
        _check_structure(data)
        _check_placement(data)
        _check_weights(data)
        _check_subplans(data)
    except _Bad as exc:
        return str(exc)
    return None


class _Bad(Exception):
    pass


def _int(value, where: str, minimum: int = 0, limit: int = MAX_VALUE) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Bad(f"{where}: expected a whole number, got {show(value)}")
    if value < minimum:
        raise _Bad(f"{where}: must be >= {minimum}, got {value}")
    if value > limit:
        raise _Bad(f"{where}: {show(value)} is beyond memplan's limit of 2**{limit.bit_length() - 1}")
    return value


def _str(value, where: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{where}: expected a string, got {show(value)}")
    return value


def _list(value, where: str) -> list:
    if not isinstance(value, list):
        raise _Bad(f"{where}: expected a list")
    return value


def _check_structure(data: dict) -> None:
    for field in ("order", "algorithm", "alignment", "arena_bytes", "lower_bound_bytes", "naive_bytes",
                  "buffers", "weights"):
        if field not in data:
            raise _Bad(f"field {field!r} is missing")
    order = [_str(name, f"order[{k}]") for k, name in enumerate(_list(data["order"], "field 'order'"))]
    if len(set(order)) != len(order):
        dup = next(n for k, n in enumerate(order) if n in order[:k])
        raise _Bad(f"field 'order': op {dup!r} runs twice")
    for field in ("model", "algorithm", "order_method", "sharing", "status"):
        if field in data:
            _str(data[field], f"field {field!r}")
    if "io_in_arena" in data and not isinstance(data["io_in_arena"], bool):
        raise _Bad("field 'io_in_arena': expected true or false")
    _int(data["alignment"], "field 'alignment'", 1)
    for field in ("arena_bytes", "lower_bound_bytes", "naive_bytes"):
        _int(data[field], f"field {field!r}", limit=MAX_TOTAL)
    for field in ("shape_constant_bytes", "shape_constants"):  # optional (older files lack them)
        if field in data:
            _int(data[field], f"field {field!r}", limit=MAX_TOTAL)
    ids = set()
    for k, b in enumerate(_list(data["buffers"], "field 'buffers'")):
        where = f"buffers[{k}]"
        if not isinstance(b, dict):
            raise _Bad(f"{where}: expected an object")
        missing = BUFFER_FIELDS - set(b)
        if missing:
            raise _Bad(f"{where}: field(s) {sorted(missing)} missing")
        ident = _int(b["id"], f"{where}: field 'id'")
        if ident in ids:
            raise _Bad(f"{where}: duplicate buffer id {ident}")
        ids.add(ident)
        for field in ("offset", "size", "first_step", "last_step"):
            _int(b[field], f"{where} (id {ident}): field {field!r}", limit=MAX_TOTAL if field == "offset" else MAX_VALUE)
        if not b["first_step"] <= b["last_step"] < max(len(order), 1):
            raise _Bad(f"{where} (id {ident}): steps [{b['first_step']}, {b['last_step']}] are not inside "
                       f"the order's {len(order)} steps")
        names = [_str(n, f"{where} (id {ident}): tensors[{j}]") for j, n in enumerate(_list(b["tensors"], where))]
        key = next((k for k in OFFSET_KEYS if k in b), OFFSET_KEYS[0])
        rel = b.get(key, {})
        if not isinstance(rel, dict):
            raise _Bad(f"{where} (id {ident}): field {key!r}: expected an object")
        for name, off in rel.items():
            if name not in names:
                raise _Bad(f"{where} (id {ident}): {key} names {name!r}, not one of its tensors")
            if _int(off, f"{where} (id {ident}): {key}[{name!r}]") >= max(b["size"], 1):
                raise _Bad(f"{where} (id {ident}): tensor {name!r} at +{off} is outside the buffer's "
                           f"{b['size']} bytes")
    check_total((b["size"] for b in data["buffers"]), "field 'buffers'", error=_Bad)
    weights = data["weights"]
    if not isinstance(weights, dict) or not {"bytes", "tensors"} <= set(weights):
        raise _Bad("field 'weights': expected {\"bytes\": N, \"tensors\": [...]}")
    _int(weights["bytes"], "weights: field 'bytes'", limit=MAX_TOTAL)
    for k, w in enumerate(_list(weights["tensors"], "weights: field 'tensors'")):
        if not isinstance(w, dict) or not {"name", "offset", "size"} <= set(w):
            raise _Bad(f"weights.tensors[{k}]: expected {{\"name\", \"offset\", \"size\"}}")
        _str(w["name"], f"weights.tensors[{k}]: field 'name'")
        _int(w["offset"], f"weights.tensors[{k}] ({w['name']!r}): field 'offset'", limit=MAX_TOTAL)
        _int(w["size"], f"weights.tensors[{k}] ({w['name']!r}): field 'size'")


def _check_placement(data: dict) -> None:
    from ..problem import Block, Problem
    from ..verify.check import check_offsets

    arena, alignment = data["arena_bytes"], data["alignment"]
    where_is: dict[str, int] = {}
    blocks = []
    for b in data["buffers"]:
        ident = b["id"]
        if b["offset"] % alignment:
            raise _Bad(f"buffer {ident} at offset {b['offset']} is not {alignment}-aligned")
        if b["offset"] + b["size"] > arena:
            raise _Bad(f"buffer {ident} [{b['offset']}, {b['offset'] + b['size']}) is outside the arena "
                       f"of {arena} bytes")
        for name in b["tensors"]:
            if name in where_is:
                raise _Bad(f"tensor {name!r} is in two buffers ({where_is[name]} and {ident})")
            where_is[name] = ident
        blocks.append(Block(str(ident), b["size"], b["first_step"], b["last_step"] + 1))
    offsets = [b["offset"] for b in data["buffers"]]
    findings = check_offsets(Problem(tuple(blocks)), offsets, limit=1)
    if findings:
        raise _Bad(str(findings[0]).replace("blocks ", "buffers "))


def _check_weights(data: dict) -> None:
    weights = data["weights"]
    alignment, blob = data["alignment"], weights["bytes"]
    seen: set[str] = set()
    top, last = 0, None
    for w in sorted(weights["tensors"], key=lambda w: (w["offset"], w["size"])):
        name = w["name"]
        if name in seen:
            raise _Bad(f"weight {name!r} is listed twice")
        seen.add(name)
        if w["offset"] % alignment:
            raise _Bad(f"weight {name!r} at offset {w['offset']} is not {alignment}-aligned")
        if w["offset"] + w["size"] > blob:
            raise _Bad(f"weight {name!r} [{w['offset']}, {w['offset'] + w['size']}) is outside the "
                       f"{blob}-byte weights blob")
        if w["size"] and w["offset"] < top:
            raise _Bad(f"weights {last!r} and {name!r} overlap")
        if w["size"]:
            top, last = w["offset"] + w["size"], name


def _check_subplans(data: dict) -> None:
    """Each If's nested plans (``subplans``, see `plan_json`): its region is a buffer of this
    plan without tensors, live exactly at the If's step, as large as the region says and at
    least each branch's arena; each branch is a valid plan document (checked the same way,
    recursively) keeping its inputs and outputs outside the region, in the same weights blob."""
    subplans = data.get("subplans", {})
    if not isinstance(subplans, dict):
        raise _Bad("field 'subplans': expected an object")
    buffers = {b["id"]: b for b in data["buffers"]}
    order = data["order"]
    for name, entry in subplans.items():
        where = f"subplans[{name!r}]"
        if name not in order:
            raise _Bad(f"{where}: {name!r} is no op of the order")
        if not isinstance(entry, dict) or not {"region", "then", "else"} <= set(entry):
            raise _Bad(f"{where}: expected {{\"region\", \"then\", \"else\"}}")
        region = entry["region"]
        if not isinstance(region, dict) or not {"buffer", "offset", "size"} <= set(region):
            raise _Bad(f"{where}: field 'region': expected {{\"buffer\", \"offset\", \"size\"}}")
        ident = _int(region["buffer"], f"{where}.region: field 'buffer'")
        b = buffers.get(ident)
        if b is None or b["tensors"]:
            raise _Bad(f"{where}.region: buffer {ident} is not a buffer without tensors of this plan")
        step = order.index(name)
        if (b["first_step"], b["last_step"]) != (step, step):
            raise _Bad(f"{where}.region: buffer {ident} is live on [{b['first_step']}, {b['last_step']}], "
                       f"not only at the If's step {step}")
        if (_int(region["offset"], f"{where}.region: field 'offset'", limit=MAX_TOTAL),
                _int(region["size"], f"{where}.region: field 'size'")) != (b["offset"], b["size"]):
            raise _Bad(f"{where}.region: offset and size differ from buffer {ident}'s")
        for label in ("then", "else"):
            branch = entry[label]
            problem = plan_problem(branch)
            if problem:
                raise _Bad(f"{where}.{label}: {problem}")
            if branch["arena_bytes"] > b["size"]:
                raise _Bad(f"{where}.{label}: its arena of {branch['arena_bytes']} bytes does not fit the region "
                           f"of {b['size']}")
            if branch.get("io_in_arena", True):
                raise _Bad(f"{where}.{label}: field 'io_in_arena' must be false (the branch reads and writes "
                           f"the outer tensors in place)")
            if branch["weights"]["bytes"] != data["weights"]["bytes"]:
                raise _Bad(f"{where}.{label}: its weights blob of {branch['weights']['bytes']} bytes is not the "
                           f"model's ({data['weights']['bytes']})")


def check_width(plan: Plan, limit: int, target: str) -> None:
    """Raise when an offset, size, step or count of ``plan`` does not fit ``target``'s
    integers (``0..limit``), naming the first one."""
    values = [("arena_bytes", plan.arena_bytes), ("weights bytes", plan.weights_bytes),
              ("alignment", plan.alignment), ("lower_bound_bytes", plan.lower_bound_bytes),
              ("number of steps", len(plan.order))]
    values += [(f"buffer {b.id} end", b.offset + b.size) for b in plan.buffers]
    values += [(f"buffer {b.id} last step", b.last_step) for b in plan.buffers]
    values += [(f"weight {w.name!r} end", w.offset + w.size) for w in plan.weights]
    for what, value in values:
        if value > limit:
            raise InputError(f"{plan.model or 'plan'}: {what} {value} does not fit {target} (at most {limit})")
    for ip in plan.subplans.values():  # an If's branch plans (their offsets lie inside the arena)
        for branch in ip.branches.values():
            check_width(branch, limit, target)


def read_plan(path: str) -> Plan:
    """The plan in ``path``, checked as far as the plan alone allows."""
    return read_checked_plan(path)
