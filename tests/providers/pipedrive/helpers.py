"""What the Pipedrive simulator's tests share: a small company, tokens, and a client on it.

Fixtures built on these (`make_api`, `connect`, `api`) are in this folder's conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx

from reconciler.providers.pipedrive.sim import ERROR_INFO, PipedriveOptions, PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.sim.faults import Faults
from reconciler.sim.server import running
from reconciler.sim.transport import SimTransport

TOKEN = "pd-5e1f0c9a7b"
OTHER_TOKEN = "pd-other-88d2"
HEADER = {"x-api-token": TOKEN}
#: The simulated clock starts here: 2024-06-01 12:00:00 UTC.
NOON = 1_717_243_200.0


def company() -> list[dict[str, Any]]:
    """Five users: the token's admin, two active, one inactive invitee, one deleted."""
    return [
        {
            "id": 101,
            "name": "Olga Owner",
            "email": "owner@acme.com",
            "active_flag": True,
            "is_you": True,
            "has_created_company": True,
            "access": [{"app": "global", "admin": True}, {"app": "sales", "admin": True}],
        },
        {"id": 102, "name": "Daniel Smith", "email": "Daniel@acme.com", "active_flag": True},
        {
            "id": 103,
            "name": "ex@acme.com",
            "email": "ex@acme.com",
            "active_flag": False,
            "activated": False,
        },
        {
            "id": 104,
            "name": "Gone Person",
            "email": "gone@acme.com",
            "active_flag": False,
            "is_deleted": True,
        },
        {
            "id": 105,
            "name": "Sara Levi",
            "email": "sara@acme.com",
            "active_flag": True,
            "access": [{"app": "sales"}, {"app": "campaigns"}],
        },
    ]


@dataclass
class PdApi:
    client: httpx.Client
    sim: PipedriveSimulator
    clock: ManualClock

    @property
    def store(self) -> PipedriveStore:
        return self.sim.store

    def statuses(self) -> list[int | None]:
        return [entry["status"] for entry in self.sim.request_log]


MakeApi = Callable[..., PdApi]


def build(
    stack: ExitStack,
    *,
    over_socket: bool = False,
    users: list[dict[str, Any]] | None = None,
    faults: Faults | None = None,
    headers: dict[str, str] | None = None,
    tokens: dict[str, int] | None = None,
    **options: Any,
) -> PdApi:
    clock = ManualClock(NOON)
    sim = PipedriveSimulator(
        PipedriveStore(company() if users is None else users),
        token=TOKEN,
        options=PipedriveOptions(**options),
        faults=faults,
        clock=clock,
        tokens=tokens,
    )
    if over_socket:
        client = httpx.Client(base_url=stack.enter_context(running(sim)))
    else:
        client = httpx.Client(transport=SimTransport(sim), base_url="http://simulator")
    client.headers.update(HEADER if headers is None else headers)
    stack.enter_context(client)
    return PdApi(client, sim, clock)


def error_body(message: str) -> dict[str, Any]:
    return {
        "success": False,
        "error": message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }
