"""`reconciler sim serve` and `reconciler sim generate`."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import reconciler
from reconciler.sim import cli
from reconciler.sim.app import Simulator
from reconciler.sim.generate import generate_desired, generate_tenant
from reconciler.sim.state import TenantStore

from .conftest import TOKEN, sample_users, user

REPO_ROOT = Path(reconciler.__file__).resolve().parent.parent


@pytest.fixture
def state(tmp_path: Path) -> Path:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(sample_users()), encoding="utf-8")
    return path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[Simulator]:
    """Stands in for the blocking server: records the simulator `serve` built."""
    simulators: list[Simulator] = []

    def fake_serve(sim: Simulator, host: str, port: int, **options: Any) -> None:
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


# serve, for real


def test_serve_over_http_saves_writes_logs_requests_and_stops_on_ctrl_c(
    state: Path, tmp_path: Path
) -> None:
    log = tmp_path / "requests.jsonl"
    command = [
        sys.executable, "-c", "from reconciler.sim.cli import sim; sim()",
        "serve", "--port", "0", "--state", str(state), "--request-log", str(log),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DEALHUB_TOKEN": TOKEN}
    proc = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    try:
        stderr = proc.stderr
        assert stderr is not None
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(stderr.readline()))
        reader.start()
        reader.join(timeout=20)
        assert first, "the server did not announce itself"
        match = re.fullmatch(
            rf"DealHub simulator serving {re.escape(str(state))} on "
            r"(http://127\.0\.0\.1:\d+) \(Ctrl-C to stop\)\n",
            first[0],
        )
        assert match, first[0]
        with httpx.Client(base_url=match[1], headers={"Authorization": f"Bearer {TOKEN}"}) as c:
            assert c.put("/api/v2/users", json={"users": [user("new@acme")]}).status_code == 200
            assert c.get("/api/v1/user/login/new@acme").status_code == 200
        assert "new@acme" in TenantStore.load(state, persist=False)
        proc.send_signal(signal.SIGINT)
        rest = proc.communicate(timeout=10)[1]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in rest and TOKEN not in first[0] + rest
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["status"]) for e in entries] == [("PUT", 200), ("GET", 200)]
    assert TOKEN not in log.read_text()


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
