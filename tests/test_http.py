"""The HTTP client against the simulator (in-process and over loopback) and a garbage server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from reconciler.errors import ApiError, AuthError, ResponseError, TransportError, UsageError
from reconciler.http import RetryPolicy, TokenSource, check_url, read_token
from reconciler.providers.dealhub.client import DealHubClient, connect
from reconciler.sim.faults import Faults
from reconciler.targets import is_trusted_target
from tests.helpers.dealhub_client import TOKEN, USERS, MakeClient
from tests.helpers.loopback import answer, serve

# Clients register their token process-wide: every test starts and ends with none.
pytestmark = pytest.mark.usefixtures("forget_tokens")

NEW = {"login": "n@x", "email": "n@x.com", "name": "N", "is_active": True}


def test_list_users_is_one_get(make_client: MakeClient) -> None:
    client, sim, _ = make_client()
    users = client.list_users()
    assert {u["login"] for u in users} == {"a@x", "b@x"}
    assert [(e["method"], e["path"]) for e in sim.request_log] == [("GET", "/api/v1/users")]
    assert client.requests.counts == {"read": 1}


def test_rejected_token_names_its_origin_not_its_value(make_client: MakeClient) -> None:
    client, _, sleeps = make_client(token="wrong-token-value")
    with pytest.raises(AuthError) as info:
        client.list_users()
    assert "DEALHUB_TOKEN" in str(info.value) and "403" in str(info.value)
    assert "wrong-token-value" not in str(info.value) and TOKEN not in str(info.value)
    assert sleeps == []  # a rejected token is not retried


def test_throttling_honours_retry_after(make_client: MakeClient) -> None:
    client, sim, sleeps = make_client(Faults(throttle_rate=0.5, retry_after=3, seed=4), attempts=20)
    for _ in range(6):
        assert len(client.list_users()) == 2
    assert 3.0 in sleeps
    assert all(s == 3.0 for s in sleeps)
    assert len(sim.request_log) == 6 + len(sleeps)


def test_server_errors_are_retried_with_backoff(make_client: MakeClient) -> None:
    client, _, sleeps = make_client(Faults(failure_rate=0.5, seed=2))
    for _ in range(6):
        assert len(client.list_users()) == 2
    assert sleeps and all(0 <= s <= 0.02 for s in sleeps)


def test_retries_give_up_after_the_last_attempt(make_client: MakeClient) -> None:
    client, _, sleeps = make_client(Faults(failure_rate=1.0), attempts=3)
    with pytest.raises(ApiError, match="HTTP 503"):
        client.list_users()
    assert len(sleeps) == 2


def test_lost_answer_on_write_is_retried_safely(make_client: MakeClient) -> None:
    client, sim, sleeps = make_client(Faults(lost_rate=0.5, seed=3))
    for i in range(4):
        answer = client.upsert_users([{**NEW, "login": f"n{i}@x"}])
        assert answer.kind == "ok"
    logins = {u["login"] for u in client.list_users()}
    assert {f"n{i}@x" for i in range(4)} <= logins
    assert sleeps, "with this seed at least one answer was lost and retried"
    puts = [e for e in sim.request_log if e["method"] == "PUT"]
    assert len(puts) == 4 + len(sleeps)
    assert len(logins) == len(USERS) + 4  # a retried upsert creates no twin


def test_upsert_answers(make_client: MakeClient) -> None:
    client, _, _ = make_client(Faults(max_batch=2))
    assert client.upsert_users([NEW]).kind == "ok"
    bad = {**NEW, "login": "bad@x", "city": "x" * 40}
    answer = client.upsert_users([{**NEW, "name": "N2"}, bad])
    assert answer.kind == "errors"
    assert set(answer.errors) == {"bad@x"}
    assert "city" in answer.errors["bad@x"]
    too_many = client.upsert_users([NEW, NEW, NEW])
    assert too_many.kind == "rejected" and too_many.message


def test_async_answer_and_status(make_client: MakeClient) -> None:
    client, _, _ = make_client(Faults(async_mode=True))
    answer = client.upsert_users([NEW])
    assert answer.kind == "async" and answer.request_id
    phases = [client.request_status(answer.request_id)["status"] for _ in range(3)]
    assert phases[-1] == "done"
    assert "n@x" in {u["login"] for u in client.list_users()}


# -- a server that answers garbage, over a real socket ---------------------------------


@contextmanager
def garbage_server(status: int, body: bytes, delay: float = 0.0) -> Iterator[str]:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(delay)
        answer(status, body)(handler)

    with serve(respond) as url:
        yield url


def _client(url: str, timeout: float = 5.0) -> DealHubClient:
    return connect(
        url,
        TokenSource(TOKEN, "DEALHUB_TOKEN"),
        writable=False,
        timeout=timeout,
        retry=RetryPolicy(attempts=1),
    )


@pytest.mark.parametrize(
    ("status", "body", "error", "fragment"),
    [
        (200, b"<html>maintenance</html>", ResponseError, "not JSON (HTTP 200, text/html)"),
        (200, b'{"users": []}', ResponseError, "an object, not the list of users"),
        (200, b'[{"name": "no login"}]', ResponseError, "entry #0"),
        (401, b"", AuthError, "HTTP 401"),
        (404, b"not here", ApiError, "HTTP 404: not here"),
    ],
)
def test_garbage_answers_are_one_clear_error(
    status: int, body: bytes, error: type[Exception], fragment: str
) -> None:
    with garbage_server(status, body) as url, _client(url) as client, pytest.raises(error) as info:
        client.list_users()
    assert fragment in str(info.value)
    assert "\n" not in str(info.value) and TOKEN not in str(info.value)


def test_timeout_is_one_clear_error() -> None:
    with (
        garbage_server(200, b"[]", delay=1.0) as url,
        _client(url, timeout=0.2) as client,
        pytest.raises(TransportError, match="did not answer GET /api/v1/users in time"),
    ):
        client.list_users()


# -- targets and tokens --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://api.dealhub.io",
        "https://service-eu1.dealhub.io/",
        "http://127.0.0.1:8080",
        "http://localhost:1",
        "http://[::1]:9",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert check_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://api.dealhub.io", "clear text"),
        ("http://10.0.0.5:8080", "clear text"),
        ("ftp://api.dealhub.io", "not an http(s) URL"),
        ("api.dealhub.io", "not an http(s) URL"),
    ],
)
def test_refused_urls(url: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=re.escape(fragment)):
        check_url(url)


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("https://[::1].dealhub.io", "is not a valid URL"),
        ("https://api.dealhub.io\t", "cannot hold (\\u0009)"),
        ("https://api.deal\nhub.io", "cannot hold (\\u000a)"),
        ("https://api dealhub.io", "cannot hold (a space)"),
        (" https://api.dealhub.io", "cannot hold (a space)"),
        ("https://api.dealhub.io\u200b", "cannot hold (\\u200b)"),
        ("https://host:99999", "is not a valid URL: Port out of range"),
        ("https://host:0", "port 0"),
        ("https://host:http", "is not a valid URL"),
        ("https://user:pw@api.dealhub.io", "must not carry a user name or password"),
        ("https://api.dealhub.io@evil.example", "must not carry a user name or password"),
        ("https://api.dealhub.io\\@evil.example", "backslash"),
        ("https://", "has no host"),
        ("https://api.dealhub.io/?x=1", "query or a fragment"),
        ("https://api.dealhub.io#top", "query or a fragment"),
        ("https://[fe80::1", "is not a valid URL"),
        ("https://api%2Edealhub.io", "percent-encoded host"),
        ("https://api%2edealhub.io", "percent-encoded host"),
    ],
)
def test_malformed_urls_are_one_usage_error(url: str, fragment: str) -> None:
    # The same reading for the token's target and for the trust a file's URL gets.
    for check, source in ((check_url, "--api-url"), (is_trusted_target, "the target")):
        with pytest.raises(UsageError) as info:
            check(url)
        message = str(info.value)
        assert fragment in message and message.startswith(source)
        assert "\n" not in message and "\t" not in message and "pw" not in message


def test_connect_refuses_a_url_httpx_cannot_use_before_sending_anything() -> None:
    # urlsplit reads the host of this one as ::1 (loopback), httpx refuses it.
    with pytest.raises(UsageError, match="is not a valid URL"):
        connect("http://[::1].dealhub.io", TokenSource(TOKEN, "X"), writable=False)


def test_token_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(f"  {TOKEN}\n")
    source = read_token(token_file=str(token_file), env_var="DEALHUB_TOKEN")
    assert source is not None and source.token == TOKEN
    assert TOKEN not in source.origin
    monkeypatch.setenv("MY_TOKEN", TOKEN)
    env_source = read_token(token_file=None, env_var="MY_TOKEN")
    assert env_source == TokenSource(TOKEN, "MY_TOKEN")
    monkeypatch.delenv("MY_TOKEN")
    with pytest.raises(UsageError, match="set MY_TOKEN"):
        read_token(token_file=None, env_var="MY_TOKEN")
    token_file.write_text("\n")
    with pytest.raises(UsageError, match="is empty"):
        read_token(token_file=str(token_file), env_var="DEALHUB_TOKEN")


def test_client_repr_hides_the_token() -> None:
    client = connect("https://api.dealhub.io", TokenSource(TOKEN, "X"), writable=False)
    assert TOKEN not in repr(client)
    client.close()


def test_sim_target_is_read_only_unless_writable(tmp_path: Path) -> None:
    state = tmp_path / "t.json"
    state.write_text(
        '[{"login": "a@x", "id": "1", "email": "a@x.com", "name": "A", "is_active": true}]'
    )
    before = state.read_bytes()
    with connect(f"sim:{state}", None, writable=False) as client:
        assert client.upsert_users([NEW]).kind == "ok"
    assert state.read_bytes() == before
    with connect(f"sim:{state}", None, writable=True) as client:
        client.upsert_users([NEW])
    assert b"n@x" in state.read_bytes()


def test_missing_sim_state_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot load the simulator state"):
        connect(f"sim:{tmp_path / 'missing.json'}", None, writable=False)


def test_a_server_echoing_the_token_never_gets_it_printed() -> None:
    body = f'{{"message": "bad token Bearer {TOKEN}"}}'.encode()
    with garbage_server(500, body) as url, _client(url) as client, pytest.raises(ApiError) as info:
        client.list_users()
    assert TOKEN not in str(info.value) and "[REDACTED]" in str(info.value)


def test_token_source_repr_hides_the_token() -> None:
    assert TOKEN not in repr(TokenSource(TOKEN, "DEALHUB_TOKEN"))


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (200, f'"{"z" * 28}{TOKEN}"'.encode()),  # repr cut at 40, inside the token
        (404, ("x" * 280 + f" Bearer {TOKEN}").encode()),  # text cut at 300
        (404, f'{{"auth": "{"y" * 280}{TOKEN}"}}'.encode()),  # JSON without a message key
    ],
)
def test_no_part_of_an_echoed_token_survives_shortening(status: int, body: bytes) -> None:
    with (
        garbage_server(status, body) as url,
        _client(url) as client,
        pytest.raises(ApiError) as info,
    ):
        client.list_users()
    assert TOKEN[:8] not in str(info.value)
