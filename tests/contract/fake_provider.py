"""A third system, as small as a provider can be: what adding one takes, and nothing more.

Users are keyed by a case-sensitive `handle`, with a name and an active state, both
changeable. A tenant lives in memory per target and logs every request as the simulators
do. A test registers it with one line: `REGISTRY["fake"] = "<this module>:PROVIDER"`.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from reconciler.desired import DesiredState, DesiredUser
from reconciler.errors import Problem
from reconciler.http import TokenSource
from reconciler.model import Change, PlanWarning
from reconciler.progress import Progress
from reconciler.providers.base import Capabilities, OpenOptions, WriteResult

if TYPE_CHECKING:
    from reconciler.providers.base import Provider, Remote

NAME = "fake"
User = dict[str, Any]
Users = dict[str, User]


@dataclass
class FakeTenant:
    """One fake system's users by handle, and every request it was sent."""

    users: Users = field(default_factory=dict)
    log: list[User] = field(default_factory=list)


class FakeRemote:
    """A connection to a FakeTenant: one read of every user, one PUT per batch."""

    def __init__(self, target: str, tenant: FakeTenant) -> None:
        self.target = target
        self.tenant = tenant
        self.counts: Counter[str] = Counter()

    def _request(self, method: str, body: Any = None) -> None:
        self.counts["read" if method == "GET" else "write"] += 1
        self.tenant.log.append({"method": method, "path": "/users", "body": copy.deepcopy(body)})

    def read(self) -> list[User]:
        self._request("GET")
        return copy.deepcopy(list(self.tenant.users.values()))

    def write(self, batch: list[Change], progress: Progress) -> WriteResult:
        self._request("PUT", [change.send for change in batch])
        result = WriteResult()
        for change in batch:
            handle = change.send["handle"]
            stored = self.tenant.users.setdefault(handle, {"handle": handle, "is_active": True})
            stored.update(copy.deepcopy(change.send))
            result.mark([change.key], "done")
        return result

    def request_counts(self) -> dict[str, int]:
        return dict(self.counts)

    def budget_left(self) -> int | None:
        return None  # the fake charges nothing

    def close(self) -> None:
        pass


class FakeProvider:
    """The rules of the fake system; `tenants` holds its data by target."""

    capabilities = Capabilities(
        name=NAME,
        title="Fake",
        key="handle",
        key_ignores_case=False,
        compared=("name", "is_active"),
        settable_on_create=frozenset({"name", "is_active"}),
        changeable=frozenset({"is_active", "name"}),
        batch_size=2,
        env_prefix="FAKE",
        token_env="FAKE_TOKEN",
    )

    def __init__(self) -> None:
        self.tenants: dict[str, FakeTenant] = {}

    def project(self, state: DesiredState) -> dict[str, DesiredUser]:
        records: dict[str, DesiredUser] = {}
        for login, user in state.users.items():
            if user.listed_for(NAME, state.settings.systems):
                active = user.fields.get("is_active") is not False
                name = user.fields.get("name", "")
                records[login] = replace(user, fields={"name": name, "is_active": active})
        return records

    def tenant_view(self, raw: User) -> User | None:
        return {"name": "", **raw}

    def same(self, name: str, wanted: Any, current: Any) -> bool:
        return bool(wanted == current)

    def check(
        self, records: dict[str, DesiredUser], tenant: Users, state: DesiredState
    ) -> list[Problem]:
        return []

    def payload(self, key: str, wanted: User, current: User | None, changed: Iterable[str]) -> User:
        if current is None:  # a create: every settable field that has a value
            names = self.capabilities.settable_on_create
            return {"handle": key} | {n: v for n, v in wanted.items() if n in names and v != ""}
        return {"handle": key} | {name: wanted[name] for name in changed}

    def unwritable(self, send: User) -> str | None:
        return None

    def undeactivatable(self, current: User) -> str | None:
        return None

    def warnings(
        self, records: dict[str, DesiredUser], tenant: Users, changes: list[Change]
    ) -> list[PlanWarning]:
        return []

    def depends_on(self, change: Change) -> str | None:
        return None

    def open(
        self, target: str, token: TokenSource | None, *, writable: bool, options: OpenOptions
    ) -> FakeRemote:
        return FakeRemote(target, self.tenants.setdefault(target, FakeTenant()))


PROVIDER = FakeProvider()

if TYPE_CHECKING:
    # mypy holds the fake to the boundary's protocols, like the real providers.
    _provider: Provider = PROVIDER
    _remote: Remote = FakeRemote("fake:", FakeTenant())
