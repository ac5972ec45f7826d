"""The DealHub User API client.

Reads are `GET /api/v1/users` (the whole tenant in one call), writes
`PUT /api/v2/users`, async requests are followed on
`GET /api/v1/request/{id}/status`. Nothing else is ever sent. The v2 upsert is
idempotent (same login, same fields), so a write whose answer was lost is
retried safely. The plumbing (retries, deadline, size cap, masking) is
reconciler.http's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler import redact
from reconciler.errors import ResponseError
from reconciler.http import (
    DEFAULT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    Answer,
    JsonClient,
    RetryPolicy,
    TokenSource,
    open_http,
)
from reconciler.interning import Interner
from reconciler.providers.dealhub.fields import READ_FIELDS

#: What an asynchronous request id may be before it goes into a URL path: the
#: vendor shows ten hex digits (`4D114DAD97`) and a UUID; letters, digits, `-`
#: and `_`, at most 64 of them, cover both and leave nothing to escape.
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass
class UpsertAnswer:
    """What one PUT /api/v2/users answered.

    kind: "ok" (every user done), "errors" (per-user failures in `errors`),
    "async" (follow `request_id`), "rejected" (HTTP 400: the whole batch),
    "unknown" (a 200 whose body we cannot read: verification decides).
    `request_id` is shaped like an id (REQUEST_ID) and holds no token, or the
    answer is "unknown": only such an id is ever put in a URL.
    """

    kind: str
    errors: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    message: str = ""


class DealHubClient(JsonClient):
    """A client for the DealHub User API (see the module docstring)."""

    # -- the calls ------------------------------------------------------------

    def get(self, path: str, *, kind: str) -> Answer:
        """One GET through the client's request loop (leave's single-user read)."""
        return self._send("GET", path, kind=kind)

    def list_users(self) -> list[dict[str, Any]]:
        """Every user of the tenant, in one `GET /api/v1/users`, checked before anyone diffs it."""
        answer = self._send("GET", "/api/v1/users", kind="read")
        if answer.status != 200:
            raise self._unexpected(answer)
        data = self._json(answer)
        where = f"{self.target} answered GET /api/v1/users"
        if not isinstance(data, list):
            raise ResponseError(
                f"{where} with {self._kind(data)}, not the list of users the API returns"
            )
        _check_users(data, where, token_seen=answer.held_secret)
        return data

    def upsert_users(self, users: list[dict[str, Any]]) -> UpsertAnswer:
        """One `PUT /api/v2/users` of a batch; see UpsertAnswer for the outcomes."""
        answer = self._send("PUT", "/api/v2/users", kind="write", json_body={"users": users})
        if answer.status in (400, 413, 422):
            return UpsertAnswer("rejected", message=self._message(answer))
        if answer.status // 100 != 2:
            raise self._unexpected(answer)
        if not answer.body.strip():
            return UpsertAnswer("ok")
        try:
            data = answer.json()
        except ValueError:
            return UpsertAnswer("unknown", message="the answer was not JSON")
        if isinstance(data, dict):
            if "request_id" in data:
                return _async(answer.raw_json()["request_id"])
            errors = data.get("errors")
            if isinstance(errors, list) and errors:
                found: dict[str, str] = {}
                for item in errors:
                    if isinstance(item, dict) and isinstance(item.get("login"), str):
                        found[item["login"]] = str(item.get("message") or "rejected")
                if found:
                    return UpsertAnswer("errors", errors=found)
                return UpsertAnswer("unknown", message=f"unreadable errors: {errors!r}"[:300])
            return UpsertAnswer("ok")
        return UpsertAnswer("unknown", message="the answer was not a JSON object")

    def request_status(self, request_id: str) -> dict[str, Any]:
        """The state of an asynchronous request, by the id `upsert_users` gave.

        The id is checked again (REQUEST_ID, no token in it) before it goes into
        the URL: ResponseError, and nothing sent, for any other.
        """
        problem = request_id_problem(request_id)
        if problem is not None:
            raise ResponseError(f"{self.target} gave a request_id that {problem}: not polled")
        path = f"/api/v1/request/{request_id}/status"
        answer = self._send("GET", path, kind="status")
        if answer.status != 200:
            raise self._unexpected(answer)
        data = self._json(answer)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise ResponseError(
                f"{self.target} answered the status of request {request_id} with "
                f"{self._kind(data)}, not a status object"
            )
        return data


def request_id_problem(raw: Any) -> str | None:
    """Why `raw` may not go into a URL as a request id, or None when it may.

    It must be a string shaped like an id (REQUEST_ID) and hold no registered
    token: a server that answers with the token as its id must not make the
    tool put the token in a URL path.
    """
    if not isinstance(raw, str):
        return f"is {_describe(raw)}, not a string"
    if redact.redact(raw) != raw:
        return "contains the API token"
    if not REQUEST_ID.fullmatch(raw):
        shown = _quoted(raw)
        return f"is not shaped like an id (1 to 64 letters, digits, '-' or '_'): {shown}"
    return None


def _async(raw: Any) -> UpsertAnswer:
    """An asynchronous write's answer: its id to poll, or "unknown" when it cannot be polled."""
    if type(raw) is int and raw >= 0:
        raw = str(raw)  # a number is shaped like an id too
    problem = request_id_problem(raw)
    if problem is not None:
        # Verification decides what was written; the message names no token (see above).
        return UpsertAnswer("unknown", message=f"a request_id that {problem}"[:300])
    return UpsertAnswer("async", request_id=raw)


def _check_users(data: list[Any], where: str, *, token_seen: bool) -> None:
    """Refuse a user list the diff could misread: one sentence naming the first problem."""
    seen: set[str] = set()
    # Every value is looked at here anyway: one copy of each repeated one (a company,
    # a city, a title) is what the plan then holds, not one per user.
    strings = Interner()
    for i, user in enumerate(data):
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or not login:
            raise ResponseError(
                f"{where} with an entry #{i} that is not a user object with a login"
            )
        if login in seen:
            raise ResponseError(f"{where} with a user list that lists login {_quoted(login)} twice")
        seen.add(login)
        if token_seen and redact.MASK in login:
            # Writing to the masked login would create a user nobody asked for.
            raise ResponseError(f"{where} with a user whose login contains the API token")
        share = strings.sharer()
        for key, value in user.items():
            if type(value) is str:
                # The same key, an equal value: the dict keeps its size while walked.
                user[key] = share(value, value)
            if value is None or type(value) is (bool if key == "is_active" else str):
                continue
            problem = _field_problem(key, value)
            if problem:
                raise ResponseError(f"{where} with user {_quoted(login)} whose {key} is {problem}")


def _field_problem(key: str, value: Any) -> str | None:
    if key == "is_active":
        return None if isinstance(value, bool) else f"{_describe(value)}, not true or false"
    if key == "id" and isinstance(value, int) and not isinstance(value, bool):
        return None
    if key in _STRING_READ_FIELDS:
        return f"{_describe(value)}, not a string"
    return None  # a field the read schema does not list is left alone


_STRING_READ_FIELDS = frozenset(READ_FIELDS) - {"is_active"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"the string {_quoted(value)}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"[:60]
    return "an object" if isinstance(value, dict) else "a list"


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 100 else text[:100] + "...")


def connect(
    api_url: str,
    token: TokenSource | None,
    *,
    writable: bool,
    timeout: float = DEFAULT_TIMEOUT,
    total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
    max_response_bytes: int | None = None,
    expected_users: int = 0,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DealHubClient:
    """A client for `api_url`: an https URL, loopback http, or `sim:PATH`.

    `writable=False` guarantees a `sim:PATH` tenant file is never modified.
    The token is registered with reconciler.redact before anything is sent.
    `timeout` is the gap allowed between bytes, `total_timeout` one whole
    exchange; an answer is capped at `max_response_bytes`, by default
    `response_limit(expected_users)`.
    """
    conn = open_http(
        api_url,
        token,
        system="dealhub",
        auth=lambda secret: {"Authorization": f"Bearer {secret}"},
        writable=writable,
        timeout=timeout,
        total_timeout=total_timeout,
        flag="--api-url",
        missing_token="set DEALHUB_TOKEN (or pass --token-file PATH)",
    )
    return DealHubClient(
        conn.http,
        target=conn.target,
        token_origin=conn.token_origin,
        retry=retry,
        sleep=sleep,
        total_timeout=total_timeout,
        max_response_bytes=max_response_bytes,
        expected_users=expected_users,
    )
