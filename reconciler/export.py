"""Export: a system's users as a desired-state file a team can commit on day one.

Planning the exported file against the same system shows no changes. Each
system writes its own file through hooks found beside its provider:

    Exporter                     (the module `export` of the provider's package,
    ├── OPTIONS                   or the provider's `exporter` attribute)
    │     what it takes of the command's system-specific options (`login_suffix`)
    ├── export(tenant, ...)
    │     -> the people file's text
    └── merge(text, state, read, file=...)      optional: `export --merge PEOPLE.yaml`
          -> (the merged text, report lines)

What every exporter shares is here, and names no system: the header, and a
YAML scalar for any value. The YAML is written by hand (not yaml.dump) so
100,000 users export in about a second, and every string that YAML could read
as something else is quoted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from reconciler import providers
from reconciler.errors import UsageError
from reconciler.providers.hooks import beside
from reconciler.schema import user_checker
from reconciler.textsafe import escape_char, invisible_chars, is_invisible, printable

if TYPE_CHECKING:
    from reconciler.desired import DesiredState
    from reconciler.providers.base import Provider

DEFAULT_SCHEMA_REF = "../schemas/users.schema.json"

_PLAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._@/+()'-]*$")
_resolver = yaml.resolver.Resolver()
_NOT_YAML_PRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
# Past ASCII (json.dumps escapes the controls below it): what a reader must see escaped.
_NOT_ASCII = re.compile("[^\x00-\x7e]")


def scalar(value: Any) -> str:
    """A YAML scalar that reads back as exactly `value`."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    text = str(value)
    if (
        _PLAIN.match(text)
        and not text.endswith(" ")
        and " #" not in text
        and ": " not in text
        and _resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
        == "tag:yaml.org,2002:str"
    ):
        return text
    # A lone surrogate (a server's JSON can hold one) cannot be written in a UTF-8
    # file at all: it is kept as the text of its escape, as every output shows it.
    text = _SURROGATE.sub(lambda m: escape_char(m.group()), text)
    # JSON leaves these raw, but YAML refuses them in a file (DEL, C1 controls,
    # U+FFFE/FFFF) or folds them inside a double-quoted scalar (NEL, U+2028/2029);
    # an invisible character (a bidi override) is written as its YAML escape, so the
    # file reads as it is and loads back the same value.
    return _NOT_ASCII.sub(
        lambda m: (
            escape_char(m.group())
            if _NOT_YAML_PRINTABLE.match(m.group()) or is_invisible(m.group())
            else m.group()
        ),
        json.dumps(text, ensure_ascii=False),
    )


#: Fields that name an account: the loader refuses invisible characters in them.
_NAMING_FIELDS = ("login", "email", "user_manager_login")


def unholdable(entry: dict[str, Any]) -> str | None:
    """Why a people file cannot hold a person with these fields, or None.

    The loader's own checks (the schema's, and invisible characters where a
    value names an account): an export that writes such a person would not
    validate, so the export names them instead.
    """
    for error in user_checker().errors(entry):
        return printable(error.message)
    for name in _NAMING_FIELDS:
        value = entry.get(name)
        if isinstance(value, str) and invisible_chars(value):
            return f"{name} '{printable(value)}' holds invisible characters"
    return None


def header(schema_ref: str, command: str, source: str) -> list[str]:
    """The first lines of every exported file: the editor's schema, and what wrote it."""
    return [
        f"# yaml-language-server: $schema={schema_ref}",
        f"# Exported by `{command}`" + (f" from {printable(source)}." if source else "."),
    ]


#: A system's users as its read returns them (raw records).
Tenant = list[dict[str, Any]]


class Exporter(Protocol):
    """What `reconciler export` asks of one system (see the module docstring)."""

    #: The options it takes (optional attribute; none when absent).
    OPTIONS: tuple[str, ...]

    def export(
        self, tenant: Tenant, *, source: str, schema_ref: str, options: Mapping[str, str]
    ) -> str:
        """The people file for `tenant` (read from `source`).

        `options` are the command's system-specific options by name
        (`login_suffix`), only those the exporter's OPTIONS name (check_options).
        Raises ResponseError naming a user no file can hold.
        """
        ...


class Merger(Protocol):
    """Optional: `export --merge PEOPLE.yaml`, adopting the system into a people file."""

    def merge(
        self, text: str, state: DesiredState, read: Callable[[], Tenant], *, file: str
    ) -> tuple[str, list[str]]:
        """The merged text of `file` (its `text`, loaded as `state`), and lines for stderr.

        Checks the file before `read()` reads the system; raises UsageError
        when it cannot be merged.
        """
        ...


def check_options(hooks: Exporter, name: str, options: Mapping[str, str]) -> None:
    """Raise UsageError for an option the exporter does not take (its OPTIONS), before
    anything is read."""
    takes: tuple[str, ...] = getattr(hooks, "OPTIONS", ())
    extra = [option for option in options if option not in takes]
    if extra:
        flags = " or ".join("--" + option.replace("_", "-") for option in extra)
        raise UsageError(f"export --system {name} does not take {flags}")


def exporter_for(provider: Provider) -> Exporter:
    """The export hooks of a system: its provider's `exporter`, else the module `export`
    of the provider's package; UsageError when it has neither."""
    declared = getattr(provider, "exporter", None)
    if declared is not None:
        hooks: Exporter = declared
        return hooks
    found = beside(provider, "export")
    if found is not None and callable(getattr(found, "export", None)):
        module: Exporter = found
        return module
    name = provider.capabilities.name
    raise UsageError(
        f"export --system {name}: {provider.capabilities.title} has no exporter, so its "
        "users cannot be written as a people file"
    )


def merger_for(provider: Provider) -> Merger:
    """The merge hook of a system's exporter; UsageError naming the registered
    systems that have one when it has not."""
    hooks = exporter_for(provider)
    if callable(getattr(hooks, "merge", None)):
        return hooks  # type: ignore[return-value]
    able = [name for name in providers.names() if _merges(providers.get(name))]
    add = " or ".join(f"--system {name}" for name in able) or "a system that can"
    raise UsageError(
        f"--merge: {provider.capabilities.title} cannot merge its users into a people "
        f"file: add {add}"
    )


def _merges(provider: Provider) -> bool:
    try:
        return callable(getattr(exporter_for(provider), "merge", None))
    except UsageError:
        return False
