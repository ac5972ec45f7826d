"""The JSON Schema of the desired-state file, and validation against it.

The whole document except the user entries is checked by jsonschema. The user
entries (tens of thousands of them) are checked by a checker compiled from the
same schema's `user` definition: jsonschema costs about 70 µs a user, which
alone would blow the plan's time budget. A property test holds the compiled
checker equal to jsonschema on generated users.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def is_email(value: object) -> bool:
    """The email check used by both jsonschema and the compiled checker."""
    # fullmatch: `$` would also match before a trailing newline ("a@b.c\n").
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


def _schema_text() -> str:
    packaged = resources.files("reconciler").joinpath("data/users.schema.json")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    # A source checkout or an editable install: the schema sits at the repository root.
    root = Path(__file__).resolve().parent.parent / "schemas" / "users.schema.json"
    return root.read_text(encoding="utf-8")


@cache
def load_schema() -> dict[str, Any]:
    """The schema of SPEC section 2 (schemas/users.schema.json)."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("email")(is_email)
    return checker


@cache
def document_validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(load_schema(), format_checker=format_checker())


@dataclass(frozen=True)
class FieldError:
    """One problem with one key of a mapping: `field` is None for the whole entry."""

    field: str | None
    message: str


def suggest(name: str, candidates: list[str]) -> str:
    """' (did you mean "x"?)' for the closest candidate, or ''."""
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return f' (did you mean "{close[0]}"?)' if close else ""


def type_name(value: Any) -> str:
    """How a message names the type of a value read from YAML ("a string", "null")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "a number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


_EXACT_TYPES: dict[str, type] = {"string": str, "boolean": bool, "null": type(None)}

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
}


def _type_hint(value: Any, expected: list[str]) -> str:
    if ("string" in expected and isinstance(value, (bool, int, float))) or (
        "string" in expected and type(value).__name__ in ("date", "datetime")
    ):
        return " (YAML read it as a non-string; put the value in quotes)"
    return ""


#: The keywords a property of a user or of the defaults may use: the compiled
#: checker understands these and refuses a schema that uses any other.
_COMPILED_KEYWORDS = frozenset(
    {"type", "maxLength", "minLength", "pattern", "not", "format", "description", "default"}
)


class EntryChecker:
    """A fast checker for one object definition of the schema (a user, the defaults)."""

    def __init__(self, definition: dict[str, Any]) -> None:
        self.required: tuple[str, ...] = tuple(definition.get("required", ()))
        self.closed = definition.get("additionalProperties") is False
        self.names = list(definition["properties"])
        self.checks: dict[str, Callable[[Any], str | None]] = {
            name: self._compile(name, spec) for name, spec in definition["properties"].items()
        }

    @staticmethod
    def _compile(name: str, spec: dict[str, Any]) -> Callable[[Any], str | None]:
        unknown = set(spec) - _COMPILED_KEYWORDS
        if unknown or set(spec.get("not", {})) - {"pattern"}:
            raise ValueError(f"the compiled checker cannot check {name}: {spec}")
        types = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        tests = [_JSON_TYPES[t] for t in types]
        # Exact types of plain YAML values that pass, checked first (bool is not int here).
        fast = {_EXACT_TYPES[t] for t in types if t in _EXACT_TYPES}
        max_length = spec.get("maxLength")
        min_length = spec.get("minLength")
        pattern = re.compile(spec["pattern"]) if "pattern" in spec else None
        forbidden = re.compile(spec["not"]["pattern"]) if "not" in spec else None
        email = spec.get("format") == "email"
        shown = " or ".join("null" if t == "null" else f"a {t}" for t in types)

        def check(value: Any) -> str | None:
            if type(value) not in fast and not any(test(value) for test in tests):
                return f"{name} must be {shown}, not {type_name(value)}" + _type_hint(value, types)
            if isinstance(value, str):
                if max_length is not None and len(value) > max_length:
                    return f"{name} is {len(value)} characters; the limit is {max_length}"
                if min_length is not None and len(value) < min_length:
                    return f"{name} must not be empty"
                if pattern is not None and not pattern.search(value):
                    return f"{name} {value!r} does not match {pattern.pattern}"
                if forbidden is not None and forbidden.search(value):
                    if forbidden.pattern == r"\s":
                        return f"{name} {value!r} must not contain spaces"
                    return f"{name} {value!r} must not match {forbidden.pattern}"
                if email and not is_email(value):
                    return f"{name} {value!r} is not an email address"
            return None

        return check

    def errors(self, entry: dict[Any, Any]) -> Iterator[FieldError]:
        """Every problem of one entry, in a stable order."""
        checks = self.checks
        for key, value in entry.items():
            check = checks.get(key) if isinstance(key, str) else None
            if check is None:
                if self.closed:
                    yield FieldError(
                        str(key), f"unknown key {str(key)!r}{suggest(str(key), self.names)}"
                    )
                continue
            message = check(value)
            if message is not None:
                yield FieldError(key, message)
        missing = [name for name in self.required if name not in entry]
        if missing:
            yield FieldError(None, "missing required " + ", ".join(missing))


@cache
def user_checker() -> EntryChecker:
    return EntryChecker(load_schema()["$defs"]["user"])


@cache
def defaults_checker() -> EntryChecker:
    return EntryChecker(load_schema()["$defs"]["defaults"])
