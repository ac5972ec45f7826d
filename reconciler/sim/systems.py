"""Which simulator stands in for a system: the one its provider's package brings.

The kernel (transport, server, faults, cli, generate) names no system. A
system brings a simulator with a `SimulatorHooks` object, found in this order:
the provider's `simulator` attribute (a system declares it on its provider),
else the `SIMULATOR` of the module `sim_hooks` beside the provider (how the
built-in systems carry theirs, with the simulator itself in `sim`: the hooks
import a simulator only when one is opened). A system with neither has no simulator:
asking for one is a clear error, never another system's.

    SimulatorHooks
    ├── serve_options        the `sim serve` options only this system takes
    ├── open(path, ...)      a simulator over a state file (`sim:PATH`, tests)
    ├── serve(path, ...)     the simulator `sim serve` runs, from its options
    ├── stopped(simulator)   what `sim serve` says when it stops (None: nothing)
    ├── generate(n, seed)    a generated state (`sim generate`)
    └── generate_desired     a people file that changes part of that state
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.sim.faults import Faults
from reconciler.sim.response import SimResponse
from reconciler.sim.store import User

if TYPE_CHECKING:
    import click


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


class SimulatorHooks(Protocol):
    """What the kernel asks of one system's simulator (see the module docstring)."""

    #: Options of `sim serve` that only this system takes; each help starts "[NAME]".
    serve_options: Sequence[click.Option]
    #: What `sim generate` calls the users it wrote ("users", "ACME users").
    noun: str

    def open(
        self, path: Path, *, token: str, writable: bool, faults: Faults | None, **options: Any
    ) -> SimulatedApi:
        """A simulator over the state file at `path`; only a `writable` one saves.

        Raises StateError for a bad file, ValueError for options it does not take.
        """
        ...

    def serve(
        self,
        path: Path,
        *,
        token: str,
        faults: dict[str, Any],
        options: dict[str, Any],
        on_request: Callable[[dict[str, Any]], None] | None,
    ) -> SimulatedApi:
        """The simulator `sim serve` runs: `faults` holds the kernel's Faults fields,
        `options` every option of the command (this system's among them).

        Raises StateError, ValueError or click.BadParameter.
        """
        ...

    def stopped(self, simulator: SimulatedApi) -> str | None:
        """A line for stderr when `sim serve` stops (what the run spent), or None."""
        ...

    def generate(self, count: int, seed: int) -> list[User]:
        """`count` realistic users; ValueError for a count the system cannot have."""
        ...

    def generate_desired(self, users: Sequence[User], *, changes: float, seed: int) -> str:
        """A people file that changes about `changes` of `users`."""
        ...


class NoSimulator(ValueError):
    """The system is unknown, or brings no simulator."""


def systems() -> tuple[str, ...]:
    """The registered systems (each may or may not bring a simulator)."""
    from reconciler.providers import REGISTRY

    return tuple(REGISTRY)


def hooks_for(system: str) -> SimulatorHooks:
    """The simulator hooks of `system` (see the module docstring).

    Raises NoSimulator for a system reconciler does not know or that has no simulator.
    """
    from reconciler import providers
    from reconciler.providers import hooks as provider_hooks

    if system not in providers.REGISTRY:
        raise NoSimulator(f"unknown system {system!r}: one of {', '.join(systems())}")
    provider = providers.get(system)
    declared = getattr(provider, "simulator", None)
    if declared is not None:
        hooks: SimulatorHooks = declared
        return hooks
    found = getattr(provider_hooks.beside(provider, "sim_hooks"), "SIMULATOR", None)
    if found is not None:
        hooks = found
        return hooks
    raise NoSimulator(f"{providers.title(system)} has no simulator")
