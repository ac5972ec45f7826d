"""SimTransport and open_simulator: the in-process path an httpx client takes."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from reconciler.sim.app import Simulator
from reconciler.sim.faults import Faults
from reconciler.sim.state import StateError, TenantStore
from reconciler.sim.transport import SimTransport, open_simulator

from .conftest import AUTH, TOKEN, sample_users, user


def client_for(sim: Simulator) -> httpx.Client:
    return httpx.Client(transport=SimTransport(sim), base_url="http://simulator", headers=AUTH)


def tenant_file(tmp_path: Path) -> Path:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(sample_users()), encoding="utf-8")
    return path


@pytest.mark.parametrize("writable", [False, True])
def test_open_simulator_saves_only_when_writable(tmp_path: Path, writable: bool) -> None:
    path = tenant_file(tmp_path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    sim = open_simulator(str(path), token=TOKEN, writable=writable)
    with client_for(sim) as client:
        assert client.put("/api/v2/users", json={"users": [user("new@acme")]}).status_code == 200
        assert client.get("/api/v1/user/login/new@acme").status_code == 200
    saved = TenantStore.load(path, persist=False)
    if writable:
        assert "new@acme" in saved
    else:
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_open_simulator_passes_the_faults(tmp_path: Path) -> None:
    sim = open_simulator(
        tenant_file(tmp_path), token=TOKEN, writable=False, faults=Faults(failure_rate=1)
    )
    with client_for(sim) as client:
        assert client.get("/api/v1/users").status_code == 503


def test_open_simulator_reports_a_bad_file(tmp_path: Path) -> None:
    with pytest.raises(StateError):
        open_simulator(tmp_path / "nope.json", token=TOKEN, writable=False)


def test_a_lost_answer_raises_what_a_dropped_socket_raises() -> None:
    sim = Simulator(TenantStore(sample_users()), token=TOKEN, faults=Faults(lost_rate=1.0))
    with client_for(sim) as client, pytest.raises(httpx.RemoteProtocolError) as caught:
        client.put("/api/v2/users", json={"users": [user("new@acme")]})
    assert str(caught.value) == "Server disconnected without sending a response."
    assert caught.value.request.url.path == "/api/v2/users"
    assert "new@acme" in sim.store


def test_the_simulator_sees_the_raw_path_and_decoded_query() -> None:
    sim = Simulator(TenantStore([user("a/b@acme")]), token=TOKEN)
    with client_for(sim) as client:
        response = client.get("/api/v1/user/login/a%2Fb@acme", params={"x": "1 2"})
    assert response.status_code == 200
    assert sim.request_log[-1]["path"] == "/api/v1/user/login/a%2Fb@acme"
    assert sim.request_log[-1]["query"] == {"x": "1 2"}


def test_responses_carry_status_headers_and_body() -> None:
    sim = Simulator(
        TenantStore(sample_users()), token=TOKEN, faults=Faults(throttle_rate=1, retry_after=3)
    )
    with client_for(sim) as client:
        response = client.get("/api/v1/users")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.json() == {"message": "Too Many Requests"}
