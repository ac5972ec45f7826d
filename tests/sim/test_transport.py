"""SimTransport and open_simulator: the in-process path an httpx client takes (both systems)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import pytest

from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import StateError, TenantStore
from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.faults import Faults
from reconciler.sim.transport import SimTransport, open_simulator
from tests.providers.dealhub.conftest import AUTH, TOKEN, sample_users, user
from tests.providers.pipedrive.helpers import TOKEN as PD_TOKEN
from tests.providers.pipedrive.helpers import company


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


# Pipedrive


def company_file(tmp_path: Path) -> Path:
    path = tmp_path / "company.json"
    path.write_text(json.dumps(company()), encoding="utf-8")
    return path


@pytest.mark.parametrize("writable", [False, True])
def test_open_simulator_for_pipedrive_saves_only_when_writable(
    tmp_path: Path, writable: bool
) -> None:
    path = company_file(tmp_path)
    before = path.read_bytes(), path.stat().st_mtime_ns
    sim = open_simulator(path, token=PD_TOKEN, writable=writable, system="pipedrive")
    assert isinstance(sim, PipedriveSimulator)
    with httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": PD_TOKEN}
    ) as client:
        assert client.post("/v1/users", json={"email": "new@acme.com"}).status_code == 200
    saved = PipedriveStore.load(path, persist=False)
    if writable:
        assert saved.live_with_email("new@acme.com") is not None
    else:
        assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_open_simulator_for_pipedrive_passes_options_faults_and_clock(tmp_path: Path) -> None:
    clock = ManualClock()
    sim = open_simulator(
        company_file(tmp_path),
        token=PD_TOKEN,
        writable=False,
        system="pipedrive",
        options=PipedriveOptions(daily_budget=20),
        faults=Faults(seed=3),
        clock=clock,
    )
    assert sim.clock is clock and sim.daily_budget == 20 and sim.faults.seed == 3


def test_open_simulator_reports_a_bad_company_file(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="company file not found"):
        open_simulator(tmp_path / "nope.json", token=PD_TOKEN, writable=False, system="pipedrive")
    # A DealHub tenant is not a Pipedrive company.
    with pytest.raises(StateError):
        open_simulator(tenant_file(tmp_path), token=PD_TOKEN, writable=False, system="pipedrive")


def test_open_simulator_refuses_an_unknown_system_or_misplaced_options(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown system 'hubspot'"):
        open_simulator(tenant_file(tmp_path), token=TOKEN, writable=False, system="hubspot")
    with pytest.raises(ValueError, match="Pipedrive"):
        open_simulator(
            tenant_file(tmp_path), token=TOKEN, writable=False, options=PipedriveOptions()
        )
    assert isinstance(
        open_simulator(tenant_file(tmp_path), token=TOKEN, writable=False, system="dealhub"),
        Simulator,
    )


def test_a_read_answer_keeps_no_copy_of_its_body(tmp_path: Path) -> None:
    sim = open_simulator(str(tenant_file(tmp_path)), token=TOKEN, writable=False)
    with client_for(sim) as client, client.stream("GET", "/api/v1/users") as response:
        body = b"".join(response.iter_bytes())
        assert response.headers["Content-Length"] == str(len(body))
        assert [u["login"] for u in json.loads(body)] == [u["login"] for u in sample_users()]
    # httpx keeps `response` and its stream in a reference cycle, as a run does until its
    # collector runs: the body must be held by what read it (`body`) alone.
    assert sys.getrefcount(body) == 2
