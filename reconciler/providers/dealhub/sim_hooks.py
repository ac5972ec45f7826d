"""How `reconciler sim` runs DealHub's simulator (the kernel's `SimulatorHooks`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from reconciler.sim.faults import Faults
from reconciler.sim.store import User
from reconciler.sim.systems import SimulatedApi


class DealHubSimulatorHooks:
    """DealHub's simulator (`sim.Simulator`) over a tenant file, for the kernel."""

    noun = "users"
    serve_options: Sequence[click.Option] = (
        click.Option(
            ["--async", "async_mode"], is_flag=True, help="[dealhub] v2 writes answer a request_id."
        ),
        click.Option(
            ["--max-batch"], type=click.IntRange(1), help="[dealhub] Most users one PUT may carry."
        ),
        click.Option(
            ["--require-external-id"],
            is_flag=True,
            help="[dealhub] v2 rejects users without one.",
        ),
        click.Option(
            ["--taken-login"],
            multiple=True,
            help="[dealhub] A login another tenant holds (repeatable).",
        ),
    )

    def open(
        self, path: Path, *, token: str, writable: bool, faults: Faults | None, **options: Any
    ) -> SimulatedApi:
        from reconciler.providers.dealhub.sim import Simulator
        from reconciler.providers.dealhub.sim_state import TenantStore

        if any(value is not None for value in options.values()):
            raise ValueError("options and clock are for the Pipedrive simulator")
        return Simulator(TenantStore.load(path, persist=writable), token=token, faults=faults)

    def serve(
        self,
        path: Path,
        *,
        token: str,
        faults: dict[str, Any],
        options: dict[str, Any],
        on_request: Callable[[dict[str, Any]], None] | None,
    ) -> SimulatedApi:
        from reconciler.providers.dealhub.sim import Simulator
        from reconciler.providers.dealhub.sim_state import TenantStore

        settings = Faults(
            **faults,
            async_mode=options["async_mode"],
            max_batch=options["max_batch"],
            require_external_id=options["require_external_id"],
            taken_logins=frozenset(options["taken_login"]),
        )
        return Simulator(
            TenantStore.load(path, persist=True),
            token=token,
            faults=settings,
            keep_request_log=False,
            on_request=on_request,
        )

    def stopped(self, simulator: SimulatedApi) -> str | None:
        return None

    def generate(self, count: int, seed: int) -> list[User]:
        from reconciler.providers.dealhub.sim_generate import generate_tenant

        return generate_tenant(count, seed)

    def generate_desired(self, users: Sequence[User], *, changes: float, seed: int) -> str:
        from reconciler.providers.dealhub.sim_generate import generate_desired

        return generate_desired(users, changes=changes, seed=seed)


#: The hooks the kernel finds beside the provider (`reconciler.sim.systems`).
SIMULATOR = DealHubSimulatorHooks()
