"""What happens at an output path (memplan.fileio): regular files replaced atomically with
the umask's mode, symlinks written through, devices/FIFOs/stdout written in place, stale temp
files of dead runs removed, several outputs staged before any is renamed."""
import os
import stat
import subprocess
import sys
import threading

import pytest

from memplan import fileio
from memplan.errors import InputError
from memplan.fileio import TMP_PREFIX, check_output, write_all, write_atomic


def test_regular_file_replaced_with_umask_mode(tmp_path):
    target = tmp_path / "p.json"
    target.write_text("old")
    old = os.umask(0o027)
    try:
        write_atomic(str(target), "new")
    finally:
        os.umask(old)
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["p.json"]


def test_symlink_is_written_through_and_kept(tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to("real.json")
    write_atomic(str(link), "new")
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert real.read_text() == "new"


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to("made.json")
    write_atomic(str(link), "x")
    assert link.is_symlink() and (tmp_path / "made.json").read_text() == "x"


def test_device_is_written_not_replaced():
    write_atomic("/dev/null", "anything")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_fifo_is_written_through(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    def read():
        with open(fifo) as f:
            got.append(f.read())

    reader = threading.Thread(target=read)
    reader.start()
    write_atomic(str(fifo), "through the pipe")
    reader.join(10)
    assert got == ["through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)


def test_dash_and_dev_stdout_write_to_standard_output(tmp_path):
    code = "from memplan.fileio import write_atomic; write_atomic('-', 'A\\n'); write_atomic('/dev/stdout', 'B\\n')"
    out = tmp_path / "out.txt"
    with open(out, "w") as f:  # stdout redirected to a regular file: still written through, not replaced
        subprocess.run([sys.executable, "-c", code], stdout=f, check=True, env=dict(os.environ))
    assert out.read_text() == "A\nB\n"


def test_directory_and_missing_parent_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="is a directory"):
        write_atomic(str(tmp_path), "x")
    with pytest.raises(InputError, match="does not exist"):
        write_atomic(str(tmp_path / "no" / "p.json"), "x")


def test_read_only_directory_is_a_one_line_error(tmp_path, monkeypatch):
    # root may write anywhere, so the permission answer is faked; the message is what matters
    monkeypatch.setattr(fileio.os, "access", lambda path, mode: False)
    with pytest.raises(InputError) as err:
        check_output(str(tmp_path / "p.json"))
    assert str(err.value) == f"{tmp_path / 'p.json'}: cannot write: directory {tmp_path} is not writable"


def test_stale_temp_of_a_dead_run_is_removed_live_one_kept(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmp_path / f"{TMP_PREFIX}{dead.pid}-0000-p.json"
    live = tmp_path / f"{TMP_PREFIX}1-0000-p.json"  # pid 1 always runs
    stale.write_text("half")
    live.write_text("busy")
    write_atomic(str(tmp_path / "p.json"), "x")
    assert sorted(os.listdir(tmp_path)) == sorted(["p.json", live.name])


def test_write_all_stages_everything_before_renaming(tmp_path, monkeypatch):
    """A failure while staging the second output leaves the first untouched, no temp behind."""
    (tmp_path / "a.png").write_text("old picture")
    real_stage = fileio._stage

    def failing(path, target, data):
        if path.endswith(".json"):
            raise InputError(f"{path}: cannot write: disk full")
        return real_stage(path, target, data)

    monkeypatch.setattr(fileio, "_stage", failing)
    with pytest.raises(InputError):
        write_all([(str(tmp_path / "a.png"), b"new picture"), (str(tmp_path / "p.json"), "{}")])
    assert os.listdir(tmp_path) == ["a.png"] and (tmp_path / "a.png").read_text() == "old picture"


def test_write_all_renames_in_the_order_given(tmp_path, monkeypatch):
    renamed = []
    real = os.replace
    monkeypatch.setattr(fileio.os, "replace", lambda a, b: (renamed.append(os.path.basename(b)), real(a, b)))
    write_all([(str(tmp_path / "p.png"), b"pic"), (str(tmp_path / "p.json"), "{}")])
    assert renamed == ["p.png", "p.json"]
