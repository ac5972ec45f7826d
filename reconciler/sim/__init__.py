"""The simulators' kernel: what serves any system's simulator, in-process or on loopback.

Each system's simulator lives in its provider's package (see `systems`);
`open_simulator` gives one over a state file, `SimTransport` plugs it into an
`httpx.Client`, and `server.running` serves it on loopback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reconciler.sim.faults import Faults
from reconciler.sim.response import SimResponse
from reconciler.sim.store import StateError
from reconciler.sim.systems import NoSimulator, SimulatorHooks, hooks_for

if TYPE_CHECKING:
    from reconciler.sim.transport import SimTransport, SimulatedApi, open_simulator

#: Names of `transport`, which imports httpx: loaded on first use (PEP 562), so that
#: `reconciler sim ...` and every command that imports the kernel do not pay for httpx.
_TRANSPORT = frozenset({"SimTransport", "SimulatedApi", "open_simulator"})


def __getattr__(name: str) -> Any:
    if name in _TRANSPORT:
        from reconciler.sim import transport

        return getattr(transport, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
