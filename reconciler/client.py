"""The DealHub User API client, on httpx.

One code path for the real API and the simulator: `sim:PATH` only swaps the
transport. Reads are `GET /api/v1/users` (the whole tenant in one call),
writes `PUT /api/v2/users`, async requests are followed on
`GET /api/v1/request/{id}/status`. Nothing else is ever sent.

Retries (429 honouring Retry-After, 5xx, network errors) use exponential
backoff with full jitter. The v2 upsert is idempotent (same login, same
fields), so a write whose answer was lost is retried safely.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from reconciler import __version__
from reconciler.errors import (
    ApiError,
    AuthError,
    ResponseError,
    TransportError,
    UsageError,
)

log = logging.getLogger("reconciler.client")

SIM_PREFIX = "sim:"
#: The token the in-process simulator uses when the environment gives none.
SIM_DEFAULT_TOKEN = "sim-token"
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        return rng.uniform(0, min(self.cap, self.base * 2 ** (attempt - 1)))


@dataclass(frozen=True)
class TokenSource:
    """Where the token came from, to name in an error: never the token itself."""

    token: str = field(repr=False)
    origin: str = ""


def read_token(
    *, token_file: str | None, env_var: str, required: bool = True
) -> TokenSource | None:
    """The API token from --token-file or the environment variable."""
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as fh:
                token = fh.read().strip()
        except OSError as exc:
            raise UsageError(f"cannot read --token-file {token_file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"--token-file {token_file} is not a text file") from None
        if not token:
            raise UsageError(f"--token-file {token_file} is empty")
        return _checked(TokenSource(token, f"--token-file {token_file}"))
    token = os.environ.get(env_var, "").strip()
    if token:
        return _checked(TokenSource(token, env_var))
    if required:
        raise UsageError(
            f"no API token: set {env_var} (or pass --token-file PATH); "
            "the token is never accepted on the command line"
        )
    return None


def _checked(source: TokenSource) -> TokenSource:
    # An HTTP header carries printable ASCII only; say so without showing any of it.
    if not all(33 <= ord(ch) < 127 for ch in source.token):
        raise UsageError(
            f"the token from {source.origin} has a character that cannot be sent in an "
            "HTTP header (a space, a line break or a non-ASCII character): check it"
        )
    return source


def check_url(url: str) -> str:
    """Refuse a URL that would send the token in clear text or is not a URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--api-url {url!r} is not an http(s) URL or sim:PATH")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"refusing plain http:// to {parts.hostname}: the token would cross the network "
            "in clear text (use https://, or http:// only on loopback)"
        )
    return url.rstrip("/")


def is_loopback(host: str) -> bool:
    """True when `host` names this machine only (127.0.0.0/8, ::1, [::1] or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class UpsertAnswer:
    """What one PUT /api/v2/users answered.

    kind: "ok" (every user done), "errors" (per-user failures in `errors`),
    "async" (follow `request_id`), "rejected" (HTTP 400: the whole batch),
    "unknown" (a 200 whose body we cannot read: verification decides).
    """

    kind: str
    errors: dict[str, str] = field(default_factory=dict)
    request_id: str | None = None
    message: str = ""


@dataclass
class RequestCounter:
    """How many requests of each kind were sent (the benchmark reports them)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


class DealHubClient:
    """A client for the DealHub User API (see the module docstring)."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        target: str,
        token_origin: str,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self._http = http
        auth = http.headers.get("Authorization", "")
        self._secret = auth.split(" ", 1)[1].strip() if " " in auth else ""
        self.target = target
        self._token_origin = token_origin
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self.requests = RequestCounter()

    def __enter__(self) -> DealHubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"DealHubClient(target={self.target!r})"

    # -- the three calls ------------------------------------------------------

    def list_users(self) -> list[dict[str, Any]]:
        """Every user of the tenant, in one `GET /api/v1/users`."""
        response = self._send("GET", "/api/v1/users", kind="read")
        if response.status_code != 200:
            raise self._unexpected(response)
        data = self._json(response)
        if not isinstance(data, list):
            raise ResponseError(
                f"{self.target} answered GET /api/v1/users with {self._kind(data)}, "
                "not the list of users the API returns"
            )
        for i, user in enumerate(data):
            if not isinstance(user, dict) or not isinstance(user.get("login"), str):
                raise ResponseError(
                    f"{self.target} answered GET /api/v1/users with an entry #{i} that is "
                    "not a user object with a login"
                )
        return data

    def upsert_users(self, users: list[dict[str, Any]]) -> UpsertAnswer:
        """One `PUT /api/v2/users` of a batch; see UpsertAnswer for the outcomes."""
        response = self._send("PUT", "/api/v2/users", kind="write", json_body={"users": users})
        if response.status_code in (400, 413, 422):
            return UpsertAnswer("rejected", message=self._message(response))
        if response.status_code != 200 and response.status_code // 100 != 2:
            raise self._unexpected(response)
        if not response.content.strip():
            return UpsertAnswer("ok")
        try:
            data = response.json()
        except ValueError:
            return UpsertAnswer("unknown", message="the answer was not JSON")
        if isinstance(data, dict):
            if data.get("request_id"):
                return UpsertAnswer("async", request_id=str(data["request_id"]))
            errors = data.get("errors")
            if isinstance(errors, list) and errors:
                found: dict[str, str] = {}
                for item in errors:
                    if isinstance(item, dict) and isinstance(item.get("login"), str):
                        found[item["login"]] = self.redact(str(item.get("message") or "rejected"))
                if found:
                    return UpsertAnswer("errors", errors=found)
                return UpsertAnswer(
                    "unknown", message=self.redact(f"unreadable errors: {errors!r}")[:300]
                )
            return UpsertAnswer("ok")
        return UpsertAnswer("unknown", message="the answer was not a JSON object")

    def request_status(self, request_id: str) -> dict[str, Any]:
        """The state of an asynchronous request."""
        path = f"/api/v1/request/{quote(request_id, safe='')}/status"
        response = self._send("GET", path, kind="status")
        if response.status_code != 200:
            raise self._unexpected(response)
        data = self._json(response)
        if not isinstance(data, dict) or not isinstance(data.get("status"), str):
            raise ResponseError(
                f"{self.target} answered the status of request {request_id} with "
                f"{self._kind(data)}, not a status object"
            )
        return {k: self.redact(v) if isinstance(v, str) else v for k, v in data.items()}

    # -- plumbing -------------------------------------------------------------

    def _send(self, method: str, path: str, *, kind: str, json_body: Any = None) -> httpx.Response:
        content = None
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            self.requests.add(kind)
            start = time.monotonic()
            try:
                response = self._http.request(
                    method,
                    path,
                    content=content,
                    headers={"Content-Type": "application/json"} if content else None,
                )
            except httpx.TimeoutException:
                error: ApiError = TransportError(
                    f"{self.target} did not answer {method} {path} in time"
                )
            except httpx.ConnectError as exc:
                error = TransportError(f"cannot reach {self.target}: {_reason(exc)}")
            except httpx.TransportError as exc:
                error = TransportError(
                    f"{self.target} dropped the connection during {method} {path}: {_reason(exc)}"
                )
            else:
                log.debug(
                    "%s %s -> %s in %.3fs",
                    method,
                    path,
                    response.status_code,
                    time.monotonic() - start,
                )
                if response.status_code in (401, 403):
                    raise AuthError(
                        f"{self.target} rejected the token from {self._token_origin} "
                        f"(HTTP {response.status_code}): check that it is current and has "
                        "admin access to users"
                    )
                if response.status_code not in RETRY_STATUSES:
                    return response
                if attempt >= self._retry.attempts:
                    return response
                delay = self._retry_delay(response, attempt)
                level = logging.WARNING if delay >= 5 else logging.DEBUG
                log.log(
                    level,
                    "%s answered HTTP %s; retrying in %.0f s",
                    self.target,
                    response.status_code,
                    delay,
                )
                self._sleep(delay)
                continue
            if attempt >= self._retry.attempts:
                raise error
            delay = self._retry.backoff(attempt, self._rng)
            log.debug("retrying after %s in %.2fs", error, delay)
            self._sleep(delay)

    def redact(self, text: str) -> str:
        """Server-supplied text with the token masked: a server may echo it back."""
        if len(self._secret) >= 4 and self._secret in text:
            return text.replace(self._secret, "[REDACTED]")
        return text

    def _message(self, response: httpx.Response) -> str:
        # Mask, then shorten: shortening first could leave part of the token.
        return self.redact(_server_text(response))[:300]

    def _kind(self, data: Any) -> str:
        if isinstance(data, dict):
            return "an object"
        if isinstance(data, list):
            return "a list"
        return self.redact(repr(data))[:40]

    def _retry_delay(self, response: httpx.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        if header is not None:
            try:
                return min(max(float(header), 0.0), MAX_RETRY_AFTER)
            except ValueError:
                pass  # an HTTP date or garbage: fall back to backoff
        return self._retry.backoff(attempt, self._rng)

    def _json(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            ctype = response.headers.get("Content-Type", "no content type")
            raise ResponseError(
                f"{self.target} answered {response.request.method} {response.request.url.path} "
                f"with something that is not JSON (HTTP {response.status_code}, {ctype})"
            ) from None

    def _unexpected(self, response: httpx.Response) -> ApiError:
        req = response.request
        return ApiError(
            f"{self.target} answered {req.method} {req.url.path} with HTTP "
            f"{response.status_code}: {self._message(response)}"
        )


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:200]


def _server_text(response: httpx.Response) -> str:
    """The vendor's error message from any of the shapes it uses, else the text."""
    try:
        data = response.json()
    except ValueError:
        return response.text.strip() or response.reason_phrase
    if isinstance(data, dict):
        for key in ("message", "error_description", "error", "detail"):
            value = data.get(key)
            if isinstance(value, str):
                return value
    return json.dumps(data)


def connect(
    api_url: str,
    token: TokenSource | None,
    *,
    writable: bool,
    timeout: float = 60.0,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> DealHubClient:
    """A client for `api_url`: an https URL, loopback http, or `sim:PATH`.

    `writable=False` guarantees a `sim:PATH` tenant file is never modified.
    """
    headers = {"User-Agent": f"reconciler/{__version__}", "Accept": "application/json"}
    if api_url.startswith(SIM_PREFIX):
        from reconciler.sim.transport import SimTransport, open_simulator

        path = api_url[len(SIM_PREFIX) :]
        secret = token.token if token else SIM_DEFAULT_TOKEN
        try:
            sim = open_simulator(path, token=secret, writable=writable)
        except (OSError, ValueError) as exc:
            raise UsageError(
                f"--api-url {api_url}: cannot load the simulator state: {exc}"
            ) from None
        http = httpx.Client(
            transport=SimTransport(sim),
            base_url="http://simulator",
            headers={**headers, "Authorization": f"Bearer {secret}"},
            timeout=timeout,
        )
        origin = token.origin if token else "the simulator's default token"
        return DealHubClient(http, target=api_url, token_origin=origin, retry=retry, sleep=sleep)
    base = check_url(api_url)
    if token is None:
        raise UsageError("no API token: set DEALHUB_TOKEN (or pass --token-file PATH)")
    http = httpx.Client(
        base_url=base,
        headers={**headers, "Authorization": f"Bearer {token.token}"},
        timeout=httpx.Timeout(timeout, connect=10.0),
        follow_redirects=False,
    )
    return DealHubClient(http, target=base, token_origin=token.origin, retry=retry, sleep=sleep)
