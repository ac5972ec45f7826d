"""Pipedrive's rate limits, simulated: token costs, the daily budget, burst windows, the edge."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.providers.pipedrive.sim import COSTS, PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import (
    DAY,
    ManualClock,
    RateLimiter,
    seconds_to_midnight,
)
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.faults import Faults
from tests.providers.pipedrive.helpers import NOON, OTHER_TOKEN, TOKEN, MakeApi, PdApi, company

RATE_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
DAILY_HEADERS = (
    "x-daily-requests-left",
    "x-daily-ratelimit-token-limit",
    "x-daily-ratelimit-token-remaining",
)


def calls(api: PdApi) -> dict[str, Any]:
    """One request of each endpoint, by the name of its cost."""
    return {
        "list": lambda: api.client.get("/v1/users"),
        "get": lambda: api.client.get("/v1/users/102"),
        "me": lambda: api.client.get("/api/v1/users/me"),
        "find": lambda: api.client.get("/v1/users/find", params={"term": "x"}),
        "create": lambda: api.client.post("/v1/users", json={"email": "n@acme.com"}),
        "update": lambda: api.client.put("/v1/users/102", json={"active_flag": False}),
        "permissions": lambda: api.client.get("/v1/users/102/permissions"),
        "role_assignments": lambda: api.client.get("/v1/users/102/roleAssignments"),
    }


# Costs and the daily budget


def test_each_call_costs_the_vendors_tokens(make_api: MakeApi) -> None:
    api = make_api(daily_budget=1000)
    spent = 0
    for name, call in calls(api).items():
        response = call()
        assert response.status_code == 200, name
        spent += COSTS[name]
        assert api.sim.tokens_spent == spent, name
        assert api.sim.request_log[-1]["cost"] == COSTS[name]
        assert response.headers["x-daily-ratelimit-token-limit"] == "1000"
        assert response.headers["x-daily-ratelimit-token-remaining"] == str(1000 - spent)
        assert response.headers["x-daily-requests-left"] == str(1000 - spent)
    assert COSTS == {
        "list": 20,
        "get": 2,
        "me": 2,
        "find": 40,
        "create": 10,
        "update": 10,
        "permissions": 10,
        "role_assignments": 10,
    }
    assert api.sim.tokens_left == 1000 - spent


def test_refused_requests_cost_their_tokens_all_the_same(make_api: MakeApi) -> None:
    api = make_api()
    assert api.client.get("/v1/users/999").status_code == 404
    assert api.client.put("/v1/users/999", json={"active_flag": True}).status_code == 404
    assert api.client.post("/v1/users", json={}).status_code == 400
    assert api.sim.tokens_spent == 2 + 10 + 10
    assert api.client.get("/v1/nothing").status_code == 404
    assert api.sim.tokens_spent == 22


@pytest.mark.parametrize(("multiplier", "seats"), [(1, None), (5, 10), (7, 3)])
def test_the_default_budget_is_30000_times_the_multiplier_times_the_seats(
    make_api: MakeApi, multiplier: int, seats: int | None
) -> None:
    api = make_api(plan_multiplier=multiplier, seats=seats)
    assert api.sim.daily_budget == 30_000 * multiplier * (seats or 3)
    headers = api.client.get("/v1/users/me").headers
    assert headers["x-daily-ratelimit-token-limit"] == str(api.sim.daily_budget)


def test_past_the_budget_every_request_is_429_until_midnight(make_api: MakeApi) -> None:
    api = make_api(daily_budget=40, edge_after=None)
    assert api.client.get("/v1/users").status_code == 200
    assert api.client.get("/v1/users").status_code == 200
    for name, call in calls(api).items():
        response = call()
        assert response.status_code == 429, name
        assert response.json() == {
            "success": False,
            "error": "Request over limit",
            "error_info": "Please check developers.pipedrive.com",
            "data": None,
            "additional_data": None,
            "errorCode": 429,
        }
        assert response.headers["x-daily-ratelimit-token-remaining"] == "0"
        assert response.headers["x-daily-requests-left"] == "0"
        assert "retry-after" not in response.headers
    assert api.store.live_with_email("n@acme.com") is None
    assert api.client.get("/v1/nothing").status_code == 429  # even what costs nothing
    assert api.sim.tokens_spent == 40
    api.clock.advance(2.0)  # nothing changes within the day, however long the client waits
    api.clock.set(NOON + 11.9 * 3600)
    assert api.client.get("/v1/users/me").status_code == 429
    api.clock.next_day()
    response = api.client.get("/v1/users")
    assert response.status_code == 200
    assert response.headers["x-daily-ratelimit-token-remaining"] == "20"
    assert (api.sim.tokens_spent, api.sim.tokens_spent_total) == (20, 60)


def test_a_request_the_budget_cannot_pay_for_is_refused(make_api: MakeApi) -> None:
    api = make_api(daily_budget=30)
    assert api.client.get("/v1/users").status_code == 200
    assert api.client.get("/v1/users").status_code == 429  # 20 more than the 10 left
    assert api.client.get("/v1/users/me").status_code == 200  # 2 of the 10
    assert api.sim.tokens_spent == 22


def test_with_overdraft_the_request_that_crosses_the_budget_is_served(make_api: MakeApi) -> None:
    api = make_api(daily_budget=30, budget_overdraft=True)
    assert api.client.get("/v1/users").status_code == 200
    assert api.client.get("/v1/users").status_code == 200
    assert api.sim.tokens_spent == 40 and api.sim.tokens_left == 0
    assert api.client.get("/v1/users/me").status_code == 429


def test_a_daily_429_may_say_when_to_retry_and_may_have_no_body(make_api: MakeApi) -> None:
    api = make_api(daily_budget=0, retry_after_on_429=True, body_on_429=False)
    response = api.client.get("/v1/users/me")
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(12 * 3600)
    assert response.content == b""


def test_the_undocumented_daily_headers_may_be_missing(make_api: MakeApi) -> None:
    headers = make_api(daily_token_headers=False).client.get("/v1/users").headers
    assert "x-daily-ratelimit-token-limit" not in headers
    assert "x-daily-ratelimit-token-remaining" not in headers
    assert "x-daily-requests-left" in headers
    bare = make_api(daily_token_headers=False, daily_requests_left="none")
    assert not set(DAILY_HEADERS) & set(bare.client.get("/v1/users").headers)


def test_daily_requests_left_may_count_writes(make_api: MakeApi) -> None:
    api = make_api(daily_requests_left="writes")
    assert api.client.get("/v1/users").headers["x-daily-requests-left"] == "10000"
    api.client.post("/v1/users", json={"email": "n@acme.com"})
    response = api.client.put("/v1/users/102", json={"active_flag": False})
    assert response.headers["x-daily-requests-left"] == "9998"
    api.clock.next_day()
    assert api.client.get("/v1/users").headers["x-daily-requests-left"] == "10000"


def test_the_budget_is_the_companys_shared_by_every_token(make_api: MakeApi) -> None:
    api = make_api(daily_budget=40, tokens={OTHER_TOKEN: 105})
    assert api.client.get("/v1/users").status_code == 200
    other = {"x-api-token": OTHER_TOKEN}
    assert api.client.get("/v1/users", headers=other).status_code == 200
    assert api.client.get("/v1/users/me", headers=other).status_code == 429


# Burst windows


def burst(response: httpx.Response) -> tuple[int, str, str, str]:
    headers = response.headers
    return (
        response.status_code,
        headers["x-ratelimit-limit"],
        headers["x-ratelimit-remaining"],
        headers["x-ratelimit-reset"],
    )


def test_the_burst_window_counts_down_and_refuses_the_one_too_many(make_api: MakeApi) -> None:
    api = make_api(burst=3, retry_after_on_429=True)
    assert burst(api.client.get("/v1/users/me")) == (200, "3", "2", "2")
    api.clock.advance(0.5)
    assert burst(api.client.get("/v1/users/me")) == (200, "3", "1", "2")
    api.clock.advance(1.0)
    assert burst(api.client.get("/v1/users/me")) == (200, "3", "0", "1")
    refused = api.client.get("/v1/users/me")
    assert burst(refused) == (429, "3", "0", "1")
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["errorCode"] == 429
    assert api.sim.tokens_spent == 6  # a refused request costs nothing
    # The window rolls: the first request leaves it two seconds after it came.
    api.clock.advance(0.5)
    assert burst(api.client.get("/v1/users/me")) == (200, "3", "0", "1")
    api.clock.advance(2.0)
    assert burst(api.client.get("/v1/users/me")) == (200, "3", "2", "2")


def test_refused_requests_do_not_fill_the_window(make_api: MakeApi) -> None:
    api = make_api(burst=2, edge_after=None)
    for _ in range(2):
        api.client.get("/v1/users/me")
    for _ in range(10):
        assert api.client.get("/v1/users/me").status_code == 429
    api.clock.advance(2.0)
    assert burst(api.client.get("/v1/users/me")) == (200, "2", "1", "2")


def test_the_burst_window_is_per_token(make_api: MakeApi) -> None:
    api = make_api(burst=2, tokens={OTHER_TOKEN: 105})
    api.client.get("/v1/users/me")
    api.client.get("/v1/users/me")
    assert api.client.get("/v1/users/me").status_code == 429
    other = api.client.get("/v1/users/me", headers={"x-api-token": OTHER_TOKEN})
    assert burst(other) == (200, "2", "1", "2")


def test_search_has_its_own_smaller_window(make_api: MakeApi) -> None:
    api = make_api(burst=5, search_burst=2)
    search = {"term": "x"}
    assert burst(api.client.get("/v1/users/find", params=search)) == (200, "2", "1", "2")
    assert burst(api.client.get("/v1/users/find", params=search)) == (200, "2", "0", "2")
    assert burst(api.client.get("/v1/users/find", params=search)) == (429, "2", "0", "2")
    # Searches count in the token's window too.
    assert burst(api.client.get("/v1/users/me")) == (200, "5", "2", "2")


def test_every_answer_of_the_api_carries_the_rate_limit_headers(make_api: MakeApi) -> None:
    api = make_api(tokens={OTHER_TOKEN: 105}, burst=100)
    responses = [
        api.client.get("/v1/users"),
        api.client.get("/v1/users/999"),
        api.client.get("/v1/nothing"),
        api.client.delete("/v1/users/102"),
        api.client.post("/v1/users", json={}),
        api.client.post(
            "/v1/users", json={"email": "n@a.com"}, headers={"x-api-token": OTHER_TOKEN}
        ),
    ]
    assert [r.status_code for r in responses] == [200, 404, 404, 405, 400, 403]
    for response in responses:
        for name in RATE_HEADERS + DAILY_HEADERS:
            assert name in response.headers, (response.status_code, name)
    closed = make_api(account_closed=True).client.get("/v1/users")
    assert closed.status_code == 402 and "x-ratelimit-remaining" in closed.headers


# The edge


def test_a_client_that_ignores_429s_is_blocked_by_the_edge(make_api: MakeApi) -> None:
    api = make_api(burst=2, edge_after=3, edge_block=30.0)
    statuses = [api.client.get("/v1/users/me").status_code for _ in range(6)]
    # Two served, one 429, three more within the window after it, then the edge.
    assert statuses == [200, 200, 429, 429, 429, 429]
    blocked = api.client.get("/v1/users/me")
    assert blocked.status_code == 403
    assert blocked.headers["content-type"].startswith("text/html")
    assert blocked.text.lstrip().lower().startswith("<!doctype html>")
    assert not set(RATE_HEADERS + DAILY_HEADERS) & set(blocked.headers)
    with pytest.raises(ValueError):
        blocked.json()
    # Blocked even once the window has room again, until the block ends.
    api.clock.advance(29.0)
    assert api.client.get("/v1/users/me").status_code == 403
    assert api.client.get("/v1/users/me", headers={"x-api-token": "other"}).status_code == 401
    api.clock.advance(1.0)
    assert api.client.get("/v1/users/me").status_code == 200
    assert api.sim.tokens_spent == 3 * 2


def test_a_client_that_waits_after_a_429_is_never_blocked(make_api: MakeApi) -> None:
    api = make_api(burst=2, edge_after=1, retry_after_on_429=True)
    for _ in range(10):
        response = api.client.get("/v1/users/me")
        if response.status_code == 429:
            api.clock.advance(float(response.headers["retry-after"]))
        assert response.status_code in (200, 429)
        api.clock.advance(0.1)


def test_daily_429s_ignored_are_blocked_too(make_api: MakeApi) -> None:
    api = make_api(daily_budget=0, edge_after=2)
    statuses = [api.client.get("/v1/users/me").status_code for _ in range(5)]
    assert statuses == [429, 429, 429, 403, 403]


def test_throttling_faults_count_for_the_edge(make_api: MakeApi) -> None:
    api = make_api(faults=Faults(throttle_rate=1.0), edge_after=0)
    assert [api.client.get("/v1/users").status_code for _ in range(2)] == [429, 403]


def test_the_edge_can_be_turned_off(make_api: MakeApi) -> None:
    api = make_api(daily_budget=0, edge_after=None)
    assert {api.client.get("/v1/users/me").status_code for _ in range(50)} == {429}


# The bookkeeping itself


def test_the_manual_clock_moves_only_when_told() -> None:
    clock = ManualClock(NOON)
    assert clock() == NOON
    clock.advance(1.5)
    assert clock() == NOON + 1.5
    clock.next_day()
    assert clock() == NOON + 12 * 3600 and clock() % DAY == 0
    clock.next_day(after_midnight=60)
    assert clock() == NOON + 36 * 3600 + 60
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert seconds_to_midnight(NOON) == 12 * 3600
    assert seconds_to_midnight(NOON + 12 * 3600 - 0.2) == 1


@pytest.mark.parametrize(
    "settings",
    [
        {"daily_budget": -1},
        {"burst": 0},
        {"search_burst": 0},
        {"edge_after": -1},
        {"edge_block": 0},
    ],
)
def test_impossible_limits_are_refused(settings: dict[str, Any]) -> None:
    arguments = {"daily_budget": 10, "burst": 20, "search_burst": 10, **settings}
    with pytest.raises(ValueError):
        RateLimiter(**arguments)


def test_the_real_clock_is_the_default() -> None:
    sim = PipedriveSimulator(PipedriveStore(company()), token=TOKEN, options=PipedriveOptions())
    response = sim.handle("GET", "/v1/users/me", {}, {"x-api-token": TOKEN}, b"")
    assert response.status == 200
    assert 0 < int(response.headers["x-ratelimit-reset"]) <= 2
