"""A local stand-in for the DealHub User API: state, faults, HTTP handling, servers.

`open_simulator` gives an in-process simulator over a tenant file, `SimTransport`
plugs it into an `httpx.Client`, and `server.running` serves it on loopback.
"""

from __future__ import annotations

from reconciler.sim.app import SimResponse, Simulator
from reconciler.sim.faults import Faults
from reconciler.sim.state import StateError, TenantStore
from reconciler.sim.transport import SimTransport, open_simulator

__all__ = [
    "Faults",
    "SimResponse",
    "SimTransport",
    "Simulator",
    "StateError",
    "TenantStore",
    "open_simulator",
]
