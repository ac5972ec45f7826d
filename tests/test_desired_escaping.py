"""What a file (or its name) holds cannot forge a log line through `FILE:LINE: message`.

A newline in a file name or in a quoted value would start a new line of the CI
log, and a line such as `::warning ...` is a GitHub Actions workflow command.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.errors import InputError, Problem

FORGED = "::warning file=README.md,line=1::all good"


@pytest.fixture(autouse=True)
def _no_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def validate(inputs: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    with pytest.raises(SystemExit) as info:
        main(["validate", *inputs])
    _, err = capsys.readouterr()
    assert isinstance(info.value.code, int)
    return info.value.code, err.splitlines()


def test_problem_shows_file_and_message_escaped() -> None:
    problem = Problem(f"u\n{FORGED}.yaml", 3, "login 'a\u200b' \x1b[31mred\nnext")
    assert str(problem) == (
        "u\\u000a::warning file=README.md,line=1::all good.yaml:3: "
        "login 'a\\u200b' \\u001b[31mred\\u000anext"
    )
    assert str(Problem("a\rb.yaml", 0, "x")) == "a\\u000db.yaml: x"
    # the raw values stay for whoever needs the real name (sorting, annotations)
    assert problem.file == f"u\n{FORGED}.yaml"
    assert len(str(InputError([problem, problem])).splitlines()) == 2


def test_plain_problems_are_unchanged() -> None:
    assert str(Problem("users/é.yaml", 7, "name 'Zoë' is fine")) == (
        "users/é.yaml:7: name 'Zoë' is fine"
    )


@pytest.mark.skipif(sys.platform == "win32", reason="a newline in a file name")
def test_a_file_name_cannot_forge_a_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / f"u\n{FORGED}.yaml"
    bad.write_text("version: 1\nusers: [\n", encoding="utf-8")
    code, lines = validate([os.fspath(tmp_path)], capsys)
    assert code == 1
    assert not [line for line in lines if line.startswith("::")], lines
    assert lines[0].startswith(f"{tmp_path}/u\\u000a{FORGED}.yaml:")
    assert "malformed YAML" in lines[0]


def test_a_quoted_value_cannot_forge_a_log_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The environment's name is part of the path in a schema message, unquoted.
    path = tmp_path / "u.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            version: 1
            settings:
              environments:
                "x\\n::warning file=README.md,line=1::all good": {token_env: DEALHUB_X}
            users: []
            """
        ),
        encoding="utf-8",
    )
    code, lines = validate([os.fspath(path)], capsys)
    assert code == 1
    assert not [line for line in lines if line.startswith("::")], lines
    assert f"{path}:4: settings.environments.x\\u000a{FORGED}: 'api_url' is required" in lines
