"""`reconciler sim serve` and `reconciler sim generate`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import reconciler
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_generate import generate_desired, generate_tenant
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.providers.pipedrive.sim import PipedriveSimulator
from reconciler.providers.pipedrive.sim_generate import (
    generate_company,
    generate_pipedrive_desired,
)
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim import cli
from tests.providers.dealhub.conftest import TOKEN, sample_users, user
from tests.providers.pipedrive.helpers import company

PD_TOKEN = "pd-cli-7c3e9a"

REPO_ROOT = Path(reconciler.__file__).resolve().parent.parent


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(sample_users()), encoding="utf-8")
    return path


@pytest.fixture
def company_file(tmp_path: Path) -> Path:
    path = tmp_path / "company.json"
    path.write_text(json.dumps(company()), encoding="utf-8")
    return path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Stands in for the blocking server: records the simulator `serve` built."""
    simulators: list[Any] = []

    def fake_serve(
        sim: Simulator | PipedriveSimulator, host: str, port: int, **options: Any
    ) -> None:
        simulators.append(sim)
        options["on_ready"](f"http://{host}:{port or 8080}")

    monkeypatch.setattr(cli, "serve_forever", fake_serve)
    return simulators


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli.sim, list(args), env=env or {"DEALHUB_TOKEN": ""})


def accepts(sim: Simulator, token: str) -> bool:
    auth = {"Authorization": f"Bearer {token}"}
    return sim.handle("GET", "/api/v1/users", {}, auth, b"").status == 200


def assert_one_line_error(result: Result, text: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    assert text in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output


# serve, without a socket


def test_serve_announces_the_state_and_url_but_never_the_token(
    state: Path, served: list[Simulator]
) -> None:
    result = invoke("serve", "--port", "8123", "--state", str(state), "--token", TOKEN)
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"DealHub simulator serving {state} on http://127.0.0.1:8123 (Ctrl-C to stop)\n"
    )
    assert accepts(served[0], TOKEN)


def test_serve_takes_the_token_from_the_environment(state: Path, served: list[Simulator]) -> None:
    result = invoke("serve", "--port", "0", "--state", str(state), env={"DEALHUB_TOKEN": "env-t"})
    assert result.exit_code == 0, result.output
    assert accepts(served[0], "env-t") and not accepts(served[0], TOKEN)


def test_serve_takes_the_token_from_a_file(
    state: Path, served: list[Simulator], tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-t\n")
    result = invoke("serve", "--port", "0", "--state", str(state), "--token-file", str(token_file))
    assert result.exit_code == 0, result.output
    assert accepts(served[0], "file-t")


@pytest.mark.parametrize("extra", [[], ["--token", "a", "--token-file", "x"]], ids=["none", "both"])
def test_serve_needs_exactly_one_token(
    state: Path, served: list[Simulator], extra: list[str]
) -> None:
    result = invoke("serve", "--port", "0", "--state", str(state), *extra)
    assert result.exit_code == 2
    assert "token" in result.output
    assert not served


def test_serve_passes_every_fault_option(state: Path, served: list[Simulator]) -> None:
    result = invoke(
        "serve", "--port", "0", "--state", str(state), "--token", TOKEN,
        "--latency", "0.5", "--failure-rate", "0.1", "--throttle-rate", "0.2",
        "--retry-after", "0", "--lost-rate", "0.3", "--async", "--max-batch", "50",
        "--require-external-id", "--taken-login", "a@x", "--taken-login", "b@x",
        "--seed", "9",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    faults = served[0].faults
    assert (faults.latency, faults.failure_rate, faults.throttle_rate) == (0.5, 0.1, 0.2)
    assert (faults.retry_after, faults.lost_rate, faults.max_batch) == (0, 0.3, 50)
    assert faults.async_mode and faults.require_external_id
    assert faults.taken_logins == {"a@x", "b@x"} and faults.seed == 9


def test_serve_refuses_a_remote_host_unless_allowed(state: Path, served: list[Simulator]) -> None:
    args = ["serve", "--port", "0", "--state", str(state), "--token", TOKEN, "--host", "0.0.0.0"]
    assert_one_line_error(invoke(*args), "not loopback")
    assert not served
    assert invoke(*args, "--allow-remote").exit_code == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "tenant file not found"), ("{oops", "not valid JSON"), ("{}", "JSON array")],
)
def test_serve_reports_a_bad_state_file_in_one_line(
    tmp_path: Path, served: list[Simulator], content: str | None, message: str
) -> None:
    path = tmp_path / "tenant.json"
    if content is not None:
        path.write_text(content)
    result = invoke("serve", "--port", "0", "--state", str(path), "--token", TOKEN)
    assert_one_line_error(result, message)
    assert not served


def test_serve_reports_a_port_in_use(state: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = invoke("serve", "--port", str(port), "--state", str(state), "--token", TOKEN)
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


def pd_accepts(sim: PipedriveSimulator, token: str) -> bool:
    return sim.handle("GET", "/v1/users/me", {}, {"x-api-token": token}, b"").status == 200


def test_serve_pipedrive_announces_itself_and_takes_its_token_variable(
    company_file: Path, served: list[Any]
) -> None:
    args = ["serve", "--system", "pipedrive", "--port", "8123", "--state", str(company_file)]
    result = invoke(*args, env={"PIPEDRIVE_API_TOKEN": "pd-env", "DEALHUB_TOKEN": "dh-env"})
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        f"Pipedrive simulator serving {company_file} on http://127.0.0.1:8123 (Ctrl-C to stop)\n"
    )
    sim = served[0]
    assert isinstance(sim, PipedriveSimulator)
    assert pd_accepts(sim, "pd-env") and not pd_accepts(sim, "dh-env")
    assert "Pipedrive simulator stopped: 0 tokens spent" in result.output


def test_serve_pipedrive_passes_every_option(company_file: Path, served: list[Any]) -> None:
    result = invoke(
        "serve", "--system", "pipedrive", "--port", "0", "--state", str(company_file),
        "--token", TOKEN, "--seats", "4", "--no-seat-purchase", "--plan-multiplier", "5",
        "--daily-budget", "900", "--burst", "40", "--search-burst", "7", "--no-daily-headers",
        "--daily-requests-left", "writes", "--rate-limit-retry-after", "--empty-429-body",
        "--budget-overdraft", "--edge-after", "2", "--edge-block", "9.5", "--strict-update",
        "--strict-create", "--duplicate-email", "existing", "--readd-deleted", "new-id",
        "--hide-deleted", "--page-limit", "50", "--find-exact", "--find-empty-list",
        "--literal-access", "--refuse-self-deactivation", "--account-closed",
        "--linked-email", "kim@x.com=Kim Known", "--login-drift-rate", "0.5",
        "--company-id", "9", "--company-name", "Globex", "--company-domain", "globex",
        "--latency", "0.5", "--failure-rate", "0.1", "--throttle-rate", "0.2",
        "--retry-after", "3", "--lost-rate", "0.3", "--seed", "9",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    sim = served[0]
    assert (sim.seats, sim.daily_budget) == (4, 900)
    options = sim.options
    assert (options.seat_purchase, options.plan_multiplier, options.burst) == (False, 5, 40)
    assert (options.search_burst, options.daily_token_headers) == (7, False)
    assert (options.daily_requests_left, options.retry_after_on_429) == ("writes", True)
    assert (options.body_on_429, options.budget_overdraft) == (False, True)
    assert (options.edge_after, options.edge_block) == (2, 9.5)
    assert options.strict_update and options.strict_create
    assert (options.duplicate_email, options.readd_deleted) == ("existing", "new-id")
    assert (options.show_deleted, options.page_limit, options.find_exact) == (False, 50, True)
    assert not options.find_empty_null and not options.expand_access
    assert not options.self_deactivation and options.account_closed
    assert options.linked_people == {"kim@x.com": "Kim Known"}
    assert options.login_drift_rate == 0.5
    assert (options.company_id, options.company_name, options.company_domain) == (
        9,
        "Globex",
        "globex",
    )
    faults = sim.faults
    assert (faults.latency, faults.failure_rate, faults.throttle_rate) == (0.5, 0.1, 0.2)
    assert (faults.retry_after, faults.lost_rate, faults.seed) == (3, 0.3, 9)


def test_serve_pipedrive_without_the_edge(company_file: Path, served: list[Any]) -> None:
    args = ["--system", "pipedrive", "--port", "0", "--state", str(company_file), "--no-edge"]
    assert invoke("serve", *args, "--token", TOKEN).exit_code == 0
    assert served[0].options.edge_after is None


@pytest.mark.parametrize(
    ("system", "option"),
    [
        ("pipedrive", ["--async"]),
        ("pipedrive", ["--max-batch", "5"]),
        ("pipedrive", ["--taken-login", "a@x"]),
        ("pipedrive", ["--require-external-id"]),
        ("dealhub", ["--seats", "5"]),
        ("dealhub", ["--strict-update"]),
        ("dealhub", ["--burst", "20"]),
    ],
)
def test_serve_refuses_an_option_of_the_other_system(
    state: Path, served: list[Any], system: str, option: list[str]
) -> None:
    args = ["serve", "--system", system, "--port", "0", "--state", str(state), "--token", TOKEN]
    result = invoke(*args, *option)
    assert result.exit_code == 2
    assert f"{option[0]} is not an option of the {system} simulator" in result.output
    assert not served


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--linked-email", "kim@x.com"], 2, "is not EMAIL=NAME"),
        (["--seats", "2"], 1, "2 seats are fewer than the 3 users who already take one"),
    ],
)
def test_serve_pipedrive_refuses_bad_options(
    company_file: Path, served: list[Any], extra: list[str], code: int, message: str
) -> None:
    args = ["serve", "--system", "pipedrive", "--port", "0", "--state", str(company_file)]
    result = invoke(*args, "--token", TOKEN, *extra)
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not served


def test_serve_pipedrive_reports_a_bad_company_in_one_line(state: Path, served: list[Any]) -> None:
    # A DealHub tenant is not a Pipedrive company.
    args = ["serve", "--system", "pipedrive", "--port", "0", "--state", str(state)]
    result = invoke(*args, "--token", TOKEN)
    assert_one_line_error(result, "'id' must be a positive integer")
    assert not served


# serve, for real


@contextlib.contextmanager
def serving(args: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`sim serve ARGS` in a child process: yields it and its announcement line.

    The caller stops it (SIGINT); on the way out a child still running is killed.
    """
    command = [sys.executable, "-c", "from reconciler.sim.cli import sim; sim()", "serve", *args]
    full_env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **env}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=full_env)
    try:
        stderr = proc.stderr
        assert stderr is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stderr.readline()))
        reader.start()
        reader.join(timeout=20)
        assert first, "the server did not announce itself"
        yield proc, first[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def stop(proc: subprocess.Popen[str]) -> str:
    """Ctrl-C the server; return the rest of what it wrote on stderr."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=10)[1]


def announced_url(system: str, state: Path, line: str) -> str:
    match = re.fullmatch(
        rf"{system} simulator serving {re.escape(str(state))} on "
        r"(http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)\n",
        line,
    )
    assert match, line
    return match[1]


def test_serve_over_http_saves_writes_logs_requests_and_stops_on_ctrl_c(
    state: Path, tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    args = ["--port", "0", "--state", str(state), "--request-log", str(log)]
    with serving(args, {"DEALHUB_TOKEN": TOKEN}) as (proc, first):
        url = announced_url("DealHub", state, first)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            assert c.put("/api/v2/users", json={"users": [user("new@acme")]}).status_code == 200
            assert c.get("/api/v1/user/login/new@acme").status_code == 200
        assert "new@acme" in TenantStore.load(state, persist=False)
        rest = stop(proc)
    assert proc.returncode == 0
    assert "Traceback" not in rest and TOKEN not in first + rest
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["status"]) for e in entries] == [("PUT", 200), ("GET", 200)]
    assert TOKEN not in log.read_text()


def test_serve_pipedrive_over_http(company_file: Path, tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    args = [
        "--system", "pipedrive", "--port", "0", "--state", str(company_file),
        "--request-log", str(log), "--daily-budget", "100", "--burst", "5",
    ]  # fmt: skip
    with serving(args, {"PIPEDRIVE_API_TOKEN": PD_TOKEN}) as (proc, first):
        url = announced_url("Pipedrive", company_file, first)
        with httpx.Client(base_url=url, headers={"x-api-token": PD_TOKEN}) as c:
            listed = c.get("/api/v1/users")
            assert listed.status_code == 200
            assert [u["id"] for u in listed.json()["data"]] == [101, 102, 103, 104, 105]
            assert listed.headers["x-ratelimit-limit"] == "5"
            assert listed.headers["x-daily-ratelimit-token-remaining"] == "80"
            created = c.post("/v1/users", json={"email": "new@acme.com"})
            assert created.status_code == 200
            new_id = created.json()["data"]["id"]
            assert c.put(f"/v1/users/{new_id}", json={"active_flag": False}).is_success
            assert c.put("/v1/users/102", json={"active_flag": "0"}).status_code == 400
            assert httpx.get(f"{url}/v1/users").status_code == 401
        saved = PipedriveStore.load(company_file, persist=False).live_with_email("new@acme.com")
        assert saved is not None and saved["active_flag"] is False
        rest = stop(proc)
    assert proc.returncode == 0
    assert "Traceback" not in rest and PD_TOKEN not in first + rest
    assert rest.strip() == (
        "Pipedrive simulator stopped: 50 tokens spent (50 of 100 left today), "
        "1 seats bought, 4 billed."
    )
    text = log.read_text()
    assert PD_TOKEN not in text
    entries = [json.loads(line) for line in text.splitlines()]
    assert [(e["method"], e["status"], e["cost"]) for e in entries] == [
        ("GET", 200, 20), ("POST", 200, 10), ("PUT", 200, 10), ("PUT", 400, 10), ("GET", 401, 0),
    ]  # fmt: skip
    assert [e["seat_bought"] for e in entries] == [False, True, False, False, False]
    assert {e["auth"] for e in entries} == {"x-api-token", None}


# generate


def test_generate_writes_a_tenant_and_a_desired_state(tmp_path: Path) -> None:
    out, desired = tmp_path / "t.json", tmp_path / "d.yaml"
    result = invoke(
        "generate", "--users", "60", "--seed", "3", "-o", str(out), "--desired", str(desired)
    )
    assert result.exit_code == 0, result.output
    tenant = generate_tenant(60, seed=3)
    assert TenantStore.load(out, persist=False).users() == tenant
    assert desired.read_text() == generate_desired(tenant, changes=0.05, seed=4)


def test_generate_accepts_a_percentage_or_a_fraction(tmp_path: Path) -> None:
    texts = []
    for changes in ("10%", "0.1"):
        desired = tmp_path / f"{changes}.yaml"
        result = invoke(
            "generate", "--users", "40", "-o", str(tmp_path / "t.json"),
            "--desired", str(desired), "--changes", changes,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        texts.append(desired.read_text())
    assert texts[0] == texts[1]


@pytest.mark.parametrize("changes", ["abc", "150%", "-0.1"])
def test_generate_refuses_a_bad_share(tmp_path: Path, changes: str) -> None:
    result = invoke(
        "generate", "--users", "5", "-o", str(tmp_path / "t.json"), "--changes", changes
    )
    assert result.exit_code == 2
    assert "--changes" in result.output
    assert not (tmp_path / "t.json").exists()


def test_generate_reports_an_unwritable_output(tmp_path: Path) -> None:
    result = invoke("generate", "--users", "5", "-o", str(tmp_path / "missing" / "t.json"))
    assert_one_line_error(result, "cannot write")


def test_generate_a_pipedrive_company_and_desired_state(tmp_path: Path) -> None:
    out, desired = tmp_path / "c.json", tmp_path / "d.yaml"
    result = invoke(
        "generate", "--system", "pipedrive", "--users", "60", "--seed", "3", "-o", str(out),
        "--desired", str(desired), "--changes", "10%",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Wrote 60 Pipedrive users to" in result.output
    company = generate_company(60, seed=3)
    assert PipedriveStore.load(out, persist=False).users() == company
    assert desired.read_text() == generate_pipedrive_desired(company, changes=0.1, seed=4)


def test_generate_pipedrive_needs_a_user(tmp_path: Path) -> None:
    out = tmp_path / "c.json"
    result = invoke("generate", "--system", "pipedrive", "--users", "0", "-o", str(out))
    assert result.exit_code == 2
    assert "--users" in result.output
    assert not out.exists()
