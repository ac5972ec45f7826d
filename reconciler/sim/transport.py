"""The simulators behind an httpx transport, so a client talks to them in-process."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol, overload

import httpx

from reconciler.sim.app import SimResponse, Simulator, split_target
from reconciler.sim.faults import Faults
from reconciler.sim.state import TenantStore

if TYPE_CHECKING:
    from reconciler.sim.pipedrive import PipedriveOptions, PipedriveSimulator
    from reconciler.sim.pipedrive_limits import Clock

#: The systems a simulator can stand in for.
SYSTEMS = ("dealhub", "pipedrive")


class SimulatedApi(Protocol):
    """What a transport or a server needs of a simulator: one request in, one answer out."""

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> SimResponse: ...


class SimTransport(httpx.BaseTransport):
    """An httpx transport that answers from a simulator instead of the network.

    Use it as `httpx.Client(transport=SimTransport(sim), base_url="http://simulator")`.
    A lost answer raises the same `httpx.RemoteProtocolError` a dropped socket does.
    """

    def __init__(self, simulator: SimulatedApi) -> None:
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


@overload
def open_simulator(
    path: str | Path,
    *,
    token: str,
    writable: bool,
    faults: Faults | None = None,
    system: Literal["dealhub"] = "dealhub",
) -> Simulator: ...


@overload
def open_simulator(
    path: str | Path,
    *,
    token: str,
    writable: bool,
    faults: Faults | None = None,
    system: Literal["pipedrive"],
    options: PipedriveOptions | None = None,
    clock: Clock | None = None,
) -> PipedriveSimulator: ...


@overload
def open_simulator(
    path: str | Path,
    *,
    token: str,
    writable: bool,
    faults: Faults | None = None,
    system: str,
    options: PipedriveOptions | None = None,
    clock: Clock | None = None,
) -> Simulator | PipedriveSimulator: ...


def open_simulator(
    path: str | Path,
    *,
    token: str,
    writable: bool,
    faults: Faults | None = None,
    system: str = "dealhub",
    options: PipedriveOptions | None = None,
    clock: Clock | None = None,
) -> Simulator | PipedriveSimulator:
    """A simulator of `system` over the state file at `path`; only a `writable` one saves.

    DealHub's file is a JSON array of its users; Pipedrive's, of Pipedrive user
    objects, with `options` for the company and `clock` for the simulated time.
    Raises `StateError` when the file is missing or not such an array, and
    `ValueError` for an unknown system or options DealHub does not take.
    """
    if system == "pipedrive":
        from reconciler.sim.pipedrive import PipedriveSimulator
        from reconciler.sim.pipedrive_state import PipedriveStore

        company = PipedriveStore.load(Path(path), persist=writable)
        return PipedriveSimulator(
            company,
            token=token,
            options=options,
            faults=faults,
            clock=clock if clock is not None else time.time,
        )
    if system != "dealhub":
        raise ValueError(f"unknown system {system!r}: one of {', '.join(SYSTEMS)}")
    if options is not None or clock is not None:
        raise ValueError("options and clock are for the Pipedrive simulator")
    store = TenantStore.load(Path(path), persist=writable)
    return Simulator(store, token=token, faults=faults)
