"""The CLI end to end against the simulator: exit codes, outputs, secrets."""

from __future__ import annotations

import io
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.server import running
from tests.helpers.cli import EXAMPLE, SECRET, sandbox_on_simulator, tenant_of, write

ROOT = Path(__file__).resolve().parent.parent
TENANT = ROOT / "examples" / "tenant.json"


# -- plan -------------------------------------------------------------------------


def test_quick_start_plan_shows_every_action_and_never_writes(run, tenant: Path) -> None:
    before = tenant.read_bytes()
    result = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 0, result.err
    assert "Plan: 1 to create, 2 to update, 1 to reactivate, 2 to deactivate." in result.out
    for symbol in ("+ create", "~ update", "^ reactivate", "- deactivate"):
        assert symbol in result.out
    assert tenant.read_bytes() == before


def test_detailed_exitcode_is_2_with_changes(run, tenant: Path) -> None:
    result = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--detailed-exitcode")
    assert result.code == 2


def test_api_url_from_environment_variable(run, tenant: Path, monkeypatch) -> None:
    monkeypatch.setenv("DEALHUB_API_URL", f"sim:{tenant}")
    assert run("plan", str(EXAMPLE)).code == 0


def test_no_target_is_a_clear_error(run) -> None:
    result = run("plan", str(EXAMPLE))
    assert result.code == 1
    assert "no target" in result.err
    assert "Traceback" not in result.err


def test_json_and_markdown_formats(run, tenant: Path) -> None:
    data = json.loads(
        run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--format", "json").out
    )
    assert data["summary"] == {
        "create": 1,
        "update": 2,
        "reactivate": 1,
        "deactivate": 2,
        "unchanged": 7,
    }
    markdown = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--format", "markdown").out
    assert markdown.startswith("### DealHub plan")
    assert "<details>" in markdown


def test_guard_stops_plan_with_exit_3_and_can_be_overridden(
    run, tenant: Path, tmp_path: Path
) -> None:
    only_admin = write(
        tmp_path / "few.yaml",
        "version: 1\nusers:\n  - {login: admin@acme, email: it-admin@acme.com,"
        " name: Acme CPQ Admin, position: Administrator, company: Acme, country: Israel}\n",
    )
    result = run("plan", str(only_admin), "--api-url", f"sim:{tenant}")
    assert result.code == 3
    assert "max_deactivations" in result.all
    assert "Plan: 0 to create" in result.out  # the plan is still shown
    ok = run("plan", str(only_admin), "--api-url", f"sim:{tenant}", "--allow-mass-deactivation")
    assert ok.code == 0


def test_empty_desired_state_is_stopped(run, tenant: Path, tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.yaml", "version: 1\nsettings: {unlisted: ignore}\nusers: []\n")
    result = run("plan", str(empty), "--api-url", f"sim:{tenant}")
    assert result.code == 3
    assert "lists no users" in result.all


def test_bad_input_exits_1_without_traceback(run, tenant: Path, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "version: 1\nusers:\n  - login: a@x\n    postion: x\n")
    result = run("plan", str(bad), "--api-url", f"sim:{tenant}")
    assert result.code == 1
    assert f"{bad}:4: unknown key 'postion'" in result.err
    assert "Traceback" not in result.all


def test_manager_in_neither_files_nor_tenant_is_an_error(run, tenant: Path, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "user_manager_login: maya@acme", "user_manager_login: ghost@acme"
    )
    desired = write(tmp_path / "users.yaml", text)
    result = run("plan", str(desired), "--api-url", f"sim:{tenant}")
    assert result.code == 1
    assert (
        "ghost@acme" in result.err
        and "neither listed for DealHub in the files nor in the tenant" in result.err
    )


def test_saved_plan_file_is_json_without_token(
    run, tenant: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)
    out = tmp_path / "plan.json"
    result = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--out", str(out))
    assert result.code == 0
    data = json.loads(out.read_text())
    assert data["format_version"] == 1 and len(data["changes"]) == 6
    assert SECRET not in out.read_text() and SECRET not in result.all


def test_github_annotations(run, tmp_path: Path, monkeypatch) -> None:
    bad = write(
        tmp_path / "bad.yaml", "version: 1\nusers:\n  - {login: a@x, email: nope, name: A}\n"
    )
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run("validate", str(bad))
    assert f"::error file={bad},line=3::email 'nope' is not an email address" in result.err
    plain = run("validate", str(bad), "--output-format", "text")
    assert "::error" not in plain.all


# -- tokens and transport errors (over a real socket) -----------------------------------


@pytest.fixture
def served(tenant: Path) -> Iterator[str]:
    sim = Simulator(TenantStore.load(tenant, persist=True), token=SECRET)
    with running(sim) as url:
        yield url


def test_wrong_token_is_one_clear_line_and_never_printed(run, served: str, monkeypatch) -> None:
    wrong = "wrong-token-value-123"
    monkeypatch.setenv("DEALHUB_TOKEN", wrong)
    result = run("plan", str(EXAMPLE), "--api-url", served)
    assert result.code == 1
    assert "rejected the token from DEALHUB_TOKEN" in result.err
    assert wrong not in result.all and SECRET not in result.all
    assert result.err.count("\n") == 1


def test_token_file_is_used(run, served: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DEALHUB_TOKEN", raising=False)
    token_file = write(tmp_path / "token", SECRET + "\n")
    result = run("plan", str(EXAMPLE), "--api-url", served, "--token-file", str(token_file))
    assert result.code == 0, result.err
    assert SECRET not in result.all


def test_missing_token_names_the_variable(run, served: str, monkeypatch) -> None:
    monkeypatch.delenv("DEALHUB_TOKEN", raising=False)
    result = run("plan", str(EXAMPLE), "--api-url", served)
    assert result.code == 1 and "set DEALHUB_TOKEN" in result.err


def test_unreachable_url_is_one_clear_line(run, monkeypatch) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr("reconciler.http.RetryPolicy.__init__.__defaults__", (2, 0.0, 0.0))
    result = run("plan", str(EXAMPLE), "--api-url", f"http://127.0.0.1:{port}")
    assert result.code == 1
    assert result.err.startswith(f"error: cannot reach http://127.0.0.1:{port}")
    assert result.err.count("\n") == 1 and SECRET not in result.all


def test_plain_http_to_a_remote_host_is_refused(run, monkeypatch) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)
    result = run("plan", str(EXAMPLE), "--api-url", "http://api.dealhub.io")
    assert result.code == 1 and "clear text" in result.err


# -- apply --------------------------------------------------------------------------


def test_apply_without_terminal_refuses(run, tenant: Path) -> None:
    before = tenant.read_bytes()
    result = run("apply", str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 1 and "--auto-approve" in result.err
    assert tenant.read_bytes() == before


def test_apply_converges_and_second_plan_is_empty(run, tenant: Path) -> None:
    result = run("apply", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--auto-approve")
    assert result.code == 0, result.all
    assert (
        "Apply complete: 1 created, 2 updated, 1 reactivated, 2 deactivated, 0 failed."
        in result.out
    )
    users = tenant_of(tenant)
    assert users["lucas@acme"]["external_user_id"] == "005XX000042"
    assert "fax" not in users["sara@acme"]
    assert users["temp.intern@acme"]["is_active"] is False
    again = run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--detailed-exitcode")
    assert again.code == 0, again.out


def test_apply_refuses_a_guarded_plan(run, tenant: Path, tmp_path: Path) -> None:
    before = tenant.read_bytes()
    empty = write(tmp_path / "e.yaml", "version: 1\nusers: []\n")
    result = run("apply", str(empty), "--api-url", f"sim:{tenant}", "--auto-approve")
    assert result.code == 3
    assert tenant.read_bytes() == before


def test_apply_saved_plan(run, tenant: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--out", str(saved)).code == 0
    result = run("apply", "--plan", str(saved), str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 0, result.all
    assert "0 failed." in result.out
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--detailed-exitcode").code == 0


def test_a_stale_saved_plan_holds_the_users_that_moved_and_writes_the_rest(
    run, tenant: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--out", str(saved)).code == 0
    users = json.loads(tenant.read_text())
    for user in users:
        if user["login"] == "daniel@acme":
            user["position"] = "Changed by someone else"
    users.append(
        {"login": "lucas@acme", "id": "9", "email": "l@x.com", "name": "L", "is_active": True}
    )
    tenant.write_text(json.dumps(users))
    result = run("apply", "--plan", str(saved), str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 1
    held = result.out[: result.out.index("ok ")]
    assert "daniel@acme (position): the user changed since the plan (position)" in held
    assert "lucas@acme (" in held and "the user changed since the plan (it exists now)" in held
    assert "Held: 2 changes not written." in result.out
    after = tenant_of(tenant)
    assert after["daniel@acme"]["position"] == "Changed by someone else"
    assert after["lucas@acme"]["name"] == "L"
    # The reviewed changes of the other users are written.
    assert after["noa@acme"]["is_active"] is True
    assert after["ex.employee@acme"]["is_active"] is False


def test_saved_plan_for_another_target_is_refused(run, tenant: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--out", str(saved)).code == 0
    other = tmp_path / "other.json"
    shutil.copy(tenant, other)
    result = run("apply", "--plan", str(saved), str(EXAMPLE), "--api-url", f"sim:{other}")
    assert result.code == 1 and f"it targets sim:{tenant}, not sim:{other}" in result.err
    assert other.read_bytes() == tenant.read_bytes()


def test_apply_over_socket_reports_json_and_never_prints_token(
    run, served: str, tenant: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)
    result = run("apply", str(EXAMPLE), "--api-url", served, "--auto-approve", "--format", "json")
    assert result.code == 0, result.all
    report = json.loads(result.out)
    assert report["ok"] is True
    assert report["requests"] == {"read": 2, "write": 1}
    assert {o["status"] for o in report["outcomes"]} == {"done"}
    assert SECRET not in result.all


# -- environments and export ---------------------------------------------------------------


def test_environment_suffix_applies_to_logins_and_managers(run, tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox.json"
    sandbox.write_text("[]")
    result = run(
        "apply", str(EXAMPLE), "--env", "sandbox", "--api-url", f"sim:{sandbox}", "--auto-approve"
    )
    assert result.code == 0, result.all
    users = tenant_of(sandbox)
    assert set(users) == {
        "admin@acme_sb",
        "roy@acme_sb",
        "daniel@acme_sb",
        "maya@acme_sb",
        "john@acme_sb",
        "priya@acme_sb",
        "noa@acme_sb",
        "lucas@acme_sb",
        "sara@acme_sb",
        "omar@acme_sb",
        "ex.employee@acme_sb",
        "old.contractor@acme_sb",
    }
    assert users["john@acme_sb"]["user_manager_login"] == "daniel@acme_sb"
    plan = run("plan", str(EXAMPLE), "--env", "sandbox", "--api-url", f"sim:{sandbox}")
    assert "(environment: sandbox)" in plan.out
    assert "Plan: 0 to create, 0 to update" in plan.out


def test_unknown_environment(run, tenant: Path) -> None:
    result = run("plan", str(EXAMPLE), "--env", "staging", "--api-url", f"sim:{tenant}")
    assert result.code == 1 and "sandbox, production" in result.err.replace(
        "production, sandbox", "sandbox, production"
    )


def test_export_round_trip(run, tenant: Path, tmp_path: Path) -> None:
    out = tmp_path / "exported.yaml"
    assert run("export", "--api-url", f"sim:{tenant}", "-o", str(out)).code == 0
    assert out.read_text().startswith("# yaml-language-server: $schema=")
    assert run("validate", str(out)).code == 0
    result = run("plan", str(out), "--api-url", f"sim:{tenant}", "--detailed-exitcode")
    assert result.code == 0, result.out


def test_saved_plan_target_comes_from_the_command_line(run, tenant: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--out", str(saved)).code == 0
    data = json.loads(saved.read_text())
    data["target"] = "https://attacker.example"
    saved.write_text(json.dumps(data))
    result = run("apply", "--plan", str(saved), str(EXAMPLE))
    assert result.code == 1 and "no target" in result.err
    data["target"] = f"sim:{tenant}"
    data["environment"], data["token_env"] = "production", "AWS_SECRET_ACCESS_KEY"
    saved.write_text(json.dumps(data))
    result = run("apply", "--plan", str(saved), str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == 1 and "made for environment production, not (none)" in result.err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("answer", "code"), [("n\n", 1), ("y\n", 0)])
def test_apply_asks_on_a_terminal(run, tenant: Path, monkeypatch, answer: str, code: int) -> None:
    before = tenant.read_bytes()
    monkeypatch.setattr("sys.stdin", _Terminal(answer))
    result = run("apply", str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert result.code == code, result.all
    assert "Apply these 6 changes to sim:" in result.err
    if code:
        assert "nothing was written" in result.err
        assert tenant.read_bytes() == before
    else:
        assert "0 failed." in result.out


# -- where a file may send the token (review findings) --------------------------------


def test_an_environment_cannot_send_the_token_to_another_host(
    run, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)
    text = EXAMPLE.read_text().replace(
        'production: {api_url: "https://api.dealhub.io"',
        'production: {api_url: "https://collector.example"',
    )
    desired = write(tmp_path / "users.yaml", text)
    result = run("plan", str(desired), "--env", "production")
    assert result.code == 1
    assert "may only name a DealHub host" in result.err and SECRET not in result.all


def test_an_environment_cannot_name_another_secret(run, tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace(
        "token_env: DEALHUB_SANDBOX_TOKEN", "token_env: GITHUB_TOKEN"
    )
    desired = write(tmp_path / "users.yaml", text)
    result = run("validate", str(desired))
    assert result.code == 1 and "token_env" in result.err


def test_env_wins_over_an_ambient_api_url(run, tenant: Path, tmp_path: Path, monkeypatch) -> None:
    sandbox, desired = sandbox_on_simulator(tmp_path)
    monkeypatch.setenv("DEALHUB_API_URL", f"sim:{tenant}")
    result = run("plan", str(desired), "--env", "sandbox")
    assert result.code == 0, result.all
    assert f"DealHub plan for sim:{sandbox} (environment: sandbox)" in result.out
    assert "Plan: 12 to create" in result.out


def test_apply_with_nothing_to_do_still_reports(run, tenant: Path) -> None:
    assert run("apply", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--auto-approve").code == 0
    again = run("apply", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--auto-approve")
    assert again.code == 0
    assert (
        "Apply complete: 0 created, 0 updated, 0 reactivated, 0 deactivated, 0 failed." in again.out
    )
    as_json = run(
        "apply", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--auto-approve", "--format", "json"
    )
    assert json.loads(as_json.out)["outcomes"] == []


def test_non_ascii_token_is_a_clear_error_that_shows_none_of_it(
    run, served: str, monkeypatch
) -> None:
    monkeypatch.setenv("DEALHUB_TOKEN", "abc\u20acdef-secret")
    result = run("plan", str(EXAMPLE), "--api-url", served)
    assert result.code == 1 and "cannot be sent in an HTTP header" in result.err
    assert "def-secret" not in result.all and "internal error" not in result.all


def test_saved_env_plan_applies_with_an_ambient_api_url(
    run, tenant: Path, tmp_path: Path, monkeypatch
) -> None:
    sandbox, desired = sandbox_on_simulator(tmp_path)
    monkeypatch.setenv("DEALHUB_API_URL", f"sim:{tenant}")
    saved = tmp_path / "plan.json"
    assert run("plan", str(desired), "--env", "sandbox", "--out", str(saved)).code == 0
    before = tenant.read_bytes()
    # The target is chosen as without --plan: without --env, the ambient production
    # tenant, for which the plan was not made.
    refused = run("apply", "--plan", str(saved), str(desired))
    assert refused.code == 1 and "made for environment sandbox, not (none)" in refused.err
    result = run("apply", "--plan", str(saved), str(desired), "--env", "sandbox")
    assert result.code == 0, result.all
    assert "admin@acme_sb" in tenant_of(sandbox)
    assert tenant.read_bytes() == before  # the ambient (production) tenant untouched


# -- the token never leaves, whatever the server echoes ---------------------------------


@pytest.mark.parametrize("fmt", ["text", "json", "markdown"])
def test_a_token_echoed_in_a_tenant_field_is_masked_everywhere(
    run, tenant: Path, tmp_path: Path, monkeypatch, fmt: str
) -> None:
    users = json.loads(tenant.read_text())
    for user in users:
        if user["login"] == "daniel@acme":
            user["position"] = f"Bearer {SECRET}"
    tenant.write_text(json.dumps(users))
    monkeypatch.setenv("DEALHUB_TOKEN", SECRET)
    out = tmp_path / "plan.json"
    result = run(
        "plan", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--format", fmt, "--out", str(out)
    )
    assert result.code == 0, result.all
    assert "daniel" in result.out and "[REDACTED]" in result.out
    assert SECRET not in result.all
    assert SECRET not in out.read_text()


def test_main_leaves_the_garbage_collector_as_it_found_it(run, tenant: Path) -> None:
    import gc

    assert gc.isenabled()
    run("plan", str(EXAMPLE), "--api-url", f"sim:{tenant}")
    assert gc.isenabled()


def test_annotations_show_invisible_and_controlling_characters_escaped(
    run, tmp_path: Path, monkeypatch
) -> None:
    bad = write(
        tmp_path / "bad\u202eyaml.yaml",
        'version: 1\nusers:\n  - {login: a@x, email: "n\\u001b[2Jope", name: A}\n',
    )
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run("validate", str(bad))
    assert result.code == 1
    annotations = [line for line in result.err.splitlines() if line.startswith("::error")]
    assert annotations and all("\u202e" not in a and "\x1b" not in a for a in annotations)
    assert "\\u202e" in annotations[0]
