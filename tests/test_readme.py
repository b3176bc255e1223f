"""Every command the README shows still works as written (issue #18).

Each ``.venv/bin/memplan ...`` line of README.md's code blocks runs, in README order, in one
temporary directory holding links to the repository's shipped files (``benchmarks/``,
``examples/``), so a later command finds what an earlier one wrote (``sq.json``). A line
passes when its exit code is one its comment names (``exit 0 if it fits, 3 if not``,
``must fail (exit 1)``), else 0. Lines that take more than ~10 s are in SLOW and run with
``-m slow``; the Python example runs too.
"""
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
SHIPPED = ("benchmarks", "examples")
# Substrings of the README lines that take longer than ~10 s on a 2-core machine.
SLOW = ("plan zoo:densenet121", "verify zoo:resnet50", "pipeline zoo:resnet50", "study", "quantize",
        "verify-tflm", "alloc benchmarks/data/minimalloc/A.1048576.csv", "mediapipe:hand_landmark_full --tile")


def blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def commands(text: str) -> list[tuple[str, set[int]]]:
    """(arguments after ``memplan``, allowed exit codes) for every README command line."""
    out = []
    for _, body in blocks(text):
        for line in body.splitlines():
            if not line.startswith(".venv/bin/memplan "):
                continue
            command, _, comment = line.partition("  #")
            codes = {int(c) for c in re.findall(r"exit (\d)", comment)} | {int(c) for c in re.findall(r", (\d) if", comment)}
            out.append((command.removeprefix(".venv/bin/memplan ").strip(), codes or {0}))
    return out


with open(README) as f:
    README_TEXT = f.read()
COMMANDS = commands(README_TEXT)


def test_the_readme_has_commands_and_every_slow_pattern_names_one():
    assert len(COMMANDS) >= 20
    for pattern in SLOW:
        assert any(pattern in c for c, _ in COMMANDS), pattern


def test_exit_codes_are_read_from_the_comments():
    block = "```\n.venv/bin/memplan plan x --budget 2MiB     # exit 0 if it fits, 3 if not\n```\n"
    assert commands(block) == [("plan x --budget 2MiB", {0, 3})]
    assert commands("```\n.venv/bin/memplan verify x --corrupt   # must fail (exit 1)\n```\n") == [("verify x --corrupt", {1})]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    for name in SHIPPED:
        os.symlink(os.path.join(ROOT, name), d / name)
    return d


def _param(command, codes):
    marks = [pytest.mark.slow] if any(p in command for p in SLOW) else []
    return pytest.param(command, codes, marks=marks, id=command[:60])


@pytest.mark.parametrize("command,codes", [_param(c, k) for c, k in COMMANDS])
def test_readme_command_works(command, codes, workdir):
    env = dict(os.environ, COLUMNS="200", PYTHONPATH=os.path.join(ROOT, "src"))
    r = subprocess.run([sys.executable, "-m", "memplan.cli", *shlex.split(command)], cwd=workdir, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode in codes, f"memplan {command}: exit {r.returncode}\n{r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr


def test_readme_python_example_runs(workdir):
    code = [body for lang, body in blocks(README_TEXT) if lang == "python"]
    assert code, "README has a Python example"
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    r = subprocess.run([sys.executable, "-c", code[0]], cwd=workdir, env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    arena, lower_bound, naive = (int(v) for v in r.stdout.split()[:3])
    assert lower_bound <= arena <= naive


def test_readme_device_file_is_the_shipped_example():
    toml = [body for lang, body in blocks(README_TEXT) if lang == "toml"]
    assert toml and toml[0] == open(os.path.join(ROOT, "examples", "my-board.toml")).read()


def test_readme_problem_example_is_the_shipped_one():
    import json

    shown = [body for lang, body in blocks(README_TEXT) if lang == "json" and "memplan.problem/1" in body]
    assert shown and json.loads(shown[0]) == json.load(open(os.path.join(ROOT, "examples", "problem.json")))


def test_readme_names_no_file_outside_the_repository():
    for pattern in ("../shared", "/work/", "DESIGN.md"):
        assert pattern not in README_TEXT, pattern
