"""One JSON-over-HTTP client for every vendor, on httpx.

Token sources, URL rules, retries, the total deadline, the size cap and the
masking of server text live here once; a vendor's client
(providers/NAME/client.py) adds only its calls and the shapes of its answers.

One code path for the real API and the simulator: `sim:PATH` only swaps the
transport. One retry loop (`JsonClient._send`) serves every vendor: 429s are
waited out on the server's Retry-After, 5xx and network errors retried with
exponential backoff and full jitter; a vendor's client plugs its pacing, its
refusals and its reading of a 429 into the loop's hooks.

Patience: no single wait is longer than PATIENCE. A server that asks for a
longer one (a Retry-After, a rate-limit reset), or keeps answering 429 past
`max_waits` waits, is not waited for: `RetryLater` stops the run at once and
says when to try again.

The client keeps no cookies; a loopback target never goes through a proxy;
the proxy and certificate variables of the environment are checked before use.

Every answer is read whole through `Answer`, the one place server content
enters: its size is capped, its exchange has a total deadline, and every string
in it is masked (reconciler.redact) as it is parsed, so a token a server
echoes back in any field, id or message goes no further.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import logging
import math
import os
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from reconciler import providers, redact
from reconciler.errors import (
    ApiError,
    AuthError,
    ResponseError,
    TransportError,
    UsageError,
)
from reconciler.textsafe import escape_char

if TYPE_CHECKING:
    import ssl

    import httpx
    from typing_extensions import Self

# httpx (about 60 ms to import), ssl, urllib.request and email.utils are imported by
# the functions that connect, send or read an answer: a command that sends nothing
# (validate, --help) never loads them.

log = logging.getLogger("reconciler.http")

SIM_PREFIX = "sim:"
#: The token the in-process simulator uses when the environment gives none.
SIM_DEFAULT_TOKEN = "sim-token"
#: The 5xx statuses retried (a gateway's, or a server's passing trouble).
RETRIED_5XX = frozenset({500, 502, 503, 504})
#: Seconds: the longest the tool waits at once for any server, whatever it asks.
#: A server that asks for more (Retry-After, a rate-limit reset) stops the run
#: at once with `RetryLater`, which says when to try again; one minute covers
#: every burst window and short outage, and a run that would wait longer is
#: better rerun later than left hanging in CI.
PATIENCE = 60.0
#: 429s for one request waited out before the run stops (`RateLimited`).
MAX_WAITS = 5
#: Seconds allowed between two bytes of an answer.
DEFAULT_TIMEOUT = 60.0
#: Seconds one exchange (a request and its whole answer) may take, however it trickles.
DEFAULT_TOTAL_TIMEOUT = 300.0
#: An answer may hold max(MIN_RESPONSE_BYTES, RESPONSE_BYTES_PER_USER x expected users).
MIN_RESPONSE_BYTES = 64 * 1024 * 1024
#: Generous: the read schema's limits add up to about 1.5 KB of text per user.
RESPONSE_BYTES_PER_USER = 4 * 1024


#: A header's number: ASCII digits only (str.isdigit takes "²" and "٣"), a fraction allowed.
_HEADER_NUMBER = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
#: More digits than this is no count or wait a server means (and int() of 5,000
#: digits raises): a count is then unreadable, a wait longer than any patience.
_MAX_DIGITS = 15


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base: float = 0.5
    cap: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based).

        Never above PATIENCE, whatever the cap: the tool's own waits keep the same bound.
        """
        ceiling = min(self.cap, PATIENCE, self.base * 2 ** min(attempt - 1, 64))
        return rng.uniform(0, ceiling)


@dataclass(frozen=True)
class TokenSource:
    """Where the token came from, to name in an error: never the token itself."""

    token: str = field(repr=False)
    origin: str = ""


def read_token(
    *, token_file: str | None, env_var: str, required: bool = True, system: str = ""
) -> TokenSource | None:
    """The API token from --token-file or the environment variable.

    `system` names the --token-file form to suggest (empty: the bare form, which is the
    registry's default system's).
    """
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
            f"no API token: set {env_var} (or pass --token-file {system}{'=' if system else ''}"
            "PATH); "
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


def check_url(url: str, *, source: str = "--api-url") -> str:
    """Refuse a URL that would send the token in clear text or is not a usable URL.

    What passes is what httpx will use (see `api_url_host`); `source` names
    where the URL came from in the message.
    """
    scheme, host = api_url_host(url, source=source)
    if scheme == "http" and not is_loopback(host):
        raise UsageError(
            f"refusing plain http:// to {host}: the token would cross the network "
            "in clear text (use https://, or http:// only on loopback)"
        )
    return url.rstrip("/")


def api_url_host(url: str, *, source: str = "--api-url") -> tuple[str, str]:
    """The scheme and host an http(s) API base URL reaches; UsageError for anything else.

    Python's URL parser and httpx's must read the URL alike, so the host a
    check approves is the host the token is sent to: a URL they could read
    differently (a backslash, a space, user info, an odd IPv6 literal) is refused.
    """
    shown = _shown_url(url)
    odd = sorted({ch for ch in url if not "!" <= ch <= "~"})
    if odd:
        names = ", ".join("a space" if ch == " " else escape_char(ch) for ch in odd)
        raise UsageError(f"{source} {shown} has a character a URL cannot hold ({names}): check it")
    if "\\" in url:
        raise UsageError(f"{source} {shown} has a backslash, which URL parsers read differently")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UsageError(f"{source} {shown} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise UsageError(f"{source} {shown} is not an http(s) URL or sim:PATH")
    if "@" in parts.netloc:
        raise UsageError(
            f"{source} must not carry a user name or password (USER:PASSWORD@HOST): "
            f"the token is read from {_bare_token_env()} or --token-file"
        )
    if not parts.hostname:
        raise UsageError(f"{source} {shown} has no host")
    if "%" in parts.hostname:
        raise UsageError(f"{source} {shown} has a percent-encoded host: write it plainly")
    if port == 0:
        raise UsageError(f"{source} {shown} has port 0, outside 1-65535")
    if "?" in url or "#" in url:
        raise UsageError(f"{source} {shown} has a query or a fragment: give the base URL only")
    import httpx

    try:
        host = httpx.URL(url).raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeDecodeError) as exc:
        raise UsageError(f"{source} {shown} is not a valid URL: {exc}") from None
    if host != parts.hostname:
        raise UsageError(f"{source} {shown} does not name one host unambiguously")
    return parts.scheme, host


def _bare_token_env() -> str:
    """The token variable of the system the bare options name (the registry's default)."""
    return providers.get(providers.DEFAULT).capabilities.token_env


def _shown_url(url: str) -> str:
    # User info may hold a password: it is never echoed.
    shown = re.sub(r"(?<=//)[^/?#]*@", "***@", url)
    return repr(shown if len(shown) <= 200 else shown[:200] + "...")


def is_loopback(host: str) -> bool:
    """True when `host` names this machine only (127.0.0.0/8, ::1, [::1] or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def response_limit(expected_users: int = 0) -> int:
    """The default cap on one answer: max(64 MiB, 4 KiB x the users the caller expects)."""
    return max(MIN_RESPONSE_BYTES, RESPONSE_BYTES_PER_USER * max(expected_users, 0))


def header_count(value: str | None) -> int | None:
    """A whole number a header gives (a count, a size); None when absent or unreadable.

    Only plain ASCII digits, at most 15 of them: anything else (a sign, a
    fraction, "²", nan, a 5,000-digit value) is None.
    """
    if value is None:
        return None
    match = _HEADER_NUMBER.fullmatch(value.strip())
    if match is None or match.group(2) is not None or len(match.group(1)) > _MAX_DIGITS:
        return None
    return int(match.group(1))


def header_seconds(value: str | None) -> float | None:
    """The seconds a header names (delay-seconds, a fraction allowed); None when unreadable.

    A value of more than 15 digits is `math.inf`: a wait longer than any patience.
    """
    if value is None:
        return None
    match = _HEADER_NUMBER.fullmatch(value.strip())
    if match is None:
        return None
    whole = match.group(1).lstrip("0") or "0"
    if len(whole) > _MAX_DIGITS:
        return math.inf
    return float(whole + "." + (match.group(2) or "0")[:_MAX_DIGITS])


def retry_after_seconds(header: str | None, now: float) -> float | None:
    """The wait a Retry-After header asks for, in seconds; None if unusable.

    Accepts delay-seconds and an HTTP-date (`now` is the wall clock, as
    time.time()); the wait is not capped here (see `JsonClient._bounded`), and
    a value too large to be a date or a number is `math.inf`. Anything else
    (nan, inf, a negative number, an empty value) is None: the caller falls
    back to its own backoff.
    """
    if header is None:
        return None
    seconds = header_seconds(header)
    if seconds is not None:
        return seconds
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(header.strip())
        # An HTTP-date is GMT; a date without a zone is read as GMT too.
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        delay = when.timestamp() - now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(delay, 0.0) if math.isfinite(delay) else None


def duration_text(seconds: float) -> str:
    """A wait as a person reads it: `45 s`, `35 min`, `3 h`, `2 days`, `a very long time`."""
    if not math.isfinite(seconds) or seconds > 366 * 86400:
        return "a very long time"
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} s"
    if seconds < 5400:
        return f"{round(seconds / 60)} min"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def retry_when(seconds: float, now: float) -> str:
    """When to run again, `seconds` from the wall-clock `now`: a UTC time, or advice."""
    if not math.isfinite(seconds) or seconds > 366 * 86400:
        return "retry later: the server named no usable time"
    at = datetime.fromtimestamp(now + seconds, timezone.utc)
    return f"retry after {at:%Y-%m-%d %H:%M} UTC (in {duration_text(seconds)})"


class RetryLater(TransportError):
    """The server asked for a wait longer than PATIENCE: the run stops and says when to retry.

    `retry_in` is the wait the server asked for, in seconds (None: unknown).
    `nothing_done`: the request was surely not carried out (a 429, or nothing
    was sent); False after a 5xx, which a gateway may send after the work.
    """

    def __init__(
        self, message: str, retry_in: float | None = None, *, nothing_done: bool = True
    ) -> None:
        super().__init__(message)
        self.retry_in = retry_in
        self.nothing_done = nothing_done


class RateLimited(RetryLater):
    """Still answered 429 after MAX_WAITS waits: the limit outlasts the window, stop the run."""


class Unsure(Exception):
    """A request that must not be repeated blindly may or may not have been carried out.

    Raised by `JsonClient._send(once=True)` when its answer was lost or was a
    5xx (which a gateway may send after the write): the caller finds out.
    """


@dataclass
class RequestCounter:
    """How many requests of each kind were sent (the benchmark reports them)."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


class Answer:
    """One answer, read whole: the only way server content reaches the rest of the client.

    `json()` and `text()` mask every string as it is parsed; `reason` and
    `content_type` are masked here. Only `raw_json()` is unmasked, for the one
    value that goes back to the same server (an async request id).
    """

    def __init__(self, method: str, path: str, response: httpx.Response, body: bytes) -> None:
        self.method = method
        self.path = path
        self.status = response.status_code
        self.headers = response.headers
        self.reason = redact.redact(response.reason_phrase)
        self.content_type = redact.redact(response.headers.get("Content-Type", "no content type"))
        self.body = body
        self._text: str | None = None
        self._raw: Any = _UNREAD
        self._masked: Any = _UNREAD
        #: Whether masking json() changed anything: a string held a registered secret.
        self.held_secret = False

    def raw_json(self) -> Any:
        """The parsed body, unmasked. ValueError when it is not JSON."""
        if self._raw is _UNREAD:
            if self._text is None:
                self._text = self.body.decode("utf-8-sig")
            try:
                self._raw = json.loads(self._text)
            except RecursionError:
                raise ValueError("nested too deeply") from None
        return self._raw

    def json(self) -> Any:
        """The parsed body with every string (keys too) masked. ValueError when not JSON."""
        if self._masked is _UNREAD:
            raw = self.raw_json()
            if not _holds_secret(self._text or ""):
                self._masked = raw
            else:
                try:
                    self._masked = self._mask(raw)
                except RecursionError:
                    raise ValueError("nested too deeply") from None
        return self._masked

    def text(self) -> str:
        """The body as text, masked."""
        return redact.redact(self.body.decode("utf-8", errors="replace"))

    def _mask(self, value: Any) -> Any:
        if isinstance(value, str):
            masked = redact.redact(value)
            if masked != value:
                self.held_secret = True
            return masked
        if isinstance(value, list):
            return [self._mask(item) for item in value]
        if isinstance(value, dict):
            return {self._mask(k): self._mask(v) for k, v in value.items()}
        return value


_UNREAD = object()
_DECODER = json.JSONDecoder()


def _holds_secret(text: str) -> bool:
    """Whether any string of the valid JSON `text` holds a registered secret once decoded.

    A string without escapes is spelt in the text as it decodes, so one look at
    the whole text covers it; only the strings with an escape (a secret could
    hide as `\\u0074ok...`) are decoded one by one.
    """
    if redact.redact(text) != text:
        return True
    pos = text.find("\\")
    while pos != -1:
        # Backslashes occur only inside strings, and none since the last string
        # decoded: the nearest quote before this one opens its string.
        start = text.rfind('"', 0, pos)
        value, end = _DECODER.raw_decode(text, start)
        if redact.redact(value) != value:
            return True
        pos = text.find("\\", end)
    return False


class JsonClient:
    """The plumbing every vendor client shares: retries, deadline, size cap, masking.

    `total_timeout` bounds each exchange from request to last byte;
    `max_response_bytes` caps one answer (default: `response_limit(expected_users)`).
    The token in the `Authorization` header of `http` is registered with
    reconciler.redact, so it is masked wherever the process writes.
    """

    def __init__(
        self,
        http: httpx.Client,
        *,
        target: str,
        token_origin: str,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
        total_timeout: float = DEFAULT_TOTAL_TIMEOUT,
        max_response_bytes: int | None = None,
        expected_users: int = 0,
        max_waits: int = MAX_WAITS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._http = http
        for secret in self._secrets_in(http.headers):
            register(secret)
        self.target = target
        self._token_origin = token_origin
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._total_timeout = total_timeout
        self.max_response_bytes = (
            response_limit(expected_users) if max_response_bytes is None else max_response_bytes
        )
        self.requests = RequestCounter()
        #: 429s for one request waited out before the run stops.
        self.max_waits = max_waits
        #: The time of day (an HTTP-date Retry-After, and when to retry, are read by it).
        self._wall = wall

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(target={self.target!r})"

    # -- plumbing -------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        kind: str,
        json_body: Any = None,
        shown_path: str | None = None,
        once: bool = False,
        cost: int = 0,
    ) -> Answer:
        """Send one request until it has an answer worth returning: the one retry loop.

        A 429 is waited out (the vendor did nothing with the request) at most
        `max_waits` times, each wait within PATIENCE; a 5xx or a network error
        is retried `retry.attempts` times. `once`: the request must not be
        repeated blindly (a create that is not idempotent): a lost answer or a
        5xx raises `Unsure` instead. `cost` is what the vendor charges for it
        (see `_before_send`). The hooks `_before_send`, `_observe`, `_refusal`,
        `_throttled` and `_pause` are where a vendor differs.
        """
        import httpx

        shown = shown_path or path
        content = None
        if json_body is not None:
            content = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
        attempt = 0
        waits = 0
        while True:
            self._before_send(method, cost)
            self.requests.add(kind)
            try:
                answer = self._exchange(method, path, shown, content)
            except httpx.ConnectError as exc:
                # Nothing reached the server: repeating is safe for any request.
                error: ApiError = TransportError(f"cannot reach {self.target}: {reason(exc)}")
            except httpx.TimeoutException:
                error = TransportError(f"{self.target} did not answer {method} {shown} in time")
                if once:
                    raise Unsure(str(error)) from None
            except httpx.TransportError as exc:
                error = TransportError(
                    f"{self.target} dropped the connection during {method} {shown}: {reason(exc)}"
                )
                if once:
                    raise Unsure(str(error)) from None
            except httpx.DecodingError as exc:
                raise ResponseError(
                    f"{self.target} answered {method} {shown} with a body that cannot be "
                    f"decoded: {reason(exc)}"
                ) from None
            else:
                self._observe(answer)
                refusal = self._refusal(answer)
                if refusal is not None:
                    raise refusal
                if answer.status == 429:
                    waits += 1
                    self._pause(self._throttled(answer, waits, cost))
                    continue
                if answer.status not in RETRIED_5XX:
                    return answer
                if once:
                    raise Unsure(
                        f"{self.target} answered {method} {shown} with HTTP {answer.status}"
                    )
                attempt += 1
                if attempt >= self._retry.attempts:
                    return answer
                asked = retry_after_seconds(answer.headers.get("Retry-After"), self._wall())
                delay = self._retry.backoff(attempt, self._rng) if asked is None else asked
                self._bounded(delay, answer, f"HTTP {answer.status} with a Retry-After")
                self._log_wait(answer.status, delay)
                self._sleep(delay)
                continue
            attempt += 1
            if attempt >= self._retry.attempts:
                raise error
            delay = self._retry.backoff(attempt, self._rng)
            log.debug("retrying after %s in %.2fs", error, delay)
            self._sleep(delay)

    # -- the retry loop's hooks, where a vendor differs --------------------------

    def _before_send(self, method: str, cost: int) -> None:
        """Called before every request is sent: pacing, or a budget check. Nothing here."""

    def _observe(self, answer: Answer) -> None:
        """Called with every answer before it is judged (rate-limit headers). Nothing here."""

    def _throttled(self, answer: Answer, waits: int, cost: int) -> float:
        """The wait before sending again after the `waits`-th 429 for one request.

        The server's Retry-After, else backoff; RateLimited past `max_waits`,
        RetryLater for a wait beyond PATIENCE.
        """
        if waits > self.max_waits:
            raise self._rate_limited(answer)
        asked = retry_after_seconds(answer.headers.get("Retry-After"), self._wall())
        delay = self._retry.backoff(waits, self._rng) if asked is None else asked
        return self._bounded(delay, answer, "its Retry-After")

    def _pause(self, seconds: float) -> None:
        """Wait `seconds` (already within PATIENCE) before the next request."""
        self._log_wait(429, seconds)
        self._sleep(seconds)

    def _rate_limited(self, answer: Answer) -> RateLimited:
        return RateLimited(
            f"{self.target} still answered {answer.method} {answer.path} with HTTP 429 (rate "
            f"limit) after {self.max_waits} waits: the limit outlasts its window, so the run "
            "stops here instead of meeting it change by change; retry in a few minutes"
        )

    def _bounded(self, seconds: float, answer: Answer | None, what: str) -> float:
        """`seconds` when it is within PATIENCE; else RetryLater, which stops the run."""
        if seconds <= PATIENCE:
            return seconds
        where = f" on {answer.method} {answer.path}" if answer is not None else ""
        raise RetryLater(
            f"{self.target} asks to wait {duration_text(seconds)} before the next request "
            f"({what}{where}), longer than the "
            f"{PATIENCE:g} s the tool waits at most: stopped at once; "
            f"{retry_when(seconds, self._wall())}",
            retry_in=seconds if math.isfinite(seconds) else None,
            nothing_done=answer is None or answer.status == 429,
        )

    def _log_wait(self, status: int, delay: float) -> None:
        level = logging.WARNING if delay >= 5 else logging.DEBUG
        log.log(level, "%s answered HTTP %s; retrying in %.0f s", self.target, status, delay)

    def _exchange(self, method: str, path: str, shown: str, content: bytes | None) -> Answer:
        """One request and its whole answer, within the total deadline and the size cap."""
        start = time.monotonic()
        deadline = start + self._total_timeout
        limit = self.max_response_bytes
        with self._http.stream(
            method,
            path,
            content=content,
            headers={"Content-Type": "application/json"} if content else None,
        ) as response:
            declared = response.headers.get("Content-Length")
            digits = declared.strip() if declared is not None else ""
            if (
                digits.isascii()
                and digits.isdigit()
                and (len(digits) > _MAX_DIGITS or int(digits) > limit)
            ):
                raise self._too_large(method, shown)
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise self._too_large(method, shown)
                if time.monotonic() > deadline:
                    # Not retried: a server this slow would be as slow again.
                    raise TransportError(
                        f"{self.target} did not finish answering {method} {shown} within "
                        f"{self._total_timeout:g} s"
                    )
                chunks.append(chunk)
        log.debug(
            "%s %s -> %s in %.3fs", method, shown, response.status_code, time.monotonic() - start
        )
        return Answer(method, shown, response, b"".join(chunks))

    def _too_large(self, method: str, shown: str) -> ResponseError:
        return ResponseError(
            f"{self.target} answered {method} {shown} with more than "
            f"{size_text(self.max_response_bytes)}, the most one answer may hold "
            "(max(64 MiB, 4 KiB per expected user)): refusing it"
        )

    def _secrets_in(self, headers: httpx.Headers) -> list[str]:
        """The secrets in the client's own headers: the `Authorization` credential."""
        auth = headers.get("Authorization", "")
        return [auth.split(" ", 1)[1]] if " " in auth else []

    def _refusal(self, answer: Answer) -> ApiError | None:
        """The error an answer means for the whole run (a rejected token), or None."""
        if answer.status in (401, 403):
            return AuthError(
                f"{self.target} rejected the token from {self._token_origin} "
                f"(HTTP {answer.status}): check that it is current and has "
                "admin access to users"
            )
        return None

    def redact(self, text: str) -> str:
        """`text` with every registered token masked (see reconciler.redact)."""
        return redact.redact(text)

    def _message(self, answer: Answer) -> str:
        # Masked as parsed, then shortened: shortening first could leave part of the token.
        return server_text(answer)[:300]

    def _kind(self, data: Any) -> str:
        if isinstance(data, dict):
            return "an object"
        if isinstance(data, list):
            return "a list"
        return repr(data)[:40]

    def _json(self, answer: Answer) -> Any:
        try:
            return answer.json()
        except ValueError:
            raise ResponseError(
                f"{self.target} answered {answer.method} {answer.path} with something that is "
                f"not JSON (HTTP {answer.status}, {answer.content_type[:80]})"
            ) from None

    def _unexpected(self, answer: Answer) -> ApiError:
        return ApiError(
            f"{self.target} answered {answer.method} {answer.path} with HTTP "
            f"{answer.status}: {self._message(answer)}"
        )


def size_text(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit} bytes"


def register(secret: str) -> None:
    # The token also travels percent-encoded (in a URL a log may show): mask both forms.
    redact.register(secret)
    redact.register(quote(secret.strip(), safe=""))


def reason(exc: Exception) -> str:
    text = redact.redact(str(exc) or type(exc).__name__)
    return text.splitlines()[0][:200]


def server_text(answer: Answer) -> str:
    """The vendor's error message from any of the shapes it uses, else the text."""
    try:
        data = answer.json()
    except ValueError:
        return answer.text().strip() or answer.reason
    if isinstance(data, dict):
        for key in ("message", "error_description", "error", "detail"):
            value = data.get(key)
            if isinstance(value, str):
                return value
    return json.dumps(data)


@dataclass(frozen=True)
class Connection:
    """An httpx client set up for one vendor's API, and what to call it in messages."""

    http: httpx.Client
    target: str
    token_origin: str


def open_http(
    api_url: str,
    token: TokenSource | None,
    *,
    system: str,
    auth: Callable[[str], dict[str, str]],
    writable: bool,
    timeout: float,
    total_timeout: float,
    flag: str,
    missing_token: str,
) -> Connection:
    """The httpx client for `api_url`: an https URL, loopback http, or `sim:PATH`.

    One code path for the real API and the simulator: `sim:PATH` only swaps the
    transport (and `writable=False` keeps its state file untouched). The token
    is registered with reconciler.redact before anything is sent and travels
    in the headers `auth` makes of it, never in a URL. `flag` names the option
    in messages; `missing_token` says how to give a token.
    """
    import httpx

    from reconciler import __version__
    from reconciler.cookies import NoCookies

    if token is not None:
        register(token.token)
    headers = {"User-Agent": f"reconciler/{__version__}", "Accept": "application/json"}
    if api_url.startswith(SIM_PREFIX):
        from reconciler.sim.transport import SimTransport, open_simulator

        path = api_url[len(SIM_PREFIX) :]
        secret = token.token if token else SIM_DEFAULT_TOKEN
        try:
            sim = open_simulator(path, token=secret, writable=writable, system=system)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{flag} {api_url}: cannot load the simulator state: {exc}") from None
        http = httpx.Client(
            transport=SimTransport(sim),
            base_url="http://simulator",
            headers={**headers, **auth(secret)},
            timeout=timeout,
            cookies=NoCookies(),
        )
        origin = token.origin if token else "the simulator's default token"
        return Connection(http, api_url, origin)
    base = check_url(api_url, source=flag)
    if token is None:
        raise UsageError(f"no API token: {missing_token}")
    # No single wait may outlast the whole exchange.
    gap = min(timeout, total_timeout)
    http = httpx.Client(
        base_url=base,
        headers={**headers, **auth(token.token)},
        timeout=httpx.Timeout(gap, connect=min(10.0, gap)),
        follow_redirects=False,
        cookies=NoCookies(),
        # Built here, not by httpx from the environment: the proxy and the
        # certificates are checked first, and loopback never goes through a proxy.
        transport=transport_for(base),
    )
    return Connection(http, base, token.origin)


#: The variables that may name a proxy for an https target, in the order httpx reads them.
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def transport_for(base: str) -> httpx.HTTPTransport:
    """The transport to `base` (a URL check_url passed): its proxy and certificates checked.

    A loopback target never goes through a proxy: the proxy would see plain
    http, token included. Any other target is https (check_url), so an http://
    proxy only tunnels its TLS (CONNECT). NO_PROXY is honoured.
    """
    import ssl

    import httpx

    scheme, host = api_url_host(base)
    # Plain http (loopback only, see check_url) verifies no certificate: a context that
    # trusts nothing, so the environment's certificates are not even read for it.
    trusting_nothing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context = ssl_context() if scheme == "https" else trusting_nothing
    proxy = None if is_loopback(host) else environment_proxy(host)
    try:
        return httpx.HTTPTransport(verify=context, proxy=proxy)
    except (ImportError, ValueError) as exc:  # pragma: no cover - environment_proxy checks first
        raise UsageError(f"cannot use the proxy of the environment: {reason(exc)}") from None


def environment_proxy(host: str) -> str | None:
    """The proxy the environment names for https to `host`, checked; None for none.

    UsageError names the variable when its proxy cannot be used (an unknown
    scheme, socks5 without the socksio package, a URL that cannot be read).
    """
    import urllib.request

    # NO_PROXY, read as urllib reads it (typeshed leaves this function out).
    if urllib.request.proxy_bypass_environment(host):  # type: ignore[attr-defined]
        return None
    for name in PROXY_VARIABLES:
        value = os.environ.get(name, "").strip()
        if not value:
            continue
        url = value if "://" in value else f"http://{value}"
        shown = _shown_url(url)
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - reading it checks it
        except ValueError:
            raise UsageError(f"{name}={shown} is not a usable proxy URL") from None
        if parts.scheme not in _PROXY_SCHEMES or not parts.hostname:
            raise UsageError(
                f"{name}={shown} is not a proxy this tool can use: give "
                "http://HOST:PORT, https://HOST:PORT or socks5://HOST:PORT, or unset it"
            )
        if parts.scheme.startswith("socks5") and importlib.util.find_spec("socksio") is None:
            raise UsageError(
                f"{name}={shown} names a SOCKS proxy, which needs the socksio package: "
                "install it (pip install 'httpx[socks]'), or unset the variable"
            )
        return url
    return None


def ssl_context() -> ssl.SSLContext:
    """The certificates to trust: SSL_CERT_FILE, else SSL_CERT_DIR, else certifi's.

    UsageError names the variable and the file when it cannot be used.
    """
    import ssl

    for name, kind in (("SSL_CERT_FILE", "cafile"), ("SSL_CERT_DIR", "capath")):
        value = os.environ.get(name, "")
        if not value:
            continue
        shown = repr(value if len(value) <= 200 else value[:200] + "...")
        exists = os.path.isfile(value) if kind == "cafile" else os.path.isdir(value)
        if not exists:
            what = "file" if kind == "cafile" else "directory"
            raise UsageError(
                f"{name} names {shown}, which is not a readable {what}: point it at the "
                "certificates to trust, or unset it"
            )
        try:
            if kind == "cafile":
                return ssl.create_default_context(cafile=value)
            return ssl.create_default_context(capath=value)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise UsageError(
                f"{name} names {shown}, whose certificates cannot be loaded: {reason(exc)}"
            ) from None
    import httpx

    return httpx.create_ssl_context(trust_env=False)
