"""Every output memplan writes goes through here, so that what stands at an output path is
treated the same way by every command.

What happens at an output path:

- a **regular file** (or nothing yet) is replaced atomically: the new content goes to a temp
  file beside it (``.memplan-tmp-<pid>-<random>-<name>``), which is renamed over it. A kill at
  any moment leaves the old file or the new one, never a half-written one. The new file's
  mode is ``0666`` less the umask, as for any new file.
- a **symlink** is written *through*: its final target (itself a regular file or missing) is
  replaced atomically as above, and the link stays a link. A dangling link creates its target.
- a **device, FIFO or socket** (``/dev/null``, ``/dev/stdout``, a pipe) is opened and written
  in place, never replaced; ``-`` is standard output.
- a **directory**, a missing or read-only parent directory, or any other OS error is a
  one-line ``InputError`` naming the path and the reason.

Temp files left by a killed run (their process is gone) are removed the next time memplan
writes into that directory.

A command that writes several files calls ``check_output`` on every path before doing any
work, renders every file in memory, then calls ``write_all``: all temp files are written
first, and only then renamed, in the order given, within microseconds. Callers pass the plan
JSON last, so a new JSON always stands beside new pictures; a kill between two renames can
at worst leave a new picture beside the old JSON.
"""
from __future__ import annotations

import os
import secrets
import stat
import sys

from .errors import InputError

TMP_PREFIX = ".memplan-tmp-"


def check_output(path: str, *, extensions: tuple[str, ...] = (), what: str = "output") -> None:
    """Raise now, before any work is written, if ``path`` cannot take an output."""
    if path == "-":
        return
    if not path:
        raise InputError(f"{what} path is empty")
    ext = os.path.splitext(path)[1].lower()
    if extensions and ext not in extensions:
        raise InputError(f"{path}: {what} must end in {' or '.join(extensions)}")
    st = _stat(path)
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: is a directory; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        if not os.access(path, os.W_OK):
            raise InputError(f"{path}: cannot write: permission denied")
        return
    directory = os.path.dirname(os.path.abspath(_final_target(path)))
    if not os.path.isdir(directory):
        raise InputError(f"{path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise InputError(f"{path}: cannot write: directory {directory} is not writable")


def write_atomic(path: str, data: str | bytes) -> None:
    """Write one output (see the module docstring for what happens at ``path``)."""
    write_all([(path, data)])


def write_all(outputs: list[tuple[str, str | bytes]]) -> None:
    """Write several outputs of one run: every temp file first, then the renames in order."""
    for path, _ in outputs:
        check_output(path)
    staged: list[tuple[str, str | None, str | None, str | bytes]] = []  # (path, target, temp, data)
    try:
        for path, data in outputs:
            target = None if _in_place(path) else _final_target(path)
            temp = _stage(path, target, data) if target is not None else None
            staged.append((path, target, temp, data))
        for path, target, temp, data in staged:
            if temp is None:
                _write_in_place(path, data)
            else:
                _replace(path, temp, target)
    finally:
        for _, _, temp, _ in staged:
            if temp is not None and os.path.lexists(temp):
                os.unlink(temp)


def _stat(path: str) -> os.stat_result | None:
    """What ``path`` leads to (symlinks followed), None when nothing is there yet."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {_reason(exc)}") from None


def _final_target(path: str) -> str:
    """``path`` with every symlink followed (so the link itself is kept)."""
    return os.path.realpath(path) if os.path.islink(path) else path


def _in_place(path: str) -> bool:
    """Standard output, a device, a FIFO, a socket: written through, never replaced."""
    if path == "-" or _is_stdout(path):
        return True
    st = _stat(path)
    return st is not None and not stat.S_ISREG(st.st_mode)


def _is_stdout(path: str) -> bool:
    """``/dev/stdout``, ``/proc/self/fd/1``… even when standard output is a regular file."""
    if path == "-":
        return True
    if not os.path.abspath(path).startswith(("/dev/", "/proc/")):
        return False
    st = _stat(path)
    try:
        return st is not None and os.path.samestat(st, os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's capture)
        return False


def _stage(path: str, target: str, data: str | bytes) -> str:
    directory = os.path.dirname(os.path.abspath(target))
    remove_stale_temps(directory)
    temp = os.path.join(directory, f"{TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}-{os.path.basename(target)}")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    except OSError as exc:
        os.unlink(temp)
        raise InputError(f"{path}: cannot write: {_reason(exc)}") from None
    return temp


def _replace(path: str, temp: str, target: str) -> None:
    try:
        os.replace(temp, target)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {_reason(exc)}") from None


def _write_in_place(path: str, data: str | bytes) -> None:
    """A device, FIFO, socket or standard output: write through it, never replace it."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if _is_stdout(path):
            sys.stdout.flush()
            binary = getattr(sys.stdout, "buffer", None)
            if binary is None:  # a text-only stream (a test's capture)
                sys.stdout.write(raw.decode("utf-8", "replace"))
                return
            binary.write(raw)
            binary.flush()
            return
        with open(path, "wb") as f:
            f.write(raw)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {_reason(exc)}") from None


def remove_stale_temps(directory: str) -> None:
    """Delete memplan temp files in ``directory`` whose process no longer runs."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(TMP_PREFIX)]
    except OSError:
        return
    for name in names:
        pid = name[len(TMP_PREFIX):].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or not a pid): leave its file alone
    return True


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()
