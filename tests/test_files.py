"""Writing files: atomic for a file, in place for a device or a pipe (reconciler.files)."""

from __future__ import annotations

import os
import stat
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
