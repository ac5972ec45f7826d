"""The Pipedrive client against the simulator, in-process and over a loopback socket.

Each reading the vendor leaves open is a simulator option; the client must do
the right thing under every one. The simulated clock only moves when the
client sleeps, so rate-limit waits take no real time.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler import redact
from reconciler.errors import ApiError, AuthError, ResponseError, UsageError
from reconciler.http import RetryPolicy, TokenSource
from reconciler.model import Change
from reconciler.providers.pipedrive import PROVIDER
from reconciler.providers.pipedrive.client import (
    Blocked,
    BudgetSpent,
    PipedriveClient,
    RateLimited,
    connect,
    users_path,
)
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport

TOKEN = "pd-client-5e1f0c9a7b"
NOON = 1_717_243_200.0


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def company() -> list[dict[str, Any]]:
    """The token's admin, two active users, one inactive invitee, one deleted user."""
    return [
        {
            "id": 101,
            "name": "Olga Owner",
            "email": "owner@acme.com",
            "active_flag": True,
            "is_you": True,
            "access": [{"app": "global", "admin": True}, {"app": "sales", "admin": True}],
        },
        {"id": 102, "name": "Daniel Smith", "email": "Daniel@acme.com", "active_flag": True},
        {"id": 103, "name": "ex@acme.com", "email": "ex@acme.com", "active_flag": False},
        {
            "id": 104,
            "name": "Gone",
            "email": "gone@acme.com",
            "active_flag": False,
            "is_deleted": True,
        },
        {"id": 105, "name": "Sara Levi", "email": "sara@acme.com", "active_flag": True},
    ]


@dataclass
class Pd:
    client: PipedriveClient
    sim: PipedriveSimulator
    clock: ManualClock

    def log(self) -> list[dict[str, Any]]:
        return self.sim.request_log

    def calls(self) -> list[tuple[str, str, int | None]]:
        return [(e["method"], e["path"], e["status"]) for e in self.sim.request_log]

    def user(self, email: str) -> dict[str, Any] | None:
        return self.sim.store.live_with_email(email)


Make = Callable[..., Pd]


def build(
    stack: ExitStack,
    *,
    socket: bool,
    users: list[dict[str, Any]] | None = None,
    faults: Faults | None = None,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> Pd:
    clock = ManualClock(NOON)
    sim = PipedriveSimulator(
        PipedriveStore(company() if users is None else users),
        token=TOKEN,
        options=PipedriveOptions(**options),
        faults=faults,
        clock=clock,
    )
    token = TokenSource(TOKEN, "PIPEDRIVE_API_TOKEN")
    if socket:
        url = stack.enter_context(running(sim))
        client = connect(url, token, writable=True, sleep=clock.advance, clock=clock, retry=retry)
    else:
        # What connect() builds for sim:PATH, over a simulator whose options we choose.
        http = httpx.Client(
            transport=SimTransport(sim),
            base_url="http://simulator",
            headers={"x-api-token": TOKEN},
        )
        client = PipedriveClient(
            http,
            target="sim",
            token_origin=token.origin,
            sleep=clock.advance,
            clock=clock,
            retry=retry,
            seed=0,
        )
    stack.enter_context(client)
    return Pd(client, sim, clock)


@pytest.fixture(params=["in-process", "socket"])
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    """A client and its simulator, in-process or over loopback; keywords are options."""
    with ExitStack() as stack:
        yield lambda **kwargs: build(stack, socket=request.param == "socket", **kwargs)


@pytest.fixture
def make_local() -> Iterator[Make]:
    with ExitStack() as stack:
        yield lambda **kwargs: build(stack, socket=False, **kwargs)


def create(email: str, *, active: bool = True, access: Any = None) -> Change:
    send = {"email": email, "access": access or [{"app": "sales"}], "active_flag": active}
    return Change("create", email, {}, None, send)


def toggle(action: str, email: str, user_id: int) -> Change:
    send = {"id": user_id, "active_flag": action == "reactivate"}
    return Change(action, email, {}, {"id": user_id}, send)  # type: ignore[arg-type]


# Reading


def test_one_read_is_one_get_with_the_token_in_the_header_only(make: Make) -> None:
    pd = make()
    users = pd.client.read()
    assert [u["id"] for u in users] == [101, 102, 103, 104, 105]
    assert pd.calls() == [("GET", "/v1/users/me", 200), ("GET", "/v1/users", 200)]
    for entry in pd.log():
        assert entry["auth"] == "x-api-token" and entry["query"] == {}
    assert pd.client.request_counts() == {"read": 2}


def test_the_read_feeds_tenant_views_that_drop_deleted_users(make: Make) -> None:
    views = [PROVIDER.tenant_view(u) for u in make().client.read()]
    emails = [v["email"] for v in views if v is not None]
    assert emails == ["owner@acme.com", "Daniel@acme.com", "ex@acme.com", "sara@acme.com"]


def test_hidden_deleted_users_are_simply_absent(make: Make) -> None:
    users = make(show_deleted=False).client.read()
    assert 104 not in [u["id"] for u in users]


@pytest.mark.parametrize("page_limit", [1, 2, 4])
def test_a_paged_list_is_read_page_by_page(make: Make, page_limit: int) -> None:
    pd = make(page_limit=page_limit)
    users = pd.client.read()
    assert [u["id"] for u in users] == [101, 102, 103, 104, 105]
    pages = -(-5 // page_limit)
    assert pd.client.request_counts() == {"read": 1 + pages}
    queries = [e["query"] for e in pd.log()[1:]]
    assert queries[0] == {}
    assert queries[1:] == [
        {"start": str(n * page_limit), "limit": str(page_limit)} for n in range(1, pages)
    ]


def test_a_long_paged_read_keeps_within_the_burst_limit(make_local: Make) -> None:
    users = [
        *company(),
        *({"id": 200 + n, "email": f"u{n}@acme.com", "active_flag": True} for n in range(20)),
    ]
    pd = make_local(users=users, page_limit=1, burst=3, edge_after=0)
    assert len(pd.client.read()) == 25
    assert {e["status"] for e in pd.log()} == {200}
    assert pd.clock.now > NOON  # it waited for the window instead of being told to


def test_rate_limit_headers_are_kept_as_plain_numbers(make: Make) -> None:
    pd = make(daily_budget=1000)
    pd.client.read()
    rate = pd.client.rate
    assert (rate.limit, rate.remaining) == (20, 18)
    assert rate.reset == 2
    assert (rate.daily_token_limit, rate.daily_token_remaining) == (1000, 978)
    assert rate.daily_requests_left == 978


def test_the_token_never_appears_in_a_url_or_a_message(make: Make) -> None:
    users = [*company(), {"id": 300, "name": TOKEN, "email": "t@acme.com", "active_flag": True}]
    pd = make(users=users)
    read = pd.client.read()
    assert read[-1]["name"] == redact.MASK
    for entry in pd.log():
        assert entry["auth"] == "x-api-token"
        assert TOKEN not in json.dumps(entry)


def test_an_email_holding_the_token_is_refused(make: Make) -> None:
    users = [*company(), {"id": 300, "email": f"{TOKEN}@acme.com", "active_flag": True}]
    with pytest.raises(ResponseError, match="email contains the API token") as info:
        make(users=users).client.read()
    assert TOKEN not in str(info.value)


def test_a_rejected_token_stops_the_read(make: Make) -> None:
    pd = make()
    pd.client._http.headers["x-api-token"] = "pd-wrong-token-1234"
    with pytest.raises(AuthError, match="token rejected"):
        pd.client.read()
    assert len(pd.log()) == 1


def test_a_closed_account_is_named(make: Make) -> None:
    with pytest.raises(ApiError, match="HTTP 402: Company account is not open"):
        make(account_closed=True).client.read()


# Answers the simulator never gives


ME = {"success": True, "data": {"id": 1, "email": "a@acme.com", "company_id": 7}}


def mocked(
    *bodies: Any,
    status: int = 200,
    content_type: str = "application/json",
    me: Any = ME,
) -> list[Any]:
    """Read through answers the simulator never gives: `me` for /users/me, then `bodies`."""
    answers = iter(bodies)

    def respond(request: httpx.Request) -> httpx.Response:
        body = me if request.url.path.endswith("/me") else next(answers)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.Response(status, content=content, headers={"Content-Type": content_type})

    http = httpx.Client(transport=httpx.MockTransport(respond), base_url="http://mock")
    client = PipedriveClient(
        http, target="mock", token_origin="X", retry=RetryPolicy(1), sleep=lambda s: None
    )
    with client:
        return client.read()


USER = {"id": 1, "email": "a@acme.com", "name": "A", "active_flag": True}


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ([USER], "with a list, not {success: true, data}"),
        ({"success": False, "data": [USER]}, "with an object, not {success: true, data}"),
        ({"success": True, "data": {"id": 1}}, "with data that is an object, not the list"),
        (
            {"success": True, "data": [USER, {**USER, "email": "A@ACME.com", "id": 2}]},
            "two users (ids 1 and 2) of email 'A@ACME.com'",
        ),
        ({"success": True, "data": [USER, {**USER, "email": "b@acme.com"}]}, "user id 1 twice"),
        (
            {"success": True, "data": [{**USER, "active_flag": "true"}]},
            "entry #0 (id 1) that has active_flag the string 'true'",
        ),
        ({"success": True, "data": [USER, 7]}, "entry #1 that is not a user object"),
        ({"success": True, "data": [{**USER, "id": "1"}]}, "an id that is the string '1'"),
        (
            {
                "success": True,
                "data": [USER],
                "additional_data": {
                    "pagination": {"more_items_in_collection": True, "next_start": 0}
                },
            },
            "does not move on",
        ),
    ],
)
def test_a_list_the_diff_could_misread_is_refused(body: Any, fragment: str) -> None:
    with pytest.raises(ResponseError) as info:
        mocked(body)
    assert fragment in str(info.value)
    assert "answered GET /v1/users" in str(info.value)


def test_a_deleted_duplicate_of_a_live_email_is_fine() -> None:
    gone = {**USER, "id": 2, "is_deleted": True, "active_flag": False}
    assert len(mocked({"success": True, "data": [USER, gone]})) == 2


def test_null_data_is_refused_not_read_as_an_empty_company() -> None:
    with pytest.raises(ResponseError, match="data that is None, not the list of users"):
        mocked({"success": True, "data": None})


def test_pagination_without_next_start_moves_by_the_page() -> None:
    second = {**USER, "id": 2, "email": "b@acme.com"}
    more = {"pagination": {"start": 0, "limit": 1, "more_items_in_collection": True}}
    users = mocked(
        {"success": True, "data": [USER], "additional_data": more},
        {
            "success": True,
            "data": [second],
            "additional_data": {"pagination": {"start": 1, "more_items_in_collection": False}},
        },
    )
    assert [u["id"] for u in users] == [1, 2]


def test_a_non_json_answer_is_refused() -> None:
    with pytest.raises(ResponseError, match="not JSON"):
        mocked(b"<html>maintenance</html>", content_type="text/html")


# Writing


def test_create_reactivate_and_deactivate(make: Make) -> None:
    pd = make(strict_create=True, strict_update=True)
    result = pd.client.write(
        [
            create("new@acme.com", access=[{"app": "global", "admin": True}, {"app": "sales"}]),
            toggle("reactivate", "ex@acme.com", 103),
            toggle("deactivate", "Daniel@acme.com", 102),
        ]
    )
    assert result.abort is None
    assert result.status == {
        "new@acme.com": "done",
        "ex@acme.com": "done",
        "Daniel@acme.com": "done",
    }
    assert [(e["method"], e["path"], e["body"]) for e in pd.log()] == [
        (
            "POST",
            "/v1/users",
            {
                "email": "new@acme.com",
                "access": [{"app": "global", "admin": True}, {"app": "sales"}],
                "active_flag": True,
            },
        ),
        ("PUT", "/v1/users/103", {"active_flag": True}),
        ("PUT", "/v1/users/102", {"active_flag": False}),
    ]
    created = pd.user("new@acme.com")
    assert created is not None and created["active_flag"] is True
    assert pd.user("ex@acme.com")["active_flag"] is True  # type: ignore[index]
    assert pd.user("daniel@acme.com")["active_flag"] is False  # type: ignore[index]
    assert pd.client.request_counts() == {"create": 1, "update": 2}


@pytest.mark.parametrize("expand_access", [True, False])
def test_a_created_users_access_compares_equal_to_the_files(
    make: Make, expand_access: bool
) -> None:
    pd = make(expand_access=expand_access)
    wanted = [{"app": "global", "admin": True}, {"app": "sales"}]
    pd.client.write([create("new@acme.com", access=wanted)])
    [view] = [
        v
        for v in map(PROVIDER.tenant_view, pd.client.read())
        if v is not None and v["email"] == "new@acme.com"
    ]
    assert PROVIDER.same("access", wanted, view["access"])
    assert view["name"] == "new@acme.com"  # a new user's name is their email


def test_a_create_of_an_inactive_user(make: Make) -> None:
    pd = make()
    assert pd.client.write([create("later@acme.com", active=False)]).status == {
        "later@acme.com": "done"
    }
    assert pd.user("later@acme.com")["active_flag"] is False  # type: ignore[index]


def test_a_create_of_an_email_that_exists_fails_with_the_vendors_message(make: Make) -> None:
    pd = make()
    result = pd.client.write([create("SARA@acme.com")])
    assert result.status == {"SARA@acme.com": "failed"}
    assert (
        "HTTP 400: A user with this email address already exists" in result.message["SARA@acme.com"]
    )


def test_a_create_answered_with_the_existing_user_is_judged_by_it(make: Make) -> None:
    pd = make(duplicate_email="existing")
    result = pd.client.write([create("sara@acme.com"), create("EX@acme.com")])
    assert result.status == {"sara@acme.com": "done", "EX@acme.com": "failed"}
    assert "already exists in Pipedrive and is inactive" in result.message["EX@acme.com"]


def test_an_unknown_id_fails_with_the_vendors_message(make: Make) -> None:
    result = make().client.write([toggle("deactivate", "x@acme.com", 999)])
    assert result.status == {"x@acme.com": "failed"}
    assert "HTTP 404: User not found or not accessible." in result.message["x@acme.com"]


def test_no_free_seat_fails_the_create_but_not_the_deactivation(make: Make) -> None:
    pd = make(seat_purchase=False)
    result = pd.client.write([create("new@acme.com"), toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"new@acme.com": "failed", "sara@acme.com": "done"}
    assert "HTTP 402" in result.message["new@acme.com"]
    assert "seats and billing" in result.message["new@acme.com"]
    assert result.abort is None


def test_a_token_without_admin_rights_fails_then_aborts(make_local: Make) -> None:
    users = company()
    users[0]["access"] = [{"app": "sales"}]
    pd = make_local(users=users)
    batch = [create(f"n{i}@acme.com") for i in range(5)]
    result = pd.client.write(batch)
    assert list(result.status.values()) == ["failed"] * 3
    assert "account-settings access or global admin" in result.message["n0@acme.com"]
    assert result.abort is not None and "refused 3 writes in a row with HTTP 403" in result.abort
    assert len(pd.log()) == 3


def test_a_rejected_token_aborts_the_writes(make: Make) -> None:
    pd = make()
    pd.client._http.headers["x-api-token"] = "pd-wrong-token-1234"
    result = pd.client.write([create("a@acme.com"), create("b@acme.com")])
    assert result.status == {"a@acme.com": "failed"}
    assert result.abort is not None and "token rejected" in result.abort
    assert len(pd.log()) == 1


def test_the_edges_html_403_stops_everything_at_once(make: Make) -> None:
    pd = make(burst=1, edge_after=0)
    # Another program with the same token was just told to slow down...
    for _ in range(2):
        pd.client._http.get("/v1/users")
    assert [e["status"] for e in pd.log()] == [200, 429]
    pd.sim.request_log.clear()
    # ...so the edge blocks the very next request, whatever it is.
    result = pd.client.write([create("a@acme.com"), create("b@acme.com")])
    assert result.status == {"a@acme.com": "failed"}
    assert result.abort is not None
    assert "blocked this client (HTTP 403, an HTML page" in result.abort
    assert "after rate limits" in result.abort
    assert [e["status"] for e in pd.log()] == [403]
    with pytest.raises(Blocked):
        pd.client.read()
    assert len(pd.log()) == 2


@pytest.mark.parametrize("retry_after", [True, False])
@pytest.mark.parametrize("body_on_429", [True, False])
def test_a_burst_429_is_waited_out_then_sent_again(
    make: Make, retry_after: bool, body_on_429: bool
) -> None:
    pd = make(burst=2, retry_after_on_429=retry_after, body_on_429=body_on_429)
    for _ in range(2):
        pd.client._http.get("/v1/users")  # another program spends the window
    result = pd.client.write([toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"sara@acme.com": "done"}
    assert [e["status"] for e in pd.log()] == [200, 200, 429, 200]
    assert pd.clock.now >= NOON + 1
    assert pd.user("sara@acme.com")["active_flag"] is False  # type: ignore[index]


def test_a_create_refused_by_a_429_is_sent_again_without_a_lookup(make: Make) -> None:
    pd = make(burst=1)
    pd.client._http.get("/v1/users")
    result = pd.client.write([create("a@acme.com")])
    assert result.status == {"a@acme.com": "done"}
    assert [(e["method"], e["status"]) for e in pd.log()] == [
        ("GET", 200),
        ("POST", 429),
        ("POST", 200),
    ]


def test_endless_429s_leave_the_change_for_the_next_run(make_local: Make) -> None:
    pd = make_local(faults=Faults(throttle_rate=1.0, retry_after=1))
    result = pd.client.write([toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"sara@acme.com": "skipped"}  # a 429 made nothing
    assert result.message["sara@acme.com"].startswith("not made: ")
    assert "HTTP 429" in result.message["sara@acme.com"]
    assert len(pd.log()) == pd.client.max_waits + 1
    assert {e["status"] for e in pd.log()} == {429}
    with pytest.raises(RateLimited):
        pd.client.read()


def test_the_writes_stop_before_the_daily_budget_runs_out(make: Make) -> None:
    # 22 for the read (/users/me and the list), 10 for one write; the next write
    # would leave no read to verify.
    pd = make(daily_budget=54)
    pd.client.read()
    result = pd.client.write([create("a@acme.com"), create("b@acme.com")])
    assert result.status == {"a@acme.com": "done", "b@acme.com": "skipped"}
    assert result.abort is not None and "daily token budget" in result.abort
    assert [e["method"] for e in pd.log()] == ["GET", "GET", "POST"]
    assert pd.user("b@acme.com") is None


@pytest.mark.parametrize(
    "options",
    [
        {"daily_token_headers": True},
        {"daily_token_headers": False, "retry_after_on_429": True},
        {"daily_token_headers": False, "daily_requests_left": "tokens"},
    ],
)
def test_a_daily_budget_429_is_not_waited_out(make_local: Make, options: dict[str, Any]) -> None:
    pd = make_local(daily_budget=25, **options)
    pd.client._http.get("/v1/users")  # another program spends the budget
    pd.client.rate = type(pd.client.rate)()  # this client has not seen its headers
    result = pd.client.write([toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"sara@acme.com": "skipped"}
    assert result.abort is not None and "daily token budget" in result.abort
    assert [e["status"] for e in pd.log()] == [200, 429]
    with pytest.raises(BudgetSpent):
        pd.client.read()


def test_503s_are_retried_for_reads_and_updates(make: Make) -> None:
    pd = make(faults=Faults(failure_rate=0.5, seed=3))
    assert len(pd.client.read()) == 5
    result = pd.client.write([toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"sara@acme.com": "done"}
    assert 503 in [e["status"] for e in pd.log()]


def test_a_create_answered_503_is_looked_up_before_it_is_sent_again(make_local: Make) -> None:
    pd = make_local(faults=Faults(failure_rate=0.5, seed=1))
    result = pd.client.write([create("a@acme.com")])
    assert result.status == {"a@acme.com": "done"}
    methods = [(e["method"], e["status"]) for e in pd.log()]
    first = methods.index(("POST", 503))
    assert methods[first + 1][0] == "GET"  # never a POST right after a 503
    assert [m for m in methods if m == ("POST", 200)] == [("POST", 200)]


@pytest.mark.parametrize("duplicate_email", ["error", "existing"])
def test_a_create_whose_answer_was_lost_is_not_made_twice(make: Make, duplicate_email: str) -> None:
    pd = make(faults=Faults(lost_rate=1.0), duplicate_email=duplicate_email)
    result = pd.client.write([create("a@acme.com")])
    assert result.status == {"a@acme.com": "done"}
    assert "first answer was lost" in result.message["a@acme.com"]
    assert [(e["method"], e["lost"]) for e in pd.log()] == [("POST", True), ("GET", False)]
    assert sum(1 for u in pd.sim.store.users() if u["email"] == "a@acme.com") == 1


def test_a_lost_create_found_in_the_wrong_state_fails(make_local: Make) -> None:
    pd = make_local(faults=Faults(lost_rate=1.0))
    # The lost create made the user; someone deactivated it before the lookup.
    real_list = pd.client._list

    def deactivated_first() -> Any:
        user = pd.sim.store.live_with_email("a@acme.com")
        assert user is not None
        pd.sim.store.put({**user, "active_flag": False})
        return real_list()

    pd.client._list = deactivated_first  # type: ignore[method-assign]
    result = pd.client.write([create("a@acme.com")])
    assert result.status == {"a@acme.com": "failed"}
    assert "already exists in Pipedrive and is inactive" in result.message["a@acme.com"]


def test_a_lost_update_is_sent_again(make_local: Make) -> None:
    pd = make_local(faults=Faults(lost_rate=0.5, seed=2))
    result = pd.client.write([toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"sara@acme.com": "done"}


def test_a_create_whose_lookup_fails_is_pending(make_local: Make) -> None:
    pd = make_local(faults=Faults(lost_rate=1.0), retry=RetryPolicy(attempts=2))
    pd.sim.faults.failure_rate = 1.0  # every request after the lost POST answers 503
    result = pd.client.write([create("a@acme.com")])
    assert result.status == {"a@acme.com": "pending"}
    assert "the list read to check it failed" in result.message["a@acme.com"]
    assert [e["method"] for e in pd.log()].count("POST") == 1


def test_updates_and_unknown_actions_that_cannot_be_sent_fail_without_a_request(
    make: Make,
) -> None:
    pd = make()
    bad = Change("deactivate", "x@acme.com", {}, None, {"active_flag": False})
    update = Change("update", "y@acme.com", {}, {"id": 102}, {"id": 102, "active_flag": True})
    result = pd.client.write([bad, update])
    assert result.status == {"x@acme.com": "failed", "y@acme.com": "failed"}
    assert "needs the user's id" in result.message["x@acme.com"]
    assert pd.log() == []


# Connecting


def test_sim_path_opens_the_simulator_in_process(tmp_path: Path) -> None:
    path = tmp_path / "company.json"
    path.write_text(json.dumps(company()), encoding="utf-8")
    token = TokenSource(TOKEN, "PIPEDRIVE_API_TOKEN")
    with PROVIDER.open(f"sim:{path}", token, writable=False) as remote:
        assert len(remote.read()) == 5
        assert remote.write([toggle("deactivate", "sara@acme.com", 105)]).status == {
            "sara@acme.com": "done"
        }
        assert remote.target == f"sim:{path}"
    # Not writable: the file is as it was.
    assert json.loads(path.read_text(encoding="utf-8")) == company()
    with PROVIDER.open(f"sim:{path}", token, writable=True) as remote:
        remote.write([toggle("deactivate", "sara@acme.com", 105)])
    saved = {u["email"]: u for u in json.loads(path.read_text(encoding="utf-8"))}
    assert saved["sara@acme.com"]["active_flag"] is False


def test_a_missing_sim_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot load the simulator state"):
        connect(f"sim:{tmp_path / 'none.json'}", None, writable=False)


def test_plain_http_is_refused_off_loopback_and_a_token_is_required() -> None:
    with pytest.raises(UsageError, match="refusing plain http://"):
        connect("http://acme.pipedrive.com", TokenSource(TOKEN, "X"), writable=False)
    with pytest.raises(UsageError, match="PIPEDRIVE_API_TOKEN"):
        connect("https://acme.pipedrive.com", None, writable=False)


@pytest.mark.parametrize(
    ("base", "path"),
    [
        ("https://acme.pipedrive.com", "/api/v1/users"),
        ("https://api.pipedrive.com", "/v1/users"),
        ("https://api.pipedrive.com/v1", "/users"),
        ("https://acme.pipedrive.com/api", "/v1/users"),
        ("https://acme.pipedrive.com/api/v1", "/users"),
        ("http://127.0.0.1:8080", "/v1/users"),
    ],
)
def test_where_the_users_are(base: str, path: str) -> None:
    assert users_path(base) == path


def test_the_company_host_is_asked_on_its_api_path() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/me"):
            return httpx.Response(200, json=ME)
        return httpx.Response(200, json={"success": True, "data": [USER]})

    client = connect("https://acme.pipedrive.com", TokenSource(TOKEN, "X"), writable=False)
    client._http._transport = httpx.MockTransport(respond)
    with client:
        client.read()
    assert [str(r.url) for r in seen] == [
        "https://acme.pipedrive.com/api/v1/users/me",
        "https://acme.pipedrive.com/api/v1/users",
    ]
    request = seen[-1]
    assert request.headers["x-api-token"] == TOKEN
    assert "authorization" not in request.headers
    assert redact.redact(f"say {TOKEN}") == f"say {redact.MASK}"


def test_the_tokens_own_user_is_never_deactivated_even_if_asked(make: Make) -> None:
    pd = make()
    you = Change(
        "deactivate",
        "owner@acme.com",
        {},
        {"id": 101, "is_you": True},
        {"id": 101, "active_flag": False},
    )
    result = pd.client.write([you])
    assert result.status == {"owner@acme.com": "failed"}
    assert "is_you" in result.message["owner@acme.com"]
    assert pd.log() == []


@pytest.mark.parametrize("readd_deleted", ["same-id", "new-id"])
def test_the_email_of_a_deleted_user_can_be_created_again(make: Make, readd_deleted: str) -> None:
    pd = make(readd_deleted=readd_deleted)
    assert pd.client.write([create("gone@acme.com")]).status == {"gone@acme.com": "done"}
    views = [PROVIDER.tenant_view(u) for u in pd.client.read()]
    assert [v["is_active"] for v in views if v and v["email"] == "gone@acme.com"] == [True]


def test_a_linked_person_keeps_their_name(make: Make) -> None:
    pd = make(linked_people={"Ann@acme.com": "Ann Other"})
    assert pd.client.write([create("ann@acme.com")]).status == {"ann@acme.com": "done"}
    [view] = [
        v for v in map(PROVIDER.tenant_view, pd.client.read()) if v and v["email"] == "ann@acme.com"
    ]
    assert view["name"] == "Ann Other"


def test_views_stay_the_same_when_last_login_moves(make: Make) -> None:
    pd = make(login_drift_rate=1.0)
    first = [PROVIDER.tenant_view(u) for u in pd.client.read()]
    pd.clock.advance(3600)
    second_raw = pd.client.read()
    assert any(u["last_login"] for u in second_raw)
    assert [PROVIDER.tenant_view(u) for u in second_raw] == first


def test_a_burst_429_is_not_taken_for_the_budget_when_the_header_counts_writes(
    make: Make,
) -> None:
    pd = make(burst=1, daily_token_headers=False, daily_requests_left="writes")
    pd.client._http.get("/v1/users")
    result = pd.client.write([toggle("deactivate", "sara@acme.com", 105)])
    assert result.status == {"sara@acme.com": "done"}
    assert [e["status"] for e in pd.log()] == [200, 429, 200]
