"""One file of people, both systems in one run: the README's example, end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = ROOT / "examples" / "people.yaml"
COMPANY = ROOT / "examples" / "pipedrive" / "acme.json"


@pytest.fixture
def acme(tmp_path: Path, tenant: Path) -> tuple[str, str]:
    """Writable copies of the example DealHub tenant and Pipedrive company, as targets."""
    company = tmp_path / "acme.json"
    shutil.copy(COMPANY, company)
    return f"sim:{tenant}", f"pipedrive=sim:{company}"


def test_readme_both_systems_quick_start_shows_what_the_command_prints(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("PIPEDRIVE_API_TOKEN", raising=False)
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### One file, both systems") :]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    before = (COMPANY.read_bytes(), (ROOT / "examples/tenant.json").read_bytes())
    result = run(*command.split()[1:])
    assert result.code == 0, result.all
    assert result.out == shown
    assert (COMPANY.read_bytes(), (ROOT / "examples/tenant.json").read_bytes()) == before


def test_the_two_system_example_plans_dealhub_exactly_as_the_dealhub_example(
    run: Any, tenant: Path
) -> None:
    # examples/people.yaml and examples/users.yaml list the same people: they cannot drift.
    def dealhub(path: Path) -> Any:
        args = ("plan", str(path), "--api-url", f"sim:{tenant}", "--format", "json")
        data = json.loads(run(*args, "--system", "dealhub").out)
        return data["changes"], data["summary"], data["warnings"]

    assert dealhub(PEOPLE) == dealhub(ROOT / "examples" / "users.yaml")


def test_the_example_tells_each_journey_once_in_text_and_markdown(
    run: Any, acme: tuple[str, str]
) -> None:
    where = ("--api-url", acme[0], "--api-url", acme[1])
    text = run("plan", str(PEOPLE), *where).out
    across = text[text.index("Across systems") :]
    assert "ex.employee@acme (ex@acme.com) leaves: deactivated in DealHub and Pipedrive" in across
    assert (
        "sara@acme (sara@acme.com) moves: deactivated in Pipedrive, stays active in DealHub"
        in across
    )
    assert (
        "priya@acme (priya@acme.com) in DealHub, not in Pipedrive: created in Pipedrive" in across
    )
    # Only people whose changes span both systems: daniel's update is DealHub's alone.
    assert "daniel" not in across
    comment = run("plan", str(PEOPLE), *where, "--format", "markdown").out
    head = comment[: comment.index("### DealHub plan")]
    # One table of people across systems, a column per system, leavers first.
    assert (
        "| **deactivated** | **deactivated** | `ex.employee@acme` (`ex@acme.com`), "
        "`temp.intern@acme` (`intern@acme.com`) |" in head
    )
    # A single system has no journeys to tell.
    one = run("plan", str(PEOPLE), *where, "--system", "pipedrive").out
    assert "Across systems" not in one


def test_the_example_applies_to_both_and_then_plans_empty(run: Any, acme: tuple[str, str]) -> None:
    where = ("--api-url", acme[0], "--api-url", acme[1])
    applied = run("apply", str(PEOPLE), *where, "--auto-approve", "-q")
    assert applied.code == 0, applied.all
    assert "Across systems" in applied.out  # shown before the writes, as reviewed
    assert applied.out.count("Apply complete:") == 2
    again = run("plan", str(PEOPLE), *where, "--detailed-exitcode")
    assert again.code == 0, again.all
    # Notes remain (Pipedrive cannot rename Daniel), but no change and no journey.
    assert "Across systems" not in again.out and "Dan Smith" in again.out


def test_a_missing_pipedrive_token_names_the_pipedrive_token_file_form(
    run: Any, tenant: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIPEDRIVE_API_TOKEN", raising=False)
    where = ("--api-url", f"sim:{tenant}", "--api-url", "pipedrive=https://acme.pipedrive.com")
    result = run("plan", str(PEOPLE), *where)
    assert result.code == 1
    assert "set PIPEDRIVE_API_TOKEN (or pass --token-file pipedrive=PATH)" in result.err
