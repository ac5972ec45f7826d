"""The simulators behind an httpx transport, so a client talks to them in-process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from reconciler.sim.faults import Faults
from reconciler.sim.response import split_target
from reconciler.sim.systems import SimulatedApi, hooks_for

__all__ = ["SimTransport", "SimulatedApi", "open_simulator"]


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
        headers = {**response.headers, "Content-Length": str(len(response.body))}
        return httpx.Response(
            response.status, headers=headers, stream=_ReadOnce(response.body), request=request
        )


class _ReadOnce(httpx.SyncByteStream):
    """An answer's body, let go of as it is read.

    httpx keeps a response and its stream in a reference cycle, which outlives the
    read until the collector runs (a plan pauses it): a body given as `content`
    would keep a copy of the whole tenant for the rest of the run.
    """

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        body, self._body = self._body, b""
        if body:
            yield body


def open_simulator(
    path: str | Path,
    *,
    token: str,
    writable: bool,
    faults: Faults | None = None,
    system: str | None = None,
    **options: Any,
) -> SimulatedApi:
    """A simulator of `system` over the state file at `path`; only a `writable` one saves.

    The system's own simulator (its provider's, see `systems`) reads the file
    and takes the `options` it knows (say `options` for a company's readings
    and `clock` for the simulated time). Raises `StateError` when the file is
    missing or not such an array, and `ValueError` for an unknown system, one
    without a simulator, or options it does not take. Without `system`, the
    one a people file manages when its settings name none.
    """
    if system is None:
        from reconciler.settings import DEFAULT_SYSTEMS

        system = DEFAULT_SYSTEMS[0]
    return hooks_for(system).open(
        Path(path), token=token, writable=writable, faults=faults, **options
    )
