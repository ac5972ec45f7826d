"""Pipedrive alone through the CLI (SPEC section 7): validate, plan, apply, apply --plan, notes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.providers.pipedrive.sim_generate import generate_company, generate_pipedrive_desired

TOKEN = "pd-token-do-not-print-0123"


@pytest.fixture
def company(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("PIPEDRIVE_API_TOKEN", TOKEN)
    monkeypatch.delenv("PIPEDRIVE_API_URL", raising=False)
    users = generate_company(40, seed=7)
    state = tmp_path / "company.json"
    state.write_text(json.dumps(users))
    people = tmp_path / "people.yaml"
    people.write_text(generate_pipedrive_desired(users, changes=0.2, seed=7))
    return state, people


def stored(state: Path) -> dict[str, dict[str, Any]]:
    return {u["email"].lower(): u for u in json.loads(state.read_text())}


def test_plan_apply_then_plan_is_empty(run: Any, company: tuple[Path, Path]) -> None:
    state, people = company
    target = f"pipedrive=sim:{state}"
    assert run("validate", str(people)).code == 0
    before = state.read_bytes()
    planned = run("plan", str(people), "--api-url", target, "--detailed-exitcode")
    assert planned.code == 2, planned.all
    assert planned.out.startswith(f"Pipedrive plan for sim:{state}")
    assert state.read_bytes() == before  # plan never writes
    applied = run("apply", str(people), "--api-url", target, "--auto-approve")
    assert applied.code == 0, applied.all
    assert "0 failed." in applied.out
    again = run("plan", str(people), "--api-url", target, "--detailed-exitcode")
    assert again.code == 0, again.all
    assert TOKEN not in planned.all + applied.all + again.all


def test_saved_plan_is_applied_and_an_edited_one_refused(
    run: Any, company: tuple[Path, Path], tmp_path: Path
) -> None:
    state, people = company
    target = f"pipedrive=sim:{state}"
    saved = tmp_path / "plan.json"
    assert run("plan", str(people), "--api-url", target, "-o", str(saved)).code == 0
    data = json.loads(saved.read_text())
    assert data["system"] == "pipedrive" and data["token_env"] == "PIPEDRIVE_API_TOKEN"
    assert data["writes_without_external_user_id"] == 0
    you = next(u for u in json.loads(state.read_text()) if u["is_you"])
    edited = json.loads(saved.read_text())
    edited["changes"].append(
        {
            "action": "deactivate",
            "login": you["email"],
            "fields": {"is_active": {"before": True, "after": False}},
            "before": next(c["before"] for c in data["changes"] if c["action"] != "create"),
            "send": {"active_flag": False, "id": you["id"]},
        }
    )
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(edited))
    before = state.read_bytes()
    refused = run("apply", "--plan", str(forged), str(people), "--api-url", target)
    assert refused.code == 1 and "the saved plan was altered" in refused.err
    assert state.read_bytes() == before
    applied = run("apply", "--plan", str(saved), str(people), "--api-url", target)
    assert applied.code == 0, applied.all
    assert stored(state)[you["email"].lower()]["active_flag"] is True


def test_notes_alone_do_not_make_detailed_exitcode_2(run: Any, company: tuple[Path, Path]) -> None:
    state, people = company
    target = f"pipedrive=sim:{state}"
    assert run("apply", str(people), "--api-url", target, "--auto-approve").code == 0
    users = json.loads(state.read_text())
    renamed = next(u for u in users if not u["is_you"] and not u["is_deleted"])
    renamed["name"] = "Someone Else Entirely"
    state.write_text(json.dumps(users))
    result = run("plan", str(people), "--api-url", target, "--detailed-exitcode")
    assert result.code == 0, result.all
    assert "Notes (differences apply cannot change" in result.out
    assert "Someone Else Entirely" in result.out


def test_the_token_never_travels_in_a_url(run: Any, company: tuple[Path, Path]) -> None:
    from reconciler.providers.pipedrive.sim import PipedriveSimulator
    from reconciler.providers.pipedrive.sim_state import PipedriveStore
    from reconciler.sim.server import running

    state, people = company
    sim = PipedriveSimulator(PipedriveStore.load(state, persist=True), token=TOKEN)
    with running(sim) as url:
        result = run("apply", str(people), "--api-url", f"pipedrive={url}", "--auto-approve")
    assert result.code == 0, result.all
    assert sim.request_log and {r["auth"] for r in sim.request_log} == {"x-api-token"}
    assert {r["method"] for r in sim.request_log} <= {"GET", "POST", "PUT"}
    # Plan read + verify, each /users/me then the list.
    assert sum(1 for r in sim.request_log if r["method"] == "GET") == 4


def test_a_pipedrive_target_must_be_named(run: Any, company: tuple[Path, Path]) -> None:
    _, people = company
    result = run("plan", str(people))
    assert result.code == 1
    assert "no target for Pipedrive" in result.err and "PIPEDRIVE_API_URL" in result.err


def test_system_option_limits_the_run(run: Any, company: tuple[Path, Path]) -> None:
    state, people = company
    result = run("plan", str(people), "--system", "dealhub", "--api-url", f"sim:{state}")
    assert result.code == 1 and "the files do not manage it" in result.err


def test_export_round_trips_to_an_empty_plan(
    run: Any, company: tuple[Path, Path], tmp_path: Path
) -> None:
    state, _ = company
    out = tmp_path / "exported.yaml"
    result = run(
        "export", "--system", "pipedrive", "--api-url", f"pipedrive=sim:{state}", "-o", str(out)
    )
    assert result.code == 0, result.all
    assert "systems: [pipedrive]" in out.read_text()
    assert run("validate", str(out)).code == 0
    again = run("plan", str(out), "--api-url", f"pipedrive=sim:{state}", "--detailed-exitcode")
    assert again.code == 0, again.all
    assert "No changes" in again.out


def test_readme_pipedrive_quick_start_shows_what_the_command_prints(
    run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(__file__).resolve().parents[3]
    monkeypatch.chdir(root)
    monkeypatch.delenv("PIPEDRIVE_API_TOKEN", raising=False)
    readme = (root / "README.md").read_text()
    section = readme[readme.index("## Pipedrive") :]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    shown = section.split("```text\n", 1)[1].split("```", 1)[0]
    args = command.split()[1:]
    before = (root / "examples/pipedrive/company.json").read_bytes()
    result = run(*args)
    assert result.code == 0, result.all
    assert result.out == shown
    assert (root / "examples/pipedrive/company.json").read_bytes() == before


def test_tokens_spent_are_one_list_per_plan_and_ten_per_change(
    run: Any, company: tuple[Path, Path]
) -> None:
    from reconciler.providers.pipedrive.sim import PipedriveSimulator
    from reconciler.providers.pipedrive.sim_state import PipedriveStore
    from reconciler.sim.server import running

    state, people = company
    sim = PipedriveSimulator(PipedriveStore.load(state, persist=True), token=TOKEN)
    with running(sim) as url:
        target = f"pipedrive={url}"
        planned = run("plan", str(people), "--api-url", target, "--format", "json")
        assert planned.code == 0, planned.all
        changes = len(json.loads(planned.out)["changes"])
        assert changes > 0
        assert sim.tokens_spent == 22  # GET /v1/users/me and GET /v1/users, once
        assert run("apply", str(people), "--api-url", target, "--auto-approve").code == 0
        # its own read, one call per change, and the verification read
        assert sim.tokens_spent == 22 + 22 + 10 * changes + 22


def test_plan_says_what_apply_will_cost_and_what_is_left(
    run: Any, company: tuple[Path, Path]
) -> None:
    state, people = company
    target = f"pipedrive=sim:{state}"
    result = run("plan", str(people), "--api-url", target, "--format", "json")
    data = json.loads(result.out)
    writes = sum(1 for c in data["changes"] if "blocked" not in c)
    cost = data["cost"]
    assert cost["unit"] == "tokens"
    assert (cost["writes"], cost["verify"]) == (10 * writes, 22)
    assert cost["total"] == 10 * writes + 22
    assert isinstance(cost["budget_left"], int) and cost["budget_left"] > 0
    text = run("plan", str(people), "--api-url", target).out
    assert f"Cost: {10 * writes + 22} tokens ({writes} writes x 10, 22 for" in text


def test_dealhub_plans_carry_no_cost(run: Any, tenant: Path) -> None:
    root = Path(__file__).resolve().parents[3]
    result = run(
        "plan", str(root / "examples/users.yaml"), "--api-url", f"sim:{tenant}", "--format", "json"
    )
    assert "cost" not in json.loads(result.out)


def test_read_all_reads_every_system_at_the_same_time() -> None:
    import threading

    from reconciler.engine import read_all

    barrier = threading.Barrier(2, timeout=10)

    class Remote:
        def __init__(self, name: str) -> None:
            self.name = name

        def read(self) -> list[dict[str, Any]]:
            barrier.wait()  # a sequential read_all never gets both here: BrokenBarrierError
            return [{"who": self.name}]

    remotes: Any = [Remote("a"), Remote("b")]
    assert read_all(remotes) == [[{"who": "a"}], [{"who": "b"}]]


def test_one_file_plans_both_systems_in_one_run(
    run: Any, company: tuple[Path, Path], tenant: Path, tmp_path: Path
) -> None:
    state, _ = company
    root = Path(__file__).resolve().parents[3]
    both = tmp_path / "both.yaml"
    text = (root / "examples/users.yaml").read_text()
    both.write_text(text.replace("settings:\n", "settings:\n  systems: [dealhub, pipedrive]\n", 1))
    args = ("plan", str(both), "--api-url", f"sim:{tenant}", "--api-url", f"pipedrive=sim:{state}")
    # The example's people are not in the generated company: Pipedrive's guard trips.
    guarded = run(*args)
    assert guarded.code == 3 and "max_deactivations" in guarded.err
    assert "DealHub plan for" in guarded.out and "Pipedrive plan for" in guarded.out
    assert guarded.out.count("Plan: ") == 2
    result = run(*args, "--allow-mass-deactivation", "--format", "json")
    assert result.code == 0, result.all
    plans = json.loads(result.out)["plans"]
    assert [p["system"] for p in plans] == ["dealhub", "pipedrive"]
    comment = run(*args, "--allow-mass-deactivation", "--format", "markdown").out
    first, second = comment.splitlines()[2:4]
    assert first.startswith("- **DealHub**: 1 to create, 2 to update")
    assert second.startswith("- **Pipedrive**:") and "; cost " in second


def test_a_two_system_saved_plan_applies_both_and_converges(
    run: Any, company: tuple[Path, Path], tenant: Path, tmp_path: Path
) -> None:
    state, _ = company
    root = Path(__file__).resolve().parents[3]
    both = tmp_path / "both.yaml"
    text = (root / "examples/users.yaml").read_text()
    both.write_text(text.replace("settings:\n", "settings:\n  systems: [dealhub, pipedrive]\n", 1))
    where = ("--api-url", f"sim:{tenant}", "--api-url", f"pipedrive=sim:{state}")
    allow = "--allow-mass-deactivation"
    saved = tmp_path / "plan.json"
    assert run("plan", str(both), *where, allow, "-o", str(saved)).code == 0
    assert [p["system"] for p in json.loads(saved.read_text())["plans"]] == [
        "dealhub",
        "pipedrive",
    ]
    # Planned for both, applied to one: refused before anything is sent.
    one = run("apply", "--plan", str(saved), str(both), *where, allow, "--system", "dealhub")
    assert one.code == 1 and "it covers dealhub, pipedrive, this run dealhub" in one.err
    applied = run("apply", "--plan", str(saved), str(both), *where, allow, "-q")
    assert applied.code == 0, applied.all
    assert applied.out.count("Apply complete:") == 2
    again = run("plan", str(both), *where, allow, "--detailed-exitcode")
    assert again.code == 0, again.all
