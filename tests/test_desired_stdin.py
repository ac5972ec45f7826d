"""`-` as an input is standard input, read under the same rules as a file, named `<stdin>`."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from reconciler import yaml_source
from reconciler.cli import main
from reconciler.desired import STDIN, find_files, load_desired
from reconciler.errors import InputError

USERS = b"version: 1\nusers:\n  - {login: a@acme, email: a@acme.com, name: A}\n"


@pytest.fixture(autouse=True)
def _no_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def feed(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def validate(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["validate", *argv])
    out, err = capsys.readouterr()
    assert isinstance(info.value.code, int)
    return info.value.code, out, err


def test_validate_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, USERS)
    assert validate(["-"], capsys) == (0, "1 user in 1 file: OK\n", "")


def test_problems_on_standard_input_say_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    feed(monkeypatch, USERS + b"  - {login: b@acme, email: nope, name: B}\n")
    code, out, err = validate(["-"], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == ["<stdin>:4: email 'nope' is not an email address", "1 error"]


def test_standard_input_and_files_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "b.yaml"
    other.write_bytes(USERS.replace(b"name: A", b"name: B"))
    feed(monkeypatch, USERS)
    code, _, err = validate([os.fspath(other), "-"], capsys)
    assert code == 1
    assert f"<stdin>:3: login 'a@acme' is listed twice: here and at {other}:3" in err


def test_standard_input_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, USERS)
    files, problems = find_files(["-", "-"])
    assert files == [STDIN]
    assert [str(p) for p in problems] == [
        "<stdin>: - (standard input) is given twice; it can be read once"
    ]
    with pytest.raises(InputError, match="given twice"):
        load_desired(["-", "-"])


def test_a_file_named_like_stdin_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / STDIN).write_bytes(USERS)
    feed(monkeypatch, b"version: 1\nusers: [{login: s@acme, email: s@acme.com, name: S}]\n")
    assert sorted(load_desired([STDIN, "-"]).users) == ["a@acme", "s@acme"]


def test_standard_input_follows_the_yaml_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    feed(monkeypatch, b"version: 1\nusers: []\nusers: []\n")
    with pytest.raises(InputError, match=r"<stdin>:3: duplicate key 'users'"):
        load_desired(["-"])
    feed(monkeypatch, b"version: 1\nusers: [\xff]\n")
    with pytest.raises(InputError, match=r"<stdin>:2: the file is not valid UTF-8"):
        load_desired(["-"])


class Endless(io.RawIOBase):
    """A stream that never ends, counting what is taken from it."""

    def __init__(self) -> None:
        self.taken = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = len(buffer)
        buffer[:n] = b"#" * n
        self.taken += n
        return n


def test_the_size_limit_holds_while_reading_standard_input(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(yaml_source, "MAX_FILE_BYTES", 1000)
    endless = Endless()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BufferedReader(endless, 64)))
    with pytest.raises(InputError) as info:
        load_desired(["-"])
    assert [str(p) for p in info.value.problems] == [
        "<stdin>: more than 1,000 bytes, the limit (split the users over several files)"
    ]
    assert endless.taken <= 1001 + 64  # what the limit allows, plus one buffer


def test_standard_input_that_cannot_be_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", None)
    with pytest.raises(InputError, match="<stdin>: cannot read: standard input is not open"):
        load_desired(["-"])
