from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport

TOKEN = "tok-3f9a7c1e5b"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sample_users() -> list[dict[str, Any]]:
    return [
        {
            "login": "roy@acme",
            "id": "1001",
            "email": "roy@acme.com",
            "name": "Roy Levi",
            "is_active": True,
            "position": "VP Sales",
        },
        {
            "login": "daniel@acme",
            "id": "1002",
            "email": "daniel@acme.com",
            "name": "Daniel Smith",
            "is_active": True,
            "external_user_id": "005XX000001",
            "position": "CCS",
            "phone": "09-445556",
            "user_manager_login": "roy@acme",
        },
        {
            "login": "ex@acme",
            "id": "1003",
            "email": "ex@acme.com",
            "name": "Former Employee",
            "is_active": False,
        },
    ]


def user(login: str, **fields: Any) -> dict[str, Any]:
    """A complete v2 user payload; keyword arguments override or add fields."""
    base: dict[str, Any] = {
        "login": login,
        "email": f"{login.split('@')[0][:40]}@acme.com",
        "name": "Some One",
        "is_active": True,
    }
    base.update(fields)
    return base


@dataclass
class Api:
    client: httpx.Client
    sim: Simulator

    @property
    def store(self) -> TenantStore:
        return self.sim.store


Connect = Callable[..., Api]


@pytest.fixture(params=["in-process", "socket"])
def connect(request: pytest.FixtureRequest) -> Iterator[Connect]:
    """Build a simulator and a client for it, in-process or over a loopback socket."""
    with ExitStack() as stack:

        def make(
            users: list[dict[str, Any]] | None = None,
            faults: Faults | None = None,
            headers: dict[str, str] | None = None,
        ) -> Api:
            store = TenantStore(sample_users() if users is None else users)
            sim = Simulator(store, token=TOKEN, faults=faults)
            if request.param == "in-process":
                client = httpx.Client(transport=SimTransport(sim), base_url="http://simulator")
            else:
                client = httpx.Client(base_url=stack.enter_context(running(sim)))
            client.headers.update(AUTH if headers is None else headers)
            stack.enter_context(client)
            return Api(client, sim)

        yield make


@pytest.fixture
def api(connect: Connect) -> Api:
    return connect()
