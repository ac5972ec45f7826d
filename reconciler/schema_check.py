"""A yes-or-no check compiled from a JSON Schema, for documents too large for jsonschema.

jsonschema walks the schema anew for every value: reading a saved plan took
about 170 µs a change with it, seven times the hand-written reader the schema
replaced (a plan of 100,000 changes: 17 s; 2.6 s with this check). `compile_check` turns a schema
that uses only the keywords below into nested closures, once, which answer
whether a document is valid; jsonschema is asked only when the answer is no,
for the words of the refusal. A property test (tests/test_schema_check.py)
holds the two to the same answer on mutated plans.

Understood: boolean schemas, `$ref` to `#/$defs/NAME`, type, enum, const,
required, properties, additionalProperties, items, minItems, minLength,
minimum, pattern, and the annotations. A schema using any other keyword is
refused when compiled: the check would otherwise pass what it does not know.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

Check = Callable[[Any], bool]

#: Keywords that say nothing about validity.
_ANNOTATIONS = frozenset(
    {"title", "description", "$comment", "default", "examples", "patternErrorMessage"}
)
_UNDERSTOOD = _ANNOTATIONS | {
    "$ref",
    "type",
    "enum",
    "const",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "minLength",
    "minimum",
    "pattern",
}

#: JSON's types as Python holds them; a whole number is an int (not 1.0, not True).
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: type(v) is int,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def same(one: Any, two: Any) -> bool:
    """JSON Schema's equality (enum, const): true is not 1, 1 is 1.0, containers by value."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    if isinstance(one, list) and isinstance(two, list):
        return len(one) == len(two) and all(same(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, dict) and isinstance(two, dict):
        return one.keys() == two.keys() and all(same(one[k], two[k]) for k in one)
    if isinstance(one, (list, dict)) or isinstance(two, (list, dict)):
        return False
    return bool(one == two)


def compile_check(schema: dict[str, Any], defs: dict[str, Any]) -> Check:
    """The check of `schema`, whose `$ref`s name entries of `defs`."""
    compiled: dict[str, Check] = {}

    def ref(name: str) -> Check:
        # Compiled on first use and shared; the indirection allows a recursive schema.
        def check(value: Any) -> bool:
            return compiled[name](value)

        if name not in compiled:
            compiled[name] = check  # a placeholder while the definition compiles
            compiled[name] = build(defs[name])
        return check

    def build(node: Any) -> Check:
        if node is True or node == {}:
            return lambda value: True
        if node is False:
            return lambda value: False
        unknown = set(node) - _UNDERSTOOD
        if unknown:
            raise ValueError(f"compile_check does not understand {sorted(unknown)}")
        checks = [part for key in node if (part := keyword(key, node[key], node))]
        if len(checks) == 1:
            return checks[0]
        return lambda value: all(check(value) for check in checks)

    def keyword(key: str, spec: Any, node: dict[str, Any]) -> Check | None:
        if key == "$ref":
            prefix = "#/$defs/"
            if not spec.startswith(prefix):
                raise ValueError(f"compile_check follows only {prefix}NAME, not {spec}")
            return ref(spec[len(prefix) :])
        if key == "type":
            tests = [_TYPES[name] for name in ([spec] if isinstance(spec, str) else spec)]
            return lambda value: any(test(value) for test in tests)
        if key == "enum":
            return lambda value: any(same(value, option) for option in spec)
        if key == "const":
            return lambda value: same(value, spec)
        if key == "required":
            names = tuple(spec)
            return lambda value: not isinstance(value, dict) or all(n in value for n in names)
        if key == "properties":
            parts = {name: build(sub) for name, sub in spec.items()}
            return lambda value: (
                not isinstance(value, dict)
                or all(parts[name](value[name]) for name in parts.keys() & value.keys())
            )
        if key == "additionalProperties":
            known = frozenset(node.get("properties", {}))
            extra = build(spec)
            return lambda value: (
                not isinstance(value, dict)
                or all(extra(value[name]) for name in value.keys() - known)
            )
        if key == "items":
            item = build(spec)
            return lambda value: not isinstance(value, list) or all(item(v) for v in value)
        if key == "minItems":
            return lambda value: not isinstance(value, list) or len(value) >= spec
        if key == "minLength":
            return lambda value: not isinstance(value, str) or len(value) >= spec
        if key == "minimum":
            number = _TYPES["number"]
            return lambda value: not number(value) or value >= spec
        if key == "pattern":
            search = re.compile(spec).search
            return lambda value: not isinstance(value, str) or search(value) is not None
        return None  # an annotation

    return build(schema)
