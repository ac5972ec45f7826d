"""One command line: the same option names, --debug everywhere, completion of values,
plurals that read right, and the version in one place (issue 24)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest

from reconciler import __version__
from reconciler.cli import cli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "users.yaml"


def complete(words: str) -> list[str]:
    env = {
        **os.environ,
        "_RECONCILER_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    done = subprocess.run(
        [sys.executable, "-m", "reconciler"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    return [line.split(",", 1)[1] for line in done.stdout.split()]


def test_version_comes_from_one_place(run: Any) -> None:
    result = run("--version")
    assert result.code == 0 and result.out.strip() == f"reconciler, version {__version__}"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and "\nversion =" not in pyproject


def test_a_saved_plan_and_an_apply_report_record_the_version(run: Any, tenant: Path) -> None:
    out = tenant.parent / "plan.json"
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "-o", str(out)).code == 0
    assert json.loads(out.read_text())["reconciler_version"] == __version__
    applied = run(
        "apply", "--plan", str(out), str(EXAMPLE), "--api-url", f"sim:{tenant}", "--format", "json"
    )
    assert json.loads(applied.out)["reconciler_version"] == __version__


@pytest.mark.parametrize("spelling", ["-o", "--output", "--out"])
def test_plan_saves_with_output_and_keeps_out_as_an_alias(
    run: Any, tenant: Path, spelling: str
) -> None:
    out = tenant.parent / "plan.json"
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", spelling, str(out)).code == 0
    assert json.loads(out.read_text())["seal"].startswith("hmac-sha256:")


def test_every_command_takes_debug() -> None:
    def walk(group: Any, path: str) -> list[str]:
        missing = []
        ctx = click.Context(group)
        # list_commands/get_command: the commands imported only when used are walked too.
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if hasattr(command, "commands"):
                missing += walk(command, f"{path} {name}")
            elif "debug" not in [p.name for p in command.params]:
                missing.append(f"{path} {name}")
        return missing

    assert walk(cli, "reconciler") == []


def test_annotations_replaces_output_format_which_still_works(run: Any) -> None:
    for option in ("--annotations", "--output-format"):
        result = run("validate", str(EXAMPLE), option, "github")
        assert result.code == 0, result.all
    help_text = run("validate", "--help").out
    assert "--annotations" in help_text and "--output-format" not in help_text


def test_system_names_complete_from_the_registry() -> None:
    assert complete("reconciler plan --system pi") == ["pipedrive"]
    assert complete("reconciler plan --system ") == ["dealhub", "pipedrive"]


def test_environments_complete_from_the_files_on_the_line() -> None:
    assert complete(f"reconciler plan {EXAMPLE} --env s") == ["sandbox"]
    assert "production" in complete(f"reconciler plan {EXAMPLE} --env ")


def test_export_help_says_it_reads_one_system(run: Any) -> None:
    text = " ".join(run("export", "--help").out.split())
    assert "The system to read" in text and "repeatable" not in text.split("--system")[1][:80]


def test_a_single_write_reads_as_one(run: Any, tmp_path: Path) -> None:
    company = tmp_path / "company.json"
    company.write_text(
        json.dumps(
            [
                {
                    "id": 1,
                    "email": "me@x.com",
                    "name": "Me",
                    "active_flag": True,
                    "is_you": True,
                    "access": [{"app": "sales", "admin": True}],
                },
            ]
        )
    )
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\nsettings:\n  systems: [pipedrive]\nusers:\n"
        "  - {login: me@x, email: me@x.com, name: Me}\n"
        "  - {login: new@x, email: new@x.com, name: New}\n"
    )
    result = run("plan", str(people), "--api-url", f"pipedrive=sim:{company}")
    assert result.code == 0, result.all
    assert "(1 write x 10, 22 for the verification read)" in result.out


def test_commands_of_their_own_are_imported_only_when_used() -> None:
    code = (
        "import sys, reconciler.cli; "
        "print(any(m.startswith('reconciler.commands.') for m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
