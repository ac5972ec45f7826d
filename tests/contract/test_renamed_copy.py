"""The proof the layout works (issue 21): a copy of a system's package is a new system.

Copy `providers/pipedrive/` to a new name, rename inside the copy only, add
one registry line, and the whole tool works for the new system: validate,
plan, apply, export, leave, review, the simulator and the JSON Schema. It runs
in a copy of the package on disk, through the command line in subprocesses,
so nothing of the real tree changes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPANY = ROOT / "examples" / "pipedrive" / "acme.json"
NAME, TITLE, PREFIX = "crmtwo", "Crmtwo", "CRMTWO"


def _renamed(text: str) -> str:
    return text.replace("pipedrive", NAME).replace("Pipedrive", TITLE).replace("PIPEDRIVE", PREFIX)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package with the renamed system and one registry line more."""
    root = tmp_path_factory.mktemp("renamed")
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "reconciler", root / "reconciler", ignore=ignore)
    copy = root / "reconciler" / "providers" / NAME
    shutil.copytree(ROOT / "reconciler" / "providers" / "pipedrive", copy, ignore=ignore)
    for path in copy.rglob("*.py"):
        path.write_text(_renamed(path.read_text(encoding="utf-8")), encoding="utf-8")
    registry = root / "reconciler" / "providers" / "__init__.py"
    text = registry.read_text(encoding="utf-8")
    line = '    "pipedrive": "reconciler.providers.pipedrive:PROVIDER",\n'
    assert line in text, "the registry's line for Pipedrive moved: update this test"
    registry.write_text(
        text.replace(line, line + f'    "{NAME}": "reconciler.providers.{NAME}:PROVIDER",\n'),
        encoding="utf-8",
    )
    shutil.copy(COMPANY, root / "company.json")
    return root


def cli(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        f"{PREFIX}_API_TOKEN": "renamed-copy-token",
        "NO_COLOR": "1",
    }
    env.pop("PIPEDRIVE_API_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


TARGET = ("--api-url", f"{NAME}=sim:company.json")


def test_the_copy_is_a_system_of_its_own_in_the_schema(tree: Path) -> None:
    done = cli(tree, "schema")
    assert done.returncode == 0, done.stderr
    schema = json.loads(done.stdout)
    assert NAME in json.dumps(schema)
    people = tree / "blocks.yaml"
    people.write_text(
        f"version: 1\nsettings: {{systems: [{NAME}]}}\nusers:\n"
        f"  - {{login: a@acme, email: a@acme.com, name: A, {NAME}: {{access: [{{app: sales}}]}}}}\n"
    )
    checked = cli(tree, "validate", str(people))
    assert checked.returncode == 0, checked.stderr
    wrong = people.read_text().replace("{app: sales}", "{app: sales, colour: red}")
    people.write_text(wrong)
    refused = cli(tree, "validate", str(people))
    assert refused.returncode == 1 and re.search(r"blocks\.yaml:\d+:", refused.stderr)


def test_export_plans_empty_then_apply_writes_a_change_and_converges(tree: Path) -> None:
    exported = cli(tree, "export", "--system", NAME, *TARGET, "-o", "exported.yaml")
    assert exported.returncode == 0, exported.stderr
    empty = cli(tree, "plan", "exported.yaml", *TARGET, "--detailed-exitcode")
    assert empty.returncode == 0, empty.stdout + empty.stderr
    text = (tree / "exported.yaml").read_text()
    (tree / "changed.yaml").write_text(
        text + "  - login: new.hire@acme.com\n    email: new.hire@acme.com\n    name: New Hire\n"
    )
    planned = cli(tree, "plan", "changed.yaml", *TARGET, "--detailed-exitcode")
    assert planned.returncode == 2, planned.stdout + planned.stderr
    assert f"{TITLE} plan for sim:company.json" in planned.stdout
    applied = cli(tree, "apply", "changed.yaml", *TARGET, "--auto-approve")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    company = json.loads((tree / "company.json").read_text())
    assert "new.hire@acme.com" in {user["email"] for user in company}
    after = cli(tree, "plan", "changed.yaml", *TARGET, "--detailed-exitcode")
    assert after.returncode == 0, after.stdout


def test_leave_review_and_the_simulator_work_for_the_copy(tree: Path) -> None:
    cli(tree, "export", "--system", NAME, *TARGET, "-o", "people.yaml")
    reviewed = cli(tree, "review", "people.yaml", *TARGET, "--format", "json")
    assert reviewed.returncode == 0, reviewed.stderr
    assert {row["system"] for row in json.loads(reviewed.stdout)["accounts"]} == {NAME}
    someone = next(
        user["email"]
        for user in json.loads((tree / "company.json").read_text())
        if user.get("active_flag") and not user.get("is_you") and not user.get("is_deleted")
    )
    left = cli(tree, "leave", someone, "people.yaml", *TARGET, "--auto-approve", "--no-edit")
    assert left.returncode == 0, left.stdout + left.stderr
    assert "deactivated (verified)" in left.stdout
    generated = cli(
        tree, "sim", "generate", "--system", NAME, "--users", "20", "--seed", "1",
        "-o", "gen.json", "--desired", "gen.yaml",
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    assert cli(tree, "plan", "gen.yaml", "--api-url", f"{NAME}=sim:gen.json").returncode == 0
