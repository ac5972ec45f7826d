"""The JSON Schema of the desired-state file, and validation against it.

The whole document except the user entries is checked against the schema, first
by a yes-or-no check compiled from it (schema_check); only a document that fails
it meets jsonschema, whose errors `explain` words. jsonschema is imported then and
only then: a valid file never pays its ~40 ms import. The user entries (tens of
thousands of them) are checked by a checker compiled from the same schema's `user`
definition, which words its own messages: jsonschema costs about 70 µs a user,
which alone would blow the plan's time budget. Property tests hold both compiled
checks equal to jsonschema on generated input.

A person's nested keys (`systems`, a system's block `NAME: {...}`) are checked the
same way (the compiled check, then jsonschema to explain), remembered by value: a
file repeats a handful of them.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import providers
from reconciler.schema_check import Check, compile_check

if TYPE_CHECKING:
    import jsonschema

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def is_email(value: object) -> bool:
    """The email check used by both jsonschema and the compiled checker."""
    # fullmatch: `$` would also match before a trailing newline ("a@b.c\n").
    return not isinstance(value, str) or _EMAIL.fullmatch(value) is not None


#: Where the assembled schema is kept for editors (`$schema`) and packaged into the wheel;
#: a test holds it equal to what `assemble` makes of the built-in systems.
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "users.schema.json"


def _shared_defs() -> dict[str, Any]:
    """The definitions every system's fragment may refer to."""
    return {
        "unlisted": {"enum": ["deactivate", "ignore"], "default": "deactivate"},
        "max_deactivations": {
            "oneOf": [
                {"type": "integer", "minimum": 0},
                {
                    "type": "string",
                    "pattern": "^(100(\\.0+)?|[1-9]?[0-9](\\.[0-9]+)?)%$",
                    "not": {"pattern": "\\s"},
                },
            ],
            "default": "25%",
        },
        "max_creates": {
            "type": "integer",
            "minimum": 0,
            "description": "A plan creating more users than this stops (exit 3); default: no limit",
        },
    }


def assemble(names: Sequence[str]) -> dict[str, Any]:
    """The schema of SPEC section 2 for the systems `names`, from each one's fragment
    (`Capabilities.people_schema`): the registry's default system gives a person's own
    fields and an environment's own keys; every other system a block under its name."""
    default = providers.DEFAULT
    parts = {name: providers.get(name).capabilities.people_schema for name in names}
    own = parts.get(default)
    if own is None:
        raise ValueError(f"the default system {default!r} declares no people schema")
    others = {name: part for name, part in parts.items() if name != default and part is not None}
    person_blocks = {
        name: {"$ref": f"#/$defs/{name}_person"}
        for name, part in others.items()
        if part.person is not None
    }
    systems_key = {
        "$ref": "#/$defs/systems",
        "description": "The systems this person is listed for; default: settings.systems",
    }
    user = {
        "type": "object",
        "additionalProperties": False,
        "required": list(own.required),
        "properties": {**own.fields, "systems": systems_key, **person_blocks},
    }
    defaults = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **{key: spec for key, spec in own.fields.items() if key not in own.per_user},
            "systems": systems_key,
            **person_blocks,
        },
    }
    settings = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "systems": {
                "$ref": "#/$defs/systems",
                "default": [default],
                "description": "The systems this desired state manages",
            },
            "unlisted": {"$ref": "#/$defs/unlisted"},
            "protect": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "max_deactivations": {"$ref": "#/$defs/max_deactivations"},
            "require_external_id": {
                "type": "boolean",
                "default": False,
                "description": (
                    "true: every listed user must have an external_user_id "
                    "(the vendor's v2 schema requires it)"
                ),
            },
            "environments": {
                "type": "object",
                "additionalProperties": {"$ref": "#/$defs/environment"},
            },
            **{
                name: {"$ref": f"#/$defs/{name}_settings"}
                for name, part in parts.items()
                if part is not None and part.settings is not None
            },
        },
        # An environment names the default system's target itself: required unless
        # the file leaves that system out.
        "if": {
            "required": ["systems"],
            "properties": {"systems": {"not": {"contains": {"const": default}}}},
        },
        "else": {
            "properties": {"environments": {"additionalProperties": {"required": ["api_url"]}}}
        },
    }
    environment = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **(own.target or {}).get("properties", {}),
            **{
                name: {"$ref": f"#/$defs/{name}_target"}
                for name, part in others.items()
                if part.target is not None
            },
        },
    }
    defs: dict[str, Any] = {
        "user": user,
        "defaults": defaults,
        "settings": settings,
        "environment": environment,
        **_shared_defs(),
        "system": {"title": "system", "enum": list(names)},
        "systems": {
            "type": "array",
            "items": {"$ref": "#/$defs/system"},
            "minItems": 1,
            "uniqueItems": True,
        },
    }
    for name, part in parts.items():
        if part is not None and part.settings is not None:
            defs[f"{name}_settings"] = dict(part.settings)
    for name, part in others.items():
        if part.target is not None:
            defs[f"{name}_target"] = dict(part.target)
    for name, part in others.items():
        if part.person is not None:
            defs[f"{name}_person"] = dict(part.person)
    for part in parts.values():
        if part is not None:
            defs.update(part.defs)
    # A round trip through JSON: plain lists and dicts, as a schema read from a file.
    schema: dict[str, Any] = json.loads(
        json.dumps(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": "https://github.com/reconciler/reconciler/schemas/users.schema.json",
                "title": "reconciler desired state",
                "description": (
                    "The people each system of this file should have "
                    "(reconciler SPEC sections 2 and 7)."
                ),
                "type": "object",
                "additionalProperties": False,
                "required": ["version"],
                "properties": {
                    "version": {"const": 1},
                    "settings": {"$ref": "#/$defs/settings"},
                    "defaults": {"$ref": "#/$defs/defaults"},
                    "users": {"type": "array", "items": {"$ref": "#/$defs/user"}},
                },
                "$defs": defs,
            }
        )
    )
    return schema


def schema_text(schema: dict[str, Any]) -> str:
    """The schema as the committed file and `reconciler schema` write it."""
    return json.dumps(schema, indent=2) + "\n"


def load_schema() -> dict[str, Any]:
    """The schema of SPEC section 2 for every registered system (built-in and installed)."""
    return _schema(_generation())


def _generation() -> int:
    """The registry's generation: what is cached below is cached by it (a test or a
    caller may add a system), and asking costs an attribute, not a listing."""
    return providers.REGISTRY.generation


@cache
def _schema(generation: int) -> dict[str, Any]:
    return assemble(providers.names())


#: The formats the schema's validators check (jsonschema's and the compiled one alike).
FORMATS: dict[str, Callable[[Any], bool]] = {"email": is_email}


def format_checker() -> jsonschema.FormatChecker:
    """jsonschema's checker of FORMATS (imports jsonschema)."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, check in FORMATS.items():
        checker.checks(name)(check)
    return checker


class Validator:
    """One schema's validator: its compiled check first, jsonschema only when that fails.

    `is_valid` and `iter_errors` answer as jsonschema's Draft202012Validator does; a
    valid instance is answered by the compiled check alone (see schema_check), so
    jsonschema is imported, and its validator built, only to judge and explain one
    that is not (or every time, for a schema the compiled check cannot read).
    `types` redefine type names for both, as a type checker does (see schema_check).
    """

    def __init__(self, schema: dict[str, Any], *, types: dict[str, Check] | None = None) -> None:
        self.schema = schema
        self._types = types or {}
        self._check: Check | None = compile_check(schema, FORMATS, types=self._types)
        self._validator: jsonschema.Draft202012Validator | None = None

    def passes(self, instance: Any) -> bool:
        """The compiled check's yes (jsonschema's, for a schema it cannot read): a no
        from it is what `iter_errors` then explains."""
        if self._check is not None:
            return self._check(instance)
        return bool(self.jsonschema_validator().is_valid(instance))

    def is_valid(self, instance: Any) -> bool:
        if self._check is not None and self._check(instance):
            return True
        return bool(self.jsonschema_validator().is_valid(instance))

    def iter_errors(self, instance: Any) -> Iterator[jsonschema.ValidationError]:
        if self._check is not None and self._check(instance):
            return iter(())
        return self.jsonschema_validator().iter_errors(instance)

    def jsonschema_validator(self) -> jsonschema.Draft202012Validator:
        """jsonschema's validator of the schema, made on first use."""
        if self._validator is None:
            import jsonschema

            base = jsonschema.Draft202012Validator
            if self._types:
                checker = base.TYPE_CHECKER.redefine_many(
                    {name: _typed(check) for name, check in self._types.items()}
                )
                base = jsonschema.validators.extend(base, type_checker=checker)  # type: ignore[no-untyped-call]
            self._validator = base(self.schema, format_checker=format_checker())
        return self._validator


def _typed(check: Check) -> Callable[[Any, Any], bool]:
    # jsonschema's type checks take the checker first.
    return lambda _, value: check(value)


def document_validator() -> Validator:
    """A validator of the whole document (users aside, see user_checker)."""
    return _document_validator(_generation())


@cache
def _document_validator(generation: int) -> Validator:
    return Validator(_schema(generation))


@dataclass(frozen=True)
class FieldError:
    """One problem with one key of a mapping: `field` is None for the whole entry.

    `path` leads from the field's value to what is wrong (`("access", 1, "app")`).
    """

    field: str | None
    message: str
    path: tuple[Any, ...] = ()


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


def dotted(path: Iterable[Any]) -> str:
    """A path as a message names it: `settings.environments.prod`, `access[0].app`."""
    out = ""
    for step in path:
        out += f"[{step}]" if isinstance(step, int) else (f".{step}" if out else str(step))
    return out


_SCHEMA_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def explain(
    error: jsonschema.ValidationError, base: Sequence[Any] = ()
) -> Iterator[tuple[list[Any], str]]:
    """Each problem of one jsonschema error: (path from the document, message).

    `base` is where the validated instance sits in the document. The path leads
    to what a reader should look at (an unknown key, the second of two items).
    """
    path = [*base, *error.absolute_path]
    where = dotted(path)
    if error.validator == "additionalProperties":
        props = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        instance = error.instance if isinstance(error.instance, dict) else {}
        prefix = f"{where}: " if where else ""
        for key in instance:
            if key not in props:
                yield [*path, key], f"{prefix}unknown key {key!r}{suggest(str(key), list(props))}"
        return
    negated = error.validator_value if error.validator == "not" else None
    if isinstance(negated, dict) and "pattern" in negated and not isinstance(error.instance, str):
        return  # `pattern` passes anything but a string: the type error says it
    if error.validator == "uniqueItems" and isinstance(error.instance, list):
        second = _repeated(error.instance)
        if second is not None:
            yield [*path, second], f"{where}: {error.instance[second]!r} is listed twice"
            return
    yield path, _message(where or "document", error)


def _repeated(items: list[Any]) -> int | None:
    """The index of the first item equal to an earlier one (True is not 1), if hashable."""
    seen: set[tuple[type, Any]] = set()
    for index, item in enumerate(items):
        try:
            key = (type(item), item)
            if key in seen:
                return index
            seen.add(key)
        except TypeError:  # a mapping or a list: the message names the list
            return None
    return None


def _message(where: str, error: jsonschema.ValidationError) -> str:
    value, schema, kind = error.instance, error.schema, error.validator
    if kind == "type":
        expected = error.validator_value
        types = expected if isinstance(expected, list) else [expected]
        shown = " or ".join(_SCHEMA_TYPES.get(str(t), str(t)) for t in types)
        return f"{where} must be {shown}, not {type_name(value)}"
    if kind == "const" and list(error.absolute_path) == ["version"]:
        return f"{where}: unsupported version {value!r}; this reconciler reads version 1"
    if kind == "oneOf" and list(error.absolute_path)[-1:] == ["max_deactivations"]:
        return f"{where}: {value!r} is not a whole number or a percentage such as 25%"
    if kind == "required":
        return f"{where}: " + error.message.replace("is a required property", "is required")
    if kind == "enum" and isinstance(schema, dict) and "title" in schema:
        allowed = [str(v) for v in schema["enum"]]
        close = suggest(value, allowed) if isinstance(value, str) else ""
        return f"{where}: unknown {schema['title']} {value!r}{close}; one of: " + ", ".join(allowed)
    if kind == "minItems" and error.validator_value == 1:
        return f"{where} must not be an empty list"
    if kind == "minLength" and error.validator_value == 1:
        return f"{where} must not be empty"
    if kind == "minimum":
        return f"{where} must be {error.validator_value} or more, not {value!r}"
    if kind == "pattern" and isinstance(schema, dict) and "patternErrorMessage" in schema:
        return f"{where} {value!r} {schema['patternErrorMessage']}"
    if kind == "not" and error.validator_value == {"pattern": r"\s"}:
        return f"{where} {value!r} must not contain spaces"
    if kind == "not" and isinstance(error.validator_value, dict):
        both = error.validator_value.get("required")
        if isinstance(both, list) and len(both) == 2:
            return f"{where}: give {both[0]} or {both[1]}, not both"
    return f"{where}: {error.message}"


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


#: Distinct nested values remembered per key (a file repeats a few; a hostile one, many).
_NESTED_CACHE_SIZE = 1024
#: Longer values (their repr) are checked every time rather than remembered.
_NESTED_KEY_LIMIT = 4096


class EntryChecker:
    """A fast checker for one object definition of the schema (a user, the defaults).

    Scalar properties are compiled; a list or mapping (`systems`, a system's block) is
    checked by a `Validator` against `defs` (the schema's `$defs`, for its `$ref`s).
    """

    def __init__(self, definition: dict[str, Any], defs: dict[str, Any] | None = None) -> None:
        self.required: tuple[str, ...] = tuple(definition.get("required", ()))
        self.closed = definition.get("additionalProperties") is False
        self.names = list(definition["properties"])
        self.known = frozenset(self.names)
        self.checks: dict[str, Callable[[Any], str | None]] = {}
        self.nested: dict[str, Callable[[Any], tuple[FieldError, ...]]] = {}
        for name, spec in definition["properties"].items():
            if "$ref" in spec or spec.get("type") in ("array", "object"):
                self.nested[name] = self._nested(name, spec, defs or {})
            else:
                self.checks[name] = self._compile(name, spec)

    @staticmethod
    def _nested(
        name: str, spec: dict[str, Any], defs: dict[str, Any]
    ) -> Callable[[Any], tuple[FieldError, ...]]:
        validator = Validator({"$defs": defs, **spec})
        known: dict[str, tuple[FieldError, ...]] = {}

        def check(value: Any) -> tuple[FieldError, ...]:
            # Equal reprs are equal YAML data of equal types: repr keeps apart what
            # Python's == joins and jsonschema does not (True and 1, 1.0 and 1).
            key = repr(value)
            found = known.get(key)
            if found is None:
                found = tuple(
                    FieldError(name, message, tuple(path[1:]))
                    for error in validator.iter_errors(value)
                    for path, message in explain(error, (name,))
                )
                if len(known) < _NESTED_CACHE_SIZE and len(key) <= _NESTED_KEY_LIMIT:
                    known[key] = found
            return found

        return check

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
                nested = self.nested.get(key) if isinstance(key, str) else None
                if nested is not None:
                    yield from nested(value)
                elif self.closed:
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


def user_checker() -> EntryChecker:
    """The compiled checker of one user entry, for the registered systems."""
    return _checker(_generation(), "user")


def defaults_checker() -> EntryChecker:
    """The compiled checker of `defaults`, for the registered systems."""
    return _checker(_generation(), "defaults")


@cache
def _checker(generation: int, definition: str) -> EntryChecker:
    defs = _schema(generation)["$defs"]
    return EntryChecker(defs[definition], defs)
