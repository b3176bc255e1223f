"""Every input the coverage-guided fuzzer (tests/fuzz_atheris.py) ever crashed on, replayed:
each must now give a one-line memplan error or be read fine."""
import os

import pytest
from fuzz_atheris import TARGETS, one_input

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz_crashes")
CASES = [(t, os.path.join(HERE, t, f)) for t in TARGETS if os.path.isdir(os.path.join(HERE, t))
         for f in sorted(os.listdir(os.path.join(HERE, t))) if not f.startswith(".")]


@pytest.mark.parametrize("target,path", CASES, ids=[f"{t}/{os.path.basename(p)}" for t, p in CASES])
def test_saved_crash_is_fixed(target, path, tmp_path):
    with open(path, "rb") as f:
        one_input(target, f.read(), str(tmp_path))


def test_seed_inputs_read_fine(tmp_path):
    """The seeds the fuzzer starts from are valid inputs for their reader."""
    from fuzz_atheris import reader, seeds

    for target in TARGETS:
        directory = tmp_path / target
        seeds(target, str(directory))
        for name in os.listdir(directory):
            reader(target)(str(directory / name))
