"""The simulators' kernel: what serves any system's simulator, in-process or on loopback.

Each system's simulator lives in its provider's package (see `systems`);
`open_simulator` gives one over a state file, `SimTransport` plugs it into an
`httpx.Client`, and `server.running` serves it on loopback.
"""

from __future__ import annotations

from reconciler.sim.faults import Faults
from reconciler.sim.response import SimResponse
from reconciler.sim.store import StateError
from reconciler.sim.systems import NoSimulator, SimulatorHooks, hooks_for
from reconciler.sim.transport import SimTransport, SimulatedApi, open_simulator

__all__ = [
    "Faults",
    "NoSimulator",
    "SimResponse",
    "SimTransport",
    "SimulatedApi",
    "SimulatorHooks",
    "StateError",
    "hooks_for",
    "open_simulator",
]
