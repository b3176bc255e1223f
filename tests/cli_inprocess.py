"""Run ``memplan`` in this process (fast enough for fuzzing): argv in, (exit code, stdout,
stderr) out. Anything that escapes ``memplan.cli.main`` other than ``SystemExit`` is a bug
and propagates, so a traceback fails the test that found it."""
from __future__ import annotations

import contextlib
import io
import os
import sys


def run_cli(*args: str) -> tuple[int, str, str]:
    from memplan.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["memplan", *args]
    os.environ.setdefault("COLUMNS", "200")
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


def assert_one_line_error(code: int, err: str, exit_code: int = 2) -> str:
    """The error contract: the given exit code, exactly one stderr line, no traceback."""
    lines = err.strip().splitlines()
    assert code == exit_code, (code, err)
    assert len(lines) == 1 and lines[0].startswith("memplan: error: "), err
    return lines[0]
