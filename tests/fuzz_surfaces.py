"""Hypothesis strategies and one property per input surface, shared by the bounded run in
``tests/test_fuzz.py`` and the long run ``tests/fuzz_long.py``.

Each property feeds memplan something generated, runs it the way a user would (the CLI in
this process, ``cli_inprocess.run_cli``, or the reader it exercises) and accepts exactly two
outcomes: success whose output an independent check accepts, or a one-line error with exit 2
(3 where "does not fit" is the answer). Anything else — a traceback, a second stderr line, an
output the oracle rejects — fails.

Surfaces: ``onnx`` (random DAGs over ops memplan knows, shapes, dtypes, fan-out, sharing
switches, algorithms), ``onnx_bytes`` (a valid model with bytes flipped or cut), ``problem``
(intervals, conflict lists, pools with limits, alignments, zero and huge sizes), ``device``
(TOML with any value in any field), ``plan`` (a valid plan file with fields mutated).
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from collections import Counter

from cli_inprocess import assert_one_line_error, run_cli
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

RUNS: Counter = Counter()  # examples run per surface (tests/fuzz_long.py reports them)
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)

UNARY = ("Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Identity", "Exp", "Softmax", "Dropout")
BINARY = ("Add", "Mul", "Sub", "Max")
DTYPES = {"float32": 1, "float16": 10, "float64": 11}
ALGORITHMS = ("naive", "greedy_by_size", "greedy_by_conflicts", "tflm_greedy", "best_fit", "hill_climb", "best")
ERROR_OR_FIT = (0, 3)


# ---- ONNX graphs ----------------------------------------------------------------------------------

@st.composite
def onnx_graphs(draw):
    """A random DAG: each node reads earlier tensors (fan-out happens by reading one twice),
    shapes stay consistent per op; some tensors become extra graph outputs."""
    import numpy as np
    from onnx import helper, numpy_helper

    dtype = draw(st.sampled_from(sorted(DTYPES)))
    elem = DTYPES[dtype]
    c, h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8)), draw(st.integers(1, 8))
    shapes = {"x": (1, c, h, w)}
    nodes, inits = [], []
    for k in range(draw(st.integers(1, 12))):
        names = sorted(shapes)
        kind = draw(st.sampled_from(("unary", "binary", "concat", "conv", "reshape")))
        a = draw(st.sampled_from(names))
        out = f"t{k}"
        if kind == "binary":
            same = [n for n in names if shapes[n] == shapes[a]]
            b = draw(st.sampled_from(same))
            nodes.append(helper.make_node(draw(st.sampled_from(BINARY)), [a, b], [out], name=f"n{k}"))
            shapes[out] = shapes[a]
        elif kind == "concat" and len(shapes[a]) == 4:
            fits = [n for n in names if len(shapes[n]) == 4 and shapes[n][2:] == shapes[a][2:]]
            parts = draw(st.lists(st.sampled_from(fits), min_size=2, max_size=3))
            nodes.append(helper.make_node("Concat", parts, [out], axis=1, name=f"n{k}"))
            shapes[out] = (1, sum(shapes[p][1] for p in parts), *shapes[a][2:])
        elif kind == "conv" and len(shapes[a]) == 4 and dtype != "float16":
            cout = draw(st.integers(1, 8))
            weight = numpy_helper.from_array(np.full((cout, shapes[a][1], 1, 1), 0.5, dtype=dtype), f"w{k}")
            inits.append(weight)
            nodes.append(helper.make_node("Conv", [a, f"w{k}"], [out], name=f"n{k}"))
            shapes[out] = (1, cout, *shapes[a][2:])
        elif kind == "reshape" and len(shapes[a]) == 4:
            nodes.append(helper.make_node("Flatten", [a], [out], axis=1, name=f"n{k}"))
            shapes[out] = (1, math.prod(shapes[a][1:]))
        else:
            op = draw(st.sampled_from(UNARY))
            nodes.append(helper.make_node(op, [a], [out], name=f"n{k}"))
            shapes[out] = shapes[a]
    last = f"t{len(nodes) - 1}"
    extra = draw(st.lists(st.sampled_from(sorted(shapes)), max_size=2, unique=True))
    outputs = [last] + [t for t in extra if t not in (last, "x")]
    graph = helper.make_graph(nodes, "fuzz", [helper.make_tensor_value_info("x", elem, list(shapes["x"]))],
                              [helper.make_tensor_value_info(t, elem, list(shapes[t])) for t in outputs], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


SHARING = st.lists(st.sampled_from(["--no-share", "--no-views", "--no-inplace", "--no-concat"]), unique=True,
                   max_size=2)


def check_onnx(model, algorithm: str, sharing: list[str], order: str, io_flag: str) -> None:
    """Plan through the CLI; the written plan must pass the independent checks: the plan-file
    validator and ``verify.check.check_plan`` against the graph it was made for."""
    RUNS["onnx"] += 1
    import onnx

    from memplan.graph.onnx import load
    from memplan.formats.plan_file import read_plan
    from memplan.verify.check import check_plan

    with tempfile.TemporaryDirectory() as tmp:
        path, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "p.json")
        onnx.save(model, path)
        code, _, err = run_cli("plan", path, "--json", out, "-a", algorithm, "--order", order, "--time-limit", "0.3",
                               io_flag, *sharing)
        if code != 0:
            assert_one_line_error(code, err)
            return
        plan = read_plan(out)
        assert check_plan(load(path), plan) == []


def check_onnx_bytes(data: bytes) -> None:
    RUNS["onnx_bytes"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        with open(path, "wb") as f:
            f.write(data)
        code, _, err = run_cli("plan", path, "-a", "greedy_by_size", "--time-limit", "0.2")
        if code != 0:
            assert_one_line_error(code, err)


# ---- allocation problems -----------------------------------------------------------------------

SIZES = st.one_of(st.integers(0, 64), st.integers(0, 2**20), st.sampled_from([0, 2**31, 2**40, 2**53, 2**53 + 1,
                                                                                2**63, 2**70]))
STEPS = st.one_of(st.integers(0, 20), st.sampled_from([2**31, 2**53, 2**53 + 1, 2**70]))


@st.composite
def problems(draw):
    """A ``memplan.problem/1`` document (possibly bad), as a dict."""
    n = draw(st.integers(0, 10))
    ids = [f"b{k}" for k in range(n)]
    pools = draw(st.one_of(st.none(), st.dictionaries(st.sampled_from(["sram", "dram", "l2"]),
                                                       st.one_of(st.none(), SIZES), min_size=1)))
    buffers = []
    for ident in ids:
        item = {"id": ident, "size": draw(SIZES)}
        if draw(st.booleans()):
            item["alignment"] = draw(st.sampled_from([1, 2, 4, 16, 64, 4096, 0, 2**60]))
        if draw(st.integers(0, 3)):
            lower = draw(STEPS)
            item["lifetime"] = [lower, lower + draw(st.integers(0, 6))]
        if draw(st.booleans()) and n > 1:
            item["conflicts"] = draw(st.lists(st.sampled_from(ids), max_size=3, unique=True))
        if pools and draw(st.booleans()):
            item["pools"] = draw(st.lists(st.sampled_from(sorted(pools)), min_size=1, unique=True))
        buffers.append(item)
    doc = {"format": "memplan.problem/1", "buffers": buffers}
    if pools is not None:
        doc["pools"] = pools
    if draw(st.booleans()):
        doc["capacity"] = draw(SIZES)
    return _symmetric(doc)


def _symmetric(doc: dict) -> dict:
    """Conflict lists made symmetric: asymmetric (directed) lists are issue #13 item 2, whose
    semantics are being settled elsewhere; every other kind of problem is fair game."""
    by_id = {b["id"]: b for b in doc["buffers"]}
    for b in doc["buffers"]:
        for c in b.get("conflicts", []):
            other = by_id[c].setdefault("conflicts", [])
            if b["id"] not in other:
                other.append(b["id"])
    return doc


def check_problem(doc: dict, algorithm: str, capacity: str | None) -> None:
    """Solve through the CLI; a written solution must pass the validator, re-read from disk."""
    RUNS["problem"] += 1
    from memplan.formats.problem_files import problem_from_json, solution_from_json
    from memplan.verify.check import check_solution

    with tempfile.TemporaryDirectory() as tmp:
        path, out = os.path.join(tmp, "p.json"), os.path.join(tmp, "s.json")
        with open(path, "w") as f:
            json.dump(doc, f)
        args = ["alloc", path, "-a", algorithm, "-o", out, "--time-limit", "0.3"]
        code, _, err = run_cli(*args, *(["--capacity", capacity] if capacity else []))
        if code not in ERROR_OR_FIT:
            assert_one_line_error(code, err)
            return
        assert "Traceback" not in err and len(err.strip().splitlines()) <= 1, err
        if os.path.exists(out):
            problem = problem_from_json(_read(path), path, capacity=_capacity(capacity))
            solution = solution_from_json(_read(out), problem, out)
            kinds = {f.kind for f in check_solution(problem, solution)}
            assert kinds == set() if code == 0 else kinds <= {"capacity"}, check_solution(problem, solution)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _capacity(text):
    from memplan.units import parse_size

    return parse_size(text) if text else None


# ---- device files ------------------------------------------------------------------------------

TOML_VALUES = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e400", "1e300", "\"1MiB\"", "\"1.5MB\"", "\"-3KiB\"",
                     "\"lots\"", "true", "[]", "{}", "9223372036854775807", "\"99999999999999999999999GiB\"",
                     "1", "2.5", "\"\"", "1e9", "\"4MiB\""]),
    st.integers(-10, 2**40).map(str), st.floats(allow_nan=True, allow_infinity=True).map(
        lambda v: repr(v).replace("inf", "inf").replace("nan", "nan")))
TIER_FIELDS = ("name", "capacity", "read_bandwidth", "write_bandwidth", "latency_ns", "writable", "addressable")
TOP_FIELDS = ("compute_macs_per_s", "compute_macs_per_s_int8", "name")


@st.composite
def device_texts(draw):
    valid_tier = {"name": "\"sram\"", "capacity": "\"1MiB\"", "read_bandwidth": "\"1GB\"",
                  "write_bandwidth": "\"1GB\""}
    top = {"compute_macs_per_s": "1e9"}
    for field in draw(st.lists(st.sampled_from(TOP_FIELDS), max_size=2, unique=True)):
        top[field] = draw(TOML_VALUES)
    tiers = []
    for k in range(draw(st.integers(1, 3))):
        tier = dict(valid_tier, name=f"\"t{k}\"")
        for field in draw(st.lists(st.sampled_from(TIER_FIELDS), max_size=3, unique=True)):
            tier[field] = draw(TOML_VALUES)
        tiers.append(tier)
    text = "".join(f"{k} = {v}\n" for k, v in top.items())
    text += "".join("[[tiers]]\n" + "".join(f"{k} = {v}\n" for k, v in t.items()) for t in tiers)
    return text


def check_device(text: str, model_path: str) -> None:
    """Load through ``plan --device``: a one-line error, or a plan placed on it."""
    RUNS["device"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.toml")
        with open(path, "w") as f:
            f.write(text)
        code, _, err = run_cli("plan", model_path, "--device", path, "-a", "greedy_by_size", "--time-limit", "0.2")
        if code == 3:
            assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
        elif code != 0:
            assert_one_line_error(code, err)


# ---- plan files --------------------------------------------------------------------------------

ODD_VALUES = st.one_of(st.integers(-2**70, 2**70), st.sampled_from([0, 1, -1, 2**31, 2**32, 2**53, 2**64, 1.5, -0.0,
                                                                   True, None, "3", [], {}]))


@st.composite
def plan_edits(draw, plan: dict):
    """A copy of ``plan`` with a few random fields replaced, removed or duplicated."""
    import copy

    doc = copy.deepcopy(plan)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(("top", "buffer", "weight", "tensor")))
        if where == "top":
            key = draw(st.sampled_from(sorted(doc) + ["extra"]))
            if draw(st.booleans()):
                doc[key] = draw(ODD_VALUES)
            else:
                doc.pop(key, None)
        elif where == "buffer" and isinstance(doc.get("buffers"), list) and doc["buffers"]:
            b = draw(st.sampled_from(doc["buffers"]))
            if isinstance(b, dict):
                key = draw(st.sampled_from(["id", "offset", "size", "first_step", "last_step", "tensors"]))
                b[key] = draw(st.one_of(ODD_VALUES, st.integers(0, 4096)))
        elif where == "tensor" and isinstance(doc.get("buffers"), list) and len(doc["buffers"]) > 1:
            a, b = draw(st.sampled_from(doc["buffers"])), draw(st.sampled_from(doc["buffers"]))
            if isinstance(a, dict) and isinstance(b, dict) and isinstance(a.get("tensors"), list) \
                    and isinstance(b.get("tensors"), list) and a["tensors"]:
                b["tensors"].append(a["tensors"][0])
        elif where == "weight" and isinstance(doc.get("weights"), dict):
            doc["weights"][draw(st.sampled_from(["bytes", "tensors"]))] = draw(ODD_VALUES)
    return doc


def independent_plan_check(doc: dict) -> list[str]:
    """Plan-only properties checked by brute force, sharing no code with memplan's validator."""
    problems = []
    buffers = doc["buffers"]
    for b in buffers:
        if b["offset"] < 0 or b["offset"] % doc["alignment"] or b["offset"] + b["size"] > doc["arena_bytes"]:
            problems.append(f"buffer {b['id']} misplaced")
    for i, a in enumerate(buffers):
        for b in buffers[i + 1:]:
            live = a["first_step"] <= b["last_step"] and b["first_step"] <= a["last_step"]
            touch = a["offset"] < b["offset"] + b["size"] and b["offset"] < a["offset"] + a["size"]
            if live and touch and a["size"] and b["size"]:
                problems.append(f"buffers {a['id']} and {b['id']} overlap")
            if set(a["tensors"]) & set(b["tensors"]):
                problems.append(f"buffers {a['id']} and {b['id']} share a tensor")
    return problems


def check_plan_file(doc, model_path: str) -> None:
    """emit-c reads the plan: it must refuse it in one line, or the plan is sound by brute force."""
    RUNS["plan"] += 1
    with tempfile.TemporaryDirectory() as tmp:
        path, out = os.path.join(tmp, "p.json"), os.path.join(tmp, "p.h")
        with open(path, "w") as f:
            json.dump(doc, f)
        code, _, err = run_cli("emit-c", path, "-o", out)
        if code != 0:
            assert_one_line_error(code, err)
            assert not os.path.exists(out)
            return
        assert independent_plan_check(doc) == []
        assert "#define" in _read(out)


def check_reader_bytes(data: bytes, suffix: str) -> None:
    """Raw bytes to a reader: only memplan's own errors may come out."""
    RUNS["reader"] += 1
    from memplan.errors import MemplanError
    from memplan.formats.problem_files import read_problem
    from memplan.formats.plan_file import read_plan

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"f{suffix}")
        with open(path, "wb") as f:
            f.write(data)
        try:
            (read_plan if suffix == ".plan.json" else read_problem)(path)
        except MemplanError as exc:
            assert "\n" not in str(exc)


__all__ = ["FUZZ", "assume", "device_texts", "onnx_graphs", "plan_edits", "problems"]
