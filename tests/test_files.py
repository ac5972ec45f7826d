"""Writing files: atomic for a file, in place for a device or a pipe (reconciler.files)."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from reconciler.files import write_text_atomic


def test_a_file_is_replaced_whole_and_keeps_its_permissions(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o640)
    write_text_atomic(target, "new")
    assert target.read_text(encoding="utf-8") == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary left


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_pipe_is_written_to_not_replaced_by_a_file(tmp_path: Path) -> None:
    # `plan -o /dev/null` once replaced /dev/null with a plain file (run as root): a
    # pipe stands in for the device here, so a failure cannot break the machine.
    pipe = tmp_path / "out"
    os.mkfifo(pipe)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text("utf-8")), daemon=True)
    reader.start()
    write_text_atomic(pipe, "the plan\n")
    reader.join(timeout=10)
    assert received == ["the plan\n"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)


def test_a_link_is_followed_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "real.yaml"
    target.write_text("old", encoding="utf-8")
    link = tmp_path / "people.yaml"
    link.symlink_to(target)
    write_text_atomic(link, "new")
    assert link.is_symlink() and target.read_text(encoding="utf-8") == "new"


@pytest.mark.skipif(not os.path.exists("/proc/self/fd/1"), reason="no /proc/self/fd")
def test_standard_output_sent_to_a_file_gets_the_text(tmp_path: Path) -> None:
    # `-o /dev/stdout > plan.json`: the link leads to a regular file, which gets the
    # text; the link itself (a stand-in for /dev/stdout here) stays a link.
    stdout = tmp_path / "stdout"
    stdout.symlink_to("/proc/self/fd/1")
    captured = tmp_path / "captured.txt"
    code = (
        "from pathlib import Path; from reconciler.files import write_text_atomic; "
        f"write_text_atomic(Path({str(stdout)!r}), 'the plan\\n')"
    )
    with captured.open("w") as out:
        subprocess.run([sys.executable, "-c", code], stdout=out, check=True)
    assert captured.read_text(encoding="utf-8") == "the plan\n"
    assert stdout.is_symlink()


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets here")
def test_a_socket_or_a_block_device_is_refused_not_written(tmp_path: Path) -> None:
    path = tmp_path / "sock"
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(path))
        with pytest.raises(OSError, match="not a file, a pipe or a character device"):
            write_text_atomic(path, "the plan")
    assert stat.S_ISSOCK(os.stat(path).st_mode)
