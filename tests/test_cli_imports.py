"""A command imports what it uses when it runs: checking files offline, or asking a
command for its help, never loads the HTTP client (httpx)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

#: Runs the command line in a fresh interpreter, then lists the modules it loaded.
SCRIPT = """
import sys
from reconciler import cli
code = cli._run(sys.argv[2:])
with open(sys.argv[1], "w", encoding="utf-8") as out:
    out.write("\\n".join(sorted(sys.modules)))
sys.exit(code)
"""


def modules_loaded(tmp_path: Path, *args: str) -> set[str]:
    listing = tmp_path / "modules.txt"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(listing), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return set(listing.read_text(encoding="utf-8").split())


def test_validate_does_not_load_the_http_client(tmp_path: Path) -> None:
    people = tmp_path / "people.yaml"
    people.write_text(
        "version: 1\n"
        "settings: {systems: [dealhub, pipedrive]}\n"
        "users:\n"
        "  - {login: a@acme, email: a@acme.com, name: A, pipedrive: {access: [{app: sales}]}}\n"
    )
    loaded = modules_loaded(tmp_path, "validate", str(people))
    assert "httpx" not in loaded
    assert "reconciler.http" not in loaded


@pytest.mark.parametrize("command", ["plan", "apply", "export", "leave", "review", "show"])
def test_a_commands_help_does_not_load_the_http_client(tmp_path: Path, command: str) -> None:
    assert "httpx" not in modules_loaded(tmp_path, command, "--help")
