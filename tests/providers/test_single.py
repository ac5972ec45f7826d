"""The single-user hooks `leave` uses (reconciler.providers.single), on each simulator in-process.

Where the vendor leaves a reading open (DealHub's unknown user: 400 as its page
says, or 404 as SPEC section 8 allows), a small stand-in answers the other way.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from reconciler.errors import ApiError, ReconcilerError, ResponseError
from reconciler.providers import get
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.providers.dealhub.single import DealHubSingle
from reconciler.providers.pipedrive.client import PipedriveClient
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore, new_user
from reconciler.providers.pipedrive.single import PipedriveSingle
from reconciler.providers.single import Lookup, hooks_for
from reconciler.sim.faults import Faults
from reconciler.sim.transport import SimTransport

TOKEN = "single-user-token-5d1c"
DEALHUB = get("dealhub")
PIPEDRIVE = get("pipedrive")


def dealhub_tenant() -> list[dict[str, Any]]:
    return [
        {"login": "ann@x", "email": "ann@x.com", "name": "Ann", "is_active": True,
         "position": "Sales", "id": "1"},
        {"login": "Bob@x", "email": "bob@x.com", "name": "Bob", "is_active": True, "id": "2"},
        {"login": "dan@x_sb", "email": "dan@x.com", "name": "Dan", "is_active": True, "id": "3"},
        {"login": "twin1@x", "email": "twin@x.com", "name": "T1", "is_active": True, "id": "4"},
        {"login": "twin2@x", "email": "TWIN@x.com", "name": "T2", "is_active": True, "id": "5"},
    ]  # fmt: skip


def open_dealhub(transport: httpx.BaseTransport) -> DealHubSingle:
    http = httpx.Client(
        transport=transport,
        base_url="http://simulator",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    client = DealHubClient(http, target="sim:dealhub", token_origin="the tests")
    hooks = hooks_for(DEALHUB, DealHubRemote(client, poll_interval=0))
    assert isinstance(hooks, DealHubSingle)
    return hooks


@pytest.fixture
def dealhub() -> tuple[DealHubSingle, Simulator]:
    sim = Simulator(TenantStore(dealhub_tenant()), token=TOKEN)
    return open_dealhub(SimTransport(sim)), sim


def paths(sim: Any) -> list[tuple[str, str]]:
    return [(entry["method"], entry["path"]) for entry in sim.request_log]


# -- DealHub ---------------------------------------------------------------------------


def test_a_known_login_is_one_single_user_read(dealhub: tuple[DealHubSingle, Simulator]) -> None:
    hooks, sim = dealhub
    (found,) = hooks.find(Lookup("ANN@X", key="ann@x"))
    assert found["login"] == "ann@x" and found["position"] == "Sales"
    assert paths(sim) == [("GET", "/api/v1/user/login/ann%40x")]


def test_a_login_the_tenant_lacks_is_not_there_without_reading_the_list(
    dealhub: tuple[DealHubSingle, Simulator],
) -> None:
    hooks, sim = dealhub
    assert hooks.find(Lookup("zed@x", key="zed@x")) == []
    assert paths(sim) == [("GET", "/api/v1/user/login/zed%40x")]


def test_an_email_is_found_through_the_list(dealhub: tuple[DealHubSingle, Simulator]) -> None:
    hooks, sim = dealhub
    (found,) = hooks.find(Lookup("BOB@x.com"))
    assert found["login"] == "Bob@x"
    assert paths(sim) == [("GET", "/api/v1/user/login/BOB%40x.com"), ("GET", "/api/v1/users")]


def test_a_login_in_another_letter_case_is_found_through_the_list(
    dealhub: tuple[DealHubSingle, Simulator],
) -> None:
    hooks, _ = dealhub
    assert [u["login"] for u in hooks.find(Lookup("bob@x"))] == ["Bob@x"]


def test_the_environments_suffix_is_tried_first(dealhub: tuple[DealHubSingle, Simulator]) -> None:
    hooks, sim = dealhub
    (found,) = hooks.find(Lookup("dan@x", suffix="_sb"))
    assert found["login"] == "dan@x_sb"
    assert paths(sim) == [("GET", "/api/v1/user/login/dan%40x_sb")]


def test_an_email_two_users_share_finds_both(dealhub: tuple[DealHubSingle, Simulator]) -> None:
    hooks, _ = dealhub
    assert sorted(u["login"] for u in hooks.find(Lookup("twin@x.com"))) == ["twin1@x", "twin2@x"]


def test_a_login_longer_than_the_read_takes_is_not_asked(
    dealhub: tuple[DealHubSingle, Simulator],
) -> None:
    hooks, sim = dealhub
    assert hooks.find(Lookup("x" * 101, key="x" * 101)) == []
    assert sim.request_log == []


def test_the_deactivation_sends_that_user_alone_with_the_fields_v2_requires(
    dealhub: tuple[DealHubSingle, Simulator],
) -> None:
    hooks, sim = dealhub
    (ann,) = hooks.find(Lookup("ann@x", key="ann@x"))
    written = hooks.deactivate(ann, {"external_user_id": "005X"})
    assert written.status == "done"
    (put,) = [entry for entry in sim.request_log if entry["method"] == "PUT"]
    assert put["body"] == {
        "users": [
            {
                "login": "ann@x",
                "email": "ann@x.com",
                "name": "Ann",
                "external_user_id": "005X",
                "is_active": False,
            }
        ]
    }
    back = hooks.read_back(ann)
    assert back is not None and back["is_active"] is False and back["position"] == "Sales"


def stand_in(status: int, body: Any) -> httpx.MockTransport:
    """Another implementation of the single-user read, answering `status` and `body`."""
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


def test_a_404_also_means_not_there() -> None:
    hooks = open_dealhub(stand_in(404, {"message": "Not Found"}))
    assert hooks.find(Lookup("ann@x", key="ann@x")) == []


def test_a_400_for_another_reason_is_an_error_not_an_absence() -> None:
    hooks = open_dealhub(stand_in(400, {"message": "login - Invalid parameter value"}))
    with pytest.raises(ApiError, match="Invalid parameter value"):
        hooks.find(Lookup("ann@x", key="ann@x"))


def test_an_answer_about_another_user_is_refused() -> None:
    other = {"login": "eve@x", "email": "e@x.com", "name": "Eve", "is_active": True}
    hooks = open_dealhub(stand_in(200, other))
    with pytest.raises(ResponseError, match="another user"):
        hooks.find(Lookup("ann@x", key="ann@x"))


def test_an_answer_with_a_garbled_active_state_is_refused() -> None:
    garbled = {"login": "ann@x", "email": "a@x.com", "name": "A", "is_active": "no"}
    hooks = open_dealhub(stand_in(200, garbled))
    with pytest.raises(ResponseError, match="is_active"):
        hooks.find(Lookup("ann@x", key="ann@x"))


# -- Pipedrive -------------------------------------------------------------------------


def pipedrive_company() -> list[dict[str, Any]]:
    return [
        new_user(1, "me@x.com", active_flag=True, is_you=True,
                 access=[{"app": "global", "admin": True}]),
        new_user(2, "Ann@X.com", active_flag=True),
        new_user(3, "joann@x.com", active_flag=True),
        new_user(4, "ann@x.com.au", active_flag=True),
        new_user(5, "gone@x.com", active_flag=False, is_deleted=True),
        new_user(6, "gone@x.com", active_flag=True),
    ]  # fmt: skip


def open_pipedrive(
    options: PipedriveOptions | None = None, faults: Faults | None = None
) -> tuple[PipedriveSingle, PipedriveSimulator]:
    clock = ManualClock()
    sim = PipedriveSimulator(
        PipedriveStore(pipedrive_company()), token=TOKEN, clock=clock, options=options,
        faults=faults,
    )  # fmt: skip
    http = httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": TOKEN}
    )
    client = PipedriveClient(
        http, target="sim:pipedrive", token_origin="the tests", sleep=clock.advance, clock=clock
    )
    hooks = hooks_for(PIPEDRIVE, client)
    assert isinstance(hooks, PipedriveSingle)
    return hooks, sim


def test_an_email_matches_exactly_letter_case_aside() -> None:
    # Not a part of another email (joann@, ann@x.com.au), whatever find's rule would be.
    hooks, _ = open_pipedrive()
    assert [u["id"] for u in hooks.find(Lookup("ann@x.com"))] == [2]
    assert [u["id"] for u in hooks.find(Lookup("x", key="ANN@x.COM"))] == [2]
    assert hooks.find(Lookup("nn@x.com")) == []


def test_a_deleted_user_with_the_email_is_not_the_person() -> None:
    hooks, _ = open_pipedrive()
    assert [u["id"] for u in hooks.find(Lookup("gone@x.com"))] == [6]


def test_finding_an_email_costs_the_clients_one_read_and_verifying_one_read_by_id() -> None:
    hooks, sim = open_pipedrive()
    (ann,) = hooks.find(Lookup("ann@x.com"))
    assert hooks.deactivate(ann, {}).status == "done"
    back = hooks.read_back(ann)
    assert back is not None and back["is_active"] is False
    assert [(e["method"], e["path"], e["cost"]) for e in sim.request_log] == [
        ("GET", "/v1/users/me", 2),
        ("GET", "/v1/users", 20),
        ("PUT", "/v1/users/2", 10),
        ("GET", "/v1/users/2", 2),
    ]
    assert sim.request_log[2]["body"] == {"active_flag": False}


def test_the_token_s_own_user_is_never_sent_even_by_a_hand_made_call() -> None:
    hooks, sim = open_pipedrive()
    (me,) = hooks.find(Lookup("me@x.com"))
    assert me["is_you"] is True
    written = hooks.deactivate(me, {})
    assert written.status == "failed" and "is_you" in written.message
    assert {e["method"] for e in sim.request_log} == {"GET"}


def test_a_user_gone_since_reads_back_as_none() -> None:
    hooks, _ = open_pipedrive()
    assert hooks.read_back({"id": 999, "email": "x@x.com", "is_active": True}) is None


def test_rate_limited_past_patience_is_an_error_of_that_system() -> None:
    hooks, sim = open_pipedrive(
        PipedriveOptions(edge_after=None), Faults(throttle_rate=1.0, retry_after=1)
    )
    with pytest.raises(ReconcilerError, match=r"429|budget"):
        hooks.find(Lookup("ann@x.com"))
    assert {e["method"] for e in sim.request_log} == {"GET"}


def test_a_system_without_hooks_is_named_in_a_usage_error() -> None:
    class Bare:
        capabilities = DEALHUB.capabilities

    Bare.__module__ = "reconciler"  # a package with no `single` module
    with pytest.raises(ReconcilerError, match="no single-user hooks"):
        hooks_for(Bare(), None)  # type: ignore[arg-type]
