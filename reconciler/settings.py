"""The `settings` block of the desired state: unlisted users, protection, limits, targets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import translate
from fractions import Fraction
from functools import cached_property
from typing import Any, Literal

from reconciler import providers
from reconciler.keys import caseless, has_wildcard

#: The default system's token variable (SPEC section 3: the contract, not a choice here);
#: the registry states it, beside the default system's name.
DEFAULT_TOKEN_ENV = providers.DEFAULT_TOKEN_ENV


@dataclass(frozen=True)
class Threshold:
    """`max_deactivations`: a count, or a percentage of the tenant's active users."""

    value: float
    percent: bool

    @classmethod
    def parse(cls, raw: int | str) -> Threshold:
        if isinstance(raw, str):
            return cls(float(raw.strip().rstrip("%")), percent=True)
        return cls(float(raw), percent=False)

    @property
    def exact(self) -> Fraction:
        """The value as written: `33.3` is 333/10, not the float nearest to it."""
        # repr() of a float is the shortest decimal that reads back as it, which is
        # the decimal the file wrote (`25%`, `33.3%`).
        return Fraction(repr(self.value))

    def exceeded_by(self, deactivations: int, active: int) -> bool:
        # Compare exactly (no rounding): 25% of 8 active users allows 2, not 3,
        # and 33.3% of 3000 allows 999 (float arithmetic says 998).
        if self.percent:
            return deactivations * 100 > self.exact * active
        return deactivations > self.value

    def allowed(self, active: int) -> int:
        """The largest number of deactivations this threshold allows."""
        if self.percent:
            return int(self.exact * active // 100)
        return int(self.value)

    def __str__(self) -> str:
        shown = f"{self.value:g}"
        return f"{shown}%" if self.percent else shown


#: The built-in systems (the registry's own lines). Every system reconciler knows,
#: installed ones included, is `providers.names()`.
SYSTEMS: tuple[str, ...] = tuple(providers.BUILTIN)
#: What a file manages when settings.systems names nothing.
DEFAULT_SYSTEMS: tuple[str, ...] = (providers.DEFAULT,)


def default_token_env(system: str) -> str:
    """The variable holding a system's token when an environment names none."""
    return providers.get(system).capabilities.token_env


@dataclass(frozen=True)
class SystemTarget:
    """Where one system is in an environment: the default system's target sits in the
    environment itself, another system's in a block under its name (`NAME: {...}`)."""

    api_url: str
    token_env: str


@dataclass(frozen=True)
class Environment:
    """A named target from `settings.environments`, chosen with `--env NAME`."""

    name: str
    #: The default system's API, written in the environment itself ("" when the file
    #: does not manage the default system).
    api_url: str
    #: The variable holding the default system's token there.
    token_env: str = DEFAULT_TOKEN_ENV
    #: Added to the files' logins and the logins they name (a sandbox's `_sb`).
    login_suffix: str = ""
    #: Targets of the other systems, by system name.
    systems: dict[str, SystemTarget] = field(default_factory=dict)

    def token_env_for(self, system: str) -> str | None:
        """The variable holding `system`'s token in this environment (None: it names none)."""
        if system == providers.DEFAULT:
            return self.token_env
        target = self.systems.get(system)
        return target.token_env if target is not None else None

    def target(self, system: str) -> SystemTarget | None:
        """Where `system` is in this environment (None: the environment does not say)."""
        if system == providers.DEFAULT:
            return SystemTarget(self.api_url, self.token_env) if self.api_url else None
        return self.systems.get(system)


class Protection:
    """A list of `protect` globs, compiled once: a plan asks it for every unlisted user.

    The globs keep fnmatch's meaning (`*`, `?`, `[...]`), matched without regard
    to letter case or Unicode encoding (keys.caseless), in every system: a
    protected account is never deactivated, so the rule errs on protecting. A
    glob without a wildcard is a set lookup; the others are one regular
    expression, so a check costs about the same for 10 globs or 40,000.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        exact: set[str] = set()
        wild: list[str] = []
        for pattern in patterns:
            folded = caseless(pattern)
            if has_wildcard(folded):
                wild.append(translate(folded))
            else:
                exact.add(folded)
        #: The folded globs that have no wildcard.
        self.exact = frozenset(exact)
        #: The others, as one expression (fnmatch.translate anchors each at the end).
        self.wild = re.compile("|".join(wild)) if wild else None

    def covers(self, key: str, suffix: str = "") -> bool:
        """Whether `key` (or `key` without the environment's login suffix) matches a glob."""
        if self._covers(caseless(key)):
            return True
        return bool(suffix) and key.endswith(suffix) and self._covers(caseless(key[: -len(suffix)]))

    def _covers(self, folded: str) -> bool:
        if folded in self.exact:
            return True
        return self.wild is not None and self.wild.match(folded) is not None


@dataclass(frozen=True)
class SystemSettings:
    """The settings one system's plan follows: its own block over the shared ones."""

    unlisted: Literal["deactivate", "ignore"] = "deactivate"
    #: Globs of this system's keys (whatever identifies a user there: a login, an email).
    protect: tuple[str, ...] = ()
    max_deactivations: Threshold = Threshold(25, percent=True)
    #: At most this many creates in one plan (None: no limit).
    max_creates: int | None = None

    def is_protected(self, key: str, suffix: str = "") -> bool:
        """Whether a key matches a `protect` glob (see Protection; suffix optional)."""
        return self.protection.covers(key, suffix)

    @cached_property
    def protection(self) -> Protection:
        """The globs, compiled on first use (a frozen dataclass's cache: not a field)."""
        return Protection(self.protect)


@dataclass(frozen=True)
class Settings:
    unlisted: Literal["deactivate", "ignore"] = "deactivate"
    protect: tuple[str, ...] = ()
    max_deactivations: Threshold = Threshold(25, percent=True)
    #: Every listed user must carry an external_user_id (the vendor's v2 schema requires one).
    require_external_id: bool = False
    environments: dict[str, Environment] = field(default_factory=dict)
    #: The systems this desired state manages (`settings.systems`).
    systems: tuple[str, ...] = DEFAULT_SYSTEMS
    #: Each system's own block (`settings.NAME: {...}`), as validated mappings.
    blocks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any] | None) -> Settings:
        """Settings from an already schema-validated mapping."""
        if not raw:
            return cls()
        envs = {
            name: Environment(
                name=name,
                # Absent only when the file does not manage the default system (the
                # schema says so).
                api_url=spec.get("api_url", ""),
                token_env=spec.get("token_env", DEFAULT_TOKEN_ENV),
                login_suffix=spec.get("login_suffix", ""),
                systems={
                    system: SystemTarget(
                        target["api_url"],
                        target.get("token_env") or default_token_env(system),
                    )
                    for system, target in spec.items()
                    if system != providers.DEFAULT and system in providers.REGISTRY
                },
            )
            for name, spec in (raw.get("environments") or {}).items()
        }
        return cls(
            unlisted=raw.get("unlisted", "deactivate"),
            protect=tuple(raw.get("protect") or ()),
            max_deactivations=Threshold.parse(raw.get("max_deactivations", "25%")),
            require_external_id=raw.get("require_external_id", False) is True,
            environments=envs,
            systems=tuple(raw.get("systems") or DEFAULT_SYSTEMS),
            blocks={
                system: {
                    key: list(value) if isinstance(value, list) else value
                    for key, value in raw[system].items()
                }
                for system in providers.names()
                if system in raw
            },
        )

    def is_protected(self, login: str, suffix: str = "") -> bool:
        """Whether a key of the default system matches a shared `protect` glob (see
        Protection; suffix optional)."""
        return self.protection.covers(login, suffix)

    @cached_property
    def protection(self) -> Protection:
        """The shared globs, compiled on first use."""
        return Protection(self.protect)

    def for_system(self, name: str) -> SystemSettings:
        """One system's settings: its block's values over the shared ones.

        The shared `protect` names the default system's keys, so only
        it takes them; every other system protects what its own block lists.
        """
        block = self.blocks.get(name, {})
        shared_protect = self.protect if name == providers.DEFAULT else ()
        limit = block.get("max_deactivations")
        return SystemSettings(
            unlisted=block.get("unlisted", self.unlisted),
            protect=shared_protect + tuple(block.get("protect") or ()),
            max_deactivations=(
                Threshold.parse(limit) if limit is not None else self.max_deactivations
            ),
            max_creates=block.get("max_creates"),
        )
