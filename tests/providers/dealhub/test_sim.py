"""The simulated endpoints, status codes, messages and faults, in-process and over a socket."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest

from reconciler.providers.dealhub.fields import STRING_FIELDS, V1_LOGIN_LIMIT
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.faults import Faults

from .conftest import AUTH, TOKEN, Api, Connect, sample_users, user

FORBIDDEN = {"message": "Forbidden. Invalid or missing authentication token"}
NOT_FOUND = {"message": "The user could not be found"}
INVALID = {"message": "Invalid payload format. Supported format: JSON"}
MANAGER = "user_manager_login - Invalid parameter value. Valid value(s): an existing user login"


def put(api: Api, users: list[dict[str, Any]], version: int = 2) -> httpx.Response:
    return api.client.put(f"/api/v{version}/users", json={"users": users})


def errors(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200
    if not response.content:
        return []
    body: list[dict[str, Any]] = response.json()["errors"]
    return body


# Reads


def test_list_users_returns_a_bare_array_without_nulls_or_external_id(api: Api) -> None:
    response = api.client.get("/api/v1/users")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    users = response.json()
    assert [u["login"] for u in users] == ["roy@acme", "daniel@acme", "ex@acme"]
    assert users[0] == {
        "login": "roy@acme",
        "id": "1001",
        "email": "roy@acme.com",
        "name": "Roy Levi",
        "is_active": True,
        "position": "VP Sales",
    }
    assert all("external_user_id" not in u for u in users)


@pytest.mark.parametrize(
    ("status", "logins"),
    [("active", ["roy@acme", "daniel@acme"]), ("inactive", ["ex@acme"])],
)
def test_list_users_filters_by_status(api: Api, status: str, logins: list[str]) -> None:
    response = api.client.get("/api/v1/users", params={"status": status})
    assert [u["login"] for u in response.json()] == logins


@pytest.mark.parametrize("status", ["all", "", "Active"])
def test_list_users_rejects_another_status(api: Api, status: str) -> None:
    response = api.client.get("/api/v1/users", params={"status": status})
    assert response.status_code == 400
    assert "status - Invalid parameter value" in response.json()["message"]


def test_list_users_shows_every_write(api: Api) -> None:
    before = api.client.get("/api/v1/users").json()
    put(api, [user("roy@acme", email="roy@acme.com", position="CEO"), user("new@acme")])
    after = api.client.get("/api/v1/users").json()
    assert [u["login"] for u in after] == [u["login"] for u in before] + ["new@acme"]
    assert before[0]["position"] == "VP Sales" and after[0]["position"] == "CEO"
    assert after[1:3] == before[1:3]


def test_get_user_by_login_and_by_id(api: Api) -> None:
    by_login = api.client.get("/api/v1/user/login/daniel@acme")
    by_id = api.client.get("/api/v1/user/id/1002")
    assert by_login.status_code == by_id.status_code == 200
    assert by_login.json() == by_id.json()
    assert by_login.json()["user_manager_login"] == "roy@acme"
    assert "external_user_id" not in by_login.json()


def test_get_user_by_login_decodes_the_path(connect: Connect) -> None:
    api = connect(users=[user("a b/c+d@acme")])
    response = api.client.get("/api/v1/user/login/a%20b%2Fc+d@acme")
    assert response.status_code == 200
    assert response.json()["login"] == "a b/c+d@acme"


@pytest.mark.parametrize("path", ["/api/v1/user/login/nobody@acme", "/api/v1/user/id/999"])
def test_unknown_user_is_a_400_not_a_404(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 400
    assert response.json() == NOT_FOUND


# Auth, routing


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"X-Api-Token": TOKEN}],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/users"),
        ("PUT", "/api/v2/users"),
        ("GET", "/api/v1/user/login/roy@acme"),
        ("GET", "/api/v1/request/0123456789/status"),
    ],
)
def test_every_call_needs_the_bearer_token(
    connect: Connect, headers: dict[str, str], method: str, path: str
) -> None:
    api = connect(headers=headers)
    response = api.client.request(method, path, json={"users": [user("new@acme")]})
    assert response.status_code == 403
    assert response.json() == FORBIDDEN
    assert "new@acme" not in api.store


def test_the_auth_scheme_is_case_insensitive(connect: Connect) -> None:
    api = connect(headers={"authorization": f"bearer {TOKEN}"})
    assert api.client.get("/api/v1/users").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v3/users", "/api/v1/users/", "/api/v1/user/login/", "/api/v1/user", "/"]
)
def test_unknown_path_is_404(api: Api, path: str) -> None:
    response = api.client.get(path)
    assert response.status_code == 404
    assert "message" in response.json()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/users", "GET, PUT"),
        ("POST", "/api/v2/users", "PUT"),
        ("GET", "/api/v2/users", "PUT"),
        ("PUT", "/api/v1/user/id/1001", "GET"),
    ],
)
def test_wrong_method_is_405(api: Api, method: str, path: str, allowed: str) -> None:
    response = api.client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert len(api.store) == 3


# v2 writes


def test_v2_creates_a_user_with_a_new_numeric_id(api: Api) -> None:
    response = put(api, [user("new@acme", external_user_id="005XX9", position="AE")])
    assert response.status_code == 200
    assert response.content == b""
    created = api.client.get("/api/v1/user/login/new@acme").json()
    assert created["id"].isdigit()
    assert created["id"] not in {"1001", "1002", "1003"}
    assert created["position"] == "AE"
    assert "external_user_id" not in created
    stored = api.store.get("new@acme")
    assert stored is not None and stored["external_user_id"] == "005XX9"


def test_v2_ids_are_unique(api: Api) -> None:
    put(api, [user(f"u{i}@acme") for i in range(5)])
    put(api, [user("u5@acme")])
    ids = [u["id"] for u in api.client.get("/api/v1/users").json()]
    assert len(ids) == len(set(ids)) == 9


def test_v2_update_keeps_fields_left_out_and_clears_empty_strings(api: Api) -> None:
    update = {
        "login": "daniel@acme",
        "email": "daniel@acme.com",
        "name": "Daniel Smith",
        "is_active": True,
        "phone": "",
        "position": "Sales",
    }
    assert errors(put(api, [update])) == []
    after = api.client.get("/api/v1/user/login/daniel@acme").json()
    assert after["id"] == "1002"
    assert after["position"] == "Sales"
    assert after["user_manager_login"] == "roy@acme"
    assert "phone" not in after
    stored = api.store.get("daniel@acme")
    assert stored is not None and stored["external_user_id"] == "005XX000001"


def test_v2_reactivates_and_deactivates(api: Api) -> None:
    payload = [
        user("ex@acme", email="ex@acme.com", is_active=True),
        user("daniel@acme", email="daniel@acme.com", is_active=False),
    ]
    assert errors(put(api, payload)) == []
    active = api.client.get("/api/v1/users", params={"status": "active"}).json()
    assert sorted(u["login"] for u in active) == ["ex@acme", "roy@acme"]


def test_per_user_errors_come_with_the_valid_users_applied(api: Api) -> None:
    payload = [
        user("ok1@acme"),
        user("bad@acme", is_active="yes"),
        user("ok2@acme", user_manager_login="ok1@acme"),
        {"login": "incomplete@acme"},
    ]
    found = errors(put(api, payload))
    assert found == [
        {
            "login": "bad@acme",
            "message": "is_active - Invalid parameter value. Valid value(s): true, false",
        },
        {
            "login": "incomplete@acme",
            "message": "Request payload missing mandatory field(s): email, name, is_active",
        },
    ]
    assert "ok1@acme" in api.store and "ok2@acme" in api.store
    assert "bad@acme" not in api.store and "incomplete@acme" not in api.store


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": ""}, "Request payload missing mandatory field(s): name"),
        ({"email": None}, "Request payload missing mandatory field(s): email"),
        ({"is_active": "true"}, "is_active - Invalid parameter value. Valid value(s): true, false"),
        ({"is_active": 1}, "is_active - Invalid parameter value. Valid value(s): true, false"),
        ({"nickname": "Bob"}, "Unrecognized parameter: nickname"),
        ({"id": "55"}, "Unrecognized parameter: id"),
        ({"position": 5}, "position - Invalid parameter value. Valid value(s): a string"),
        ({"phone": None}, "phone - Invalid parameter value. Valid value(s): a string"),
        (
            {"email": "not-an-email"},
            "email - Invalid parameter value. Valid value(s): an email address",
        ),
        ({"user_manager_login": "ghost@acme"}, MANAGER),
    ],
)
def test_v2_validation_messages(api: Api, fields: dict[str, Any], message: str) -> None:
    found = errors(put(api, [user("new@acme", **fields)]))
    assert found == [{"login": "new@acme", "message": message}]
    assert "new@acme" not in api.store


LIMITED = sorted((name, limit) for name, limit in STRING_FIELDS.items() if limit is not None)


@pytest.mark.parametrize(("field", "limit"), LIMITED)
def test_v2_length_limits_come_from_the_field_table(api: Api, field: str, limit: int) -> None:
    def value(length: int) -> str:
        if field == "email":
            return "a" * (length - len("@acme.com")) + "@acme.com"
        return "x" * length

    at_limit = {**user("limit@acme"), field: value(limit)}
    over = {**user("over@acme"), field: value(limit + 1)}
    if field == "user_manager_login":
        managers = [user(value(limit), email="m1@acme.com"), user(value(limit + 1))]
        api.store.put(managers)  # the store takes what the API would refuse
    found = errors(put(api, [at_limit, over]))
    assert found == [
        {
            "login": over["login"],
            "message": f"The request parameter {field} exceeds its limits. "
            f"Allowed maximum length: {limit}",
        }
    ]
    assert at_limit["login"] in api.store
    assert over["login"] not in api.store


def test_a_user_is_applied_whole_or_not_at_all(api: Api) -> None:
    change = user("daniel@acme", email="daniel@acme.com", position="Boss", city="x" * 33)
    found = errors(put(api, [change]))
    assert found[0]["message"].startswith("The request parameter city exceeds its limits")
    stored = api.store.get("daniel@acme")
    assert stored is not None and stored["position"] == "CCS" and "city" not in stored


def test_a_manager_may_be_created_in_the_same_request_after_its_report(api: Api) -> None:
    payload = [user("report@acme", user_manager_login="boss@acme"), user("boss@acme")]
    assert errors(put(api, payload)) == []
    stored = api.store.get("report@acme")
    assert stored is not None and stored["user_manager_login"] == "boss@acme"


def test_a_manager_rejected_in_the_same_request_rejects_its_reports(api: Api) -> None:
    payload = [
        user("boss@acme", name=""),
        user("report@acme", user_manager_login="boss@acme"),
        user("report2@acme", user_manager_login="report@acme"),
    ]
    found = errors(put(api, payload))
    assert [e["login"] for e in found] == ["boss@acme", "report@acme", "report2@acme"]
    assert found[1]["message"] == found[2]["message"] == MANAGER
    assert len(api.store) == 3


def test_clearing_the_manager_is_allowed(api: Api) -> None:
    assert errors(put(api, [user("daniel@acme", user_manager_login="")])) == []
    stored = api.store.get("daniel@acme")
    assert stored is not None and "user_manager_login" not in stored


def test_a_login_of_another_tenant_cannot_be_created(connect: Connect) -> None:
    api = connect(faults=Faults(taken_logins={"taken@acme", "roy@acme"}))
    found = errors(put(api, [user("taken@acme"), user("free@acme"), user("roy@acme")]))
    assert [e["login"] for e in found] == ["taken@acme"]
    assert "login - Invalid parameter value" in found[0]["message"]
    assert "free@acme" in api.store and "taken@acme" not in api.store


def test_v2_login_limit_is_90_but_v1_accepts_100(connect: Connect) -> None:
    long_login = "l" * 95
    api = connect(users=[user(long_login)])
    v2 = errors(put(api, [user(long_login, position="A")]))
    assert v2[0]["message"].endswith("Allowed maximum length: 90")
    assert errors(put(api, [user(long_login, position="B")], version=1)) == []
    too_long = errors(put(api, [user("l" * (V1_LOGIN_LIMIT + 1))], version=1))
    assert too_long[0]["message"].endswith(f"Allowed maximum length: {V1_LOGIN_LIMIT}")
    stored = api.store.get(long_login)
    assert stored is not None and stored["position"] == "B"


@pytest.mark.parametrize("required", [False, True])
def test_external_user_id_is_required_only_when_asked(connect: Connect, required: bool) -> None:
    api = connect(faults=Faults(require_external_id=required))
    found = errors(put(api, [user("a@acme"), user("b@acme", external_user_id="005")]))
    if required:
        assert found == [
            {
                "login": "a@acme",
                "message": "Request payload missing mandatory field(s): external_user_id",
            }
        ]
    else:
        assert found == []
    assert "b@acme" in api.store


@pytest.mark.parametrize(
    "body",
    [b"not json", b"", b"[]", b'{"user": []}', b'{"users": {}}', b'{"users": [1]}', b"\xff"],
)
@pytest.mark.parametrize("version", [1, 2])
def test_invalid_payload_is_400(api: Api, body: bytes, version: int) -> None:
    response = api.client.put(f"/api/v{version}/users", content=body)
    assert response.status_code == 400
    assert response.json() == INVALID


def test_unknown_top_level_key_is_400(api: Api) -> None:
    response = api.client.put("/api/v2/users", json={"users": [user("x@acme")], "mode": "x"})
    assert response.status_code == 400
    assert response.json() == {"message": "Unrecognized parameter: mode"}
    assert "x@acme" not in api.store


# v1 writes


def test_v1_updates_existing_users_only(api: Api) -> None:
    payload = [
        user("roy@acme", email="roy@acme.com", position="CEO"),
        user("ghost@acme"),
    ]
    found = errors(put(api, payload, version=1))
    assert found == [{"login": "ghost@acme", "message": "The user could not be found"}]
    stored = api.store.get("roy@acme")
    assert stored is not None and stored["position"] == "CEO"
    assert "ghost@acme" not in api.store


@pytest.mark.parametrize("field", ["external_user_id", "business_title"])
def test_v1_does_not_know_the_v2_fields(api: Api, field: str) -> None:
    found = errors(put(api, [user("roy@acme", **{field: "x"})], version=1))
    assert found == [{"login": "roy@acme", "message": f"Unrecognized parameter: {field}"}]


def test_v1_success_is_an_empty_200(api: Api) -> None:
    response = put(api, [user("roy@acme", email="roy@acme.com")], version=1)
    assert response.status_code == 200
    assert response.content == b""


# Faults


def test_latency_delays_each_request(connect: Connect) -> None:
    api = connect(faults=Faults(latency=0.2))
    started = time.monotonic()
    api.client.get("/api/v1/users")
    assert time.monotonic() - started >= 0.15


def test_failure_rate_answers_503_without_writing(connect: Connect) -> None:
    api = connect(faults=Faults(failure_rate=1.0))
    response = put(api, [user("new@acme")])
    assert response.status_code == 503
    assert "message" in response.json()
    assert "new@acme" not in api.store


@pytest.mark.parametrize("retry_after", [0, 7])
def test_throttle_answers_429_with_retry_after(connect: Connect, retry_after: int) -> None:
    api = connect(faults=Faults(throttle_rate=1.0, retry_after=retry_after))
    response = put(api, [user("new@acme")])
    assert response.status_code == 429
    assert response.headers["retry-after"] == str(retry_after)
    assert "new@acme" not in api.store
    assert api.client.get("/api/v1/users").status_code == 429


def test_auth_is_checked_before_faults(connect: Connect) -> None:
    api = connect(faults=Faults(failure_rate=1.0), headers={})
    assert api.client.get("/api/v1/users").status_code == 403


def test_a_lost_answer_still_writes(connect: Connect) -> None:
    api = connect(faults=Faults(lost_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        put(api, [user("new@acme")])
    assert "new@acme" in api.store
    # Reads are never lost.
    assert api.client.get("/api/v1/user/login/new@acme").status_code == 200
    assert api.sim.request_log[0]["lost"] is True


def test_faults_are_deterministic_for_a_seed(connect: Connect) -> None:
    def statuses() -> list[int]:
        api = connect(faults=Faults(failure_rate=0.3, throttle_rate=0.3, seed=42))
        return [api.client.get("/api/v1/users").status_code for _ in range(40)]

    first = statuses()
    assert first == statuses()
    assert {200, 429, 503} <= set(first)


def test_max_batch_refuses_a_larger_put(connect: Connect) -> None:
    api = connect(faults=Faults(max_batch=2))
    response = put(api, [user(f"u{i}@acme") for i in range(3)])
    assert response.status_code == 400
    assert response.json()["message"].endswith("Allowed maximum length: 2")
    assert len(api.store) == 3
    assert errors(put(api, [user(f"u{i}@acme") for i in range(2)])) == []
    assert len(api.store) == 5


def poll(api: Api, request_id: str) -> dict[str, Any]:
    response = api.client.get(f"/api/v1/request/{request_id}/status")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_async_request_goes_queued_in_progress_done(connect: Connect) -> None:
    api = connect(faults=Faults(async_mode=True))
    response = put(api, [user("new@acme")])
    assert response.status_code == 200
    request_id = response.json()["request_id"]
    assert re.fullmatch(r"[0-9A-F]{10}", request_id)
    assert "new@acme" not in api.store
    first = poll(api, request_id)
    assert first == {
        "request_id": request_id,
        "status": "queued",
        "error_description": "",
        "error_code": "",
    }
    assert poll(api, request_id)["status"] == "in-progress"
    assert "new@acme" not in api.store
    assert poll(api, request_id)["status"] == "done"
    assert "new@acme" in api.store
    assert poll(api, request_id)["status"] == "done"


def test_async_status_error_fields_are_always_strings(connect: Connect) -> None:
    """The vendor types error_description and error_code as strings: never null."""
    api = connect(faults=Faults(async_mode=True))
    good = put(api, [user("new@acme")]).json()["request_id"]
    bad = put(api, [user("bad@acme", city="c" * 40)]).json()["request_id"]
    answers = [poll(api, request_id) for request_id in (good, bad) for _ in range(4)]
    phases = ["queued", "in-progress"]
    assert [a["status"] for a in answers] == [*phases, "done", "done", *phases, "failed", "failed"]
    for answer in answers:
        assert isinstance(answer["error_description"], str)
        assert isinstance(answer["error_code"], str)
    assert answers[2]["error_code"] == answers[2]["error_description"] == ""
    assert answers[6]["error_code"] and answers[6]["error_description"]


def test_async_request_with_invalid_users_fails_after_applying_the_valid_ones(
    connect: Connect,
) -> None:
    api = connect(faults=Faults(async_mode=True))
    payload = [user("good@acme"), user("bad@acme", city="c" * 40), user("worse@acme", x=1)]
    request_id = put(api, payload).json()["request_id"]
    statuses = [poll(api, request_id) for _ in range(3)]
    final = statuses[-1]
    assert final["status"] == "failed"
    assert final["error_code"]
    assert final["error_description"] == (
        "bad@acme: The request parameter city exceeds its limits. Allowed maximum length: 32; "
        "worse@acme: Unrecognized parameter: x"
    )
    assert "good@acme" in api.store and "bad@acme" not in api.store


def test_async_unknown_request_id_is_400(connect: Connect) -> None:
    api = connect(faults=Faults(async_mode=True))
    response = api.client.get("/api/v1/request/0000000000/status")
    assert response.status_code == 400
    assert "message" in response.json()


def test_async_mode_still_checks_the_payload_and_v1_stays_synchronous(connect: Connect) -> None:
    api = connect(faults=Faults(async_mode=True, max_batch=1))
    assert api.client.put("/api/v2/users", content=b"{").status_code == 400
    assert put(api, [user("a@acme"), user("b@acme")]).status_code == 400
    v1 = put(api, [user("roy@acme", email="roy@acme.com", position="CEO")], version=1)
    assert v1.status_code == 200 and v1.content == b""
    stored = api.store.get("roy@acme")
    assert stored is not None and stored["position"] == "CEO"


def test_a_throttled_poll_does_not_advance_the_request() -> None:
    faults = Faults(async_mode=True)
    sim = Simulator(TenantStore(sample_users()), token=TOKEN, faults=faults)
    body = json.dumps({"users": [user("new@acme")]}).encode()
    request_id = json.loads(sim.handle("PUT", "/api/v2/users", {}, AUTH, body).body)["request_id"]
    path = f"/api/v1/request/{request_id}/status"
    faults.throttle_rate = 1.0
    assert sim.handle("GET", path, {}, AUTH, b"").status == 429
    faults.throttle_rate = 0.0
    first = json.loads(sim.handle("GET", path, {}, AUTH, b"").body)
    assert first["status"] == "queued"


def test_a_lost_async_request_is_still_applied(connect: Connect) -> None:
    api = connect(faults=Faults(async_mode=True, lost_rate=1.0))
    with pytest.raises(httpx.RemoteProtocolError):
        put(api, [user("new@acme")])
    assert "new@acme" in api.store


# Request log


def test_request_log_records_requests_but_never_the_token(api: Api) -> None:
    put(api, [user("new@acme")])
    api.client.get("/api/v1/users", params={"status": "active", "api_token": TOKEN})
    api.client.put("/api/v2/users", content=f"token {TOKEN}".encode())
    log = api.sim.request_log
    assert log[0] == {
        "method": "PUT",
        "path": "/api/v2/users",
        "query": {},
        "body": {"users": [user("new@acme")]},
        "status": 200,
        "lost": False,
    }
    assert log[1]["query"]["status"] == "active"
    assert log[2]["status"] == 400
    assert TOKEN not in json.dumps(log)
    assert "Authorization" not in json.dumps(log)


def test_request_log_masks_a_token_percent_encoded_in_the_path() -> None:
    token = "tok/with+signs"
    sim = Simulator(TenantStore(sample_users()), token=token)
    auth = {"Authorization": f"Bearer {token}"}
    sim.handle("GET", "/api/v1/request/tok%2Fwith%2Bsigns/status", {}, auth, b"")
    assert sim.request_log[0]["path"] == "/api/v1/request/[REDACTED]/status"


def test_handle_takes_plain_values() -> None:
    sim = Simulator(TenantStore(sample_users()), token=TOKEN)
    response = sim.handle("get", "/api/v1/users", {"status": "inactive"}, AUTH, b"")
    assert response.status == 200 and not response.lost
    assert [u["login"] for u in json.loads(response.body)] == ["ex@acme"]


def test_an_empty_token_is_refused() -> None:
    with pytest.raises(ValueError):
        Simulator(TenantStore(), token="")
