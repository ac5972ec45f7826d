"""One patience for every wait (reconciler.http.PATIENCE), DealHub's side.

A server that asks for a longer wait than the patience is not waited for: the
run stops at once and says when to retry. A 429 that outlasts its window stops
the run instead of being met batch by batch. No header value crashes the tool.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler import redact
from reconciler.apply import Applier
from reconciler.desired import DesiredState, DesiredUser
from reconciler.diff import compute_plan
from reconciler.errors import ApiError
from reconciler.http import PATIENCE, RateLimited, RetryLater, RetryPolicy, TokenSource
from reconciler.model import Change
from reconciler.providers.dealhub.client import DealHubClient, connect
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.settings import Settings
from reconciler.sim.faults import Faults
from reconciler.sim.transport import SimTransport
from tests.helpers.loopback import answer, serve

TOKEN = "patience-test-token-41"


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def client_at(url: str, sleeps: list[float]) -> DealHubClient:
    return connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False, sleep=sleeps.append)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("retry_after", ["2065", "61", "9" * 400, "9" * 5000])
def test_a_retry_after_longer_than_the_patience_stops_at_once(
    status: int, retry_after: str
) -> None:
    calls: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        answer(status, b"busy", Retry_After=retry_after)(handler)

    sleeps: list[float] = []
    with serve(respond) as url:
        client = client_at(url, sleeps)
        with pytest.raises(RetryLater) as info:
            client.list_users()
        client.close()
    assert calls == ["/api/v1/users"] and sleeps == []
    message = str(info.value)
    assert f"longer than the {PATIENCE:g} s the tool waits at most: stopped at once" in message
    assert "retry" in message


def test_the_retry_after_2065_says_when_to_retry() -> None:
    sleeps: list[float] = []
    with serve(answer(429, b"", Retry_After="2065")) as url:
        client = client_at(url, sleeps)
        with pytest.raises(
            RetryLater, match=r"asks to wait 34 min .*retry after .* UTC \(in 34 min\)"
        ):
            client.list_users()
        client.close()


def test_a_retry_after_within_the_patience_is_waited_once_as_asked() -> None:
    calls: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        if len(calls) == 1:
            answer(429, b"", Retry_After="60")(handler)
        else:
            answer(200, b"[]", "application/json")(handler)

    sleeps: list[float] = []
    with serve(respond) as url:
        client = client_at(url, sleeps)
        assert client.list_users() == []
        client.close()
    assert sleeps == [60.0]


def batch_of(n: int) -> list[Change]:
    return [
        Change(
            "create",
            f"u{i}@x",
            {},
            None,
            {"login": f"u{i}@x", "email": f"u{i}@x.com", "name": "U", "is_active": True},
        )
        for i in range(n)
    ]


def remote_on(faults: Faults, sleeps: list[float]) -> tuple[DealHubRemote, Simulator]:
    sim = Simulator(TenantStore([]), token=TOKEN, faults=faults)
    http = httpx.Client(
        transport=SimTransport(sim),
        base_url="http://simulator",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    client = DealHubClient(
        http,
        target="sim",
        token_origin="DEALHUB_TOKEN",
        sleep=sleeps.append,
        retry=RetryPolicy(attempts=3, base=0, cap=0),
    )
    return DealHubRemote(client, sleep=sleeps.append), sim


def test_a_wall_of_429s_stops_the_run_instead_of_being_met_batch_by_batch() -> None:
    sleeps: list[float] = []
    remote, sim = remote_on(Faults(throttle_rate=1.0, retry_after=1), sleeps)
    changes = batch_of(3)
    first = remote.write(changes[:1], remote.progress)
    assert first.status == {"u0@x": "skipped"}  # a 429 made nothing: left for the next run
    assert first.abort is not None and "retry in a few minutes" in first.abort
    assert len(sim.request_log) == remote.client.max_waits + 1
    assert sleeps == [1.0] * remote.client.max_waits


def test_apply_into_a_long_retry_after_stops_and_leaves_the_rest_for_the_next_run() -> None:
    sleeps: list[float] = []
    remote, sim = remote_on(Faults(throttle_rate=1.0, retry_after=2065), sleeps)
    users = {
        f"u{i}@x": DesiredUser(
            f"u{i}@x",
            {"login": f"u{i}@x", "email": f"u{i}@x.com", "name": "U", "is_active": True},
            "users.yaml",
            1,
            {},
        )
        for i in range(3)
    }
    plan = compute_plan(
        DesiredState(users, Settings(unlisted="ignore"), ["users.yaml"]), [], target="sim"
    )
    report = Applier(remote, batch_size=1).run(plan)
    statuses = sorted(o.status for o in report.outcomes)
    assert "done" not in statuses
    assert sleeps == []  # not one wait: the server asked for 34 minutes
    puts = [e for e in sim.request_log if e["method"] == "PUT"]
    assert len(puts) == 1  # the run stopped at the first refusal
    assert any("retry after" in o.message for o in report.outcomes)


@settings(max_examples=80, deadline=None)
@given(
    header=st.one_of(
        st.text(max_size=40),
        st.from_regex(r"[0-9]{1,500}(\.[0-9]{1,30})?", fullmatch=True),
        st.sampled_from(["²", "٣", "nan", "inf", "-1", "1e999", "Thu, 01 Jan 99999 00:00:00 GMT"]),
    ),
    status=st.sampled_from([429, 500, 503]),
)
def test_no_retry_after_makes_a_wait_longer_than_the_patience_or_a_crash(
    header: str, status: int
) -> None:
    sleeps: list[float] = []
    calls = {"n": 0}

    def respond(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raw = header.encode("utf-8", "surrogatepass")
            try:
                return httpx.Response(status, headers={"Retry-After": raw})
            except Exception:
                return httpx.Response(status)
        return httpx.Response(200, json=[])

    http = httpx.Client(transport=httpx.MockTransport(respond), base_url="http://mock")
    client = DealHubClient(
        http, target="mock", token_origin="X", sleep=sleeps.append, retry=RetryPolicy(3)
    )
    try:
        assert client.list_users() == []
    except RetryLater:
        assert calls["n"] == 1
    except ApiError:  # pragma: no cover - any other refusal is a clear one too
        pass
    assert all(0 <= s <= PATIENCE for s in sleeps)


def test_rate_limited_is_a_retry_later() -> None:
    assert issubclass(RateLimited, RetryLater)


def test_apply_through_the_command_stops_at_a_long_retry_after_and_says_when(
    tmp_path: Path,
) -> None:
    people = tmp_path / "users.yaml"
    people.write_text(
        "version: 1\nsettings: {unlisted: ignore}\nusers:\n"
        "  - {login: a@x, email: a@x.com, name: A}\n  - {login: b@x, email: b@x.com, name: B}\n",
        encoding="utf-8",
    )
    puts: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "PUT":
            puts.append(handler.path)
            answer(429, b"", Retry_After="2065")(handler)
        else:
            answer(200, b"[]", "application/json")(handler)

    with serve(respond) as url:
        started = time.monotonic()
        argv = ["apply", str(people), "--api-url", url, "--auto-approve", "--batch-size", "1"]
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *argv],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "DEALHUB_TOKEN": TOKEN, "NO_COLOR": "1"},
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stdout + done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    shown = done.stdout + done.stderr
    assert "asks to wait 34 min" in shown and "retry after" in shown
    assert puts == ["/api/v2/users"]  # the second batch was not sent into the same wall
    assert elapsed < 30
    assert TOKEN not in shown


def test_a_5xx_asking_past_the_patience_leaves_the_batch_pending() -> None:
    # A gateway's 503 may follow the work: whether it was made is for the next run to see.
    sleeps: list[float] = []
    remote, _ = remote_on(Faults(failure_rate=1.0), sleeps)

    def long_503(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "900"})

    remote.client._http._transport = httpx.MockTransport(long_503)
    result = remote.write(batch_of(2), remote.progress)
    assert result.status == {"u0@x": "pending", "u1@x": "pending"}
    assert result.abort is not None and "asks to wait 15 min" in result.abort
    assert sleeps == []
