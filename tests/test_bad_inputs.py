"""Every defect class of issue #13: the hostile input, the exact one-line message, exit 2,
and nothing written except what the case itself made (tests/bad_inputs/corpus.py)."""
import os

import pytest
from bad_inputs.corpus import CASES
from cli_inprocess import assert_one_line_error, run_cli


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_bad_input_gives_its_one_line_error(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv, exit_code, message = case()
    before = sorted(os.listdir(tmp_path))
    code, _, err = run_cli(*argv)
    assert assert_one_line_error(code, err, exit_code) == message
    assert sorted(os.listdir(tmp_path)) == before  # nothing written, no temp file left
