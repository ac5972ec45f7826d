"""The simulators over a real loopback socket."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from reconciler.http import is_loopback
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from tests.providers.dealhub.conftest import AUTH, TOKEN, sample_users, user
from tests.providers.pipedrive.helpers import TOKEN as PD_TOKEN
from tests.providers.pipedrive.helpers import company


def make_sim(**faults: Any) -> Simulator:
    return Simulator(TenantStore(sample_users()), token=TOKEN, faults=Faults(**faults))


def raw_exchange(url: str, request: bytes) -> bytes:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    with socket.create_connection((parts.hostname, parts.port), timeout=5) as conn:
        conn.sendall(request)
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def json_put(path: str, auth: str, payload: Any) -> bytes:
    """The bytes of an HTTP/1.1 PUT of `payload` as JSON, with one authentication header."""
    body = json.dumps(payload).encode()
    head = (
        f"PUT {path} HTTP/1.1\r\nHost: x\r\n{auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def test_running_serves_on_loopback_and_stops_on_exit() -> None:
    with running(make_sim()) as url:
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers=AUTH) as client:
            assert client.get("/api/v1/users").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/api/v1/users", headers=AUTH)


def test_a_lost_answer_closes_the_connection_without_a_byte() -> None:
    sim = make_sim(lost_rate=1.0)
    request = json_put(
        "/api/v2/users", f"Authorization: Bearer {TOKEN}", {"users": [user("new@acme")]}
    )
    with running(sim) as url:
        assert raw_exchange(url, request) == b""
    assert "new@acme" in sim.store


def test_connections_are_kept_alive_between_requests() -> None:
    with running(make_sim()) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        first = client.get("/api/v1/users")
        second = client.get("/api/v1/users")
    assert first.headers.get("connection") != "close"
    assert first.json() == second.json()


def test_a_chunked_body_is_read() -> None:
    sim = make_sim()

    def chunks() -> Iterator[bytes]:
        yield b'{"users": ['
        yield json.dumps(user("chunked@acme")).encode()
        yield b"]}"

    with running(sim) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        response = client.put("/api/v2/users", content=chunks())
    assert response.status_code == 200
    assert "chunked@acme" in sim.store


def test_a_bad_content_length_is_400() -> None:
    request = b"PUT /api/v2/users HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n"
    with running(make_sim()) as url:
        answer = raw_exchange(url, request)
    assert answer.startswith(b"HTTP/1.1 400")


def test_the_server_prints_nothing_unless_verbose(capfd: pytest.CaptureFixture[str]) -> None:
    with running(make_sim()) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        client.get("/api/v1/users")
        client.get("/nope")
    assert capfd.readouterr().err == ""
    with (
        running(make_sim(), verbose=True) as url,
        httpx.Client(base_url=url, headers=AUTH) as client,
    ):
        client.get("/api/v1/users")
    err = capfd.readouterr().err
    assert "GET /api/v1/users" in err and TOKEN not in err


def test_ipv6_loopback_is_served() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    try:
        with (
            running(make_sim(), host="::1") as url,
            httpx.Client(base_url=url, headers=AUTH) as client,
        ):
            assert url.startswith("http://[::1]:")
            assert client.get("/api/v1/users").status_code == 200
    except OSError as exc:
        pytest.skip(f"IPv6 loopback unavailable: {exc}")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.0.0.1", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# Pipedrive


def make_pipedrive(**options: Any) -> PipedriveSimulator:
    return PipedriveSimulator(
        PipedriveStore(company()),
        token=PD_TOKEN,
        options=PipedriveOptions(**options),
        clock=ManualClock(),
    )


def test_pipedrive_is_served_with_its_headers_and_its_edge() -> None:
    sim = make_pipedrive(burst=1, edge_after=0)
    with (
        running(sim) as url,
        httpx.Client(base_url=url, headers={"x-api-token": PD_TOKEN}) as client,
    ):
        first = client.get("/api/v1/users")
        assert first.status_code == 200
        assert first.headers["x-ratelimit-remaining"] == "0"
        assert client.get("/v1/users").status_code == 429
        blocked = client.get("/v1/users")
    assert blocked.status_code == 403
    assert blocked.headers["content-type"] == "text/html; charset=UTF-8"
    assert "<html>" in blocked.text


def test_a_lost_pipedrive_answer_closes_the_connection_after_the_write() -> None:
    sim = PipedriveSimulator(
        PipedriveStore(company()), token=PD_TOKEN, faults=Faults(lost_rate=1.0)
    )
    request = json_put("/v1/users/102", f"x-api-token: {PD_TOKEN}", {"active_flag": False})
    with running(sim) as url:
        assert raw_exchange(url, request) == b""
    assert sim.store.get(102)["active_flag"] is False  # type: ignore[index]
