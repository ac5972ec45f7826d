"""The DealHub User API, simulated: routing, auth, validation, faults, async requests.

`Simulator.handle` takes one HTTP request as plain values and returns a
`SimResponse`; the kernel's `SimTransport` and `server` (reconciler.sim) carry it over httpx
in-process or over a real socket. Status codes, bodies and messages follow the
vendor's documentation (see shared/reference).
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from reconciler.providers.dealhub.fields import (
    BOOLEAN_FIELDS,
    READ_FIELDS,
    STRING_FIELDS,
    USER_FIELDS,
    V1_LOGIN_LIMIT,
)
from reconciler.providers.dealhub.sim_state import TenantStore, User, encode_json
from reconciler.sim.faults import Faults
from reconciler.sim.request_log import RequestLog
from reconciler.sim.response import LOST, SimResponse

FORBIDDEN = "Forbidden. Invalid or missing authentication token"
NOT_FOUND_USER = "The user could not be found"
NOT_FOUND_REQUEST = "The request could not be found"
INVALID_PAYLOAD = "Invalid payload format. Supported format: JSON"

#: v1 updates predate external_user_id and business_title ("v2 introduces additional fields").
V1_FIELDS = frozenset(USER_FIELDS) - {"external_user_id", "business_title"}
V2_FIELDS = frozenset(USER_FIELDS)
_MANDATORY = ("login", "email", "name", "is_active")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")

#: An async request shows queued, then in-progress, then its outcome, one state per poll.
_ASYNC_STEPS = ("queued", "in-progress")
ASYNC_ERROR_CODE = "USER_ERRORS"


Handler = Callable[[list[str], Mapping[str, str], bytes], SimResponse]


@dataclass
class _Job:
    users: list[dict[str, Any]]
    polls: int = 0
    status: str = "queued"
    # The vendor types both error fields as strings: "" while there is no error.
    error_description: str = ""


class Simulator:
    """An in-memory DealHub User API over a `TenantStore`, safe to call from many threads.

    `request_log` records every request as method, path, query, body (parsed as
    JSON when it is), status and lost; never headers, and the token is masked
    wherever it appears. `on_request`, when given, receives each such entry too.
    """

    def __init__(
        self,
        store: TenantStore,
        *,
        token: str,
        faults: Faults | None = None,
        keep_request_log: bool = True,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if not token:
            raise ValueError("the simulator needs a non-empty token")
        self.store = store
        self.faults = faults if faults is not None else Faults()
        self._token = token
        self._log = RequestLog(self._masked, keep=keep_request_log, on_request=on_request)
        self.request_log = self._log.entries
        self._jobs: dict[str, _Job] = {}
        self._jobs_lock = threading.Lock()
        self._shown: dict[str, tuple[User, str]] = {}
        # None stands for one path parameter; methods map to handlers.
        self._routes: list[tuple[tuple[str | None, ...], dict[str, Handler]]] = [
            (("api", "v1", "users"), {"GET": self._list_users, "PUT": self._put_v1}),
            (("api", "v2", "users"), {"PUT": self._put_v2}),
            (("api", "v1", "user", "login", None), {"GET": self._get_by_login}),
            (("api", "v1", "user", "id", None), {"GET": self._get_by_id}),
            (("api", "v1", "request", None, "status"), {"GET": self._request_status}),
        ]

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SimResponse:
        """Answer one request. `path` is the raw, still percent-encoded path without query."""
        response = self._handle(method.upper(), path, query, headers, body)
        self._log.record(method.upper(), path, query, body, response)
        return response

    def _handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SimResponse:
        if not self._authorized(headers):
            return _message(403, FORBIDDEN)
        faults = self.faults
        if faults.latency:
            time.sleep(faults.latency)
        if faults.chance(faults.failure_rate):
            return _message(503, "Service Unavailable")
        if faults.chance(faults.throttle_rate):
            return _message(429, "Too Many Requests", {"Retry-After": str(faults.retry_after)})
        segments = path.split("/")
        if segments[0] != "":
            return _message(404, "Not Found")
        for pattern, methods in self._routes:
            params = _match(pattern, segments[1:])
            if params is None:
                continue
            handler = methods.get(method)
            if handler is None:
                return _message(405, "Method Not Allowed", {"Allow": ", ".join(methods)})
            return handler(params, query, body)
        return _message(404, "Not Found")

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, token = value.partition(" ")
        # compare_digest: the time taken must not tell how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            token.strip().encode(), self._token.encode()
        )

    # Reads

    def _list_users(self, _: list[str], query: Mapping[str, str], __: bytes) -> SimResponse:
        wanted: bool | None = None
        if "status" in query:
            if query["status"] not in ("active", "inactive"):
                return _message(
                    400, "status - Invalid parameter value. Valid value(s): active, inactive"
                )
            wanted = query["status"] == "active"
        parts: list[str] = []
        for user in self.store.view():
            if wanted is not None and user.get("is_active", True) is not wanted:
                continue
            # The store replaces a user's dict on every write, so an identical
            # dict means the cached JSON is still right: a large tenant's list
            # then costs a join, not a re-encoding.
            cached = self._shown.get(user["login"])
            if cached is None or cached[0] is not user:
                cached = (user, _encode(_readable(user)))
                self._shown[user["login"]] = cached
            parts.append(cached[1])
        body = "[" + ", ".join(parts) + "]"
        return SimResponse(200, {"Content-Type": "application/json"}, body.encode("utf-8"))

    def _get_by_login(self, params: list[str], _: Mapping[str, str], __: bytes) -> SimResponse:
        return _one_user(self.store.get(params[0]))

    def _get_by_id(self, params: list[str], _: Mapping[str, str], __: bytes) -> SimResponse:
        return _one_user(self.store.get_by_id(params[0]))

    def _request_status(self, params: list[str], _: Mapping[str, str], __: bytes) -> SimResponse:
        request_id = params[0]
        with self._jobs_lock:
            job = self._jobs.get(request_id)
            if job is None:
                return _message(400, NOT_FOUND_REQUEST)
            job.polls += 1
            if job.status in _ASYNC_STEPS:
                if job.polls <= len(_ASYNC_STEPS):
                    job.status = _ASYNC_STEPS[job.polls - 1]
                else:
                    self._finish(job)
            failed = job.status == "failed"
            return _json(
                200,
                {
                    "request_id": request_id,
                    "status": job.status,
                    "error_description": job.error_description,
                    "error_code": ASYNC_ERROR_CODE if failed else "",
                },
            )

    # Writes

    def _put_v1(self, _: list[str], __: Mapping[str, str], body: bytes) -> SimResponse:
        return self._put(body, version=1)

    def _put_v2(self, _: list[str], __: Mapping[str, str], body: bytes) -> SimResponse:
        return self._put(body, version=2)

    def _put(self, body: bytes, *, version: int) -> SimResponse:
        users = _users_payload(body)
        if isinstance(users, SimResponse):
            return users
        limit = self.faults.max_batch
        if limit is not None and len(users) > limit:
            # The vendor's message shape for a limit, applied to the users array.
            return _message(
                400,
                f"The request parameter users exceeds its limits. Allowed maximum length: {limit}",
            )
        if version == 2 and self.faults.async_mode:
            return self._enqueue(users)
        errors = self._write(users, version)
        if self.faults.chance(self.faults.lost_rate):
            return LOST
        if errors:
            return _json(200, {"errors": errors})
        return SimResponse(200)

    def _enqueue(self, users: list[dict[str, Any]]) -> SimResponse:
        job = _Job(users)
        with self._jobs_lock:
            request_id = self.faults.request_id()
            while request_id in self._jobs:
                request_id = self.faults.request_id()
            self._jobs[request_id] = job
            if self.faults.chance(self.faults.lost_rate):
                # Nobody will poll a request whose id was lost: the service still
                # processes it, so apply it now rather than never.
                self._finish(job)
                return LOST
        return _json(200, {"request_id": request_id})

    def _finish(self, job: _Job) -> None:
        errors = self._write(job.users, 2)
        job.users = []
        if errors:
            job.status = "failed"
            job.error_description = "; ".join(f"{e['login']}: {e['message']}" for e in errors)
        else:
            job.status = "done"

    def _write(self, users: list[dict[str, Any]], version: int) -> list[dict[str, Any]]:
        """Apply the valid users of one request; return the per-user errors in request order.

        Each user is applied whole or not at all. A manager may be a tenant user
        or a user of the same request that is itself applied.
        """
        failures: dict[int, str] = {}
        with self.store.lock:
            accepted: dict[int, dict[str, Any]] = {}
            for index, raw in enumerate(users):
                problem = self._check(raw, version)
                if problem is None:
                    accepted[index] = raw
                else:
                    failures[index] = problem
            # A user whose manager is rejected would point at nobody: reject it
            # too, until what remains is consistent.
            while True:
                logins = {raw["login"] for raw in accepted.values()}
                orphans = [
                    index
                    for index, raw in accepted.items()
                    if raw.get("user_manager_login")
                    and raw["user_manager_login"] not in self.store
                    and raw["user_manager_login"] not in logins
                ]
                if not orphans:
                    break
                for index in orphans:
                    failures[index] = (
                        "user_manager_login - Invalid parameter value. "
                        "Valid value(s): an existing user login"
                    )
                    del accepted[index]
            staged: dict[str, User] = {}
            for raw in accepted.values():
                base = staged.get(raw["login"]) or self.store.get(raw["login"]) or {}
                staged[raw["login"]] = _merged(base, raw)
            if staged:
                self.store.put(staged.values())
        return [
            {"login": users[index].get("login"), "message": failures[index]}
            for index in sorted(failures)
        ]

    def _check(self, raw: dict[str, Any], version: int) -> str | None:
        """The vendor's message for the first problem of one user, or None."""
        allowed = V2_FIELDS if version == 2 else V1_FIELDS
        for key in raw:
            if key not in allowed:
                return f"Unrecognized parameter: {key}"
        required = list(_MANDATORY)
        if version == 2 and self.faults.require_external_id:
            required.append("external_user_id")
        missing = [name for name in required if raw.get(name) is None or raw.get(name) == ""]
        if missing:
            return f"Request payload missing mandatory field(s): {', '.join(missing)}"
        for key, value in raw.items():
            if key in BOOLEAN_FIELDS:
                if not isinstance(value, bool):
                    return f"{key} - Invalid parameter value. Valid value(s): true, false"
                continue
            if not isinstance(value, str):
                return f"{key} - Invalid parameter value. Valid value(s): a string"
            limit = V1_LOGIN_LIMIT if key == "login" and version == 1 else STRING_FIELDS[key]
            if limit is not None and len(value) > limit:
                return (
                    f"The request parameter {key} exceeds its limits. "
                    f"Allowed maximum length: {limit}"
                )
        if not _EMAIL.fullmatch(raw["email"]):
            return "email - Invalid parameter value. Valid value(s): an email address"
        login = raw["login"]
        if login not in self.store:
            if version == 1:
                return NOT_FOUND_USER
            if login in self.faults.taken_logins:
                return (
                    "login - Invalid parameter value. "
                    "Valid value(s): a login not used by another DealHub tenant"
                )
        return None

    # Logging

    def _masked(self, text: str) -> str:
        # A path carries the token percent-encoded, as a client quotes an id.
        for form in (self._token, quote(self._token, safe="")):
            text = text.replace(form, "[REDACTED]")
        return text


def _match(pattern: tuple[str | None, ...], segments: list[str]) -> list[str] | None:
    if len(pattern) != len(segments):
        return None
    params: list[str] = []
    for expected, segment in zip(pattern, segments, strict=True):
        if expected is None:
            value = unquote(segment)
            if not value:
                return None
            params.append(value)
        elif expected != segment:
            return None
    return params


def _users_payload(body: bytes) -> list[dict[str, Any]] | SimResponse:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _message(400, INVALID_PAYLOAD)
    if not isinstance(payload, dict) or not isinstance(payload.get("users"), list):
        return _message(400, INVALID_PAYLOAD)
    for key in payload:
        if key != "users":
            return _message(400, f"Unrecognized parameter: {key}")
    users: list[dict[str, Any]] = payload["users"]
    if not all(isinstance(u, dict) for u in users):
        return _message(400, INVALID_PAYLOAD)
    return users


def _merged(base: User, raw: Mapping[str, Any]) -> User:
    # Left-out fields stay as they were; an empty string clears a field.
    user = dict(base)
    for key, value in raw.items():
        if value == "":
            user.pop(key, None)
        else:
            user[key] = value
    return user


def _readable(user: User) -> dict[str, Any]:
    """The user as the read endpoints show it: no external_user_id, no empty fields."""
    shown: dict[str, Any] = {}
    for key in READ_FIELDS:
        value = user.get(key)
        if value is not None and value != "":
            shown[key] = value
    shown.setdefault("is_active", True)
    return shown


def _one_user(user: User | None) -> SimResponse:
    if user is None:
        return _message(400, NOT_FOUND_USER)
    return _json(200, _readable(user))


# Escaped as every output of the tool is: a lone surrogate cannot break an answer.
_encode = encode_json


def _json(status: int, payload: Any, headers: dict[str, str] | None = None) -> SimResponse:
    return SimResponse(
        status,
        {"Content-Type": "application/json", **(headers or {})},
        _encode(payload).encode("utf-8"),
    )


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> SimResponse:
    return _json(status, {"message": message}, headers)
