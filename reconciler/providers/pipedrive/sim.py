"""The Pipedrive Users API, simulated: routing, auth, validation, seats, rate limits, faults.

`PipedriveSimulator.handle` takes one HTTP request as plain values and returns a
`SimResponse`, like every simulator, so the kernel's `SimTransport` and
`server` carry it in-process or over a socket. It follows the vendor's Users page
and the facts in shared/reference; where those leave a behaviour open, the
readings are `PipedriveOptions`, so a client can be tried against each.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.providers.pipedrive.sim_limits import (
    PLAN_MULTIPLIERS,
    TOKENS_PER_SEAT,
    Burst,
    Clock,
    RateLimiter,
    seconds_to_midnight,
)
from reconciler.providers.pipedrive.sim_state import (
    USER_FIELDS,
    PipedriveStore,
    User,
    filled_access,
    new_user,
    takes_seat,
    timestamp,
)
from reconciler.sim.faults import Faults
from reconciler.sim.request_log import RequestLog
from reconciler.sim.response import LOST, SimResponse
from reconciler.sim.store import encode_json

#: The vendor's `error_info`, as its OpenAPI description's 403 example shows it.
ERROR_INFO = "Please check developers.pipedrive.com"
NOT_FOUND_USER = "User not found or not accessible."
UNAUTHORIZED = "unauthorized access"
ACCOUNT_NOT_OPEN = "Company account is not open"
NO_PERMISSION = "You do not have permissions to do this."
NO_SEAT = "No free seat: buy more seats for this company to add or reactivate users."
OVER_LIMIT = "Request over limit"
UNKNOWN_METHOD = "Unknown method ."
DUPLICATE_EMAIL = "A user with this email address already exists in this company."
SELF_DEACTIVATION = "You cannot deactivate your own user."

#: Token costs of the calls, from the vendor's Users page.
COSTS = {
    "list": 20,
    "get": 2,
    "me": 2,
    "find": 40,
    "create": 10,
    "update": 10,
    "permissions": 10,
    "role_assignments": 10,
}
#: The permissions every user holds, and those an admin of an app adds (the vendor's
#: aggregated permission flags; the simulator derives them from the user's access).
BASE_PERMISSIONS = ("can_add_products", "can_see_other_users", "can_use_email_tracking")
ADMIN_PERMISSIONS = (
    "can_add_custom_fields",
    "can_delete_deals",
    "can_edit_products",
    "can_see_company_wide_statistics",
    "can_see_deals_list_summary",
)
EDGE_BODY = (
    "<!DOCTYPE html>\n<html><head><title>Attention Required!</title></head>\n"
    "<body><h1>Sorry, you have been blocked</h1>\n"
    "<p>You are unable to access this site: too many requests after being rate limited.</p>\n"
    "</body></html>\n"
)
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PREFIXES = (("v1",), ("api", "v1"))
_ACCESS_KEYS = frozenset({"app", "admin", "permission_set_id"})


@dataclass(frozen=True)
class PipedriveOptions:
    """The company's settings, and a choice for each behaviour the vendor leaves open.

    The defaults are the most likely reading; each other value is a reading a
    client must also survive.
    """

    #: Paid seats. None: as many as the users who take one when the simulator starts.
    seats: int | None = None
    #: With no free seat, a create or a reactivation buys one (counted in
    #: `seats_bought`); False answers 402 instead.
    seat_purchase: bool = True
    #: The plan's multiplier of the daily budget (1, 2, 5 or 7).
    plan_multiplier: int = 1
    #: Daily token budget. None: 30,000 × plan_multiplier × seats.
    daily_budget: int | None = None
    #: Requests per token per rolling 2-second window, and for search endpoints.
    burst: int = 20
    search_burst: int = 10
    #: Send the undocumented x-daily-ratelimit-token-limit/-remaining headers.
    daily_token_headers: bool = True
    #: What x-daily-requests-left counts: the budget's tokens left, the POST/PUT
    #: requests left of the old 10,000-a-day fair use, or nothing (not sent).
    daily_requests_left: Literal["tokens", "writes", "none"] = "tokens"
    #: Send Retry-After on rate-limit 429s (the burst reset, or the time to midnight).
    retry_after_on_429: bool = False
    #: A JSON body on rate-limit 429s; False sends none.
    body_on_429: bool = True
    #: The request that crosses the daily budget is served (and all after it are
    #: refused); False refuses any request the budget cannot pay for.
    budget_overdraft: bool = False
    #: The edge answers a 403 HTML page to a client that sends more than this many
    #: requests within 2 seconds of a 429 (None: never), for `edge_block` seconds.
    edge_after: int | None = 5
    edge_block: float = 60.0
    #: PUT refuses keys other than active_flag (400) instead of ignoring them.
    strict_update: bool = False
    #: POST refuses keys other than email, access, active_flag (400: `name`, for
    #: one, was removed in 2023) instead of ignoring them.
    strict_create: bool = False
    #: POST for an email already in the company: 400, or 200 with the existing user.
    duplicate_email: Literal["error", "existing"] = "error"
    #: POST for the email of a deleted user brings back the same id, or makes a new user.
    readd_deleted: Literal["same-id", "new-id"] = "same-id"
    #: Deleted users are listed (and found, and readable by id) with is_deleted: true.
    show_deleted: bool = True
    #: GET /v1/users pages by start/limit with additional_data.pagination, at
    #: most this many a page; None: every user in one answer, no additional_data.
    page_limit: int | None = None
    #: /v1/users/find matches the whole name or email instead of a part of it.
    find_exact: bool = False
    #: /v1/users/find with no match answers data: null; False: an empty list.
    find_empty_null: bool = True
    #: Created users' access is shown completed (admin: false and the default
    #: permission_set_id filled in); False: stored as sent.
    expand_access: bool = True
    #: A token's user may deactivate itself (and its token then stops working);
    #: False answers 403.
    self_deactivation: bool = True
    #: Every request answers 402 "Company account is not open".
    account_closed: bool = False
    #: Emails that have a Pipedrive login in another company, with the person's
    #: name: adding one links that person, whose name the API then shows.
    linked_people: Mapping[str, str] = field(default_factory=dict)
    #: Chance that a list read finds an active user's last_login moved to now.
    login_drift_rate: float = 0.0
    company_id: int = 7_654_321
    company_name: str = "Acme"
    company_domain: str = "acme"
    company_country: str = "US"
    company_industry: str = "Software"

    def __post_init__(self) -> None:
        if self.seats is not None and self.seats < 0:
            raise ValueError(f"seats must not be negative, not {self.seats}")
        if self.plan_multiplier not in PLAN_MULTIPLIERS:
            raise ValueError(
                f"plan_multiplier must be one of {PLAN_MULTIPLIERS}, not {self.plan_multiplier}"
            )
        if self.daily_budget is not None and self.daily_budget < 0:
            raise ValueError(f"daily_budget must not be negative, not {self.daily_budget}")
        if self.page_limit is not None and self.page_limit < 1:
            raise ValueError(f"page_limit must be at least 1, not {self.page_limit}")
        if not 0.0 <= self.login_drift_rate <= 1.0:
            raise ValueError(
                f"login_drift_rate must be between 0 and 1, not {self.login_drift_rate}"
            )
        object.__setattr__(
            self, "linked_people", {k.casefold(): v for k, v in self.linked_people.items()}
        )


@dataclass(frozen=True)
class _Route:
    handler: Callable[[_Call], SimResponse]
    cost: int
    search: bool = False
    write: bool = False


@dataclass
class _Call:
    """One authenticated request on its way through a handler."""

    user_id: int
    params: list[str]
    query: Mapping[str, str]
    body: bytes
    content_type: str
    now: float
    seat_bought: bool = False


class PipedriveSimulator:
    """An in-memory Pipedrive Users API over a `PipedriveStore`, safe across threads.

    `token` is the token of the company's `is_you` user; `tokens` maps more
    tokens to the ids of their users. `clock` gives the simulated time in seconds
    since the epoch (midnight UTC resets the daily budget): pass a
    `pipedrive_limits.ManualClock` to move it in tests.

    `request_log` records every request as method, path, query, body (parsed as
    JSON when it is), status, lost, `auth` (how the token came: "x-api-token",
    "bearer", "query" for ?api_token=, or None), `cost` (tokens charged) and
    `seat_bought`. Never headers; every token is masked wherever it appears.
    `on_request`, when given, receives each such entry too.
    """

    def __init__(
        self,
        store: PipedriveStore,
        *,
        token: str,
        options: PipedriveOptions | None = None,
        faults: Faults | None = None,
        clock: Clock = time.time,
        tokens: Mapping[str, int] | None = None,
        keep_request_log: bool = True,
        on_request: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        if not token:
            raise ValueError("the simulator needs a non-empty token")
        self.store = store
        self.options = options if options is not None else PipedriveOptions()
        self.faults = faults if faults is not None else Faults()
        self.clock = clock
        self._tokens: dict[str, int] = {token: store.you}
        for other, user_id in (tokens or {}).items():
            if not other or store.get(user_id) is None:
                raise ValueError(f"a token for user {user_id}: no such user, or an empty token")
            self._tokens[other] = user_id
        options = self.options
        used = store.seats_used()
        if options.seats is not None and options.seats < used:
            raise ValueError(
                f"{options.seats} seats are fewer than the {used} users who already take one"
            )
        #: Seats paid for before any was bought.
        self.seats = options.seats if options.seats is not None else used
        #: Seats bought because a create or a reactivation found none free.
        self.seats_bought = 0
        budget = options.daily_budget
        if budget is None:
            budget = TOKENS_PER_SEAT * options.plan_multiplier * max(1, self.seats)
        self.limits = RateLimiter(
            daily_budget=budget,
            burst=options.burst,
            search_burst=options.search_burst,
            overdraft=options.budget_overdraft,
            edge_after=options.edge_after,
            edge_block=options.edge_block,
        )
        self._lock = threading.RLock()
        self._log = RequestLog(
            self._masked,
            keep=keep_request_log,
            on_request=on_request,
            # A token in the URL is masked whole, whatever it is.
            secret_params=("api_token",),
        )
        self.request_log = self._log.entries
        self._shown: dict[int, tuple[User, str]] = {}

    # Counters

    @property
    def billed_seats(self) -> int:
        """Seats billed: deactivating a user never gives one back."""
        return self.seats + self.seats_bought

    @property
    def seats_used(self) -> int:
        """Users who take a seat now: active or invited, not deleted."""
        return self.store.seats_used()

    @property
    def daily_budget(self) -> int:
        return self.limits.daily_budget

    @property
    def tokens_spent(self) -> int:
        """Tokens spent since the last midnight of the simulated clock."""
        with self._lock:
            return self.limits.spent(self.clock())

    @property
    def tokens_left(self) -> int:
        with self._lock:
            return self.limits.left(self.clock())

    @property
    def tokens_spent_total(self) -> int:
        """Tokens spent since the simulator started, over every day."""
        return self.limits.spent_total

    # Requests

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SimResponse:
        """Answer one request. `path` is the raw, still percent-encoded path without query."""
        method = method.upper()
        lowered = {k.lower(): v for k, v in headers.items()}
        credential, how = _credential(lowered, query)
        call_info: dict[str, Any] = {"auth": how, "cost": 0, "seat_bought": False}
        response = self._handle(method, path, query, lowered, body, credential, call_info)
        self._log.record(method, path, query, body, response, call_info)
        return response

    def _handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
        credential: str | None,
        info: dict[str, Any],
    ) -> SimResponse:
        now = self.clock()
        key = credential or ""
        with self._lock:
            if self.limits.edge_blocks(key, now):
                return SimResponse(
                    403,
                    {"Content-Type": "text/html; charset=UTF-8", "Server": "cloudflare"},
                    EDGE_BODY.encode(),
                )
        user_id = self._authenticated(credential)
        if user_id is None:
            # The vendor's 401 exactly: no error_info, data or additional_data.
            return _json(401, {"success": False, "error": UNAUTHORIZED, "errorCode": 401})
        found = self._route(method, path)
        route, params = found if isinstance(found, tuple) else (found, [])
        search = isinstance(route, _Route) and route.search
        cost = route.cost if isinstance(route, _Route) else 0
        with self._lock:
            if self.limits.exhausted(cost, now):
                burst = self.limits.burst_state(key, search, now)
                return self._too_many(key, burst, now, seconds_to_midnight(now))
            admitted, burst = self.limits.admit(key, search, now)
            if not admitted:
                return self._too_many(key, burst, now, max(1, burst.reset))
        faults = self.faults
        if faults.latency:
            time.sleep(faults.latency)
        if faults.chance(faults.failure_rate):
            return self._answer(key, burst, now, _error_response(503, "Service Unavailable"))
        if faults.chance(faults.throttle_rate):
            with self._lock:
                self.limits.note_429(key, now)
            headers_429 = {"Retry-After": str(faults.retry_after)}
            return self._answer(key, burst, now, _over_limit(), headers_429)
        if self.options.account_closed:
            return self._answer(key, burst, now, _error_response(402, ACCOUNT_NOT_OPEN))
        if not isinstance(route, _Route):
            return self._answer(key, burst, now, route)
        call = _Call(user_id, params, query, body, headers.get("content-type", ""), now)
        with self._lock:
            response = route.handler(call)
            self.limits.charge(route.cost, now)
            if route.write:
                self.limits.count_write(key, now)
            info["cost"] = route.cost
            info["seat_bought"] = call.seat_bought
            answer = self._answer(key, burst, now, response)
        if route.write and response.status == 200 and faults.chance(faults.lost_rate):
            return LOST
        return answer

    def _authenticated(self, credential: str | None) -> int | None:
        """The id of the token's user, if the token is known and its user may sign in."""
        if credential is None:
            return None
        found: int | None = None
        for token, user_id in self._tokens.items():
            # compare_digest: the time taken must not tell how much of a guess was right.
            if hmac.compare_digest(credential.encode(), token.encode()):
                found = user_id
        if found is None:
            return None
        user = self.store.get(found)
        if user is None or not user["active_flag"] or user["is_deleted"]:
            return None
        return found

    def _route(self, method: str, path: str) -> tuple[_Route, list[str]] | SimResponse:
        """The handler of a path (under /v1 or /api/v1) and its parameters, or a 404/405."""
        segments = path.rstrip("/").split("/")[1:] if path.startswith("/") else []
        rest: list[str] | None = None
        for prefix in _PREFIXES:
            if tuple(segments[: len(prefix)]) == prefix:
                rest = segments[len(prefix) :]
                break
        if not rest or rest[0] != "users" or len(rest) > 3:
            return _error_response(404, UNKNOWN_METHOD)
        methods: dict[str, _Route]
        if len(rest) == 3:
            per_user = {
                "permissions": _Route(self._permissions, COSTS["permissions"]),
                "roleAssignments": _Route(self._role_assignments, COSTS["role_assignments"]),
            }
            if rest[2] not in per_user:
                return _error_response(404, UNKNOWN_METHOD)
            methods = {"GET": per_user[rest[2]]}
        elif len(rest) == 1:
            methods = {
                "GET": _Route(self._list, COSTS["list"]),
                "POST": _Route(self._create, COSTS["create"], write=True),
            }
        elif rest[1] == "me":
            methods = {"GET": _Route(self._me, COSTS["me"])}
        elif rest[1] == "find":
            methods = {"GET": _Route(self._find, COSTS["find"], search=True)}
        else:
            methods = {
                "GET": _Route(self._get, COSTS["get"]),
                "PUT": _Route(self._update, COSTS["update"], write=True),
            }
        route = methods.get(method)
        if route is None:
            return _error_response(405, "Method not allowed", {"Allow": ", ".join(methods)})
        return route, rest[1:]

    def _too_many(self, key: str, burst: Burst, now: float, wait: int) -> SimResponse:
        with self._lock:
            self.limits.note_429(key, now)
        extra = {"Retry-After": str(wait)} if self.options.retry_after_on_429 else {}
        response = _over_limit() if self.options.body_on_429 else SimResponse(429)
        return self._answer(key, burst, now, response, extra)

    def _answer(
        self,
        key: str,
        burst: Burst,
        now: float,
        response: SimResponse,
        extra: Mapping[str, str] | None = None,
    ) -> SimResponse:
        """`response` with the rate-limit headers every answer of the API carries."""
        headers = dict(response.headers)
        headers["x-ratelimit-limit"] = str(burst.limit)
        headers["x-ratelimit-remaining"] = str(burst.remaining)
        headers["x-ratelimit-reset"] = str(burst.reset)
        with self._lock:
            left = self.limits.left(now)
            mode = self.options.daily_requests_left
            if mode == "tokens":
                headers["x-daily-requests-left"] = str(left)
            elif mode == "writes":
                headers["x-daily-requests-left"] = str(self.limits.writes_left(key, now))
            if self.options.daily_token_headers:
                headers["x-daily-ratelimit-token-limit"] = str(self.limits.daily_budget)
                headers["x-daily-ratelimit-token-remaining"] = str(left)
        headers.update(extra or {})
        return SimResponse(response.status, headers, response.body, response.lost)

    # Reads

    def _visible(self, user: User) -> bool:
        return self.options.show_deleted or not user["is_deleted"]

    def _shown_text(self, user: User, you: int) -> str:
        if you != self.store.you:
            return _encode(_shown(user, you))
        # The store replaces a user's dict on every write, so the same dict means
        # the cached JSON is still right: a large company's list costs a join.
        cached = self._shown.get(user["id"])
        if cached is None or cached[0] is not user:
            cached = (user, _encode(_shown(user, you)))
            self._shown[user["id"]] = cached
        return cached[1]

    def _list(self, call: _Call) -> SimResponse:
        users = [u for u in self.store.view() if self._visible(u)]
        if self.options.login_drift_rate:
            users = [self._drifted(u, call.now) for u in users]
        extra = ""
        limit = self.options.page_limit
        if limit is not None:
            start = _whole(call.query.get("start", "0"), 0)
            asked = _whole(call.query.get("limit", str(limit)), 1)
            if start is None or asked is None:
                return _error_response(400, "start and limit must be whole numbers")
            size = min(asked, limit)
            more = start + size < len(users)
            pagination: dict[str, Any] = {
                "start": start,
                "limit": size,
                "more_items_in_collection": more,
            }
            if more:
                pagination["next_start"] = start + size
            users = users[start : start + size]
            extra = ', "additional_data": ' + _encode({"pagination": pagination})
        parts = [self._shown_text(u, call.user_id) for u in users]
        text = '{"success": true, "data": [' + ", ".join(parts) + "]" + extra + "}"
        return SimResponse(200, {"Content-Type": "application/json"}, text.encode("utf-8"))

    def _drifted(self, user: User, now: float) -> User:
        if not (user["activated"] and takes_seat(user)):
            return user
        if not self.faults.chance(self.options.login_drift_rate):
            return user
        moved = {**user, "last_login": timestamp(now)}
        self.store.put(moved)
        return moved

    def _user_or_404(self, raw_id: str) -> User | SimResponse:
        user_id = _whole(raw_id, 1)
        user = self.store.get(user_id) if user_id is not None else None
        if user is None or not self._visible(user):
            return _not_found()
        return user

    def _get(self, call: _Call) -> SimResponse:
        user = self._user_or_404(call.params[0])
        if isinstance(user, SimResponse):
            return user
        return _json(200, {"success": True, "data": _shown(user, call.user_id)})

    def _permissions(self, call: _Call) -> SimResponse:
        """`GET /v1/users/{id}/permissions`: the user's aggregated permission flags."""
        user = self._user_or_404(call.params[0])
        if isinstance(user, SimResponse):
            return user
        admin = any(item.get("admin") is True for item in user.get("access") or [])
        data = {name: True for name in BASE_PERMISSIONS}
        data.update({name: admin for name in ADMIN_PERMISSIONS})
        return _json(200, {"success": True, "data": dict(sorted(data.items()))})

    def _role_assignments(self, call: _Call) -> SimResponse:
        """`GET /v1/users/{id}/roleAssignments`: the user's role, paged as the vendor pages."""
        user = self._user_or_404(call.params[0])
        if isinstance(user, SimResponse):
            return user
        start = _whole(call.query.get("start", "0"), 0)
        limit = _whole(call.query.get("limit", "100"), 1)
        if start is None or limit is None:
            return _error_response(400, "start and limit must be whole numbers")
        role = user.get("role_id")
        assignments = (
            [
                {
                    "user_id": user["id"],
                    "role_id": role,
                    "parent_role_id": None,
                    "name": f"Role {role}",
                    "active_flag": True,
                    "type": "direct",
                }
            ]
            if isinstance(role, int)
            else []
        )
        page = assignments[start : start + limit]
        pagination = {
            "start": start,
            "limit": limit,
            "more_items_in_collection": start + limit < len(assignments),
        }
        return _json(
            200, {"success": True, "data": page, "additional_data": {"pagination": pagination}}
        )

    def _me(self, call: _Call) -> SimResponse:
        user = self.store.get(call.user_id)
        assert user is not None  # authentication found it
        data = _shown(user, call.user_id)
        options = self.options
        data["company_id"] = options.company_id
        data["company_name"] = options.company_name
        data["company_domain"] = options.company_domain
        data["company_country"] = options.company_country
        data["company_industry"] = options.company_industry
        # The user's language, from their locale (`en_US`), as the vendor's `language` object.
        language, _, country = str(user.get("locale") or "en_US").partition("_")
        data["language"] = {"language_code": language, "country_code": country or "US"}
        return _json(200, {"success": True, "data": data})

    def _find(self, call: _Call) -> SimResponse:
        term = call.query.get("term", "")
        if not term:
            return _error_response(400, "term is required")
        by_email = call.query.get("search_by_email", "0")
        if by_email not in ("0", "1"):
            return _error_response(400, "search_by_email must be 0 or 1")
        wanted = term.casefold()
        found = []
        for user in self.store.view():
            if not self._visible(user):
                continue
            text = str(user["email" if by_email == "1" else "name"]).casefold()
            if text == wanted or (not self.options.find_exact and wanted in text):
                found.append(_shown(user, call.user_id))
        data = found if found or not self.options.find_empty_null else None
        return _json(200, {"success": True, "data": data})

    # Writes

    def _may_manage(self, user_id: int) -> bool:
        """Adding or changing users takes account-settings access, or global admin."""
        user = self.store.get(user_id)
        assert user is not None
        return any(
            item.get("app") == "account_settings"
            or (item.get("app") == "global" and item.get("admin") is True)
            for item in user["access"]
        )

    def _take_seat(self, call: _Call) -> SimResponse | None:
        """Find a seat for one more active user: a free one, a bought one, or a 402."""
        if self.store.seats_used() < self.billed_seats:
            return None
        if not self.options.seat_purchase:
            return _error_response(402, NO_SEAT)
        self.seats_bought += 1
        call.seat_bought = True
        return None

    def _create(self, call: _Call) -> SimResponse:
        if not self._may_manage(call.user_id):
            return _error_response(403, NO_PERMISSION)
        payload = _json_object(call)
        if isinstance(payload, SimResponse):
            return payload
        if self.options.strict_create:
            for name in payload:
                if name not in ("email", "access", "active_flag"):
                    return _error_response(400, f"Unknown parameter: {name}")
        email = payload.get("email")
        if not isinstance(email, str) or not email.strip():
            return _error_response(400, "email is required")
        email = email.strip()
        if not _EMAIL.fullmatch(email):
            return _error_response(400, "email is not a valid email address")
        access = _checked_access(payload.get("access", [{"app": "sales"}]))
        if isinstance(access, str):
            return _error_response(400, access)
        if self.options.expand_access:
            access = [filled_access(item) for item in access]
        active = payload.get("active_flag", True)
        if not isinstance(active, bool):
            return _error_response(400, "active_flag must be a boolean")
        existing = self.store.live_with_email(email)
        if existing is not None:
            if self.options.duplicate_email == "existing":
                return _json(200, {"success": True, "data": _shown(existing, call.user_id)})
            return _error_response(400, DUPLICATE_EMAIL)
        if active:
            refused = self._take_seat(call)
            if refused is not None:
                return refused
        stamp = timestamp(call.now)
        deleted = self.store.deleted_with_email(email)
        user: User
        if deleted is not None and self.options.readd_deleted == "same-id":
            user = {**deleted, "email": email, "is_deleted": False}
        else:
            linked = self.options.linked_people.get(email.casefold())
            user = new_user(
                self.store.new_id(),
                email,
                active_flag=active,
                name=linked or email,
                activated=linked is not None,
                created=stamp,
            )
        user.update(access=access, active_flag=active, modified=stamp)
        self.store.put(user)
        return _json(200, {"success": True, "data": _shown(user, call.user_id)})

    def _update(self, call: _Call) -> SimResponse:
        if not self._may_manage(call.user_id):
            return _error_response(403, NO_PERMISSION)
        user = self._user_or_404(call.params[0])
        if isinstance(user, SimResponse):
            return user
        if user["is_deleted"]:
            return _not_found()
        payload = _json_object(call)
        if isinstance(payload, SimResponse):
            return payload
        if self.options.strict_update:
            for name in payload:
                if name != "active_flag":
                    return _error_response(400, f"Unknown parameter: {name}")
        if "active_flag" not in payload:
            return _error_response(400, "active_flag is required")
        active = payload["active_flag"]
        if not isinstance(active, bool):
            return _error_response(400, "active_flag must be a boolean")
        if not active and user["id"] == call.user_id and not self.options.self_deactivation:
            return _error_response(403, SELF_DEACTIVATION)
        if active != user["active_flag"]:
            if active:
                refused = self._take_seat(call)
                if refused is not None:
                    return refused
            user = {**user, "active_flag": active, "modified": timestamp(call.now)}
            self.store.put(user)
        return _json(200, {"success": True, "data": _shown(user, call.user_id)})

    # Logging

    def _masked(self, text: str) -> str:
        for token in self._tokens:
            text = text.replace(token, "[REDACTED]")
        return text


def _credential(
    headers: Mapping[str, str], query: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The token a request carries, and where: the header, OAuth's Bearer, or the URL."""
    token = headers.get("x-api-token", "").strip()
    if token:
        return token, "x-api-token"
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and bearer.strip():
        return bearer.strip(), "bearer"
    if query.get("api_token"):
        return query["api_token"], "query"
    return None, None


def _whole(text: str, least: int) -> int | None:
    # ASCII digits only, and few: "²" is a digit to str.isdigit, and int() of 5,000
    # digits is refused by Python itself.
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        return None
    value = int(text)
    return value if value >= least else None


def _json_object(call: _Call) -> dict[str, Any] | SimResponse:
    media = call.content_type.split(";")[0].strip().lower()
    if media and media != "application/json":
        return _error_response(415, "Unsupported Media Type: send application/json")
    try:
        payload = json.loads(call.body)
    except (ValueError, UnicodeDecodeError):
        return _error_response(400, "The request body is not valid JSON")
    if not isinstance(payload, dict):
        return _error_response(400, "The request body must be a JSON object")
    return payload


def _checked_access(access: object) -> list[dict[str, Any]] | str:
    """The access list of a create, or the message of its first problem."""
    if not isinstance(access, list):
        return "access must be a list of objects with an app"
    seen: set[str] = set()
    checked: list[dict[str, Any]] = []
    for item in access:
        if not isinstance(item, dict) or "app" not in item:
            return "access must be a list of objects with an app"
        unknown = sorted(set(item) - _ACCESS_KEYS)
        if unknown:
            return f"access: unknown key {unknown[0]!r}"
        app = item["app"]
        # Any name: the vendor adds apps (nova, August 2026), and so may this set grow.
        if not isinstance(app, str) or not app:
            return "access: app must be a non-empty string"
        if app in seen:
            return f"access: app {app!r} is given twice"
        seen.add(app)
        if "admin" in item and not isinstance(item["admin"], bool):
            return "access: admin must be a boolean"
        if "permission_set_id" in item and not isinstance(item["permission_set_id"], str):
            return "access: permission_set_id must be a string"
        if "admin" in item and "permission_set_id" in item:
            return "access: give either admin or permission_set_id, not both"
        checked.append(dict(item))
    return checked


def _shown(user: User, you: int) -> dict[str, Any]:
    """The user as the API shows it to the token of user `you`."""
    shown = {name: user[name] for name in USER_FIELDS}
    shown.update((k, v) for k, v in user.items() if k not in shown)
    shown["is_you"] = user["id"] == you
    if shown["last_login"] is None:
        # The vendor's description types last_login as a string, never null: a user
        # who never signed in shows the time the user was made.
        shown["last_login"] = shown["created"]
    return shown


# Escaped as every output of the tool is: a lone surrogate cannot break an answer.
_encode = encode_json


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> SimResponse:
    return SimResponse(
        status,
        {"Content-Type": "application/json", **(headers or {})},
        _encode(payload).encode("utf-8"),
    )


def _error(message: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }


def _not_found() -> SimResponse:
    # The vendor's 404 exactly: only success and error.
    return _json(404, {"success": False, "error": NOT_FOUND_USER})


def _over_limit() -> SimResponse:
    # Undocumented: the shape of the 401's body, which names its code.
    return _json(429, {**_error(OVER_LIMIT), "errorCode": 429})


def _error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> SimResponse:
    return _json(status, _error(message), headers)
