"""The systems reconciler manages: one provider package each, found here by name.

This registry is the only list of systems: every other list (settings, targets, the
JSON Schema's enums) is derived from it. Built-in systems are the lines of BUILTIN;
a system shipped as its own distribution registers through the entry-point group
`reconciler.providers` (as pytest's and octoDNS's plug-ins do):

    [project.entry-points."reconciler.providers"]
    acme = "acme_reconciler:PROVIDER"

Providers are imported on first use, so a command for one system does not pay
for the others; entry points are read (not imported) on the registry's first use.
Adding a built-in system is a package under providers/ and one line here.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING

from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.providers.base import Provider

#: The entry-point group an outside system registers in.
ENTRY_POINT_GROUP = "reconciler.providers"

#: The built-in systems: name -> "module:attribute" of the provider object.
BUILTIN: dict[str, str] = {
    "dealhub": "reconciler.providers.dealhub.provider:DEALHUB",
    "pipedrive": "reconciler.providers.pipedrive:PROVIDER",
}

#: The system the bare forms name (`--api-url URL`, `--token-file PATH`, DEALHUB_TOKEN),
#: whose fields are a person's own keys, and that a file manages when it names none
#: (SPEC sections 3 and 7: the contract, hence one named default).
DEFAULT = "dealhub"

#: The variable the default system's token is read from when nothing names another: the
#: contract fixes it with DEFAULT (SPEC section 3). Its provider declares it as its
#: `token_env`; it is here, beside DEFAULT, because a saved plan or an environment that
#: names no variable means it before any provider is imported.
DEFAULT_TOKEN_ENV = "DEALHUB_TOKEN"

#: What a system's name may be: it is a key of a people file and of `--api-url NAME=URL`.
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class _Registry(MutableMapping[str, str]):
    """The built-in systems, then those of installed distributions (read on first use).

    A mapping, so that a test (or a caller) may add a line as it would to a dict.
    """

    def __init__(self, builtin: dict[str, str]) -> None:
        self._lines = dict(builtin)
        self._loaded = False
        self._generation = 0

    def _load(self) -> dict[str, str]:
        if not self._loaded:
            self._loaded = True
            self._lines.update(entry_point_lines())
        return self._lines

    @property
    def generation(self) -> int:
        """A number that changes whenever the lines do: what is derived from the registry
        (the schema, its checkers) is cached by it, as cheap to ask once per user."""
        if not self._loaded:
            self._load()
        return self._generation

    def __getitem__(self, name: str) -> str:
        return self._load()[name]

    def __setitem__(self, name: str, value: str) -> None:
        self._load()[name] = value
        self._generation += 1

    def __delitem__(self, name: str) -> None:
        del self._load()[name]
        self._generation += 1

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __contains__(self, name: object) -> bool:
        return name in self._load()

    def reload(self) -> None:
        """Read the entry points again (after a distribution was installed)."""
        self._lines = dict(BUILTIN)
        self._loaded = False
        self._generation += 1


def entry_point_lines() -> dict[str, str]:
    """The systems of installed distributions: name -> "module:attribute".

    A distribution that claims a built-in system's name, or a name a people file
    cannot hold, is refused: it would silently replace (or shadow) a system.
    """
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        where = _origin(point)
        if point.name in BUILTIN:
            raise UsageError(
                f"the plug-in {point.name} = {point.value!r}{where} registers a system "
                f"named {point.name!r}, which is built into reconciler: uninstall it or "
                "rename its entry point"
            )
        if not NAME.fullmatch(point.name):
            raise UsageError(
                f"the plug-in {point.name!r} = {point.value!r}{where} is not a system name "
                "(lower-case letters, digits and _, starting with a letter)"
            )
        if point.name in found and found[point.name] != point.value:
            raise UsageError(
                f"two plug-ins register the system {point.name!r} "
                f"({found[point.name]!r} and {point.value!r}): uninstall one"
            )
        found[point.name] = point.value
    return found


def _origin(point: object) -> str:
    dist = getattr(point, "dist", None)
    name = getattr(dist, "name", None) if dist is not None else None
    return f" (distribution {name})" if name else ""


#: name -> "module:attribute" of the provider object, built-in and installed.
REGISTRY: _Registry = _Registry(BUILTIN)


def names() -> tuple[str, ...]:
    """Every system reconciler knows, built-in first, in registry order."""
    return tuple(REGISTRY)


def get(name: str) -> Provider:
    """The provider of the system `name` (KeyError for a system reconciler does not know).

    A plug-in that cannot be imported, or whose object is not a provider of that
    name, is a UsageError naming it, not a traceback.
    """
    line = REGISTRY[name]
    module, _, attribute = line.partition(":")
    try:
        provider: Provider = getattr(importlib.import_module(module), attribute)
    except Exception as exc:  # a plug-in's import may raise anything
        if name in BUILTIN:
            raise
        raise UsageError(
            f"the system {name!r} ({line}) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    caps = getattr(provider, "capabilities", None)
    if getattr(caps, "name", None) != name:
        raise UsageError(
            f"the system {name!r} ({line}) is not a reconciler provider named {name!r} "
            "(its capabilities.name must be the name it registers)"
        )
    return provider


def known(name: str, where: str) -> None:
    """Raise a UsageError unless `name` is a registered system (`where`: how it was given)."""
    if name not in REGISTRY:
        raise UsageError(
            f"{where}: unknown system {name!r}; reconciler knows {', '.join(REGISTRY)}"
        )


def title(name: str) -> str:
    """How a system is named to people ("DealHub", "Pipedrive")."""
    return get(name).capabilities.title if name in REGISTRY else name
