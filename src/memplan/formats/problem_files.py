"""Problem and solution files: MiniMalloc's CSV and memplan's JSON.

CSV (MiniMalloc, ``google/minimalloc`` ``src/csv_io.cc``): a header ``id,lower,upper,size``
with an optional ``alignment`` column, one buffer per line, live on ``[lower, upper)``.
A solution is the same file with an ``offset`` column appended, which MiniMalloc reads
back. JSON (``memplan.problem/1``, documented in README.md) says everything TVM's ``BufferInfo`` does:
explicit (optionally directed) conflict lists, alignment per buffer, pools with limits and
candidate pools per buffer; its solution is ``memplan.solution/1``.

Every malformed input raises ``InputError`` naming the file, the line (CSV) or the buffer
(JSON) and the field. Every output is written atomically (temp file, then rename).
"""
from __future__ import annotations

import csv
import io
import json

from .. import jsonio
from ..errors import InputError
from ..fileio import write_atomic
from ..limits import check_offset, check_total, check_value
from ..problem import Block, Problem, Solution

PROBLEM_FORMAT, SOLUTION_FORMAT = "memplan.problem/1", "memplan.solution/1"
CSV_COLUMNS = ("id", "lower", "upper", "size")
DEFAULT_POOL = "default"


def read_problem(path: str, *, capacity: int | None = None) -> Problem:
    """A problem from ``.csv`` or ``.json`` (by extension; otherwise by the first byte)."""
    text = _read_text(path)
    if path.lower().endswith(".json") or (not path.lower().endswith(".csv") and text.lstrip()[:1] == "{"):
        return problem_from_json(text, path, capacity=capacity)
    return problem_from_csv(text, path, capacity=capacity)[0]


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a UTF-8 text file") from None


# ---------------------------------------------------------------- CSV


def problem_from_csv(text: str, path: str = "<csv>", *, capacity: int | None = None
                     ) -> tuple[Problem, tuple[int, ...] | None]:
    """The problem, and the offsets when the file has an ``offset`` column (a solution)."""
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if not rows:
        raise InputError(f"{path}: empty file; expected a header line 'id,lower,upper,size'")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [h for h in header if h not in CSV_COLUMNS + ("alignment", "offset")]
    if missing or unknown or len(set(header)) != len(header):
        raise InputError(f"{path}:1: header {','.join(header)!r}: expected id,lower,upper,size "
                         f"[,alignment][,offset]" + (f"; missing {missing}" if missing else "")
                         + (f"; unknown {unknown}" if unknown else ""))
    blocks, offsets, seen = [], [], set()
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row)))
        ident = cells["id"]
        if not ident:
            raise InputError(f"{path}:{line}: field 'id' is empty")
        if ident in seen:
            raise InputError(f"{path}:{line}: field 'id': duplicate id {ident!r}")
        seen.add(ident)
        num = {k: _csv_int(path, line, k, cells[k]) for k in header if k != "id"}
        if num["upper"] < num["lower"]:
            raise InputError(f"{path}:{line}: field 'upper': {num['upper']} < lower {num['lower']}")
        if num.get("alignment", 1) < 1:
            raise InputError(f"{path}:{line}: field 'alignment': must be >= 1, got {num['alignment']}")
        blocks.append(Block(ident, num["size"], num["lower"], num["upper"], num.get("alignment", 1)))
        offsets.append(num.get("offset"))
    check_total((b.size + b.alignment for b in blocks), path)
    problem = Problem(tuple(blocks), capacity=capacity)
    return problem, (tuple(offsets) if "offset" in header else None)


def _csv_int(path: str, line: int, field: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise InputError(f"{path}:{line}: field {field!r}: expected a whole number, got {text!r}") from None
    if value < 0:
        raise InputError(f"{path}:{line}: field {field!r}: must not be negative, got {value}")
    return check_value(value, f"{path}:{line}: field {field!r}")


def solution_to_csv(problem: Problem, solution: Solution) -> str:
    """MiniMalloc's solution CSV: the problem's columns plus ``offset``."""
    aligned = any(b.alignment != 1 for b in problem.blocks)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS + (("alignment",) if aligned else ()) + ("offset",))
    for b, off in zip(problem.blocks, solution.offsets):
        if not b.timed:
            raise InputError(f"block {b.id!r} has no lifetime; the CSV form needs lower and upper "
                             f"(write the solution as .json)")
        writer.writerow([b.id, b.lower, b.upper, b.size] + ([b.alignment] if aligned else []) + [off])
    return out.getvalue()


# ---------------------------------------------------------------- JSON


def _json_document(text: str, path: str, fmt: str) -> dict:
    """The parsed JSON object, which must say ``"format": fmt``."""
    data = jsonio.loads(text, path)
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise InputError(f"{path}: field 'format': expected {fmt!r}")
    return data


def problem_from_json(text: str, path: str = "<json>", *, capacity: int | None = None) -> Problem:
    data = _json_document(text, path, PROBLEM_FORMAT)
    pools = _json_pools(path, data.get("pools"))
    buffers = data.get("buffers")
    if not isinstance(buffers, list):
        raise InputError(f"{path}: field 'buffers': expected a list of buffers")
    blocks = tuple(_json_block(path, k, item, pools) for k, item in enumerate(buffers))
    _check_json_references(path, blocks)
    check_total((b.size + b.alignment for b in blocks), path)
    cap = capacity if capacity is not None else _opt_int(path, "capacity", data.get("capacity"))
    try:
        return Problem(blocks, capacity=cap, directed=_bool(path, data.get("directed_conflicts", False)),
                       memory_pressure=_opt_int(path, "memory_pressure", data.get("memory_pressure")) or 0,
                       pools=pools)
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None


def _json_pools(path: str, pools) -> tuple[tuple[str, int | None], ...]:
    if pools is None:
        return ()
    if not isinstance(pools, dict) or not pools:
        raise InputError(f"{path}: field 'pools': expected an object of pool name -> size or null")
    return tuple((str(name), _opt_int(path, f"pools.{name}", limit)) for name, limit in pools.items())


def _json_block(path: str, k: int, item, pools) -> Block:
    where = f"{path}: buffers[{k}]"
    if not isinstance(item, dict):
        raise InputError(f"{where}: expected an object")
    if "id" not in item or not isinstance(item["id"], (str, int)) or item["id"] == "":
        raise InputError(f"{where}: field 'id': expected a non-empty string")
    where = f"{path}: buffers[{k}] ({item['id']!r})"
    unknown = set(item) - {"id", "size", "alignment", "pools", "lifetime", "conflicts"}
    if unknown:
        raise InputError(f"{where}: unknown field(s) {sorted(unknown)}")
    size = _req_int(where, "size", item.get("size"))
    alignment = _req_int(where, "alignment", item.get("alignment", 1))
    if alignment < 1:
        raise InputError(f"{where}: field 'alignment': must be >= 1, got {alignment}")
    lower = upper = None
    if item.get("lifetime") is not None:
        life = item["lifetime"]
        if not (isinstance(life, list) and len(life) == 2):
            raise InputError(f"{where}: field 'lifetime': expected [lower, upper] (half-open)")
        lower, upper = (_req_int(where, "lifetime", v) for v in life)
        if upper < lower:
            raise InputError(f"{where}: field 'lifetime': upper {upper} < lower {lower}")
    conflicts = _str_list(where, "conflicts", item.get("conflicts", []))
    candidates = _str_list(where, "pools", item.get("pools", []))
    known = {name for name, _ in pools}
    for p in candidates:
        if p not in known:
            raise InputError(f"{where}: field 'pools': unknown pool {p!r}; declared: {sorted(known)}")
    return Block(str(item["id"]), size, lower, upper, alignment, conflicts, candidates)


def _check_json_references(path: str, blocks: tuple[Block, ...]) -> None:
    ids: set[str] = set()
    for k, b in enumerate(blocks):
        if b.id in ids:
            raise InputError(f"{path}: buffers[{k}]: field 'id': duplicate id {b.id!r}")
        ids.add(b.id)
    for k, b in enumerate(blocks):
        for c in b.conflicts:
            if c not in ids:
                raise InputError(f"{path}: buffers[{k}] ({b.id!r}): field 'conflicts': unknown buffer {c!r}")


def _req_int(where: str, field: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: field {field!r}: expected a non-negative whole number, got {jsonio.show(value)}")
    return check_value(value, f"{where}: field {field!r}")


def _offset(where: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{where}: field 'offset': expected a non-negative whole number, got {jsonio.show(value)}")
    return check_offset(value, f"{where}: field 'offset'")


def _opt_int(path: str, field: str, value) -> int | None:
    return None if value is None else _req_int(path, field, value)


def _bool(path: str, value) -> bool:
    if not isinstance(value, bool):
        raise InputError(f"{path}: field 'directed_conflicts': expected true or false, got {value!r}")
    return value


def _str_list(where: str, field: str, value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise InputError(f"{where}: field {field!r}: expected a list of names")
    return tuple(str(v) for v in value)


def problem_to_json(problem: Problem) -> str:
    buffers = []
    for b in problem.blocks:
        item: dict = {"id": b.id, "size": b.size}
        if b.alignment != 1:
            item["alignment"] = b.alignment
        if b.pools:
            item["pools"] = list(b.pools)
        if b.timed:
            item["lifetime"] = [b.lower, b.upper]
        if b.conflicts:
            item["conflicts"] = list(b.conflicts)
        buffers.append(item)
    data: dict = {"format": PROBLEM_FORMAT}
    if problem.pools:
        data["pools"] = dict(problem.pools)
    if problem.capacity is not None:
        data["capacity"] = problem.capacity
    data["directed_conflicts"] = problem.directed
    if problem.memory_pressure:
        data["memory_pressure"] = problem.memory_pressure
    data["buffers"] = buffers
    return json.dumps(data, indent=1) + "\n"


def solution_to_json(problem: Problem, solution: Solution, **extra) -> str:
    pools = solution.pools or (DEFAULT_POOL,) * len(problem.blocks)
    sizes = solution.pool_sizes(problem) if problem.pools else {DEFAULT_POOL: solution.height(problem)}
    data = {"format": SOLUTION_FORMAT, "algorithm": solution.algorithm, "status": solution.status,
            "pool_sizes": sizes, **extra,
            "offsets": {b.id: [p, off] for b, p, off in zip(problem.blocks, pools, solution.offsets)}}
    return json.dumps(data, indent=1) + "\n"


def solution_from_json(text: str, problem: Problem, path: str = "<json>") -> Solution:
    data = _json_document(text, path, SOLUTION_FORMAT)
    offsets = data.get("offsets")
    if not isinstance(offsets, dict):
        raise InputError(f"{path}: field 'offsets': expected an object of id -> [pool, offset]")
    offs, pools = [], []
    for b in problem.blocks:
        entry = offsets.get(b.id)
        if not (isinstance(entry, list) and len(entry) == 2):
            raise InputError(f"{path}: offsets[{b.id!r}]: expected [pool, offset]")
        pools.append(str(entry[0]))
        offs.append(_offset(f"{path}: offsets[{b.id!r}]", entry[1]))
    return Solution(tuple(offs), str(data.get("algorithm", "")), str(data.get("status", "heuristic")),
                    pools=tuple(pools) if problem.pools else ())


# ---------------------------------------------------------------- writing


def write_solution(path: str, problem: Problem, solution: Solution, **extra) -> None:
    """``.json`` -> memplan.solution/1; anything else -> MiniMalloc's CSV with offsets."""
    if path.lower().endswith(".json"):
        write_atomic(path, solution_to_json(problem, solution, **extra))
    else:
        if problem.pools:
            raise InputError(f"{path}: a plan over several pools needs the JSON form; name the output *.json")
        write_atomic(path, solution_to_csv(problem, solution))


def write_problem(path: str, problem: Problem) -> None:
    if path.lower().endswith(".json"):
        write_atomic(path, problem_to_json(problem))
    else:
        rows = ["id,lower,upper,size" + (",alignment" if any(b.alignment != 1 for b in problem.blocks) else "")]
        aligned = rows[0].endswith("alignment")
        for b in problem.blocks:
            if not b.timed:
                raise InputError(f"{path}: block {b.id!r} has no lifetime; the CSV form needs lower and upper")
            rows.append(f"{b.id},{b.lower},{b.upper},{b.size}" + (f",{b.alignment}" if aligned else ""))
        write_atomic(path, "\n".join(rows) + "\n")
