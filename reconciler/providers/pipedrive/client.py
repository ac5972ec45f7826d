"""The Pipedrive Users API client, on the shared HTTP layer (reconciler.http).

Four calls, nothing else: `GET /v1/users/me` (the token's own user, which is
never deactivated), `GET /v1/users` (every user; each page a call when the
server pages with `additional_data.pagination`), `POST /v1/users` (create) and
`PUT /v1/users/{id}` with `{"active_flag": bool}` alone (reactivate,
deactivate). The token travels only in the `x-api-token` header.

What differs from DealHub's retries, and why:
- A create is not idempotent. When its answer is lost (or is a 5xx, which a
  gateway may send after the write), the list is read before it is sent again:
  a user found there is reported from the list, never created twice. A refusal
  of a repeated create (the vendor's duplicate-email 400) is checked the same way.
- A 429 is waited out on the vendor's numbers (Retry-After, else
  `x-ratelimit-reset`), a bounded number of times, each wait within the one
  patience (reconciler.http.PATIENCE), and nothing is sent before the wait is
  over: the vendor's edge blocks a client that keeps sending after 429s. A 429
  for the daily budget (its headers say so), a wait beyond the patience, or
  429s past the bounded number stop the run: the rest is left for the next one.
- A 403 that is not JSON is that edge's block page: the run stops at once,
  nothing is retried.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from reconciler import redact
from reconciler.errors import ApiError, AuthError, ResponseError, TransportError
from reconciler.http import (
    DEFAULT_TIMEOUT,
    DEFAULT_TOTAL_TIMEOUT,
    MAX_WAITS,
    PATIENCE,
    SIM_PREFIX,
    Answer,
    JsonClient,
    RateLimited,
    RetryLater,
    RetryPolicy,
    TokenSource,
    Unsure,
    duration_text,
    header_count,
    header_seconds,
    open_http,
    retry_after_seconds,
)
from reconciler.progress import Progress
from reconciler.providers.base import WriteResult, WriteStatus
from reconciler.providers.pipedrive.rules import (
    CAPABILITIES,
    SELF_DEACTIVATION,
    checked_entry,
    key_fold,
)

if TYPE_CHECKING:
    from reconciler.model import Change

log = logging.getLogger("reconciler.pipedrive")

TOKEN_HEADER = "x-api-token"
#: The vendor's token costs (x-token-cost in its OpenAPI description): GET /v1/users/me
#: ("Get current user data") and GET /v1/users (each page).
ME_COST = 2
LIST_COST = 20
#: One whole read: the token's own user, then the list (what a plan's verification costs).
READ_COST = LIST_COST + ME_COST
WRITE_COST = CAPABILITIES.write_cost
#: A burst window is two seconds; a 429 asking to wait longer than the patience
#: is for the daily budget.
LONGEST_BURST_WAIT = PATIENCE
DAY = 86400.0
#: Consecutive 429s for one request, with no Retry-After, taken to be the daily budget.
PERSISTENT_429 = 3
#: Pages of one list read at most (500 users a page is the vendor's largest).
MAX_PAGES = 10_000
#: Consecutive JSON 403s on writes after which the token is taken to lack admin rights.
FORBIDDEN_STREAK = 3
_ERROR_STATUSES = frozenset({400, 404, 409, 410, 415, 422})


@dataclass
class RateLimits:
    """The rate-limit headers of the last answer, as numbers (None: not sent or unreadable).

    `reset` is the seconds left in the 2-second burst window (not a timestamp).
    `daily_token_limit` and `daily_token_remaining` are undocumented but the only
    sure sign of the daily budget; `daily_requests_left` counts either tokens or
    requests, depending on the server.
    """

    limit: int | None = None
    remaining: int | None = None
    reset: int | None = None
    daily_requests_left: int | None = None
    daily_token_limit: int | None = None
    daily_token_remaining: int | None = None

    #: The seconds `x-ratelimit-reset` names, read as a wait (math.inf: too long to be one).
    reset_seconds: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimits:
        """Each header read defensively (reconciler.http.header_count): junk is None."""
        return cls(
            limit=header_count(headers.get("x-ratelimit-limit")),
            remaining=header_count(headers.get("x-ratelimit-remaining")),
            reset=header_count(headers.get("x-ratelimit-reset")),
            daily_requests_left=header_count(headers.get("x-daily-requests-left")),
            daily_token_limit=header_count(headers.get("x-daily-ratelimit-token-limit")),
            daily_token_remaining=header_count(headers.get("x-daily-ratelimit-token-remaining")),
            reset_seconds=header_seconds(headers.get("x-ratelimit-reset")),
        )


class Blocked(ApiError):
    """The vendor's edge answered its HTML 403: stop at once, never retry."""


class BudgetSpent(ApiError):
    """The company's daily token budget is spent (or would be by the next call)."""


__all__ = ["Blocked", "BudgetSpent", "PipedriveClient", "RateLimited", "RetryLater", "connect"]


class PipedriveClient(JsonClient):
    """A `Remote` for one Pipedrive company (see the module docstring).

    `users_path` is where the users are, relative to the base URL
    (`/api/v1/users` on COMPANY.pipedrive.com). `clock` is what `sleep` moves
    (time.monotonic by default); `wall` is the time of day, which says when the
    daily budget resets. `rate` holds the rate-limit headers of the
    last answer. Writes stop while fewer than `reserve` tokens would be left
    after them (by default one list read, so that apply can verify).
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        target: str,
        token_origin: str,
        users_path: str = "/v1/users",
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_response_bytes: int | None = None,
        expected_users: int = 0,
        max_waits: int = MAX_WAITS,
        reserve: int = READ_COST,
        wall: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(
            http,
            target=target,
            token_origin=token_origin,
            retry=retry,
            sleep=sleep,
            seed=seed,
            total_timeout=total_timeout,
            max_response_bytes=max_response_bytes,
            expected_users=expected_users,
            max_waits=max_waits,
            wall=wall,
        )
        self.users_path = users_path
        self.rate = RateLimits()
        self.reserve = reserve
        self._clock = clock
        #: Seconds until the budget resets, as the last daily 429's Retry-After said.
        self._budget_wait: float | None = None
        #: The server's time of day minus `wall`, from the last answer's Date header.
        self._server_offset = 0.0
        #: No request leaves before this moment of `clock` (a 429's wait, a spent window).
        self._hold_until = 0.0
        #: What asked for the hold, to name when it is longer than the patience.
        self._hold_reason = ""
        self._forbidden = 0

    def _secrets_in(self, headers: httpx.Headers) -> list[str]:
        token = headers.get(TOKEN_HEADER, "")
        return [token] if token else []

    def budget_left(self) -> int | None:
        """Tokens left today, from the last answer's headers (None: it did not say)."""
        return self.rate.daily_token_remaining

    def request_counts(self) -> dict[str, int]:
        """Requests sent, by kind: read (list pages), create, update."""
        return dict(self.requests.counts)

    # -- reading --------------------------------------------------------------

    def get(self, path: str, *, kind: str, cost: int) -> Answer:
        """One GET through the client's paced, budgeted, retried call (review --details)."""
        return self._send("GET", path, kind=kind, cost=cost)

    def read(self) -> list[dict[str, Any]]:
        """Every user of the company as the API shows it, deleted ones included.

        First `GET /v1/users/me`, the token's own user; then `GET /v1/users`,
        and when the answer carries `additional_data.pagination` with
        `more_items_in_collection: true`, the next page with `start` (the
        server's `next_start`) and `limit`, each page a call. Every entry is
        checked (types, one id and one live email each) before anyone diffs
        the list, and the token's own user is marked `is_you: true` whatever
        the list's flags say: a list whose `is_you` contradicts `/users/me` is
        refused. ResponseError names the first problem: an answer that cannot
        be read as the whole list is never taken for a shorter one.
        """
        left = self.rate.daily_token_remaining
        if left is not None and left < READ_COST:
            # Half a read spends tokens and shows nothing: do not start it.
            raise BudgetSpent(self._budget_message(left))
        me = self._me()
        users, token_seen = self._list()
        self._check(users, token_seen)
        self._mark_you(users, me)
        return users

    def _me(self) -> int:
        """The id of the token's own user, from `GET /v1/users/me`."""
        path = self.users_path + "/me"
        answer = self._send("GET", path, kind="read", cost=ME_COST)
        if answer.status != 200:
            raise self._read_error(answer, path)
        body = self._json(answer)
        where = f"{self.target} answered GET {path}"
        if not isinstance(body, dict) or body.get("success") is not True:
            raise ResponseError(f"{where} with {self._kind(body)}, not {{success: true, data}}")
        data = body.get("data")
        user_id = data.get("id") if isinstance(data, dict) else None
        if type(user_id) is not int or user_id < 1:
            raise ResponseError(f"{where} with no user id: the token's own user is unknown")
        return user_id

    def _mark_you(self, users: list[dict[str, Any]], me: int) -> None:
        """Mark user `me` as the token's own (`is_you: true`); refuse flags that contradict it."""
        where = f"{self.target} answered GET {self.users_path}"
        mine = None
        for user in users:
            if user["id"] == me:
                mine = user
            elif user.get("is_you") is True:
                raise ResponseError(
                    f"{where} with user id {user['id']} flagged as the token's own (is_you), "
                    f"but GET {self.users_path}/me names user id {me}: refusing a list that "
                    "could deactivate the token's own user"
                )
        if mine is None or mine.get("is_deleted") is True:
            raise ResponseError(
                f"{where} without the token's own user (id {me}, from "
                f"GET {self.users_path}/me) among its live users: refusing the list"
            )
        if mine.get("is_you") is False:
            raise ResponseError(
                f"{where} with the token's own user (id {me}, from GET {self.users_path}/me) "
                "flagged is_you: false: refusing a list that could deactivate it"
            )
        mine["is_you"] = True

    def _list(self) -> tuple[list[dict[str, Any]], bool]:
        """Every page of the list, read whole; ResponseError for any page that cannot be."""
        users: list[dict[str, Any]] = []
        ids: set[int] = set()
        token_seen = False
        start = 0
        query = ""
        received = 0
        where = f"{self.target} answered GET {self.users_path}"
        for page in range(1, MAX_PAGES + 1):
            answer = self._send("GET", self.users_path + query, kind="read", cost=LIST_COST)
            if answer.status != 200:
                raise self._read_error(answer, self.users_path)
            # The cap on one answer holds for the whole list: pages cannot add up past it.
            received += len(answer.body)
            if received > self.max_response_bytes:
                raise ResponseError(
                    f"{where} with pages that add up to more than the most one list may hold "
                    f"({self.max_response_bytes} bytes): refusing it"
                )
            data, pagination = self._envelope(answer, page, start)
            token_seen = token_seen or answer.held_secret
            for user in data:
                user_id = user.get("id") if isinstance(user, dict) else None
                if type(user_id) is not int:
                    continue  # _check names it
                if user_id in ids:
                    # A page repeating users never ends the list: refuse it now.
                    raise ResponseError(
                        f"{where} with user id {user_id} twice (page {page} repeats an earlier one)"
                    )
                ids.add(user_id)
            if page > 1 and not data:
                # Only a page that said more users follow leads here: an empty one
                # breaks that word, and taking it as the end would drop users.
                raise ResponseError(
                    f"{where} with an empty page {page} after one that said more users "
                    "follow (more_items_in_collection: true): refusing a list that may be short"
                )
            users.extend(data)
            if pagination is None or pagination["more_items_in_collection"] is False:
                return users, token_seen
            if not data:
                raise ResponseError(
                    f"{where} with an empty page {page} that says more users follow "
                    "(more_items_in_collection: true): the list would never end"
                )
            following = pagination.get("next_start", start + len(data))
            if following <= start:
                raise ResponseError(
                    f"{where} with page {page} whose next_start ({following}) does not move "
                    f"on from its start ({start}): the list would never end"
                )
            start = following
            limit = pagination.get("limit")
            query = f"?start={start}" + (f"&limit={limit}" if limit is not None else "")
        raise ResponseError(
            f"{where} with more than {MAX_PAGES} pages: refusing a list that does not end"
        )

    def _envelope(
        self, answer: Answer, page: int, start: int
    ) -> tuple[list[Any], dict[str, Any] | None]:
        """A page's users and its checked pagination (None: the last or only page).

        `{success: true, data: [...]}`, with `additional_data.pagination` when
        the server pages: `more_items_in_collection` a JSON boolean, `start`,
        `limit` and `next_start` whole numbers when given. `data: null` is not
        an empty company (the token's own user is always in it): an error.
        """
        where = f"{self.target} answered GET {self.users_path}"
        if page > 1:
            where += f" (page {page}, start {start})"
        body = self._json(answer)
        if not isinstance(body, dict) or body.get("success") is not True:
            raise ResponseError(f"{where} with {self._kind(body)}, not {{success: true, data}}")
        data = body.get("data")
        if not isinstance(data, list):
            raise ResponseError(
                f"{where} with data that is {self._kind(data)}, not the list of users"
            )
        extra = body.get("additional_data")
        if extra is not None and not isinstance(extra, dict):
            raise ResponseError(
                f"{where} with additional_data that is {self._kind(extra)}, not an object"
            )
        pagination = extra.get("pagination") if extra is not None else None
        if pagination is None:
            if page > 1:
                raise ResponseError(f"{where} without the pagination of the page it asked for")
            return data, None
        if not isinstance(pagination, dict):
            raise ResponseError(
                f"{where} with a pagination that is {self._kind(pagination)}, not an object"
            )
        more = pagination.get("more_items_in_collection")
        if type(more) is not bool:
            raise ResponseError(
                f"{where} with more_items_in_collection {_shown_value(more)}, not true or "
                "false: cannot tell whether more users follow"
            )
        for name, least in (("start", 0), ("limit", 1), ("next_start", 0)):
            if name not in pagination:
                continue
            value = pagination[name]
            if type(value) is not int or value < least:
                raise ResponseError(
                    f"{where} with pagination {name} {_shown_value(value)}, not a whole "
                    f"number of at least {least}"
                )
        if pagination.get("start", start) != start:
            raise ResponseError(
                f"{where} with a page that starts at {pagination['start']}, not at {start} "
                "as asked: users would be missed or read twice"
            )
        if more and "next_start" in pagination:
            # Past this page's users is a gap: users between would be missed.
            furthest = start + max(len(data), pagination.get("limit", 0))
            if pagination["next_start"] > furthest:
                raise ResponseError(
                    f"{where} with next_start {pagination['next_start']} beyond the page's "
                    f"end ({furthest}): users between would be missed"
                )
        return data, pagination

    def _check(self, users: list[Any], token_seen: bool) -> None:
        where = f"{self.target} answered GET {self.users_path}"
        ids: set[int] = set()
        emails: dict[str, int] = {}
        for index, raw in enumerate(users):
            try:
                # Checked here once: tenant_view takes a CheckedEntry as it is.
                user = users[index] = checked_entry(raw)
            except ValueError as exc:
                named = f" (id {raw['id']})" if isinstance(raw, dict) and "id" in raw else ""
                raise ResponseError(f"{where} with entry #{index}{named} that {exc}") from None
            if user["id"] in ids:
                raise ResponseError(f"{where} with user id {user['id']} twice")
            ids.add(user["id"])
            if token_seen and redact.MASK in user["email"]:
                # A write keyed by the masked email would reach no one, or someone else.
                raise ResponseError(f"{where} with a user whose email contains the API token")
            if user.get("is_deleted") is True:
                continue
            email = key_fold(user["email"])
            if email in emails:
                raise ResponseError(
                    f"{where} with two users (ids {emails[email]} and {user['id']}) of email "
                    f"{_quoted(user['email'])}: Pipedrive keys users by email"
                )
            emails[email] = user["id"]

    def _read_error(self, answer: Answer, path: str) -> ApiError:
        message = self._message(answer)
        if answer.status == 401:
            return self._rejected(answer)
        if answer.status == 402:
            return ApiError(
                f"{self.target} refused GET {path} (HTTP 402: {message}): the "
                "company account is not open (billing)"
            )
        if answer.status == 403:
            return AuthError(
                f"{self.target} refused GET {path} with the token from "
                f"{self._token_origin} (HTTP 403: {message})"
            )
        return self._unexpected(answer)

    # -- writing --------------------------------------------------------------

    def write(self, batch: list[Change], progress: Progress | None = None) -> WriteResult:
        """Send each change (one call per user); a failure is an outcome, not a raise.

        A create is `POST /v1/users` with the payload; a reactivation or
        deactivation is `PUT /v1/users/{id}` with `{"active_flag": ...}` alone,
        the id taken from the payload's `id` (never sent in a body). A rejected
        token, the edge's block, the spent daily budget, an unreachable server
        or repeated 403s set `abort`; the changes after it are left out.
        """
        result = WriteResult()
        for change in batch:
            if result.abort is not None:
                break
            key = change.key
            try:
                status, message = self._write_one(change)
            except (AuthError, Blocked) as exc:
                result.mark([key], "failed", str(exc))
                result.abort = str(exc)
                continue
            except BudgetSpent as exc:
                # Refused for the budget, so not made: the next day's run takes it up.
                result.mark([key], "skipped", f"not made: {exc}")
                result.abort = str(exc)
                # The reserve kept for it: what was done is still checked.
                result.verify_anyway = True
                continue
            except RetryLater as exc:
                # A wait past the patience: stop the run here. After a 429 (or before
                # sending) nothing was made: the next run takes it up.
                if exc.nothing_done:
                    result.mark([key], "skipped", f"not made: {exc}")
                else:
                    result.mark([key], "pending", str(exc))
                result.abort = str(exc)
                continue
            except TransportError as exc:
                # Unreachable: stop the run here; whether the change was made is unknown.
                result.mark([key], "pending", str(exc))
                result.abort = str(exc)
                continue
            except ResponseError as exc:
                status, message = "pending", str(exc)
            except ApiError as exc:
                status, message = "failed", str(exc)
            result.mark([key], status, message)
            if self._forbidden >= FORBIDDEN_STREAK:
                result.abort = (
                    f"{self.target} refused {self._forbidden} writes in a row with HTTP 403: "
                    f"the user of the token from {self._token_origin} cannot manage users "
                    "(it needs account-settings access or global admin)"
                )
        return result

    def _write_one(self, change: Change) -> tuple[WriteStatus, str]:
        send = change.send
        if change.action == "create":
            return self._create(send)
        if change.action in ("reactivate", "deactivate"):
            if change.action == "deactivate" and change.before and change.before.get("is_you"):
                # The plan never holds this; a hand-made batch must not lock the token out.
                return "failed", f"not sent: {SELF_DEACTIVATION}"
            user_id = send.get("id")
            if user_id is None and change.before is not None:
                user_id = change.before.get("id")
            return self._update(user_id, send.get("active_flag"))
        return "failed", f"Pipedrive's API cannot {change.action} a user"

    def _create(self, send: Mapping[str, Any]) -> tuple[WriteStatus, str]:
        body = {name: send[name] for name in ("email", "access", "active_flag") if name in send}
        email = body.get("email")
        if not isinstance(email, str) or type(body.get("active_flag")) is not bool:
            return "failed", "not sent: a create needs an email and active_flag true or false"
        unsure: str | None = None
        for attempt in range(1, self._retry.attempts + 1):
            if unsure is not None:
                found = self._find(email, unsure)
                if found is not None:
                    return self._judged_found(found, body)
            try:
                answer = self._send(
                    "POST",
                    self.users_path,
                    kind="create",
                    cost=WRITE_COST,
                    json_body=body,
                    once=True,
                )
            except Unsure as exc:
                unsure = str(exc)
                self._sleep(self._retry.backoff(attempt, self._rng))
                continue
            if answer.status // 100 == 2:
                user = self._user_of(answer)
                if user is None:
                    return "pending", f"{self.target} answered the create with no user object"
                return self._judged(user, body, "created")
            if unsure is not None and answer.status in _ERROR_STATUSES:
                # The create whose answer was lost may be what this refusal is about.
                found = self._find(email, unsure)
                if found is not None:
                    return self._judged_found(found, body)
            return self._refused(answer)
        tries = self._retry.attempts
        return "pending", f"no sure answer to the create after {tries} tries: {unsure}"

    def _update(self, user_id: Any, active: Any) -> tuple[WriteStatus, str]:
        if type(user_id) is not int or user_id < 1 or type(active) is not bool:
            return "failed", "not sent: an update needs the user's id and active_flag"
        path = f"{self.users_path}/{user_id}"
        body = {"active_flag": active}
        answer = self._send("PUT", path, kind="update", cost=WRITE_COST, json_body=body)
        if answer.status // 100 != 2:
            return self._refused(answer)
        user = self._user_of(answer)
        if user is None:
            return "pending", f"{self.target} answered PUT {path} with no user object"
        if user.get("active_flag") is not active:
            return "failed", (
                f"{self.target} answered PUT {path} with active_flag "
                f"{_shown_value(user.get('active_flag'))}, not {_shown_value(active)}"
            )
        return "done", ""

    def _find(self, email: str, unsure: str) -> dict[str, Any] | tuple[WriteStatus, str] | None:
        """The live user with this email, from a fresh list read.

        When the list cannot be read, whether the create was made stays unknown:
        the outcome is pending (verification decides), never a second create.
        """
        try:
            users, _ = self._list()
        except (AuthError, Blocked, BudgetSpent):
            raise
        except ApiError as exc:
            return "pending", f"{unsure}; the list read to check it failed: {exc}"
        wanted = key_fold(email)
        for user in users:
            if (
                isinstance(user, dict)
                and user.get("is_deleted") is not True
                and isinstance(user.get("email"), str)
                and key_fold(user["email"]) == wanted
            ):
                return user
        return None

    def _judged_found(
        self, found: dict[str, Any] | tuple[WriteStatus, str], body: Mapping[str, Any]
    ) -> tuple[WriteStatus, str]:
        if isinstance(found, tuple):
            return found
        return self._judged(found, body, "created (its first answer was lost)")

    def _judged(
        self, user: Mapping[str, Any], body: Mapping[str, Any], done: str
    ) -> tuple[WriteStatus, str]:
        """Whether the user the server shows is the one the create asked for."""
        email = user.get("email")
        if not isinstance(email, str) or key_fold(email) != key_fold(str(body["email"])):
            return "pending", (
                f"{self.target} answered the create of {_quoted(str(body['email']))} with "
                f"another user ({_quoted(str(email))})"
            )
        if user.get("active_flag") is not body["active_flag"]:
            state = "inactive" if body["active_flag"] else "active"
            return "failed", (
                f"{_quoted(email)} already exists in Pipedrive and is {state}: "
                "plan again to see what is left to do"
            )
        return "done", ("" if done == "created" else done)

    def _user_of(self, answer: Answer) -> dict[str, Any] | None:
        try:
            body = answer.json()
        except ValueError:
            return None
        if not isinstance(body, dict) or body.get("success") is False:
            return None
        data = body.get("data")
        return data if isinstance(data, dict) else None

    def _refused(self, answer: Answer) -> tuple[WriteStatus, str]:
        where = f"{self.target} answered {answer.method} {answer.path}"
        message = self._message(answer)
        status = answer.status
        if status == 403:
            self._forbidden += 1
            return "failed", (
                f"{where} with HTTP 403: {message} (managing users takes account-settings "
                "access or global admin)"
            )
        self._forbidden = 0
        if status == 402:
            return "failed", (
                f"{where} with HTTP 402: {message} (seats and billing: no free seat, or the "
                "company account is not open)"
            )
        if status // 100 == 5:
            return "pending", f"{where} with HTTP {status}: {message}"
        return "failed", f"{where} with HTTP {status}: {message}"

    # -- the retry loop's hooks (reconciler.http.JsonClient._send) ------------------

    def _before_send(self, method: str, cost: int) -> None:
        """Wait out a hold, and refuse a call the daily budget cannot pay for."""
        wait = self._hold_until - self._clock()
        if wait > 0:
            self._bounded(wait, None, self._hold_reason)
            self._sleep(wait)
        left = self.rate.daily_token_remaining
        needed = cost + (self.reserve if method != "GET" else 0)
        if left is not None and left < needed:
            raise BudgetSpent(self._budget_message(left))

    def _observe(self, answer: Answer) -> None:
        self.rate = RateLimits.from_headers(answer.headers)
        served = _epoch(answer.headers.get("date"))
        if served is not None:
            self._server_offset = served - self._wall()
        reset = self.rate.reset_seconds
        if self.rate.remaining == 0 and reset:
            # The window is spent: the next request would be a 429.
            self._hold(reset, "x-ratelimit-remaining: 0 with its x-ratelimit-reset")

    def _refusal(self, answer: Answer) -> ApiError | None:
        if answer.status == 403 and not _is_json(answer):
            return Blocked(
                f"{self.target} blocked this client (HTTP 403, an HTML page from the "
                "vendor's edge) for sending after rate limits: stopped at once, "
                "nothing retried; wait several minutes before running again"
            )
        if answer.status == 401:
            return self._rejected(answer)
        return None  # a JSON 403 is the caller's: a write refused for rights

    def _pause(self, seconds: float) -> None:
        # Nothing is sent before the hold is over (_before_send sleeps it out).
        level = logging.WARNING if seconds >= 5 else logging.DEBUG
        log.log(level, "%s is rate limiting; waiting %.0f s", self.target, seconds)
        self._hold(seconds, "a 429's wait")

    def _hold(self, seconds: float, why: str) -> None:
        until = self._clock() + seconds
        if until > self._hold_until:
            self._hold_until, self._hold_reason = until, why

    def _throttled(self, answer: Answer, waits: int, cost: int) -> float:
        rate = self.rate
        asked = retry_after_seconds(answer.headers.get("Retry-After"), self._wall())
        budget_left = any(
            left is not None and left >= cost
            for left in (rate.daily_token_remaining, rate.daily_requests_left)
        )
        daily = (
            (rate.daily_token_remaining is not None and rate.daily_token_remaining < cost)
            # Tokens or requests left, by the server's reading: fewer than this call costs
            # is the budget either way (a burst 429 leaves the day's numbers high).
            or (rate.daily_requests_left is not None and rate.daily_requests_left < cost)
            # A wait longer than any burst window is the budget's, unless the day's
            # numbers say tokens are left: then it is a plain wait past the patience.
            or (asked is not None and asked > LONGEST_BURST_WAIT and not budget_left)
            # Without the daily headers or a Retry-After, a 429 that outlasts a whole
            # burst window (each wait is at least 1 s) is the budget, not the burst.
            or (asked is None and waits >= PERSISTENT_429)
        )
        if daily:
            self._budget_wait = asked
            raise BudgetSpent(self._budget_message(rate.daily_token_remaining))
        if waits > self.max_waits:
            raise self._rate_limited(answer)
        delay = asked if asked is not None else max(rate.reset_seconds or 0.0, 1.0)
        return self._bounded(max(delay, 1.0), answer, "its x-ratelimit-reset")

    def _budget_message(self, left: int | None) -> str:
        shown = f" ({left} tokens left)" if left is not None else ""
        return (
            f"Pipedrive's daily token budget of this company is spent{shown}; it resets at "
            f"midnight (server time), {self._budget_reset()}: what is left is for the next run"
        )

    def _budget_reset(self) -> str:
        """When the budget comes back: the 429's Retry-After, else the wall clock's midnight."""
        if self._budget_wait is not None:
            return f"in about {duration_text(self._budget_wait)} (the server's Retry-After)"
        # The server's Date (UTC) when it sent one; the budget's midnight is taken to be UTC.
        now = self._wall() + self._server_offset
        return f"in about {duration_text(DAY - now % DAY)}"

    def _rejected(self, answer: Answer) -> AuthError:
        return AuthError(
            f"{self.target} rejected the token from {self._token_origin} "
            f"(HTTP {answer.status}, token rejected): check that it is current"
        )


def _epoch(date: str | None) -> float | None:
    if not date:
        return None
    try:
        stamp = parsedate_to_datetime(date).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return stamp if math.isfinite(stamp) else None


def _is_json(answer: Answer) -> bool:
    try:
        return isinstance(answer.json(), dict)
    except ValueError:
        return False


def _quoted(text: str) -> str:
    return repr(text if len(text) <= 100 else text[:100] + "...")


def _shown_value(value: Any) -> str:
    return "true" if value is True else "false" if value is False else _quoted(repr(value))


def users_path(base: str) -> str:
    """Where the users are, relative to a base URL.

    A base that names the API version keeps it (`.../v1`, `.../api`); the company
    host takes the vendor's recommended `/api/v1`; api.pipedrive.com and every
    other host (a loopback stand-in) the documented `/v1`.
    """
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if path.endswith("/v1"):
        return "/users"
    if path.endswith("/api"):
        return "/v1/users"
    host = (parts.hostname or "").lower()
    if host.endswith(".pipedrive.com") and host != "api.pipedrive.com" and not path:
        return "/api/v1/users"
    return "/v1/users"


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
    clock: Callable[[], float] = time.monotonic,
    wall: Callable[[], float] = time.time,
) -> PipedriveClient:
    """A client for `api_url`: https://COMPANY.pipedrive.com, loopback http, or `sim:PATH`.

    `writable=False` guarantees a `sim:PATH` company file is never modified.
    The token is registered with reconciler.redact before anything is sent and
    travels only in the `x-api-token` header.
    """
    conn = open_http(
        api_url,
        token,
        system="pipedrive",
        auth=lambda secret: {TOKEN_HEADER: secret},
        writable=writable,
        timeout=timeout,
        total_timeout=total_timeout,
        flag="the Pipedrive API URL",
        missing_token=(f"set {CAPABILITIES.token_env} (or pass --token-file pipedrive=PATH)"),
    )
    path = "/v1/users" if api_url.startswith(SIM_PREFIX) else users_path(conn.target)
    return PipedriveClient(
        conn.http,
        target=conn.target,
        token_origin=conn.token_origin,
        users_path=path,
        retry=retry,
        sleep=sleep,
        clock=clock,
        wall=wall,
        total_timeout=total_timeout,
        max_response_bytes=max_response_bytes,
        expected_users=expected_users,
    )
