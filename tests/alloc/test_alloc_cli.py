"""`memplan alloc` on problems with pools and lists: the default algorithm plans them, the
bound is named, and a TVM-faithful algorithm's departures are printed as notes."""
import json

from click.testing import CliRunner

from memplan.cli.alloc import alloc_command
from memplan.cli import app


def write(tmp_path, doc):
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc))
    return str(path)


WORKSPACE = {"format": "memplan.problem/1", "pools": {"global_workspace": None}, "directed_conflicts": True,
             "buffers": [{"id": "a", "size": 64, "alignment": 16, "conflicts": ["b"]},
                         {"id": "b", "size": 32, "alignment": 16},
                         {"id": "c", "size": 48, "alignment": 16, "conflicts": ["b"]}]}


def test_best_plans_a_workspace_list_at_its_bound(tmp_path, capsys):
    path = write(tmp_path, WORKSPACE)
    out = tmp_path / "s.json"
    assert alloc_command(path, None, "best", str(out)) == 0
    text = capsys.readouterr().out
    assert "optimal" in text and "heaviest clique (exact: chordal conflict graph)" in text
    assert json.loads(out.read_text())["pool_sizes"] == {"global_workspace": 96}


def test_greedy_prints_a_note_where_it_departs_from_tvm(tmp_path):
    doc = {"format": "memplan.problem/1",
           "buffers": [{"id": "x", "size": 10, "alignment": 1, "conflicts": ["y"]},
                       {"id": "y", "size": 4, "alignment": 8, "conflicts": ["x"]}]}
    result = CliRunner().invoke(app, ["alloc", write(tmp_path, doc), "-a", "greedy_by_size"])
    assert result.exit_code == 0
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert notes == ["note: greedy_by_size: block 'y' placed at 16; TVM's rule would put it at 10, "
                     "not a multiple of its alignment 8"]


def test_pool_objective_option(tmp_path):
    doc = {"format": "memplan.problem/1", "pools": {"fast": 100, "slow": None},
           "buffers": [{"id": "a", "size": 60, "conflicts": ["b"]}, {"id": "b", "size": 50}]}
    result = CliRunner().invoke(app, ["alloc", write(tmp_path, doc), "--pool-objective", "first",
                                      "-o", str(tmp_path / "s.json")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "s.json").read_text())["pool_sizes"] == {"fast": 0, "slow": 110}
