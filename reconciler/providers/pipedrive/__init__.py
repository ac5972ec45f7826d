"""Pipedrive behind the provider boundary: users keyed by email, the active state writable.

`PROVIDER` is the instance the registry lists. The rules are pure (rules.py);
`open` connects through client.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from reconciler.providers.pipedrive import rules

if TYPE_CHECKING:
    from reconciler.desired import DesiredState, DesiredUser
    from reconciler.errors import Problem
    from reconciler.http import TokenSource
    from reconciler.model import Change, PlanWarning
    from reconciler.providers.base import OpenOptions, Provider
    from reconciler.providers.pipedrive.client import PipedriveClient


class PipedriveProvider:
    """The Provider of reconciler.providers.base for Pipedrive (see rules.py for each rule)."""

    capabilities = rules.CAPABILITIES

    def project(self, state: DesiredState) -> dict[str, DesiredUser]:
        return rules.project(state)

    def tenant_view(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        return rules.tenant_view(raw)

    def same(self, name: str, wanted: Any, current: Any) -> bool:
        return rules.same(name, wanted, current)

    def check(
        self,
        records: dict[str, DesiredUser],
        tenant: dict[str, dict[str, Any]],
        state: DesiredState,
    ) -> list[Problem]:
        return rules.check(records)

    def payload(
        self,
        key: str,
        wanted: dict[str, Any],
        current: dict[str, Any] | None,
        changed: Iterable[str],
    ) -> dict[str, Any]:
        return rules.payload(key, wanted, current, changed)

    def unwritable(self, send: dict[str, Any]) -> str | None:
        return rules.unwritable(send)

    def undeactivatable(self, current: dict[str, Any]) -> str | None:
        return rules.undeactivatable(current)

    def warnings(
        self,
        records: dict[str, DesiredUser],
        tenant: dict[str, dict[str, Any]],
        changes: list[Change],
    ) -> list[PlanWarning]:
        """The seats the plan will take, when it adds active users (rules.seats_warning)."""
        warning = rules.seats_warning(tenant, changes)
        return [warning] if warning is not None else []

    def depends_on(self, change: Change) -> str | None:
        return None

    def open(
        self,
        target: str,
        token: TokenSource | None,
        *,
        writable: bool,
        options: OpenOptions | None = None,
    ) -> PipedriveClient:
        """A connection to `target`: https://COMPANY.pipedrive.com, loopback http, or sim:PATH."""
        from reconciler.providers.pipedrive.client import connect

        expected = options.expected_users if options else 0
        return connect(target, token, writable=writable, expected_users=expected)


PROVIDER = PipedriveProvider()

if TYPE_CHECKING:
    # mypy holds the provider to the boundary's protocols (the client to Remote).
    _provider: Provider = PROVIDER

__all__ = ["PROVIDER", "PipedriveProvider"]
