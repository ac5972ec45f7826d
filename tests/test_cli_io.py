"""Standard streams and shells: `-o -`, `plan -o`, completion, `validate --format json`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "users.yaml"


def test_export_dash_writes_to_stdout_not_a_file(
    run: Any, tenant: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("export", "--api-url", f"sim:{tenant}", "-o", "-")
    assert result.code == 0, result.all
    assert "login: daniel@acme" in result.out
    assert not (tmp_path / "-").exists()


def test_schema_dash_writes_to_stdout(run: Any, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("schema", "-o", "-")
    assert result.code == 0
    assert json.loads(result.out)["$schema"].startswith("https://json-schema.org/")
    assert not (tmp_path / "-").exists()


def test_plan_takes_short_o(run: Any, tenant: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    result = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "-o", str(out))
    assert result.code == 0, result.all
    assert json.loads(out.read_text())["summary"]["create"] == 1


def test_plan_out_dash_is_refused_with_the_way_to_do_it(run: Any, tenant: Path) -> None:
    result = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "-o", "-")
    assert result.code == 1 and "use --format json" in result.err


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o nosort -F"),
        ("zsh", "#compdef reconciler"),
        ("fish", "complete --no-files --command reconciler"),
    ],
)
def test_completion_scripts(run: Any, shell: str, marker: str) -> None:
    result = run("completion", shell)
    assert result.code == 0
    assert marker in result.out and "_RECONCILER_COMPLETE" in result.out


def test_completion_completes_commands() -> None:
    env = {
        **os.environ,
        "_RECONCILER_COMPLETE": "bash_complete",
        "COMP_WORDS": "reconciler pl",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [sys.executable, "-m", "reconciler"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.split() == ["plain,plan"]


def test_validate_json_on_success(run: Any) -> None:
    result = run("validate", str(EXAMPLE), "--format", "json")
    assert result.code == 0
    data = json.loads(result.out)
    assert data == {
        "format_version": 1,
        "ok": True,
        "files": [str(EXAMPLE)],
        "users": 12,
        "systems": {"dealhub": 12},
        "errors": [],
        "warnings": [],
    }


def test_validate_json_lists_every_error_with_file_line_and_field(run: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: 1\nusers:\n  - login: a@x\n    email: nope\n    name: A\n    postion: Sales\n"
    )
    result = run("validate", str(bad), "--format", "json")
    assert result.code == 1
    data = json.loads(result.out)
    assert data["ok"] is False and data["users"] is None
    assert {(e["line"], e["field"]) for e in data["errors"]} == {(4, "email"), (6, "postion")}
    assert all(e["file"] == str(bad) for e in data["errors"])
    assert result.err == ""
