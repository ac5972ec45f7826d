"""Pipedrive's budget and pacing (SPEC section 7): burst pacing, 429 readings, the daily budget.

Every clock is a ManualClock that moves only when the client sleeps, so no
test waits in real time; `apply` through the CLI runs against a served simulator.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import redact
from reconciler.model import Change
from reconciler.providers.pipedrive.client import BudgetSpent, PipedriveClient
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_generate import generate_company, generate_pipedrive_desired
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport

TOKEN = "pd-budget-3c9e1a7f52"
NOON = 1_717_243_200.0
OWNER = {
    "id": 1,
    "email": "owner@acme.com",
    "active_flag": True,
    "is_you": True,
    "access": [{"app": "global", "admin": True}],
}


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def local(clock: ManualClock, **options: Any) -> tuple[PipedriveClient, PipedriveSimulator]:
    sim = PipedriveSimulator(
        PipedriveStore([dict(OWNER)]),
        token=TOKEN,
        options=PipedriveOptions(**options),
        clock=clock,
    )
    http = httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": TOKEN}
    )
    client = PipedriveClient(
        http,
        target="sim",
        token_origin="PIPEDRIVE_API_TOKEN",
        sleep=clock.advance,
        clock=clock,
        wall=clock,
        seed=0,
    )
    return client, sim


def create(email: str) -> Change:
    return Change(
        "create",
        email,
        {},
        None,
        {"email": email, "access": [{"app": "sales"}], "active_flag": True},
    )


def test_200_changes_keep_under_the_burst_limit_close_to_its_floor() -> None:
    clock = ManualClock(NOON)
    client, sim = local(clock, burst=20, edge_after=0)
    with client:
        client.read()
        result = client.write([create(f"u{n}@acme.com") for n in range(200)])
        client.read()
    assert set(result.status.values()) == {"done"} and result.abort is None
    statuses = [entry["status"] for entry in sim.request_log]
    assert len(statuses) == 204 and 429 not in statuses and 403 not in statuses
    elapsed = clock.now - NOON
    floor = 2.0 * (len(statuses) / 20)
    # Without pacing every window would start with 429s; with it, close to the floor.
    assert 2.0 * (math.ceil(len(statuses) / 20) - 1) <= elapsed <= 1.4 * floor


@pytest.mark.parametrize("retry_after", [False, True])
def test_a_burst_429_is_waited_out_on_the_window_or_retry_after(retry_after: bool) -> None:
    clock = ManualClock(NOON)
    client, sim = local(clock, burst=2, retry_after_on_429=retry_after, edge_after=5)
    with client:
        client._http.get("/v1/users")
        client._http.get("/v1/users")  # another program spends this window
        result = client.write([create("a@acme.com")])
    assert result.status == {"a@acme.com": "done"}
    assert [e["status"] for e in sim.request_log] == [200, 200, 429, 200]
    assert clock.now - NOON >= 1.0


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [(True, False), (True, True), (False, True)],
)
def test_a_spent_budget_stops_and_says_when_it_resets(headers: bool, retry_after: bool) -> None:
    clock = ManualClock(NOON)
    client, sim = local(
        clock,
        daily_budget=25,
        daily_token_headers=headers,
        daily_requests_left="tokens" if headers else "none",
        retry_after_on_429=retry_after,
    )
    with client:
        client._http.get("/v1/users")  # another program spends the budget
        result = client.write([create("a@acme.com"), create("b@acme.com")])
    assert result.status == {"a@acme.com": "skipped"}  # b is left out, for the next run
    assert result.abort is not None
    assert "at midnight (server time), in about 12 h" in result.abort
    assert [e["status"] for e in sim.request_log] == [200, 429]


def test_a_429_that_outlasts_the_burst_window_is_taken_for_the_budget() -> None:
    clock = ManualClock(NOON)
    # Neither the daily headers nor Retry-After: only persistence tells the budget.
    client, sim = local(
        clock, daily_budget=25, daily_token_headers=False, daily_requests_left="writes"
    )
    with client:
        client._http.get("/v1/users")  # another program spends the budget
        result = client.write([create("a@acme.com"), create("b@acme.com")])
    assert result.status == {"a@acme.com": "skipped"}
    assert result.abort is not None and "midnight (server time)" in result.abort
    statuses = [e["status"] for e in sim.request_log]
    assert statuses == [200, 429, 429, 429]
    assert clock.now - NOON >= 2.0  # it waited out a whole window first


def test_a_budget_known_to_be_short_is_not_spent_at_all() -> None:
    clock = ManualClock(NOON)
    client, sim = local(clock, daily_budget=35)
    with client:
        client.read()  # 13 left: one write, but then no verification read
        result = client.write([create("a@acme.com")])
        with pytest.raises(BudgetSpent, match="in about 12 h"):
            client.read()
    assert result.abort is not None and [e["method"] for e in sim.request_log] == ["GET", "GET"]


def test_the_reset_is_told_by_the_server_date_when_it_sends_one() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {
            "date": "Sat, 01 Jun 2024 22:30:00 GMT",
            "x-daily-ratelimit-token-remaining": "25",
        }
        if request.url.path.endswith("/me"):
            return httpx.Response(200, headers=headers, json={"success": True, "data": OWNER})
        return httpx.Response(200, headers=headers, json={"success": True, "data": [OWNER]})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://simulator")
    clock = ManualClock(NOON)  # the client's own clock says noon
    client = PipedriveClient(http, target="sim", token_origin="T", sleep=clock.advance, wall=clock)
    with client:
        client.read()
        result = client.write([create("a@acme.com")])
    assert result.abort is not None and "in about 2 h" in result.abort


def test_an_html_403_from_the_edge_stops_at_once() -> None:
    clock = ManualClock(NOON)
    client, sim = local(clock, burst=1, edge_after=0, edge_block=600)
    with client:
        client._http.get("/v1/users")
        client._http.get("/v1/users")  # a 429
        client._http.get("/v1/users")  # and the edge blocks
        result = client.write([create("a@acme.com"), create("b@acme.com")])
    assert result.status == {"a@acme.com": "failed"}
    assert result.abort is not None and "blocked" in result.abort
    assert [e["status"] for e in sim.request_log][-1] == 403
    assert len(sim.request_log) == 4


# Through the CLI


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


def served(state: Path, clock: ManualClock, budget: int) -> PipedriveSimulator:
    return PipedriveSimulator(
        PipedriveStore.load(state, persist=True),
        token=TOKEN,
        options=PipedriveOptions(daily_budget=budget, burst=1000),
        clock=clock,
    )


def test_a_spent_budget_stops_apply_and_the_next_day_finishes_it(
    run: Any, company: tuple[Path, Path]
) -> None:
    state, people = company
    clock = ManualClock(NOON)
    sim = served(state, clock, budget=100)  # a read, 5 writes, the verification read
    with running(sim) as url:
        target = f"pipedrive={url}"
        first = run("apply", str(people), "--api-url", target, "--auto-approve")
        writes = [e for e in sim.request_log if e["method"] != "GET"]
        assert first.code == 1, first.all
        assert "at midnight (server time)" in first.all
        assert len(writes) > 0 and 429 not in {e["status"] for e in sim.request_log}
        done = [line for line in first.out.splitlines() if line.strip().startswith("ok ")]
        left = [line for line in first.out.splitlines() if "daily token budget" in line]
        assert len(done) == len(writes) and left  # what was done, and what is left
        # The tokens kept back paid for the verification read of what was done.
        last = sim.request_log[-1]
        assert (last["method"], last["status"]) == ("GET", 200)
        clock.next_day(60)
        sim.limits.daily_budget = 10_000
        second = run("apply", str(people), "--api-url", target, "--auto-approve")
        assert second.code == 0, second.all
        later = [e for e in sim.request_log if e["method"] != "GET"][len(writes) :]
        assert len(later) == len(left)  # the next day sends only the rest
        again = run("plan", str(people), "--api-url", target, "--detailed-exitcode")
        assert again.code == 0, again.all
    sent = [(e["method"], e["path"], json.dumps(e.get("body"))) for e in sim.request_log]
    written = [s for s in sent if s[0] != "GET"]
    assert len(written) == len(set(written))  # nothing written twice
    assert TOKEN not in first.all + second.all + again.all


def test_a_budget_too_small_for_the_plan_read_is_one_clear_error(
    run: Any, company: tuple[Path, Path]
) -> None:
    state, people = company
    clock = ManualClock(NOON)
    sim = served(state, clock, budget=10)
    with running(sim) as url:
        result = run("apply", str(people), "--api-url", f"pipedrive={url}", "--auto-approve")
    assert result.code == 1, result.all
    assert "daily token budget" in result.err and "Traceback" not in result.all
    assert len([line for line in result.err.splitlines() if re.search("budget", line)]) == 1
    assert all(e["method"] == "GET" for e in sim.request_log)
