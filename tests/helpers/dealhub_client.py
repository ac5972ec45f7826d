"""A DealHub client on a fresh simulator: the fixtures of the HTTP client's tests.

A pytest plugin (tests/conftest.py lists it), so its fixtures are found by name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from reconciler import redact
from reconciler.http import RetryPolicy
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport

TOKEN = "t0ken/under+test"  # "/" and "+" change when percent-encoded


MakeClient = Callable[..., tuple[DealHubClient, Simulator, list[float]]]


@pytest.fixture
def forget_tokens() -> Iterator[None]:
    """Clients register their token process-wide: start and end every test with none."""
    redact.forget_all()
    yield
    redact.forget_all()


@pytest.fixture(params=["in-process", "socket"])
def make_client(request: pytest.FixtureRequest) -> Iterator[MakeClient]:
    """A client on a fresh simulator; sleeps are recorded, not slept."""
    stack: list[Any] = []

    def make(
        faults: Faults | None = None,
        *,
        token: str = TOKEN,
        attempts: int = 5,
        timeout: float = 10.0,
        tenant: list[dict[str, Any]] | None = None,
    ) -> tuple[DealHubClient, Simulator, list[float]]:
        sim = Simulator(
            TenantStore(USERS if tenant is None else tenant), token=TOKEN, faults=faults
        )
        headers = {"Authorization": f"Bearer {token}"}
        if request.param == "in-process":
            http = httpx.Client(
                transport=SimTransport(sim), base_url="http://simulator", headers=headers
            )
        else:
            ctx = running(sim)
            url = ctx.__enter__()
            stack.append(ctx)
            http = httpx.Client(base_url=url, headers=headers, timeout=timeout)
        sleeps: list[float] = []
        client = DealHubClient(
            http,
            target="test",
            token_origin="DEALHUB_TOKEN",
            retry=RetryPolicy(attempts=attempts, base=0.01, cap=0.02),
            sleep=sleeps.append,
            seed=1,
            max_waits=attempts,
        )
        return client, sim, sleeps

    yield make
    for ctx in stack:
        ctx.__exit__(None, None, None)


USERS = [
    {"login": "a@x", "id": "1", "email": "a@x.com", "name": "A", "is_active": True},
    {"login": "b@x", "id": "2", "email": "b@x.com", "name": "B", "is_active": False},
]
