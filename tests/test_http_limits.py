"""What bounds an exchange: a total deadline, a size cap, and a Retry-After read safely."""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from reconciler import redact
from reconciler.errors import ResponseError, TransportError
from reconciler.http import (
    MIN_RESPONSE_BYTES,
    RetryPolicy,
    TokenSource,
    response_limit,
    retry_after_seconds,
)
from reconciler.providers.dealhub.client import DealHubClient, connect
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.server import running
from tests.helpers.loopback import Respond, answer, serve

TOKEN = "limits-test-token"


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


def client_for(url: str, **options: object) -> DealHubClient:
    return connect(
        url,
        TokenSource(TOKEN, "DEALHUB_TOKEN"),
        writable=False,
        retry=RetryPolicy(attempts=3, base=0, cap=0),
        sleep=lambda _: None,
        **options,  # type: ignore[arg-type]
    )


# -- the total deadline -----------------------------------------------------------


def trickle(body: bytes, pause: float, requests: list[str]) -> Respond:
    """A responder that sends `body` one byte at a time, `pause` seconds apart."""

    def respond(handler: BaseHTTPRequestHandler) -> None:
        requests.append(handler.path)
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        for byte in body:
            handler.wfile.write(bytes([byte]))
            handler.wfile.flush()
            time.sleep(pause)

    return respond


def test_a_trickling_answer_fails_at_the_total_deadline_and_is_not_retried() -> None:
    # Each byte comes well within the gap timeout; only the total deadline stops it.
    requests: list[str] = []
    body = b"[" + b" " * 60 + b"]"
    with serve(trickle(body, 0.1, requests)) as url:
        client = client_for(url, timeout=5.0, total_timeout=0.5)
        with pytest.raises(TransportError) as info:
            client.list_users()
        client.close()
    assert str(info.value) == (f"{url} did not finish answering GET /api/v1/users within 0.5 s")
    assert requests == ["/api/v1/users"]


def test_a_prompt_answer_is_unaffected_by_the_deadline() -> None:
    sim = Simulator(TenantStore([{"login": "a@x", "email": "a@x.com", "name": "A"}]), token=TOKEN)
    with running(sim) as url:
        client = client_for(url, total_timeout=30.0)
        assert [u["login"] for u in client.list_users()] == ["a@x"]
        client.close()


# -- the size cap ---------------------------------------------------------------------


def test_default_cap_scales_with_the_expected_users() -> None:
    assert response_limit() == MIN_RESPONSE_BYTES == 64 * 1024 * 1024
    assert response_limit(1_000) == MIN_RESPONSE_BYTES
    assert response_limit(100_000) == 4096 * 100_000
    client = connect("https://api.dealhub.io", TokenSource(TOKEN, "X"), writable=False)
    assert client.max_response_bytes == MIN_RESPONSE_BYTES
    client.close()
    client = connect(
        "https://api.dealhub.io", TokenSource(TOKEN, "X"), writable=False, expected_users=50_000
    )
    assert client.max_response_bytes == 4096 * 50_000
    client.close()


def test_an_answer_declared_too_large_is_refused_before_it_is_read() -> None:
    body = b"[" + b" " * 4000 + b"]"
    with serve(answer(200, body, "application/json")) as url:
        client = client_for(url, max_response_bytes=1000)
        with pytest.raises(ResponseError) as info:
            client.list_users()
        client.close()
    assert "GET /api/v1/users with more than 1000 bytes" in str(info.value)
    assert "max(64 MiB, 4 KiB per expected user)" in str(info.value)


def test_an_answer_without_a_length_is_cut_at_the_cap_while_streaming() -> None:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes.
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.end_headers()
        handler.wfile.write(b"[")
        for _ in range(200):
            handler.wfile.write(b" " * 100)
        handler.wfile.write(b"]")

    with serve(respond) as url:
        client = client_for(url, max_response_bytes=5000)
        with pytest.raises(ResponseError, match="with more than 5000 bytes"):
            client.list_users()
        client.close()


def test_a_body_that_cannot_be_decoded_is_one_clear_error() -> None:
    bad_gzip = answer(200, b"not gzip at all", "application/json", Content_Encoding="gzip")
    with serve(bad_gzip) as url:
        client = client_for(url)
        with pytest.raises(ResponseError, match="body that cannot be decoded"):
            client.list_users()
        client.close()


# -- Retry-After ---------------------------------------------------------------------------

NOW = 1_700_000_000.0


def http_date(offset: float) -> str:
    return format_datetime(datetime.fromtimestamp(NOW + offset, timezone.utc), usegmt=True)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("100000", 100000.0),
        ("2065", 2065.0),
        ("9" * 400, math.inf),
        ("9" * 5000, math.inf),
        ("0" * 400 + "7", 7.0),
        ("²", None),
        (http_date(30), 30.0),
        (http_date(-30), 0.0),
        (http_date(86_400), 86_400.0),
        ("nan", None),
        ("inf", None),
        ("-inf", None),
        ("-1", None),
        ("1e999", None),
        ("1e3", None),
        ("", None),
        ("   ", None),
        ("soon", None),
        ("1_000", None),
        ("٣", None),  # an Arabic-Indic three: a digit to Python, not to HTTP
        ("Mon, 32 Jan 2020 00:00:00 GMT", None),
        ("Thu, 01 Jan 99999 00:00:00 GMT", None),
        (None, None),
    ],
)
def test_retry_after_values(header: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(header, NOW) == seconds


@pytest.mark.parametrize("header", ["nan", "inf", "-1", "1e999", "", "Wed, 99 Foo 2015"])
def test_junk_retry_after_falls_back_to_backoff(header: str) -> None:
    calls: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        if len(calls) == 1:
            answer(429, b"slow down", Retry_After=header)(handler)
        else:
            answer(200, b"[]", "application/json")(handler)

    sleeps: list[float] = []
    policy = RetryPolicy(attempts=3, base=50.0, cap=50.0)
    with serve(respond) as url:
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"})
        client = DealHubClient(
            http, target=url, token_origin="X", retry=policy, sleep=sleeps.append, seed=5
        )
        assert client.list_users() == []
        client.close()
    expected = policy.backoff(1, random.Random(5))
    assert sleeps == [expected] and math.isfinite(expected) and expected > 0
    assert len(calls) == 2


def test_a_usable_retry_after_is_honoured_over_loopback() -> None:
    calls: list[str] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        calls.append(handler.path)
        if len(calls) == 1:
            answer(503, b"busy", Retry_After="7")(handler)
        else:
            answer(200, b"[]", "application/json")(handler)

    sleeps: list[float] = []
    with serve(respond) as url:
        client = connect(
            url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False, sleep=sleeps.append
        )
        assert client.list_users() == []
        client.close()
    assert sleeps == [7.0]
