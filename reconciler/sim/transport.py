"""The simulator behind an httpx transport, so a client talks to it in-process."""

from __future__ import annotations

from pathlib import Path

import httpx

from reconciler.sim.app import Simulator, split_target
from reconciler.sim.faults import Faults
from reconciler.sim.state import TenantStore


class SimTransport(httpx.BaseTransport):
    """An httpx transport that answers from a `Simulator` instead of the network.

    Use it as `httpx.Client(transport=SimTransport(sim), base_url="http://simulator")`.
    A lost answer raises the same `httpx.RemoteProtocolError` a dropped socket does.
    """

    def __init__(self, simulator: Simulator) -> None:
        self.simulator = simulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path, query = split_target(request.url.raw_path.decode("ascii"))
        response = self.simulator.handle(
            request.method, path, query, request.headers, request.read()
        )
        if response.lost:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            response.status, headers=response.headers, content=response.body, request=request
        )


def open_simulator(
    path: str | Path, *, token: str, writable: bool, faults: Faults | None = None
) -> Simulator:
    """A simulator over the tenant file at `path`; only a `writable` one ever saves to it.

    Raises `StateError` when the file is missing or is not a JSON array of users.
    """
    store = TenantStore.load(Path(path), persist=writable)
    return Simulator(store, token=token, faults=faults)
