"""Only regular files are read as desired state, and never past the size limit.

A FIFO named like a YAML file would block a reader forever and /dev/zero never
ends: those cases run the CLI in a child process with a timeout and a memory
cap, so a regression fails the test instead of hanging or exhausting the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import yaml_source
from reconciler.desired import load_desired
from reconciler.errors import InputError
from reconciler.yaml_source import YamlError, read_yaml

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX special files")

USERS = "version: 1\nusers: [{login: a@acme, email: a@acme.com, name: A}]\n"
#: Far more than the CLI needs, far less than reading /dev/zero to the end would take.
CHILD_MEMORY = 1 << 30


def _cap_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (CHILD_MEMORY, CHILD_MEMORY))


def validate_in_child(*inputs: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from reconciler.cli import main; main(['validate', *sys.argv[1:]])"
    try:
        return subprocess.run(
            [sys.executable, "-c", code, *inputs],
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=_cap_memory,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"validate {' '.join(inputs)} did not finish: it waits on a special file")


def problems_of(paths: list[str]) -> list[str]:
    with pytest.raises(InputError) as info:
        load_desired(paths)
    return [str(p) for p in info.value.problems]


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "x.yaml"
    os.mkfifo(path)
    return path


def test_a_fifo_named_directly_is_refused_without_waiting(fifo: Path) -> None:
    done = validate_in_child(os.fspath(fifo))
    assert done.returncode == 1
    assert f"{fifo}: not a regular file (a named pipe)" in done.stderr.splitlines()


def test_a_fifo_in_a_directory_is_refused_without_waiting(tmp_path: Path, fifo: Path) -> None:
    (tmp_path / "a.yaml").write_text(USERS, encoding="utf-8")
    done = validate_in_child(os.fspath(tmp_path))
    assert done.returncode == 1
    assert f"{fifo}: not a regular file (a named pipe)" in done.stderr.splitlines()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_symlink_to_an_endless_device_is_refused(tmp_path: Path, device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    link = tmp_path / "users.yaml"
    link.symlink_to(device)
    for named in (link, tmp_path):
        done = validate_in_child(os.fspath(named))
        assert done.returncode == 1, done.stderr
        assert f"{link}: not a regular file (a character device)" in done.stderr.splitlines()


def test_a_device_is_refused_in_process(tmp_path: Path) -> None:
    # /dev/null ends at once, so the old reader would have called it an empty file.
    link = tmp_path / "null.yaml"
    link.symlink_to(os.devnull)
    (tmp_path / "a.yaml").write_text(USERS, encoding="utf-8")
    assert problems_of([os.fspath(tmp_path)]) == [
        f"{link}: not a regular file (a character device)"
    ]
    assert problems_of([os.fspath(link)]) == [f"{link}: not a regular file (a character device)"]
    with pytest.raises(YamlError, match=r"not a regular file \(a character device\)"):
        read_yaml(os.fspath(link))


def test_a_socket_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    if len(os.fsencode(path)) >= 100:
        pytest.skip("the temporary path is too long for a Unix socket")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(os.fspath(path))
        assert problems_of([os.fspath(path)]) == [f"{path}: not a regular file (a socket)"]
        (tmp_path / "a.yaml").write_text(USERS, encoding="utf-8")
        assert problems_of([os.fspath(tmp_path)]) == [f"{path}: not a regular file (a socket)"]


def test_the_limit_holds_while_reading_not_by_stat(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files under /proc are regular and say they are empty, whatever they hold.
    status = "/proc/self/status"
    if not os.path.exists(status) or os.stat(status).st_size != 0:
        pytest.skip("no /proc file whose stat size is 0")
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 64)
    with pytest.raises(YamlError, match="more than 64 bytes, the limit"):
        read_yaml(status)


def test_the_limit_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "u.yaml"
    path.write_bytes(b"a: 1234\n")  # 8 bytes
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 8)
    assert read_yaml(os.fspath(path)) == {"a": 1234}
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 7)
    with pytest.raises(YamlError, match="more than 7 bytes"):
        read_yaml(os.fspath(path))


def test_a_file_longer_than_its_stat_is_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The size stat gives only sizes the first read: what is read decides.
    path = tmp_path / "u.yaml"
    path.write_text(USERS, encoding="utf-8")
    real_fstat = os.fstat

    def shrunk(fd: int) -> os.stat_result:
        info = list(real_fstat(fd))
        info[6] = 3  # st_size
        return os.stat_result(info)

    monkeypatch.setattr(os, "fstat", shrunk)
    assert list(load_desired([os.fspath(path)]).users) == ["a@acme"]
