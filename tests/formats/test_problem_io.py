"""Problem / solution files: round trips and one-line errors naming file, line and field."""
import json

import pytest

from memplan.alloc import solve
from memplan.cli.alloc import alloc_command
from memplan.errors import InputError
from memplan.problem import Block, Problem
from memplan.formats.problem_files import (problem_from_csv, read_problem, solution_from_json, solution_to_csv,
                                           solution_to_json, write_problem, write_solution)
from memplan.verify.check import check_solution

CSV = "id,lower,upper,size\n0,0,2,10\n1,1,3,20\n2,2,4,30\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_csv_round_trip_with_offsets(tmp_path):
    p = read_problem(write(tmp_path, "p.csv", CSV))
    assert [(b.id, b.lower, b.upper, b.size) for b in p.blocks] == [("0", 0, 2, 10), ("1", 1, 3, 20), ("2", 2, 4, 30)]
    s = solve(p, "tflm_greedy")
    out = str(tmp_path / "s.csv")
    write_solution(out, p, s)
    text = open(out).read()
    assert text.splitlines()[0] == "id,lower,upper,size,offset"
    q, offsets = problem_from_csv(text, out)
    assert q == p and offsets == s.offsets


def test_csv_alignment_column(tmp_path):
    p = read_problem(write(tmp_path, "p.csv", "id,lower,upper,size,alignment\na,0,1,5,16\nb,0,1,5,16\n"))
    s = solve(p, "greedy_by_size")
    assert sorted(s.offsets) == [0, 16]
    assert "alignment,offset" in solution_to_csv(p, s).splitlines()[0]


def test_json_round_trip_with_pools_and_lists(tmp_path):
    p = Problem((Block("a", 100, 0, 2, 16, ("c",), ("sram", "dram")), Block("b", 50, 1, 3),
                 Block("c", 10, conflicts=("a",))), directed=True, memory_pressure=7,
                pools=(("sram", 128), ("dram", None)))
    path = str(tmp_path / "p.json")
    write_problem(path, p)
    assert read_problem(path) == p
    s = solve(p, "greedy_by_size")
    text = solution_to_json(p, s)
    assert json.loads(text)["format"] == "memplan.solution/1"
    back = solution_from_json(text, p)
    assert back.offsets == s.offsets and back.pools == s.pools
    assert not check_solution(p, back)


def test_outputs_are_atomic_and_leave_no_temp_files(tmp_path):
    p = problem_from_csv(CSV)[0]
    write_solution(str(tmp_path / "s.json"), p, solve(p, "best_fit"))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s.json"]


@pytest.mark.parametrize("text, message", [
    ("", "empty file"),
    ("id,lower,size\n0,0,1\n", ":1: header"),
    ("id,lower,upper,size,color\n", "unknown ['color']"),
    ("id,lower,upper,size\n0,0,2,ten\n", ":2: field 'size': expected a whole number"),
    ("id,lower,upper,size\n0,0,2,10\n1,3,2,5\n", ":3: field 'upper': 2 < lower 3"),
    ("id,lower,upper,size\n0,0,2,10\n0,0,2,10\n", ":3: field 'id': duplicate id '0'"),
    ("id,lower,upper,size\n0,0,2\n", ":2: 3 fields, the header has 4"),
    ("id,lower,upper,size\n0,-1,2,4\n", "field 'lower': must not be negative"),
    ("id,lower,upper,size,alignment\n0,0,2,4,0\n", "field 'alignment': must be >= 1"),
])
def test_malformed_csv(tmp_path, text, message):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(InputError) as err:
        read_problem(path)
    assert path in str(err.value) and message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("data, message", [
    ("{not json", ":1: not valid JSON"),
    ({"format": "other"}, "field 'format'"),
    ({"format": "memplan.problem/1"}, "field 'buffers'"),
    ({"format": "memplan.problem/1", "buffers": [{"size": 3}]}, "buffers[0]: field 'id'"),
    ({"format": "memplan.problem/1", "buffers": [{"id": "a", "size": -3}]}, "('a'): field 'size'"),
    ({"format": "memplan.problem/1", "buffers": [{"id": "a", "size": 3, "lifetime": [4, 1]}]}, "field 'lifetime'"),
    ({"format": "memplan.problem/1", "buffers": [{"id": "a", "size": 3, "conflicts": ["zz"]}]}, "unknown buffer 'zz'"),
    ({"format": "memplan.problem/1", "pools": {"s": 10},
      "buffers": [{"id": "a", "size": 3, "pools": ["t"]}]}, "unknown pool 't'"),
    ({"format": "memplan.problem/1", "buffers": [{"id": "a", "size": 3, "colour": 1}]}, "unknown field"),
    ({"format": "memplan.problem/1", "buffers": [{"id": "a", "size": 3}, {"id": "a", "size": 1}]}, "duplicate id"),
])
def test_malformed_json(tmp_path, data, message):
    path = write(tmp_path, "bad.json", data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(InputError) as err:
        read_problem(path)
    assert path in str(err.value) and message in str(err.value)


def test_missing_file():
    with pytest.raises(InputError, match="cannot read"):
        read_problem("/nonexistent/p.csv")


def test_alloc_command_writes_and_reports(tmp_path, capsys):
    path = write(tmp_path, "p.csv", CSV)
    out = str(tmp_path / "p.solution.csv")
    assert alloc_command(path, "1KiB", "tflm_greedy", out) == 0
    assert "arena" in capsys.readouterr().out
    assert problem_from_csv(open(out).read())[1] is not None
    assert alloc_command(path, "40", "greedy_by_size", None) == 3  # height 50 > 40


def test_alloc_command_pools_need_a_pool_aware_algorithm(tmp_path):
    doc = {"format": "memplan.problem/1", "pools": {"s": 100}, "buffers": [{"id": "a", "size": 3}]}
    path = write(tmp_path, "p.json", json.dumps(doc))
    with pytest.raises(InputError, match="pools"):
        alloc_command(path, None, "naive", None)
    assert alloc_command(path, None, "hill_climb", str(tmp_path / "s.json")) == 0
    assert json.loads(open(tmp_path / "s.json").read())["pool_sizes"] == {"s": 3}
