"""The compiled yes-or-no check of a JSON Schema answers as jsonschema does."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.schema import FORMATS, format_checker, load_schema
from reconciler.schema_check import compile_check, equal, unique

SCHEMA = load_schema()
DEFS = SCHEMA["$defs"]


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _vocabulary() -> tuple[list[str], list[Any]]:
    """The property names and the literal values the schema names (enum, const, examples)."""
    names: set[str] = set()
    values: list[Any] = []
    for node in _walk(SCHEMA):
        if not isinstance(node, dict):
            continue
        for key in ("properties", "$defs"):
            if isinstance(node.get(key), dict):
                names.update(node[key])
        values.extend(node.get("enum", []))
        values.extend(node.get("examples", []))
        if "const" in node:
            values.append(node["const"])
        names.update(v for v in node.get("required", []) if isinstance(v, str))
    return sorted(names), values


NAMES, LITERALS = _vocabulary()
STRINGS = [
    *[v for v in LITERALS if isinstance(v, str)],
    *NAMES,
    "",
    " ",
    "25%",
    "100%",
    "100.0%",
    "101%",
    "2 5%",
    "5",
    "a@b.c",
    "a@b.c\n",
    "no-at",
    "*@acme.com",
    "PIPEDRIVE_X",
    "PIPEDRIVE_X\n",
    "DEALHUB_TOKEN",
    "https://api.dealhub.io",
    "sales\n",
    "аpp",
    "x" * 300,
]
scalars = st.one_of(
    st.sampled_from(STRINGS),
    st.text(max_size=6),
    st.sampled_from([True, False, None, 0, 1, -1, 1.0, 0.5, 25, 10**20]),
    st.integers(),
    st.floats(allow_nan=False),
    st.dates(),
)
keys = st.one_of(st.sampled_from(NAMES), st.sampled_from([1, True, None, "unknown", ""]))
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=5),
    ),
    max_leaves=12,
)

#: Settings close to valid ones, so that both answers come up often.
systems = st.lists(st.sampled_from([*DEFS["system"]["enum"], "fake", 1]), max_size=3)
percent = st.sampled_from([-1, 0, 1, 25, 101, 2.0, -0.5, True, "25%", "0%", "100%", "33.3%", "x%"])
target = st.fixed_dictionaries(
    {},
    optional={
        "api_url": st.sampled_from(["https://x.pipedrive.com", "", 5]),
        "token_env": st.sampled_from(["PIPEDRIVE_A", "OTHER", "PIPEDRIVE_ B"]),
    },
)
environment = st.fixed_dictionaries(
    {},
    optional={
        "api_url": st.sampled_from(["https://api.dealhub.io", "", None]),
        "token_env": st.sampled_from(["DEALHUB_TOKEN", "X Y", 1]),
        "login_suffix": st.sampled_from(["", ".test", 3]),
        "pipedrive": target,
        "hubspot": target,
    },
)
near_settings = st.fixed_dictionaries(
    {},
    optional={
        "systems": systems,
        "unlisted": st.sampled_from(["deactivate", "ignore", "delete"]),
        "protect": st.lists(st.sampled_from(["admin@acme", "", 1, "*@acme.com"]), max_size=3),
        "max_deactivations": percent,
        "require_external_id": st.sampled_from([True, False, 1]),
        "environments": st.dictionaries(st.sampled_from(["prod", "test"]), environment),
        "pipedrive": st.fixed_dictionaries(
            {},
            optional={
                "unlisted": st.sampled_from(["ignore", "keep"]),
                "protect": st.lists(st.sampled_from(["a@b.c", "*@acme.com", "nope"]), max_size=2),
                "max_deactivations": percent,
                "max_creates": st.sampled_from([0, 5, -1, 1.0, -1.0, True]),
            },
        ),
    },
)
access_item = st.fixed_dictionaries(
    {},
    optional={
        "app": st.sampled_from(["sales", "nova", "new_app", "sales\n", "", 1]),
        "admin": st.sampled_from([True, False, 1]),
        "permission_set_id": st.sampled_from(["p1", "", "a b"]),
    },
)
near_defaults = st.fixed_dictionaries(
    {},
    optional={
        "systems": systems,
        "pipedrive": st.fixed_dictionaries(
            {}, optional={"access": st.lists(access_item, max_size=3)}
        ),
        "company": st.sampled_from(["Acme", 1]),
    },
)


def _jsonschema(definition: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(definition, format_checker=format_checker())


def _compiled(definition: dict[str, Any]) -> Any:
    check = compile_check(definition, FORMATS)
    assert check is not None, "the built-in schema must compile"
    return check


ROOT = (_compiled(SCHEMA), _jsonschema(SCHEMA))
BY_DEFINITION = {
    name: (_compiled({"$defs": DEFS, **DEFS[name]}), _jsonschema({"$defs": DEFS, **DEFS[name]}))
    for name in DEFS
}


@settings(max_examples=400)
@given(st.sampled_from(sorted(DEFS)), values)
def test_each_definition_answers_as_jsonschema(name: str, value: Any) -> None:
    check, validator = BY_DEFINITION[name]
    assert check(value) is validator.is_valid(value)


@settings(max_examples=300)
@given(values)
def test_the_whole_document_answers_as_jsonschema(value: Any) -> None:
    check, validator = ROOT
    assert check(value) is validator.is_valid(value)


@settings(max_examples=400)
@given(near_settings, st.sampled_from([1, 2, "1"]))
def test_settings_close_to_valid_answer_as_jsonschema(raw: dict[str, Any], version: Any) -> None:
    check, validator = ROOT
    document = {"version": version, "settings": raw, "users": []}
    assert check(document) is validator.is_valid(document)


@settings(max_examples=300)
@given(near_defaults)
def test_a_persons_systems_keys_answer_as_jsonschema(raw: dict[str, Any]) -> None:
    for name in ("systems", "pipedrive_person"):
        if name not in DEFS:
            continue
        value = raw.get("systems" if name == "systems" else "pipedrive")
        if value is None:
            continue
        check, validator = BY_DEFINITION[name]
        assert check(value) is validator.is_valid(value)


def test_valid_settings_are_answered_without_jsonschema() -> None:
    check, _ = ROOT
    document = {
        "version": 1,
        "settings": {
            "systems": ["dealhub", "pipedrive"],
            "max_deactivations": "10%",
            "environments": {
                "prod": {
                    "api_url": "https://api.dealhub.io",
                    "pipedrive": {"api_url": "https://acme.pipedrive.com"},
                }
            },
            "pipedrive": {"protect": ["*@acme.com"], "max_creates": 5},
        },
        "users": [],
    }
    assert check(document) is True


@pytest.mark.parametrize(
    "schema",
    [
        {"patternProperties": {"a": {}}},
        {"$ref": "https://example.com/other.json"},
        {"$ref": "#/$defs/missing"},
        {"$defs": {"a~1b": {}}, "$ref": "#/$defs/a~1b"},
        {"properties": {"a": {"$id": "https://example.com/nested"}}},
        {"type": "decimal"},
        {"minItems": -1},
        {"contains": {}, "minContains": 2},
    ],
)
def test_a_schema_it_cannot_read_is_left_to_jsonschema(schema: dict[str, Any]) -> None:
    assert compile_check(schema) is None


def test_a_definition_may_refer_to_itself() -> None:
    tree = {"$defs": {"node": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
    check = compile_check({**tree, "$ref": "#/$defs/node"})
    assert check is not None
    assert check([[], [[]]]) is True
    assert check([[], [1]]) is False


@pytest.mark.parametrize(
    ("one", "two", "same"),
    [
        (True, 1, False),
        (False, 0, False),
        (1, 1.0, True),
        ([True], [1], False),
        ({"a": 1}, {"a": True}, False),
        ("1", 1, False),
        (datetime.date(2026, 1, 1), "2026-01-01", False),
    ],
)
def test_equality_keeps_true_apart_from_one(one: Any, two: Any, same: bool) -> None:
    assert equal(one, two) is same
    assert unique([one, two]) is not same
