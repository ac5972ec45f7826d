"""Local stand-ins for the DealHub User API and the Pipedrive Users API.

`open_simulator` gives an in-process simulator over a state file (`system=`
"dealhub" or "pipedrive"), `SimTransport` plugs it into an `httpx.Client`, and
`server.running` serves it on loopback.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reconciler.sim.app import SimResponse, Simulator
from reconciler.sim.faults import Faults
from reconciler.sim.state import StateError, TenantStore
from reconciler.sim.transport import SimTransport, SimulatedApi, open_simulator

if TYPE_CHECKING:
    from reconciler.sim.pipedrive import PipedriveOptions, PipedriveSimulator
    from reconciler.sim.pipedrive_limits import ManualClock
    from reconciler.sim.pipedrive_state import PipedriveStore

# Loaded on first use: every command of the tool imports this package, few need Pipedrive.
_LAZY = {
    "ManualClock": "reconciler.sim.pipedrive_limits",
    "PipedriveOptions": "reconciler.sim.pipedrive",
    "PipedriveSimulator": "reconciler.sim.pipedrive",
    "PipedriveStore": "reconciler.sim.pipedrive_state",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "Faults",
    "ManualClock",
    "PipedriveOptions",
    "PipedriveSimulator",
    "PipedriveStore",
    "SimResponse",
    "SimTransport",
    "SimulatedApi",
    "Simulator",
    "StateError",
    "TenantStore",
    "open_simulator",
]
