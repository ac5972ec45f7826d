"""A JSON Schema compiled to a yes-or-no check, so that valid input never needs jsonschema.

The people file's schema (schema.py) uses a small part of draft 2020-12. `compile_check`
turns a schema of that part into one function that says whether an instance is valid,
with jsonschema's own semantics keyword by keyword (its type rules, its equality, where
True is not 1). It answers only yes or no: when the answer is no, jsonschema runs to say
why (schema.explain), so its messages stay the only ones. jsonschema costs about 40 ms
to import and a plan of a valid file never needs it.

A schema with any keyword outside this part compiles to None: jsonschema checks it every
time. A property test holds the compiled check equal to jsonschema on generated input.
"""

from __future__ import annotations

import itertools
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

#: Whether an instance is valid under the schema it was compiled from.
Check = Callable[[Any], bool]

#: Keywords that say nothing about validity (`patternErrorMessage` is the schema's own,
#: read by schema.explain); `$defs` is where `$ref`s point.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "$defs", "patternErrorMessage"}
)
#: Keywords only the root may carry: a nested `$id` would change what a `$ref` names.
_ROOT_ONLY = frozenset({"$schema", "$id"})
_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "enum",
        "const",
        "properties",
        "additionalProperties",
        "required",
        "items",
        "minItems",
        "uniqueItems",
        "contains",
        "pattern",
        "minLength",
        "maxLength",
        "format",
        "minimum",
        "not",
        "oneOf",
        "anyOf",
        "allOf",
        "if",
        "then",
        "else",
    }
)
_REF_PREFIX = "#/$defs/"


def _is_integer(value: Any) -> bool:
    # Draft 2020-12: 1.0 is an integer; a bool is not a number at all.
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Number)


#: jsonschema's draft 2020-12 type checker, by type name.
_TYPES: dict[str, Check] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}


class _Unsupported(Exception):
    """A schema uses something the compiled check does not know."""


def _unbool(element: Any, true: object = object(), false: object = object()) -> Any:
    """True and False as values unequal to 1 and 0 (jsonschema's `unbool`)."""
    if element is True:
        return true
    if element is False:
        return false
    return element


def equal(one: Any, two: Any) -> bool:
    """Equality as JSON Schema means it (jsonschema's `equal`): True is not 1, in lists too."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(
            key in two and equal(value, two[key]) for key, value in one.items()
        )
    return bool(_unbool(one) == _unbool(two))


def unique(items: list[Any]) -> bool:
    """Whether no two items are equal (jsonschema's `uniq`, step for step)."""
    try:
        ordered = sorted(_unbool(item) for item in items)
        return not any(equal(i, j) for i, j in itertools.pairwise(ordered))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in items:
            item = _unbool(item)
            if any(equal(other, item) for other in seen):
                return False
            seen.append(item)
        return True


def compile_check(
    schema: Mapping[str, Any],
    formats: Mapping[str, Callable[[Any], bool]] | None = None,
    *,
    types: Mapping[str, Check] | None = None,
) -> Check | None:
    """The check of `schema` (its `$ref`s pointing into its own `$defs`), or None when the
    schema uses a keyword this module does not compile. `formats` are the format checks
    the matching jsonschema validator is given (any other format is not checked); `types`
    redefine type names as the validator's type checker does (the saved plan's reader
    takes only a whole number written as one for an `integer`)."""
    try:
        return _Compiler(schema, formats or {}, {**_TYPES, **(types or {})}).root()
    except _Unsupported:
        return None


class _Compiler:
    def __init__(
        self,
        schema: Mapping[str, Any],
        formats: Mapping[str, Callable[[Any], bool]],
        types: Mapping[str, Check],
    ):
        self.schema = schema
        self.formats = formats
        self.types = types
        #: Compiled `$defs` by name; a placeholder while one is compiled (it may refer to itself).
        self.refs: dict[str, Check] = {}

    def root(self) -> Check:
        return self.build(self.schema, root=True)

    def ref(self, target: Any) -> Check:
        if not isinstance(target, str) or not target.startswith(_REF_PREFIX):
            raise _Unsupported(target)
        name = target[len(_REF_PREFIX) :]
        defs = self.schema.get("$defs")
        # A pointer with escapes (~0, ~1, %25) or deeper steps is left to jsonschema.
        if any(ch in name for ch in "/~%") or not isinstance(defs, Mapping) or name not in defs:
            raise _Unsupported(target)
        if name not in self.refs:
            built: list[Check] = []
            self.refs[name] = lambda value: built[0](value)
            built.append(self.build(defs[name]))
        return self.refs[name]

    def build(self, node: Any, *, root: bool = False) -> Check:
        if node is True or node is False:
            answer: bool = node
            return lambda value: answer
        if not isinstance(node, Mapping):
            raise _Unsupported(node)
        allowed = _KEYWORDS | _ANNOTATIONS | (_ROOT_ONLY if root else frozenset())
        if any(key not in allowed for key in node):
            raise _Unsupported(node)
        checks = [
            check
            for check in (
                self._ref(node),
                self._type(node),
                self._values(node),
                self._object(node),
                self._array(node),
                self._string(node),
                self._number(node),
                self._logic(node),
            )
            if check is not None
        ]
        return _all(checks) or _anything

    def _ref(self, node: Mapping[str, Any]) -> Check | None:
        return self.ref(node["$ref"]) if "$ref" in node else None

    def _type(self, node: Mapping[str, Any]) -> Check | None:
        if "type" not in node:
            return None
        names = node["type"] if isinstance(node["type"], list) else [node["type"]]
        if not all(isinstance(name, str) and name in self.types for name in names):
            raise _Unsupported(node["type"])
        tests = [self.types[name] for name in names]
        return lambda value: any(test(value) for test in tests)

    def _values(self, node: Mapping[str, Any]) -> Check | None:
        checks: list[Check] = []
        if "enum" in node:
            if not isinstance(node["enum"], list):
                raise _Unsupported(node["enum"])
            values = list(node["enum"])
            checks.append(lambda value: any(equal(each, value) for each in values))
        if "const" in node:
            const = node["const"]
            checks.append(lambda value: equal(value, const))
        return _all(checks)

    def _object(self, node: Mapping[str, Any]) -> Check | None:
        names = ("properties", "additionalProperties", "required")
        if not any(name in node for name in names):
            return None
        properties = node.get("properties", {})
        if not isinstance(properties, Mapping):
            raise _Unsupported(properties)
        each = {name: self.build(sub) for name, sub in properties.items()}
        required = node.get("required", [])
        if not isinstance(required, list):
            raise _Unsupported(required)
        extra = self.build(node["additionalProperties"]) if "additionalProperties" in node else None

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                sub = each.get(key)
                if sub is not None:
                    if not sub(item):
                        return False
                elif extra is not None and not extra(item):
                    return False
            return all(name in value for name in required)

        return check

    def _array(self, node: Mapping[str, Any]) -> Check | None:
        checks: list[Check] = []
        if "items" in node:
            item = self.build(node["items"])
            checks.append(lambda value: all(item(each) for each in value))
        if "minItems" in node:
            least = _count(node["minItems"])
            checks.append(lambda value: len(value) >= least)
        if node.get("uniqueItems") is True:
            checks.append(unique)
        elif node.get("uniqueItems", False) is not False:
            raise _Unsupported(node["uniqueItems"])
        if "contains" in node:
            contained = self.build(node["contains"])
            checks.append(lambda value: any(contained(each) for each in value))
        return _only(list, _all(checks))

    def _string(self, node: Mapping[str, Any]) -> Check | None:
        checks: list[Check] = []
        if "pattern" in node:
            if not isinstance(node["pattern"], str):
                raise _Unsupported(node["pattern"])
            # jsonschema's own reading: re.search, anywhere in the string.
            search = re.compile(node["pattern"]).search
            checks.append(lambda value: search(value) is not None)
        if "minLength" in node:
            shortest = _count(node["minLength"])
            checks.append(lambda value: len(value) >= shortest)
        if "maxLength" in node:
            longest = _count(node["maxLength"])
            checks.append(lambda value: len(value) <= longest)
        strings = _only(str, _all(checks))
        known = self.formats.get(node["format"]) if "format" in node else None
        if known is None:
            return strings  # jsonschema checks no format its checker does not know
        return _all([check for check in (strings, known) if check is not None])

    def _number(self, node: Mapping[str, Any]) -> Check | None:
        if "minimum" not in node:
            return None
        least = node["minimum"]
        if not _is_number(least):
            raise _Unsupported(least)
        return lambda value: not _is_number(value) or not value < least

    def _logic(self, node: Mapping[str, Any]) -> Check | None:
        checks: list[Check] = []
        if "not" in node:
            negated = self.build(node["not"])
            checks.append(lambda value: not negated(value))
        for name in ("oneOf", "anyOf", "allOf"):
            if name not in node:
                continue
            if not isinstance(node[name], list) or not node[name]:
                raise _Unsupported(node[name])
            checks.append(_COMBINED[name]([self.build(sub) for sub in node[name]]))
        if "if" in node:  # `then` and `else` mean nothing without it
            condition = self.build(node["if"])
            then = self.build(node["then"]) if "then" in node else None
            otherwise = self.build(node["else"]) if "else" in node else None

            def conditional(value: Any) -> bool:
                branch = then if condition(value) else otherwise
                return branch is None or branch(value)

            checks.append(conditional)
        return _all(checks)


def _anything(value: Any) -> bool:
    return True


def _one_of(subs: list[Check]) -> Check:
    return lambda value: sum(1 for sub in subs if sub(value)) == 1


def _any_of(subs: list[Check]) -> Check:
    return lambda value: any(sub(value) for sub in subs)


def _all_of(subs: list[Check]) -> Check:
    return lambda value: all(sub(value) for sub in subs)


_COMBINED: dict[str, Callable[[list[Check]], Check]] = {
    "oneOf": _one_of,
    "anyOf": _any_of,
    "allOf": _all_of,
}


def _count(value: Any) -> int:
    if type(value) is not int or value < 0:
        raise _Unsupported(value)
    return value


def _all(checks: list[Check]) -> Check | None:
    if not checks:
        return None
    if len(checks) == 1:
        return checks[0]
    return lambda value: all(check(value) for check in checks)


def _only(kind: type, check: Check | None) -> Check | None:
    """`check` applied to instances of `kind` only: a keyword of one type passes the others."""
    if check is None:
        return None
    return lambda value: not isinstance(value, kind) or check(value)
