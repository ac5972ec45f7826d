"""`reconciler validate`: exit codes and `FILE:LINE: message` output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.cli import main

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "users.yaml"

BAD = textwrap.dedent(
    """\
    version: 1
    settings:
      max_deactivations: "25%\\n"
    users:
      - login: a@acme
        email: a.acme.com
        name: A
        postion: Sales
      - login: a@acme
        email: a@acme.com
        name: A
      - login: b@acme
        email: b@acme.com
        name: B
        phone: 5550101
    """
)


@pytest.fixture(autouse=True)
def _no_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    code = info.value.code
    assert isinstance(code, int)
    return code, out, err


def test_the_example_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["validate", os.fspath(EXAMPLE)], capsys)
    assert (code, out, err) == (0, "12 users in 1 file: OK\n", "")


def test_several_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "team").mkdir()
    (tmp_path / "team" / "a.yml").write_text(
        "version: 1\nusers: [{login: z@acme, email: z@acme.com, name: Z}]\n", encoding="utf-8"
    )
    code, out, err = run(["validate", os.fspath(EXAMPLE), os.fspath(tmp_path / "team")], capsys)
    assert (code, out, err) == (0, "13 users in 2 files: OK\n", "")


def test_warnings_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "u.yaml"
    path.write_text(
        "version: 1\nusers:\n  - {login: a@acme, email: a@acme.com, name: A,\n"
        "     user_manager_login: boss@acme}\n",
        encoding="utf-8",
    )
    code, out, err = run(["validate", os.fspath(path)], capsys)
    assert code == 0
    assert out == "1 user in 1 file: OK\n"
    assert err == f"{path}:4: a@acme: manager 'boss@acme' is not in the files " + (
        "(plan checks that the tenant has it) (warning)\n"
    )


def test_every_error_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD, encoding="utf-8")
    missing = tmp_path / "missing.yaml"
    code, out, err = run(["validate", os.fspath(missing), os.fspath(path)], capsys)
    assert code == 1
    assert out == ""
    assert "Traceback" not in err
    assert err.splitlines() == [
        f"{missing}: no such file or directory",
        f"{path}:3: settings.max_deactivations: '25%\\n' is not a whole number or a "
        "percentage such as 25%",
        f"{path}:6: email 'a.acme.com' is not an email address",
        f"{path}:8: unknown key 'postion' (did you mean \"position\"?)",
        f"{path}:9: login 'a@acme' is listed twice: here and at {path}:5",
        f"{path}:15: phone must be a string or null, not a number "
        "(YAML read it as a non-string; put the value in quotes)",
        "6 errors",
    ]


def test_debug_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("version: 2\n", encoding="utf-8")
    code, _, err = run(["validate", "--debug", os.fspath(path)], capsys)
    assert code == 1
    assert "Traceback (most recent call last)" in err
    assert "InputError" in err
    assert f"{path}:1: version: unsupported version 2" in err

    code, _, err = run(["validate", os.fspath(path)], capsys)
    assert code == 1
    assert "Traceback" not in err


def test_no_inputs_exits_1_not_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["validate"], capsys)
    assert code == 1
    assert "Missing argument 'FILE_OR_DIR...'" in err


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"], ["validate", "-h"]])
def test_help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(argv, capsys)
    assert code == 0
    assert "Usage: reconciler" in out


def test_console_script(tmp_path: Path) -> None:
    """The installed entry point: one line a problem, exit 1, no traceback."""
    script = Path(sys.executable).parent / "reconciler"
    if not script.exists():
        pytest.skip("the console script is not installed beside this interpreter")
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"version: 1\nusers:\n  - login: caf\xe9\n")
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    result = subprocess.run(
        [os.fspath(script), "validate", os.fspath(path)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == f"{path}:3: the file is not valid UTF-8\n1 error\n"


PEOPLE = textwrap.dedent(
    """\
    version: 1
    settings:
      systems: [dealhub, pipedrive]
      pipedrive: {protect: ["owner@acme.com"], max_creates: 10}
      environments:
        production:
          api_url: https://api.dealhub.io
          pipedrive: {api_url: "https://acme.pipedrive.com", token_env: PIPEDRIVE_API_TOKEN}
    defaults:
      pipedrive: {access: [{app: sales}]}
    users:
      - login: daniel@acme
        email: daniel@acme.com
        name: Daniel Smith
        pipedrive: {access: [{app: sales}, {app: global, admin: true}]}
      - login: finance@acme
        email: finance@acme.com
        name: Finance Approver
        systems: [dealhub]
    """
)


def test_a_people_file_of_several_systems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(PEOPLE, encoding="utf-8")
    code, out, err = run(["validate", os.fspath(path)], capsys)
    counts = "2 listed for DealHub, 1 listed for Pipedrive"
    assert (code, out, err) == (0, f"2 users in 1 file: OK ({counts})\n", "")
    code, out, err = run(["validate", os.fspath(path), "--system", "pipedrive"], capsys)
    assert (code, out, err) == (0, "2 users in 1 file: OK (1 listed for Pipedrive)\n", "")
    code, out, _ = run(["validate", "--format", "json", os.fspath(path)], capsys)
    assert json.loads(out)["systems"] == {"dealhub": 2, "pipedrive": 1}
    code, out, err = run(["validate", os.fspath(path), "--system", "hubspot"], capsys)
    assert (code, out) == (1, "") and "--system hubspot: reconciler knows dealhub" in err


def test_every_people_error_is_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = (
        PEOPLE.replace("systems: [dealhub, pipedrive]", "systems: [dealhub, pipedrive, dealhub]")
        .replace("token_env: PIPEDRIVE_API_TOKEN", "token_env: GITHUB_TOKEN")
        .replace("{app: global, admin: true}", "{app: glo bl, admin: true, permission_set_id: p1}")
        .replace("systems: [dealhub]\n", "systems: [dealhub, hubspot]\n")
    )
    path = tmp_path / "people.yaml"
    path.write_text(bad, encoding="utf-8")
    code, out, err = run(["validate", os.fspath(path)], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{path}:3: settings.systems: 'dealhub' is listed twice",
        f"{path}:8: settings.environments.production.pipedrive.token_env 'GITHUB_TOKEN' must be "
        "a PIPEDRIVE_* variable name, so that a file cannot send another secret",
        f"{path}:15: pipedrive.access[1].app 'glo bl' is not an app name such as sales "
        "(letters, digits, _ . - only)",
        f"{path}:15: pipedrive.access[1]: give admin or permission_set_id, not both",
        f"{path}:19: systems[1]: unknown system 'hubspot'; one of: dealhub, pipedrive",
        "5 errors",
    ]


def test_one_pipedrive_email_in_two_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "a.yaml"
    first.write_text(PEOPLE, encoding="utf-8")
    second = tmp_path / "b.yaml"
    second.write_text(
        "version: 1\nusers:\n  - {login: daniel.s@acme, email: Daniel@ACME.com, name: D}\n",
        encoding="utf-8",
    )
    code, out, err = run(["validate", os.fspath(first), os.fspath(second)], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"{second}:3: email 'Daniel@ACME.com' of daniel.s@acme is listed twice for Pipedrive: "
        f"here and at {first}:13 (daniel@acme); Pipedrive keys users by email, without regard "
        "to letter case",
        "1 error",
    ]
