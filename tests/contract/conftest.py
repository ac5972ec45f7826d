"""Adapters of the contract suite: the same questions asked of every system.

An adapter builds a tenant (raw users, as the system's read returns them) and
desired people, opens a Remote on a fresh simulator in-process, reads back the
stored users, and turns the simulator's request log into the writes it carried
(kind, the key written, the body). The tests in this directory only talk to
adapters and to the generic core, so a new system joins the suite with one
adapter more.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import pytest
from hypothesis import strategies as st

from reconciler import providers
from reconciler.desired import DesiredState, DesiredUser
from reconciler.providers.base import OpenOptions, Provider, Remote
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.providers.pipedrive.client import PipedriveClient
from reconciler.providers.pipedrive.sim import PipedriveSimulator
from reconciler.providers.pipedrive.sim_limits import ManualClock
from reconciler.providers.pipedrive.sim_state import PipedriveStore
from reconciler.settings import Settings
from reconciler.sim.transport import SimTransport

from . import fake_provider

TOKEN = "contract-token-7d2e9b41"
Raw = dict[str, Any]
#: A simulator's request log: method, path, body (parsed), status.
Log = list[dict[str, Any]]


@dataclass(frozen=True)
class Write:
    """One user's payload as it reached the system."""

    kind: Literal["create", "update"]
    #: The key the write names (None: it names no user the tenant had).
    key: str | None
    body: dict[str, Any]


@dataclass
class Opened:
    """A Remote on a fresh simulator, with what the simulator saw and holds."""

    remote: Remote
    #: Every request: method, path, body (the simulators' request_log shape).
    log: Log
    stored: Callable[[], list[Raw]]


@dataclass
class Adapter:
    """How the contract suite drives one system (see the module docstring)."""

    name: str
    tenants: st.SearchStrategy[list[Raw]]
    states: st.SearchStrategy[DesiredState]
    open: Callable[[list[Raw]], Opened]
    writes: Callable[[Log, list[Raw]], list[Write]]
    #: Whether a request is one of the system's documented calls (method, path).
    documented: Callable[[str, str], bool]
    #: A raw user's vendor id, which never changes while the user lives.
    ident: str
    #: Field names as the system's bodies spell them, where they differ.
    vendor: Mapping[str, str] = field(default_factory=dict)
    #: Cases every property meets (tenant, desired state): those the system got wrong.
    examples: tuple[tuple[list[Raw], DesiredState], ...] = ()

    @property
    def provider(self) -> Provider:
        return providers.get(self.name)

    def fold(self, key: str) -> str:
        """The system's one key rule (Capabilities.key_fold)."""
        return self.provider.capabilities.key_fold(key)


def some_of(draw: st.DrawFn, items: tuple[str, ...]) -> list[str]:
    """Each item or not, half the time: a tenant and a desired state overlap well."""
    return [item for item in items if draw(st.booleans())]


def person(
    login: str, fields: dict[str, Any], *, systems: tuple[str, ...] | None = None, **blocks: Any
) -> DesiredUser:
    """A person of the files (`blocks`: their per-system blocks, `pipedrive={...}`)."""
    return DesiredUser(login, fields, "people.yaml", 1, {}, systems, dict(blocks))


def batch_writes(
    key: str, users_of: Callable[[Any], list[Raw]]
) -> Callable[[Log, list[Raw]], list[Write]]:
    """The writes of a system whose write call carries a batch of users, each with its key."""

    def writes(log: Log, before: list[Raw]) -> list[Write]:
        known = {user[key] for user in before}
        return [
            Write("update" if user.get(key) in known else "create", user.get(key), user)
            for entry in log
            if entry["method"] != "GET"
            for user in users_of(entry["body"])
        ]

    return writes


UNLISTED: st.SearchStrategy[Literal["deactivate", "ignore"]] = st.sampled_from(
    ["deactivate", "ignore"]
)
#: Mostly active: a protected person set inactive makes the files refused, which sends nothing.
WANTED_ACTIVE = st.sampled_from([True, True, True, False])

# -- DealHub --------------------------------------------------------------------------

DH_LOGINS = ("admin@x", "ann@x", "Ann@x", "bob@x", "cat@x")
DH_EMAILS = ("ann@x.com", "ANN@x.com", "bob@x.com", "cat@x.com")
DH_NAMES = ("Ann", "ann", "Bob")
DH_VALUES = ("Sales", "sales", "Haifa")
DH_OPTIONAL = ("position", "city", "phone", "external_user_id")
DH_PROTECT: tuple[tuple[str, ...], ...] = ((), ("admin@*",), ("ANN@X",), ("*",))


@st.composite
def dealhub_states(draw: st.DrawFn) -> DesiredState:
    users: dict[str, DesiredUser] = {}
    for login in some_of(draw, DH_LOGINS):
        fields: dict[str, Any] = {
            "email": draw(st.sampled_from(DH_EMAILS)),
            "name": draw(st.sampled_from(DH_NAMES)),
            "is_active": draw(WANTED_ACTIVE),
        }
        for name in draw(st.lists(st.sampled_from(DH_OPTIONAL), unique=True, max_size=2)):
            fields[name] = draw(st.sampled_from((None, "", *DH_VALUES)))
        # A manager listed before this person: the loader refuses cycles and the
        # plan managers that are nowhere.
        if draw(st.booleans()) and users:
            fields["user_manager_login"] = draw(st.sampled_from(sorted(users)))
        # Now and then a person of another system only: unlisted here.
        systems = ("pipedrive",) if draw(st.integers(0, 3)) == 0 else None
        users[login] = person(login, fields, systems=systems)
    settings = Settings(
        unlisted=draw(UNLISTED),
        protect=draw(st.sampled_from(DH_PROTECT)),
        systems=("dealhub", "pipedrive"),
    )
    return DesiredState(users=users, settings=settings, files=["people.yaml"])


@st.composite
def dealhub_tenants(draw: st.DrawFn) -> list[Raw]:
    users = []
    for number, login in enumerate(some_of(draw, DH_LOGINS)):
        user: Raw = {"login": login, "id": str(5000 + number)}
        # Rarely a user without an email or a name: v2 cannot take it (blocked).
        if draw(st.integers(0, 9)):
            user["email"] = draw(st.sampled_from(DH_EMAILS))
        if draw(st.integers(0, 9)):
            user["name"] = draw(st.sampled_from(DH_NAMES))
        user["is_active"] = draw(st.booleans())
        for name in draw(st.lists(st.sampled_from(DH_OPTIONAL[:3]), unique=True, max_size=2)):
            user[name] = draw(st.sampled_from(DH_VALUES))
        if draw(st.integers(0, 3)) == 0:
            user["user_manager_login"] = draw(st.sampled_from(DH_LOGINS))
        users.append(user)
    return users


def open_dealhub(raw: list[Raw]) -> Opened:
    sim = Simulator(TenantStore(raw), token=TOKEN)
    http = httpx.Client(
        transport=SimTransport(sim),
        base_url="http://simulator",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    client = DealHubClient(http, target="sim:dealhub", token_origin="the contract suite")
    return Opened(DealHubRemote(client, poll_interval=0), sim.request_log, sim.store.users)


def dealhub_documented(method: str, path: str) -> bool:
    parts = path.split("/")
    status = len(parts) == 6 and parts[:4] == ["", "api", "v1", "request"] and parts[5] == "status"
    return (method, path) in {("GET", "/api/v1/users"), ("PUT", "/api/v2/users")} or (
        method == "GET" and status
    )


def _files(*users: DesiredUser, systems: tuple[str, ...]) -> DesiredState:
    return DesiredState(
        users={user.login: user for user in users},
        settings=Settings(systems=systems),
        files=["people.yaml"],
    )


#: A DealHub user whose manager is a person of the files listed only for Pipedrive.
MANAGER_OF_ANOTHER_SYSTEM = _files(
    person(
        "boss@x", {"email": "boss@x.com", "name": "Boss", "is_active": True}, systems=("pipedrive",)
    ),
    person(
        "cat@x",
        {"email": "cat@x.com", "name": "Cat", "is_active": True, "user_manager_login": "boss@x"},
    ),
    systems=("dealhub", "pipedrive"),
)

DEALHUB = Adapter(
    name="dealhub",
    tenants=dealhub_tenants(),
    states=dealhub_states(),
    open=open_dealhub,
    writes=batch_writes("login", lambda body: (body or {}).get("users", [])),
    documented=dealhub_documented,
    ident="id",
    examples=(([], MANAGER_OF_ANOTHER_SYSTEM),),
)

# -- Pipedrive ------------------------------------------------------------------------

PD_YOU = "me@x.com"
PD_OTHERS = ("ann@x.com", "bob@x.com", "cat@x.com")
PD_NAMES = ("Ann", "Bob", "")
PD_ACCESS: tuple[list[dict[str, Any]] | None, ...] = (
    None,
    [{"app": "sales"}],
    [{"app": "sales"}, {"app": "global", "admin": True}],
)
PD_PROTECT: tuple[tuple[str, ...], ...] = ((), ("ann@*",), ("BOB@X.COM",), ("*",))
PD_ADMIN = [{"app": "global", "admin": True}, {"app": "sales", "admin": True}]


def _letter_case(draw: st.DrawFn, email: str) -> str:
    return draw(st.sampled_from((email, email.upper(), email.capitalize())))


@st.composite
def pipedrive_states(draw: st.DrawFn) -> DesiredState:
    emails = some_of(draw, (PD_YOU, *PD_OTHERS))
    users = {}
    for number, email in enumerate(emails):
        login = f"person{number}@x"
        fields = {
            "email": _letter_case(draw, email),
            "name": draw(st.sampled_from(PD_NAMES[:2])),
            "is_active": draw(WANTED_ACTIVE),
        }
        access = draw(st.sampled_from(PD_ACCESS))
        blocks = {} if access is None else {"pipedrive": {"access": access}}
        systems = ("dealhub",) if draw(st.integers(0, 5)) == 0 else None
        users[login] = person(login, fields, systems=systems, **blocks)
    block = {"unlisted": draw(UNLISTED), "protect": list(draw(st.sampled_from(PD_PROTECT)))}
    settings = Settings(systems=("dealhub", "pipedrive"), blocks={"pipedrive": block})
    return DesiredState(users=users, settings=settings, files=["people.yaml"])


@st.composite
def pipedrive_tenants(draw: st.DrawFn) -> list[Raw]:
    ids = itertools.count(101)
    you = {"id": next(ids), "email": _letter_case(draw, PD_YOU), "name": "Me"}
    users: list[Raw] = [{**you, "active_flag": True, "is_you": True, "access": PD_ADMIN}]
    for email in some_of(draw, PD_OTHERS):
        user: Raw = {
            "id": next(ids),
            "email": _letter_case(draw, email),
            "name": draw(st.sampled_from(PD_NAMES)) or email,
            "active_flag": draw(st.booleans()),
            "access": draw(st.sampled_from(PD_ACCESS[1:])),
        }
        if draw(st.integers(0, 4)) == 0:
            # A deleted user counts as absent; a live one may share its email.
            users.append({**user, "id": next(ids), "is_deleted": True, "active_flag": False})
        if draw(st.integers(0, 4)):
            users.append(user)
    return users


def open_pipedrive(raw: list[Raw]) -> Opened:
    clock = ManualClock()
    sim = PipedriveSimulator(PipedriveStore(raw), token=TOKEN, clock=clock)
    http = httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": TOKEN}
    )
    client = PipedriveClient(
        http,
        target="sim:pipedrive",
        token_origin="the contract suite",
        sleep=clock.advance,
        clock=clock,
        seed=0,
    )
    return Opened(client, sim.request_log, sim.store.users)


def pipedrive_writes(log: Log, before: list[Raw]) -> list[Write]:
    email_of = {str(user["id"]): user["email"] for user in before if not user.get("is_deleted")}
    writes = []
    for entry in log:
        if entry["method"] == "POST":
            writes.append(Write("create", entry["body"].get("email"), entry["body"]))
        elif entry["method"] != "GET":
            user_id = entry["path"].rsplit("/", 1)[-1]
            writes.append(Write("update", email_of.get(user_id), entry["body"]))
    return writes


def pipedrive_documented(method: str, path: str) -> bool:
    parts = path.split("/")
    by_id = len(parts) == 4 and parts[:3] == ["", "v1", "users"] and parts[3].isdigit()
    documented = {("GET", "/v1/users"), ("GET", "/v1/users/me"), ("POST", "/v1/users")}
    return (method, path) in documented or (method == "PUT" and by_id)


#: The token's own user, listed in the files as inactive.
YOU_LISTED_INACTIVE = (
    [{"id": 1, "email": PD_YOU, "active_flag": True, "is_you": True, "access": PD_ADMIN}],
    _files(
        person("me@x", {"email": PD_YOU, "name": "Me", "is_active": False}), systems=("pipedrive",)
    ),
)

PIPEDRIVE = Adapter(
    name="pipedrive",
    tenants=pipedrive_tenants(),
    states=pipedrive_states(),
    open=open_pipedrive,
    writes=pipedrive_writes,
    documented=pipedrive_documented,
    ident="id",
    vendor={"is_active": "active_flag"},
    examples=(YOU_LISTED_INACTIVE,),
)

# -- the fake system: only its module and one registry line ---------------------------

FAKE_HANDLES = ("ann", "Ann", "bob", "root")
FAKE_NAMES = ("Ann", "ann", "Bob", "")
FAKE_PROTECT: tuple[tuple[str, ...], ...] = ((), ("root",), ("ANN",), ("*",))


@st.composite
def fake_states(draw: st.DrawFn) -> DesiredState:
    users = {
        handle: person(
            handle, {"name": draw(st.sampled_from(FAKE_NAMES)), "is_active": draw(WANTED_ACTIVE)}
        )
        for handle in some_of(draw, FAKE_HANDLES)
    }
    block = {"unlisted": draw(UNLISTED), "protect": list(draw(st.sampled_from(FAKE_PROTECT)))}
    settings = Settings(systems=("fake",), blocks={"fake": block})
    return DesiredState(users=users, settings=settings, files=["people.yaml"])


@st.composite
def fake_tenants(draw: st.DrawFn) -> list[Raw]:
    users = []
    for handle in some_of(draw, FAKE_HANDLES):
        user: Raw = {"handle": handle, "is_active": draw(st.booleans())}
        if draw(st.booleans()):
            user["name"] = draw(st.sampled_from(FAKE_NAMES))
        users.append(user)
    return users


_targets = itertools.count()


def open_fake(raw: list[Raw]) -> Opened:
    target = f"fake:tenant-{next(_targets)}"
    tenant = fake_provider.PROVIDER.tenants[target] = fake_provider.FakeTenant(
        {user["handle"]: dict(user) for user in raw}
    )
    remote = providers.get("fake").open(target, None, writable=True, options=OpenOptions())
    return Opened(remote, tenant.log, lambda: [dict(user) for user in tenant.users.values()])


FAKE = Adapter(
    name="fake",
    tenants=fake_tenants(),
    states=fake_states(),
    open=open_fake,
    writes=batch_writes("handle", lambda body: body),
    documented=lambda method, path: path == "/users" and method in ("GET", "PUT"),
    ident="handle",
)

ADAPTERS = {adapter.name: adapter for adapter in (DEALHUB, PIPEDRIVE, FAKE)}


@pytest.fixture
def fake_registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake system joins reconciler the way a new one would: one registry line."""
    monkeypatch.setitem(providers.REGISTRY, "fake", f"{fake_provider.__name__}:PROVIDER")
    yield
    fake_provider.PROVIDER.tenants.clear()


@pytest.fixture
def adapter(request: pytest.FixtureRequest, fake_registered: None) -> Adapter:
    """The system a contract test runs against (parametrized indirectly by name)."""
    return ADAPTERS[request.param]
