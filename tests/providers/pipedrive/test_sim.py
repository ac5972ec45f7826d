"""The Pipedrive Users API simulator: endpoints, shapes, auth, writes, seats, faults.

Shared helpers are in helpers.py, fixtures in conftest.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from reconciler.providers.pipedrive import sim as pipedrive
from reconciler.providers.pipedrive.sim import (
    DUPLICATE_EMAIL,
    NOT_FOUND_USER,
    PipedriveOptions,
    PipedriveSimulator,
)
from reconciler.providers.pipedrive.sim_state import USER_FIELDS, PipedriveStore, permission_set_id
from reconciler.sim.faults import Faults
from tests.providers.pipedrive.helpers import (
    OTHER_TOKEN,
    TOKEN,
    MakeApi,
    PdApi,
    company,
    error_body,
)

# Reads


def test_the_list_has_every_user_in_the_vendors_shape(api: PdApi) -> None:
    response = api.client.get("/v1/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["success", "data"]
    assert body["success"] is True
    assert [u["id"] for u in body["data"]] == [101, 102, 103, 104, 105]
    for user in body["data"]:
        assert list(user) == list(USER_FIELDS)
    assert [u["is_you"] for u in body["data"]] == [True, False, False, False, False]
    assert body["data"][3]["is_deleted"] is True
    # Filled-in defaults: an invitee's name is their email; access defaults to sales,
    # shown whole as the vendor shows every entry (admin and permission_set_id).
    assert body["data"][1]["access"] == [
        {"app": "sales", "admin": False, "permission_set_id": permission_set_id("sales", False)}
    ]
    assert body["data"][2]["name"] == "ex@acme.com"


def test_both_base_paths_answer_the_same(api: PdApi) -> None:
    assert api.client.get("/api/v1/users").json() == api.client.get("/v1/users").json()
    assert api.client.get("/api/v1/users/102").json() == api.client.get("/v1/users/102").json()


def test_deleted_users_can_be_hidden(make_api: MakeApi) -> None:
    api = make_api(show_deleted=False)
    assert 104 not in [u["id"] for u in api.client.get("/v1/users").json()["data"]]
    assert api.client.get("/v1/users/104").status_code == 404


def test_one_user_by_id(api: PdApi) -> None:
    body = api.client.get("/v1/users/105").json()
    assert body["success"] is True
    assert body["data"]["email"] == "sara@acme.com"
    assert list(body["data"]) == list(USER_FIELDS)


@pytest.mark.parametrize("user_id", ["999", "abc", "0", "-1"])
def test_an_unknown_user_is_404_in_the_error_envelope(api: PdApi, user_id: str) -> None:
    response = api.client.get(f"/v1/users/{user_id}")
    assert response.status_code == 404
    # The vendor's 404 exactly (its OpenAPI example): no other keys.
    assert response.json() == {"success": False, "error": NOT_FOUND_USER}


def test_an_unknown_endpoint_is_404_and_a_wrong_method_405(api: PdApi) -> None:
    for path in ("/v1/persons", "/v2/users", "/v1/users/101/followers", "/users"):
        response = api.client.get(path)
        assert response.status_code == 404, path
        assert response.json() == error_body("Unknown method .")
    response = api.client.delete("/v1/users/102")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, PUT"
    assert api.store.get(102) is not None


def test_me_is_the_tokens_user_with_the_company(make_api: MakeApi) -> None:
    api = make_api(company_id=42, company_name="Acme Ltd", company_domain="acme-ltd")
    data = api.client.get("/v1/users/me").json()["data"]
    assert data["id"] == 101 and data["is_you"] is True
    assert (data["company_id"], data["company_name"], data["company_domain"]) == (
        42,
        "Acme Ltd",
        "acme-ltd",
    )


def find(api: PdApi, term: str, by_email: str | None = None) -> Any:
    params = {"term": term}
    if by_email is not None:
        params["search_by_email"] = by_email
    response = api.client.get("/v1/users/find", params=params)
    assert response.status_code == 200
    data = response.json()["data"]
    return data if data is None else [u["id"] for u in data]


def test_find_matches_a_part_of_the_name_in_any_letter_case(api: PdApi) -> None:
    assert find(api, "SMITH") == [102]
    assert find(api, "l") == [101, 102, 105]
    # An invitee's name is their email: found by name too.
    assert find(api, "ex@") == [103]


def test_find_by_email_matches_only_emails(api: PdApi) -> None:
    assert find(api, "daniel@acme.com") is None
    assert find(api, "daniel@acme.com", "1") == [102]
    assert find(api, "Smith", "1") is None


def test_find_readings(make_api: MakeApi) -> None:
    exact = make_api(find_exact=True, find_empty_null=False)
    assert find(exact, "daniel@ACME.com", "1") == [102]
    assert find(exact, "daniel", "1") == []


@pytest.mark.parametrize("query", [{}, {"term": ""}, {"term": "x", "search_by_email": "yes"}])
def test_find_refuses_a_bad_query(api: PdApi, query: dict[str, str]) -> None:
    response = api.client.get("/v1/users/find", params=query)
    assert response.status_code == 400
    assert response.json()["success"] is False


def test_pages_when_the_server_pages(make_api: MakeApi) -> None:
    api = make_api(page_limit=2)
    first = api.client.get("/v1/users").json()
    assert [u["id"] for u in first["data"]] == [101, 102]
    assert first["additional_data"] == {
        "pagination": {"start": 0, "limit": 2, "more_items_in_collection": True, "next_start": 2}
    }
    last = api.client.get("/v1/users", params={"start": 4, "limit": 100}).json()
    assert [u["id"] for u in last["data"]] == [105]
    assert last["additional_data"]["pagination"]["more_items_in_collection"] is False
    assert "next_start" not in last["additional_data"]["pagination"]
    assert api.client.get("/v1/users", params={"start": "x"}).status_code == 400
    assert api.sim.tokens_spent == 3 * 20


def test_last_login_may_move_on_its_own(make_api: MakeApi) -> None:
    api = make_api(login_drift_rate=1.0)
    users = api.client.get("/v1/users").json()["data"]
    moved = {u["id"] for u in users if u["last_login"] == "2024-06-01 12:00:00"}
    # Active users who accepted their invitation: not the inactive, the deleted.
    assert moved == {101, 102, 105}
    assert api.store.get(102)["last_login"] == "2024-06-01 12:00:00"  # type: ignore[index]


# Auth


@pytest.mark.parametrize(
    ("headers", "params", "how"),
    [
        ({"x-api-token": TOKEN}, {}, "x-api-token"),
        ({"X-Api-Token": TOKEN}, {}, "x-api-token"),
        ({"Authorization": f"Bearer {TOKEN}"}, {}, "bearer"),
        ({}, {"api_token": TOKEN}, "query"),
    ],
)
def test_the_token_is_taken_from_a_header_oauth_or_the_url(
    connect: MakeApi, headers: dict[str, str], params: dict[str, str], how: str
) -> None:
    api = connect(headers=headers)
    assert api.client.get("/v1/users/me", params=params).status_code == 200
    entry = api.sim.request_log[-1]
    assert entry["auth"] == how
    assert TOKEN not in json.dumps(api.sim.request_log)
    if how == "query":
        assert entry["query"] == {"api_token": "[REDACTED]"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-api-token": "wrong"},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"x-api-token": TOKEN[:-1]},
    ],
)
def test_a_bad_or_missing_token_is_401(connect: MakeApi, headers: dict[str, str]) -> None:
    api = connect(headers=headers)
    response = api.client.get("/v1/users")
    assert response.status_code == 401
    # The vendor's 401 exactly (its OpenAPI example): no other keys.
    assert response.json() == {"success": False, "error": "unauthorized access", "errorCode": 401}
    assert api.sim.tokens_spent == 0


def test_a_wrong_token_in_the_url_is_masked_in_the_log(make_api: MakeApi) -> None:
    api = make_api(headers={})
    api.client.get("/v1/users", params={"api_token": "guess-123"})
    assert "guess-123" not in json.dumps(api.sim.request_log)


def test_tokens_of_other_users_see_themselves_and_need_admin_to_write(make_api: MakeApi) -> None:
    api = make_api(tokens={OTHER_TOKEN: 105}, headers={"x-api-token": OTHER_TOKEN})
    me = api.client.get("/v1/users/me").json()["data"]
    assert me["id"] == 105 and me["is_you"] is True
    listed = api.client.get("/v1/users").json()["data"]
    assert [u["id"] for u in listed if u["is_you"]] == [105]
    for response in (
        api.client.post("/v1/users", json={"email": "new@acme.com"}),
        api.client.put("/v1/users/102", json={"active_flag": False}),
    ):
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/json"
        assert response.json()["success"] is False
    assert api.store.live_with_email("new@acme.com") is None
    assert api.store.get(102)["active_flag"] is True  # type: ignore[index]
    assert OTHER_TOKEN not in json.dumps(api.sim.request_log)


def test_account_settings_access_is_enough_to_write(make_api: MakeApi) -> None:
    users = company()
    users[4]["access"] = [{"app": "sales"}, {"app": "account_settings"}]
    api = make_api(users=users, tokens={OTHER_TOKEN: 105}, headers={"x-api-token": OTHER_TOKEN})
    assert api.client.put("/v1/users/102", json={"active_flag": False}).status_code == 200


def test_a_token_of_an_inactive_user_is_refused(make_api: MakeApi) -> None:
    with pytest.raises(ValueError):
        make_api(tokens={"": 102})
    with pytest.raises(ValueError):
        make_api(tokens={OTHER_TOKEN: 999})
    api = make_api(tokens={OTHER_TOKEN: 103}, headers={"x-api-token": OTHER_TOKEN})
    assert api.client.get("/v1/users/me").status_code == 401


# Create


def test_create_makes_an_invited_user_named_by_their_email(api: PdApi) -> None:
    api.clock.advance(90)
    response = api.client.post("/v1/users", json={"email": "new@acme.com"})
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert list(data) == list(USER_FIELDS)
    assert data["id"] == 106
    assert data["name"] == "new@acme.com"
    assert data["active_flag"] is True and data["activated"] is False
    assert data["is_you"] is False and data["is_deleted"] is False
    assert data["created"] == data["modified"] == "2024-06-01 12:01:30"
    assert data["access"] == [
        {"app": "sales", "admin": False, "permission_set_id": permission_set_id("sales", False)}
    ]
    assert api.client.get("/v1/users/106").json()["data"] == data


def test_create_keeps_the_access_asked_for(make_api: MakeApi) -> None:
    access = [
        {"app": "sales", "permission_set_id": "62cc4d7f-4038-4352-abf3-a8c1c822b631"},
        {"app": "global", "admin": True},
        {"app": "account_settings"},
    ]
    expanded = make_api().client.post("/v1/users", json={"email": "a@acme.com", "access": access})
    assert expanded.json()["data"]["access"] == [
        {"app": "sales", "admin": False, "permission_set_id": access[0]["permission_set_id"]},
        {"app": "global", "admin": True, "permission_set_id": permission_set_id("global", True)},
        {
            "app": "account_settings",
            "admin": False,
            "permission_set_id": permission_set_id("account_settings", False),
        },
    ]
    literal = make_api(expand_access=False).client.post(
        "/v1/users", json={"email": "a@acme.com", "access": access}
    )
    assert literal.json()["data"]["access"] == access


def test_create_an_inactive_user(api: PdApi) -> None:
    data = api.client.post("/v1/users", json={"email": "n@acme.com", "active_flag": False}).json()
    assert data["data"]["active_flag"] is False


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": ""},
        {"email": 5},
        {"email": "not-an-email"},
        {"email": "a@b"},
        {"email": "n@acme.com", "access": {"app": "sales"}},
        {"email": "n@acme.com", "access": ["sales"]},
        {"email": "n@acme.com", "access": [{"admin": True}]},
        {"email": "n@acme.com", "access": [{"app": ""}]},
        {"email": "n@acme.com", "access": [{"app": 5}]},
        {"email": "n@acme.com", "access": [{"app": "sales", "admin": "true"}]},
        {"email": "n@acme.com", "access": [{"app": "sales", "permission_set_id": 7}]},
        {
            "email": "n@acme.com",
            "access": [{"app": "sales", "admin": True, "permission_set_id": "x"}],
        },
        {"email": "n@acme.com", "access": [{"app": "sales"}, {"app": "sales"}]},
        {"email": "n@acme.com", "access": [{"app": "sales", "role": "x"}]},
        {"email": "n@acme.com", "active_flag": "1"},
        {"email": "n@acme.com", "active_flag": 1},
        {"email": "n@acme.com", "active_flag": None},
    ],
)
def test_create_refuses_a_bad_body(api: PdApi, body: dict[str, Any]) -> None:
    response = api.client.post("/v1/users", json=body)
    assert response.status_code == 400, body
    assert response.json()["success"] is False and response.json()["data"] is None
    assert len(api.store) == 5


def test_create_refuses_what_is_not_json(api: PdApi) -> None:
    assert api.client.post("/v1/users", content=b"{oops").status_code == 400
    assert api.client.post("/v1/users", content=b"[]").status_code == 400
    form = api.client.post("/v1/users", data={"email": "n@acme.com", "active_flag": "1"})
    assert form.status_code == 415
    assert len(api.store) == 5


def test_a_name_is_ignored_unless_strict(make_api: MakeApi) -> None:
    lenient = make_api().client.post("/v1/users", json={"email": "n@acme.com", "name": "Nina"})
    assert lenient.status_code == 200
    assert lenient.json()["data"]["name"] == "n@acme.com"
    strict = make_api(strict_create=True)
    response = strict.client.post("/v1/users", json={"email": "n@acme.com", "name": "Nina"})
    assert response.status_code == 400
    assert "name" in response.json()["error"]
    assert strict.store.live_with_email("n@acme.com") is None


def test_a_linked_person_shows_their_real_name(make_api: MakeApi) -> None:
    api = make_api(linked_people={"Known@Elsewhere.com": "Kim Known"})
    data = api.client.post("/v1/users", json={"email": "known@elsewhere.com"}).json()["data"]
    assert data["name"] == "Kim Known" and data["activated"] is True


@pytest.mark.parametrize("email", ["daniel@acme.com", "DANIEL@ACME.COM", "ex@acme.com"])
def test_creating_an_email_already_in_the_company_is_refused(api: PdApi, email: str) -> None:
    response = api.client.post("/v1/users", json={"email": email})
    assert response.status_code == 400
    assert response.json() == error_body(DUPLICATE_EMAIL)
    assert len(api.store) == 5


def test_creating_an_existing_email_may_answer_the_existing_user(make_api: MakeApi) -> None:
    api = make_api(duplicate_email="existing")
    response = api.client.post("/v1/users", json={"email": "ex@acme.com"})
    assert response.status_code == 200
    assert response.json()["data"]["id"] == 103
    assert response.json()["data"]["active_flag"] is False
    assert len(api.store) == 5


def test_readding_a_deleted_users_email_brings_back_their_id(api: PdApi) -> None:
    data = api.client.post("/v1/users", json={"email": "GONE@acme.com"}).json()["data"]
    assert data["id"] == 104
    assert (data["is_deleted"], data["active_flag"], data["name"]) == (False, True, "Gone Person")
    assert data["email"] == "GONE@acme.com"
    assert len(api.store) == 5


def test_readding_a_deleted_users_email_may_make_a_new_user(make_api: MakeApi) -> None:
    api = make_api(readd_deleted="new-id")
    data = api.client.post("/v1/users", json={"email": "gone@acme.com"}).json()["data"]
    assert data["id"] == 106 and data["name"] == "gone@acme.com"
    both = [u for u in api.client.get("/v1/users").json()["data"] if u["email"] == "gone@acme.com"]
    assert [(u["id"], u["is_deleted"]) for u in both] == [(104, True), (106, False)]


# Update


def test_update_deactivates_and_reactivates(api: PdApi) -> None:
    api.clock.advance(60)
    response = api.client.put("/v1/users/102", json={"active_flag": False})
    assert response.status_code == 200
    data = response.json()["data"]
    assert data["active_flag"] is False and data["modified"] == "2024-06-01 12:01:00"
    assert list(data) == list(USER_FIELDS)
    assert api.store.get(102)["active_flag"] is False  # type: ignore[index]
    back = api.client.put("/api/v1/users/102", json={"active_flag": True})
    assert back.json()["data"]["active_flag"] is True


@pytest.mark.parametrize(
    "body",
    [{}, {"active_flag": "0"}, {"active_flag": "1"}, {"active_flag": 0}, {"active_flag": "false"}],
)
def test_update_needs_active_flag_as_a_json_boolean(api: PdApi, body: dict[str, Any]) -> None:
    response = api.client.put("/v1/users/102", json=body)
    assert response.status_code == 400
    assert "active_flag" in response.json()["error"]
    assert api.store.get(102)["active_flag"] is True  # type: ignore[index]


def test_other_keys_of_an_update_are_ignored_unless_strict(make_api: MakeApi) -> None:
    body = {"active_flag": False, "name": "New Name", "access": [{"app": "projects"}]}
    lenient = make_api()
    data = lenient.client.put("/v1/users/102", json=body).json()["data"]
    assert (data["active_flag"], data["name"], [a["app"] for a in data["access"]]) == (
        False,
        "Daniel Smith",
        ["sales"],
    )
    strict = make_api(strict_update=True)
    response = strict.client.put("/v1/users/102", json=body)
    assert response.status_code == 400
    assert strict.store.get(102)["active_flag"] is True  # type: ignore[index]


@pytest.mark.parametrize("user_id", ["999", "104", "x"])
def test_update_of_an_unknown_or_deleted_user_is_404(api: PdApi, user_id: str) -> None:
    response = api.client.put(f"/v1/users/{user_id}", json={"active_flag": True})
    assert response.status_code == 404
    assert response.json() == {"success": False, "error": NOT_FOUND_USER}


def test_the_tokens_user_deactivating_itself_locks_its_token_out(api: PdApi) -> None:
    assert api.client.put("/v1/users/101", json={"active_flag": False}).status_code == 200
    assert api.client.get("/v1/users").status_code == 401


def test_self_deactivation_may_be_refused(make_api: MakeApi) -> None:
    api = make_api(self_deactivation=False)
    assert api.client.put("/v1/users/101", json={"active_flag": False}).status_code == 403
    assert api.client.get("/v1/users").status_code == 200


# Seats


def test_seats_default_to_the_users_who_take_one(api: PdApi) -> None:
    assert (api.sim.seats, api.sim.seats_used, api.sim.billed_seats) == (3, 3, 3)


def test_a_create_with_no_free_seat_buys_one(api: PdApi) -> None:
    assert api.client.post("/v1/users", json={"email": "a@acme.com"}).status_code == 200
    assert (api.sim.seats_bought, api.sim.billed_seats, api.sim.seats_used) == (1, 4, 4)
    assert api.sim.request_log[-1]["seat_bought"] is True
    # An inactive user takes no seat.
    api.client.post("/v1/users", json={"email": "b@acme.com", "active_flag": False})
    assert api.sim.seats_bought == 1 and api.sim.request_log[-1]["seat_bought"] is False


def test_a_freed_seat_is_reused_and_billing_never_drops(make_api: MakeApi) -> None:
    api = make_api(seats=4)
    api.client.post("/v1/users", json={"email": "a@acme.com"})
    assert api.sim.seats_bought == 0
    api.client.put("/v1/users/102", json={"active_flag": False})
    assert (api.sim.seats_used, api.sim.billed_seats) == (3, 4)
    api.client.post("/v1/users", json={"email": "b@acme.com"})
    assert api.sim.seats_bought == 0
    # Reactivating takes a seat too: none is free, so one is bought.
    api.client.put("/v1/users/102", json={"active_flag": True})
    assert (api.sim.seats_bought, api.sim.billed_seats, api.sim.seats_used) == (1, 5, 5)


def test_with_no_seat_purchase_a_full_company_answers_402(make_api: MakeApi) -> None:
    api = make_api(seat_purchase=False)
    response = api.client.post("/v1/users", json={"email": "a@acme.com"})
    assert response.status_code == 402
    assert response.json()["success"] is False
    assert api.store.live_with_email("a@acme.com") is None
    reactivate = api.client.put("/v1/users/103", json={"active_flag": True})
    assert reactivate.status_code == 402
    assert api.store.get(103)["active_flag"] is False  # type: ignore[index]
    assert api.client.post(
        "/v1/users", json={"email": "b@acme.com", "active_flag": False}
    ).is_success
    assert api.sim.seats_bought == 0


def test_fewer_seats_than_users_who_take_one_is_refused() -> None:
    with pytest.raises(ValueError, match="2 seats are fewer than the 3"):
        PipedriveSimulator(
            PipedriveStore(company()), token=TOKEN, options=PipedriveOptions(seats=2)
        )


# Faults


def test_a_lost_answer_comes_after_the_write(make_api: MakeApi) -> None:
    api = make_api(faults=Faults(lost_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        api.client.post("/v1/users", json={"email": "a@acme.com"})
    assert api.store.live_with_email("a@acme.com") is not None
    with pytest.raises(httpx.RemoteProtocolError):
        api.client.put("/v1/users/102", json={"active_flag": False})
    assert api.store.get(102)["active_flag"] is False  # type: ignore[index]
    assert api.client.get("/v1/users").status_code == 200  # reads are never lost
    assert [e["lost"] for e in api.sim.request_log] == [True, True, False]
    assert api.sim.tokens_spent == 10 + 10 + 20


def test_failures_and_throttling_do_nothing_and_cost_nothing(make_api: MakeApi) -> None:
    failing = make_api(faults=Faults(failure_rate=1.0))
    response = failing.client.post("/v1/users", json={"email": "a@acme.com"})
    assert response.status_code == 503
    assert response.json()["success"] is False
    assert "x-ratelimit-remaining" in response.headers
    assert failing.store.live_with_email("a@acme.com") is None
    assert failing.sim.tokens_spent == 0
    throttled = make_api(faults=Faults(throttle_rate=1.0, retry_after=7))
    response = throttled.client.get("/v1/users")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"


def test_the_same_seed_gives_the_same_faults(make_api: MakeApi) -> None:
    def run(seed: int) -> list[int]:
        api = make_api(faults=Faults(failure_rate=0.3, throttle_rate=0.2, seed=seed), burst=100)
        statuses = []
        for _ in range(30):
            statuses.append(api.client.get("/v1/users/me").status_code)
            api.clock.advance(2.0)  # keep the edge and the burst window out of it
        return statuses

    assert run(5) == run(5)
    assert run(5) != run(6)
    assert {503, 429, 200} <= set(run(5))


def test_latency_is_added_to_every_authenticated_request(
    make_api: MakeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(pipedrive.time, "sleep", slept.append)
    api = make_api(faults=Faults(latency=0.25))
    api.client.get("/v1/users")
    make_api(faults=Faults(latency=0.25), headers={}).client.get("/v1/users")
    assert slept == [0.25]


def test_a_closed_account_answers_402_to_everything(make_api: MakeApi) -> None:
    api = make_api(account_closed=True)
    for response in (
        api.client.get("/v1/users"),
        api.client.post("/v1/users", json={"email": "a@acme.com"}),
    ):
        assert response.status_code == 402
        assert response.json() == error_body("Company account is not open")
    assert api.store.live_with_email("a@acme.com") is None


@pytest.mark.parametrize(
    "settings",
    [
        {"plan_multiplier": 3},
        {"seats": -1},
        {"daily_budget": -5},
        {"page_limit": 0},
        {"login_drift_rate": 1.5},
    ],
)
def test_impossible_options_are_refused(settings: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PipedriveOptions(**settings)


# -- per-user permissions and role assignments (review --details) ------------------


def test_permissions_are_the_users_flags_an_admin_holding_more(api: PdApi) -> None:
    admin = api.client.get("/v1/users/101/permissions").json()
    member = api.client.get("/v1/users/102/permissions").json()
    assert admin["success"] is True and member["success"] is True
    assert admin["data"]["can_add_custom_fields"] is True
    assert member["data"]["can_add_custom_fields"] is False
    assert set(admin["data"]) == set(member["data"])
    assert all(isinstance(flag, bool) for flag in member["data"].values())


def test_role_assignments_are_paged_as_the_vendor_pages(api: PdApi) -> None:
    first = api.client.get("/v1/users/102/roleAssignments", params={"limit": 1}).json()
    assert first["success"] is True
    assert [(a["user_id"], a["type"]) for a in first["data"]] == [(102, "direct")]
    assert first["additional_data"]["pagination"] == {
        "start": 0,
        "limit": 1,
        "more_items_in_collection": False,
    }
    odd = api.client.get("/v1/users/102/roleAssignments", params={"start": "²"})
    assert odd.status_code == 400


def test_per_user_reads_of_an_unknown_user_are_the_vendors_404(api: PdApi) -> None:
    for what in ("permissions", "roleAssignments"):
        assert api.client.get(f"/v1/users/999/{what}").status_code == 404
    assert api.client.get("/v1/users/102/secrets").status_code == 404
