"""Pipedrive answers a hostile server may give: an answer that cannot be read whole is refused.

Pagination that cannot be trusted, a `data: null`, rate-limit headers no number
fits, and a list whose `is_you` contradicts `GET /v1/users/me` each end in a
ResponseError (or a stop that says when to retry), never in a shorter list, a
traceback or a wait of years.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reconciler import redact
from reconciler.errors import ApiError, ResponseError
from reconciler.http import PATIENCE, RetryLater, RetryPolicy
from reconciler.model import Change
from reconciler.providers.pipedrive.client import (
    BudgetSpent,
    PipedriveClient,
    RateLimits,
)
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.transport import SimTransport

TOKEN = "pd-hostile-8d2b61f0c4"
NOON = 1_717_243_200.0
ME = {"success": True, "data": {"id": 1, "email": "me@acme.com", "company_id": 7}}


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def user(n: int, **extra: Any) -> dict[str, Any]:
    return {"id": n, "email": f"u{n}@acme.com", "name": f"U{n}", "active_flag": True, **extra}


def page(users: list[dict[str, Any]], **pagination: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"success": True, "data": users}
    if pagination:
        body["additional_data"] = {"pagination": pagination}
    return body


Server = Callable[[httpx.Request], Any]


def client_of(
    server: Server,
    *,
    me: Any = ME,
    headers: dict[str, str] | None = None,
    sleeps: list[float] | None = None,
    **options: Any,
) -> tuple[PipedriveClient, list[httpx.Request]]:
    """A client whose list answers come from `server(request)`; /users/me answers `me`."""
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = me if request.url.path.endswith("/me") else server(request)
        if isinstance(body, httpx.Response):
            return body
        # Raw bytes: a server may send any octets, "²" as UTF-8 among them.
        raw = {name: value.encode() for name, value in (headers or {}).items()}
        return httpx.Response(200, json=body, headers=raw)

    http = httpx.Client(transport=httpx.MockTransport(respond), base_url="http://mock")
    record = sleeps if sleeps is not None else []
    client = PipedriveClient(
        http,
        target="mock",
        token_origin="X",
        retry=RetryPolicy(1),
        sleep=record.append,
        **options,
    )
    return client, seen


def pages(*bodies: Any) -> Server:
    answers = iter(bodies)
    return lambda request: next(answers)


# -- 1. pagination -----------------------------------------------------------------------


@pytest.mark.parametrize("more", ["true", 1, "yes", None, 0, [True], {"v": True}])
def test_more_items_that_is_not_a_json_boolean_is_refused(more: Any) -> None:
    body = page([user(1, is_you=True)], start=0, limit=1, more_items_in_collection=more)
    if more is None:
        del body["additional_data"]["pagination"]["more_items_in_collection"]
    client, seen = client_of(pages(body))
    with pytest.raises(ResponseError, match="more_items_in_collection") as info:
        client.read()
    assert "cannot tell whether more users follow" in str(info.value)
    assert len(seen) == 2  # /me and the one page: nothing read as the last page


def test_data_null_is_refused_not_read_as_an_empty_company() -> None:
    client, _ = client_of(pages({"success": True, "data": None}))
    with pytest.raises(ResponseError, match="data that is None, not the list of users"):
        client.read()


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ("pages", "additional_data that is 'pages', not an object"),
        ([1], "additional_data that is a list, not an object"),
        ({"pagination": []}, "pagination that is a list, not an object"),
        ({"pagination": "next"}, "pagination that is 'next', not an object"),
    ],
)
def test_ill_typed_additional_data_is_refused(extra: Any, fragment: str) -> None:
    body = {"success": True, "data": [user(1, is_you=True)], "additional_data": extra}
    client, _ = client_of(pages(body))
    with pytest.raises(ResponseError, match="answered GET /v1/users") as info:
        client.read()
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("next_start", "1"),
        ("next_start", 1.0),
        ("next_start", True),
        ("next_start", -1),
        ("next_start", None),
        ("start", "0"),
        ("limit", 0),
        ("limit", "500"),
    ],
)
def test_ill_typed_pagination_numbers_are_refused(name: str, value: Any) -> None:
    fields: dict[str, Any] = {"start": 0, "limit": 1, "more_items_in_collection": True}
    fields["next_start"] = 1
    fields[name] = value
    client, _ = client_of(pages(page([user(1, is_you=True)], **fields)))
    with pytest.raises(ResponseError, match=f"pagination {name} .*not a whole number"):
        client.read()


def test_a_page_that_never_advances_is_refused_at_once() -> None:
    # The server ignores `start`: the same first page again and again.
    def same_page(request: httpx.Request) -> Any:
        return page([user(1, is_you=True)], start=0, limit=1, more_items_in_collection=True)

    client, seen = client_of(same_page)
    with pytest.raises(ResponseError, match="starts at 0, not at 1"):
        client.read()
    assert len(seen) == 3  # /me and two pages, not the whole budget


def test_a_page_that_repeats_users_without_a_start_is_refused_at_once() -> None:
    def same_users(request: httpx.Request) -> Any:
        return page([user(1, is_you=True)], more_items_in_collection=True)

    client, seen = client_of(same_users)
    with pytest.raises(ResponseError, match="user id 1 twice"):
        client.read()
    assert len(seen) == 3


@pytest.mark.parametrize("following", [0, -0])
def test_a_next_start_that_is_not_greater_is_refused(following: int) -> None:
    body = page([user(1, is_you=True)], start=0, more_items_in_collection=True)
    body["additional_data"]["pagination"]["next_start"] = following
    client, _ = client_of(pages(body))
    with pytest.raises(ResponseError, match="does not move on"):
        client.read()


def test_a_next_start_past_the_page_would_skip_users_and_is_refused() -> None:
    first = page([user(1, is_you=True)], start=0, limit=1, more_items_in_collection=True)
    first["additional_data"]["pagination"]["next_start"] = 5
    client, seen = client_of(pages(first))
    with pytest.raises(ResponseError, match="users between would be missed"):
        client.read()
    assert len(seen) == 2


def test_a_later_page_without_its_pagination_is_refused() -> None:
    first = page([user(1, is_you=True)], start=0, limit=1, more_items_in_collection=True)
    client, _ = client_of(pages(first, {"success": True, "data": [user(2)]}))
    with pytest.raises(ResponseError, match="without the pagination of the page it asked for"):
        client.read()


def test_an_empty_page_that_says_more_follow_is_refused() -> None:
    first = page([user(1, is_you=True)], start=0, limit=1, more_items_in_collection=True)
    second = page([], start=1, limit=1, more_items_in_collection=True, next_start=2)
    client, _ = client_of(pages(first, second))
    with pytest.raises(ResponseError, match="empty page 2"):
        client.read()


def test_endless_fresh_pages_stop_at_the_size_the_list_may_have() -> None:
    # Each page new users and a proper next_start: only the size bound ends it.
    def endless(request: httpx.Request) -> Any:
        start = int(request.url.params.get("start", "0"))
        users = [user(start + n + 1, is_you=start + n == 0) for n in range(10)]
        following = start + 10
        more = {"more_items_in_collection": True, "next_start": following}
        return page(users, start=start, limit=10, **more)

    client, seen = client_of(endless, max_response_bytes=20_000)
    with pytest.raises(ResponseError, match="pages that add up to more than"):
        client.read()
    assert len(seen) < 30


@settings(max_examples=60, deadline=None)
@given(
    size=st.integers(1, 12),
    limit=st.integers(1, 5),
    broken=st.integers(0, 20),
    field=st.sampled_from(["more_items_in_collection", "next_start", "start", "limit", "data"]),
    junk=st.sampled_from(["true", 1, None, -1, "2", 2.5, [], {}, 10**6, 0]),
)
# The last page emptied after the one before said more follow: once read as a short list.
@example(size=2, limit=1, broken=1, field="data", junk=[])
def test_a_read_is_the_whole_list_or_an_error_never_a_shorter_list(
    size: int, limit: int, broken: int, field: str, junk: Any
) -> None:
    company = [user(n + 1, is_you=n == 0) for n in range(size)]
    served = {"pages": 0}

    def server(request: httpx.Request) -> Any:
        start = int(request.url.params.get("start", "0"))
        chunk = company[start : start + limit]
        more = start + limit < size
        body = page(chunk, start=start, limit=limit, more_items_in_collection=more)
        if more:
            body["additional_data"]["pagination"]["next_start"] = start + limit
        if served["pages"] == broken:
            if field == "data":
                body["data"] = junk
            else:
                body["additional_data"]["pagination"][field] = junk
        served["pages"] += 1
        return body

    client, _ = client_of(server)
    try:
        users = client.read()
    except ResponseError:
        return
    assert sorted(u["id"] for u in users) == [u["id"] for u in company]


# -- 2. rate-limit headers, read defensively ---------------------------------------------


HOSTILE_NUMBERS = ["²", "٣", "9" * 5000, "9" * 30, "-1", "nan", "inf", "1e3", "0x10", "", " 7 x"]


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_rate_limit_headers_no_number_fits_are_read_as_unknown(value: str) -> None:
    names = (
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-daily-requests-left",
        "x-daily-ratelimit-token-limit",
        "x-daily-ratelimit-token-remaining",
    )
    rate = RateLimits.from_headers(dict.fromkeys(names, value))
    assert (rate.limit, rate.remaining, rate.reset) == (None, None, None)
    assert rate.daily_token_remaining is None and rate.daily_requests_left is None


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_a_read_survives_any_rate_limit_header(value: str) -> None:
    headers = {
        "x-ratelimit-limit": value,
        "x-ratelimit-remaining": value,
        "x-ratelimit-reset": value,
        "x-daily-requests-left": value,
        "x-daily-ratelimit-token-remaining": value,
        "retry-after": value,
    }
    client, _ = client_of(pages(page([user(1, is_you=True)])), headers=headers)
    assert [u["id"] for u in client.read()] == [1]


def change(email: str, user_id: int) -> Change:
    return Change("deactivate", email, {}, {"id": user_id}, {"id": user_id, "active_flag": False})


def updated(request: httpx.Request) -> Any:
    return {"success": True, "data": {"id": 2, "email": "u2@acme.com", "active_flag": False}}


def test_a_spent_window_that_resets_in_decades_stops_instead_of_waiting() -> None:
    sleeps: list[float] = []
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "999999999"}
    client, seen = client_of(updated, headers=headers, sleeps=sleeps)
    result = client.write([change("u2@acme.com", 2), change("u3@acme.com", 3)])
    assert result.status == {"u2@acme.com": "done", "u3@acme.com": "skipped"}  # not sent
    assert result.abort is not None
    assert "longer than the 60 s the tool waits at most" in result.abort
    assert "retry" in result.abort
    assert len(seen) == 1 and sleeps == []


@pytest.mark.parametrize("reset", ["9" * 30, "9" * 5000, "100000"])
def test_a_429_whose_reset_outlasts_the_patience_stops_at_once(reset: str) -> None:
    sleeps: list[float] = []

    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"success": False}, headers={"x-ratelimit-reset": reset})

    client, seen = client_of(limited, sleeps=sleeps)
    result = client.write([change("u2@acme.com", 2), change("u3@acme.com", 3)])
    assert result.status == {"u2@acme.com": "skipped"}  # a 429 made nothing
    assert result.abort is not None and "stopped at once" in result.abort
    assert len(seen) == 1 and sleeps == []


@pytest.mark.parametrize("retry_after", ["9" * 400, "²", "9" * 5000, "2065"])
def test_a_429_with_any_retry_after_never_crashes_or_waits_past_the_patience(
    retry_after: str,
) -> None:
    sleeps: list[float] = []

    def limited(request: httpx.Request) -> httpx.Response:
        raw = {"retry-after": retry_after.encode()}
        return httpx.Response(429, json={"success": False}, headers=raw)

    client, _ = client_of(limited, sleeps=sleeps)
    result = client.write([change("u2@acme.com", 2), change("u3@acme.com", 3)])
    assert "u3@acme.com" not in result.status  # the run stopped: not met change by change
    assert result.abort is not None
    assert all(s <= PATIENCE for s in sleeps)


def test_a_wall_of_429s_stops_the_run_instead_of_being_met_change_by_change() -> None:
    clock = ManualClock(NOON)
    owner = {"id": 1, "email": "o@acme.com", "active_flag": True, "is_you": True}
    owner["access"] = [{"app": "global", "admin": True}]
    others = [{"id": n, "email": f"u{n}@acme.com", "active_flag": True} for n in range(2, 12)]
    from reconciler.sim.faults import Faults

    sim = PipedriveSimulator(
        PipedriveStore([owner, *others]),
        token=TOKEN,
        options=PipedriveOptions(),
        faults=Faults(throttle_rate=1.0, retry_after=1),
        clock=clock,
    )
    http = httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": TOKEN}
    )
    client = PipedriveClient(
        http, target="sim", token_origin="T", sleep=clock.advance, clock=clock, seed=0
    )
    with client:
        result = client.write([change(f"u{n}@acme.com", n) for n in range(2, 12)])
    assert result.status == {"u2@acme.com": "skipped"}
    assert result.abort is not None and "retry in a few minutes" in result.abort
    assert len(sim.request_log) == client.max_waits + 1


def test_a_read_meeting_a_long_wait_says_when_to_retry() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, headers={"x-ratelimit-reset": "7200"})

    client, seen = client_of(limited)
    with pytest.raises(RetryLater, match=r"asks to wait 2 h .*retry after .* UTC"):
        client._send("GET", "/v1/users", kind="read", cost=20)
    assert len(seen) == 1


# -- 3. the token's own user ---------------------------------------------------------------


def test_the_tokens_own_user_is_marked_whatever_the_list_says() -> None:
    company = [user(1), user(2)]  # nobody flagged is_you
    client, seen = client_of(pages(page(company)))
    users = client.read()
    assert [u.get("is_you") for u in users] == [True, None]
    assert [r.url.path for r in seen] == ["/v1/users/me", "/v1/users"]


@pytest.mark.parametrize(
    ("company", "fragment"),
    [
        ([user(1), user(2, is_you=True)], "user id 2 flagged as the token's own"),
        ([user(1, is_you=False), user(2)], "flagged is_you: false"),
        ([user(2, is_you=True)], "user id 2 flagged as the token's own"),
        ([user(2)], "without the token's own user (id 1"),
        ([user(1, is_deleted=True, active_flag=False), user(2)], "without the token's own"),
    ],
)
def test_a_list_whose_is_you_contradicts_me_is_refused(
    company: list[dict[str, Any]], fragment: str
) -> None:
    client, _ = client_of(pages(page(company)))
    with pytest.raises(ResponseError, match="refusing") as info:
        client.read()
    assert fragment in str(info.value)


@pytest.mark.parametrize(
    "me",
    [
        {"success": True, "data": None},
        {"success": True, "data": {"id": "1"}},
        {"success": True, "data": {"id": True}},
        {"success": True, "data": {"id": 0}},
        {"success": False, "data": {"id": 1}},
        [1],
    ],
)
def test_an_unreadable_me_is_refused(me: Any) -> None:
    client, seen = client_of(pages(page([user(1, is_you=True)])), me=me)
    with pytest.raises(ResponseError, match="/v1/users/me"):
        client.read()
    assert len(seen) == 1


def test_me_refused_by_the_server_is_named() -> None:
    refused = httpx.Response(403, json={"success": False, "error": "no"})
    client, _ = client_of(pages(page([user(1, is_you=True)])), me=refused)
    with pytest.raises(ApiError, match="refused GET /v1/users/me"):
        client.read()


def test_a_read_the_budget_cannot_finish_is_not_started() -> None:
    client, seen = client_of(pages(page([user(1, is_you=True)])))
    client.rate = RateLimits(daily_token_remaining=21)
    with pytest.raises(BudgetSpent):
        client.read()
    assert seen == []


def test_against_the_simulator_me_names_the_owner_and_the_read_marks_them() -> None:
    clock = ManualClock(NOON)
    owner = {"id": 7, "email": "o@acme.com", "active_flag": True, "is_you": True}
    sim = PipedriveSimulator(PipedriveStore([owner]), token=TOKEN, clock=clock)
    http = httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": TOKEN}
    )
    with PipedriveClient(http, target="sim", token_origin="T", clock=clock) as client:
        [read] = client.read()
    assert read["is_you"] is True and read["id"] == 7
    assert [(e["path"], e["cost"]) for e in sim.request_log] == [
        ("/v1/users/me", 2),
        ("/v1/users", 20),
    ]
    assert json.dumps(sim.request_log).count(TOKEN) == 0


HEADER_VALUES = st.one_of(
    st.from_regex(r"[0-9]{1,40}(\.[0-9]{1,5})?", fullmatch=True),
    st.sampled_from(["²", "٣", "9" * 5000, "-1", "nan", "inf", "", "0", "1", "2"]),
)


@settings(max_examples=80, deadline=None)
@given(
    statuses=st.lists(st.sampled_from([200, 429, 500, 503]), min_size=1, max_size=12),
    reset=HEADER_VALUES,
    remaining=HEADER_VALUES,
    retry_after=st.one_of(st.none(), HEADER_VALUES),
    daily=st.one_of(st.none(), HEADER_VALUES),
)
def test_no_answer_makes_a_wait_longer_than_the_patience_or_a_crash(
    statuses: list[int], reset: str, remaining: str, retry_after: str | None, daily: str | None
) -> None:
    clock = ManualClock(NOON)
    answers = iter(statuses)

    def respond(request: httpx.Request) -> httpx.Response:
        status = next(answers, 200)
        headers = {"x-ratelimit-reset": reset, "x-ratelimit-remaining": remaining}
        if retry_after is not None:
            headers["retry-after"] = retry_after
        if daily is not None:
            headers["x-daily-ratelimit-token-remaining"] = daily
        raw = {name: value.encode() for name, value in headers.items()}
        body = {"success": True, "data": {"id": 2, "email": "u2@acme.com", "active_flag": False}}
        return httpx.Response(status, json=body, headers=raw)

    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    http = httpx.Client(transport=httpx.MockTransport(respond), base_url="http://mock")
    client = PipedriveClient(
        http, target="mock", token_origin="X", sleep=sleep, clock=clock, wall=clock, seed=0
    )
    with client:
        result = client.write([change("u2@acme.com", 2), change("u3@acme.com", 3)])
    assert set(result.status.values()) <= {"done", "pending", "failed", "skipped"}
    assert all(0 <= s <= PATIENCE for s in sleeps)
    if result.abort is not None:
        # The change the run stopped at was not made; none after it was tried.
        assert list(result.status.values())[-1] != "done"


def test_a_long_retry_after_with_tokens_left_is_not_called_the_daily_budget() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        headers = {"retry-after": "600", "x-daily-ratelimit-token-remaining": "50000"}
        return httpx.Response(429, json={"success": False}, headers=headers)

    client, seen = client_of(limited)
    result = client.write([change("u2@acme.com", 2), change("u3@acme.com", 3)])
    assert result.status == {"u2@acme.com": "skipped"}
    assert result.abort is not None and "daily token budget" not in result.abort
    assert "asks to wait 10 min" in result.abort and "retry after" in result.abort
    assert len(seen) == 1
