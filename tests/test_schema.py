"""The JSON Schema, the compiled checker that stands in for it, and its packaging."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler import schema
from reconciler.desired import person_system_keys
from reconciler.providers.dealhub.fields import (
    NOT_DEFAULTABLE,
    REQUIRED_FIELDS,
    STRING_FIELDS,
    USER_FIELDS,
)
from reconciler.schema import (
    EntryChecker,
    defaults_checker,
    document_validator,
    is_email,
    load_schema,
    suggest,
    user_checker,
)
from reconciler.settings import SYSTEMS
from tests.helpers.wheels import build_wheel

REPO = Path(__file__).resolve().parent.parent
DEFS = load_schema()["$defs"]
USER_DEF = DEFS["user"]
DEFAULTS_DEF = DEFS["defaults"]
SYSTEM_NAMES = DEFS["system"]["enum"]
APPS = DEFS["pipedrive_access"]["properties"]["app"]["examples"]


def test_schema_is_valid_2020_12() -> None:
    Draft202012Validator.check_schema(load_schema())
    assert load_schema()["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schema_matches_the_field_table() -> None:
    props = USER_DEF["properties"]
    # the DealHub fields, then the keys of a person's systems (never a DealHub field)
    assert list(props) == [*USER_FIELDS, *person_system_keys()]
    assert tuple(USER_DEF["required"]) == REQUIRED_FIELDS
    assert USER_DEF["additionalProperties"] is False
    for name, limit in STRING_FIELDS.items():
        assert props[name].get("maxLength") == limit, name
    assert props["is_active"]["type"] == "boolean"
    assert set(DEFAULTS_DEF["properties"]) == (set(USER_FIELDS) - NOT_DEFAULTABLE) | set(
        person_system_keys()
    )
    for name, spec in DEFAULTS_DEF["properties"].items():
        assert spec == props[name], name


def test_schema_knows_every_system() -> None:
    assert tuple(SYSTEM_NAMES) == SYSTEMS
    settings_props = DEFS["settings"]["properties"]
    assert {"dealhub", "pipedrive"} <= set(settings_props)
    assert set(DEFS["environment"]["properties"]) & set(SYSTEMS) == {"pipedrive"}


def test_schema_states_each_open_set_as_its_provider_declares_it() -> None:
    # The apps the vendor lists are the editor's suggestions; any value shaped like one
    # passes (a new app is a loader warning, never a schema error).
    from reconciler.providers import get
    from reconciler.providers.base import OPEN_VALUE

    app = DEFS["pipedrive_access"]["properties"]["app"]
    access_app = get("pipedrive").capabilities.open_sets["access.app"]
    assert tuple(app["examples"]) == access_app.known
    assert "nova" in access_app.known
    assert app["pattern"] == OPEN_VALUE
    assert "enum" not in app


def test_schema_file_is_the_one_loaded() -> None:
    on_disk = json.loads((REPO / "schemas" / "users.schema.json").read_text(encoding="utf-8"))
    assert load_schema() == on_disk


# --- the compiled checker agrees with jsonschema ------------------------------

NO_SPACE = st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"))
emails = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.text(NO_SPACE.filter(lambda c: c != "@"), min_size=1, max_size=20),
    st.text(NO_SPACE.filter(lambda c: c != "@"), min_size=1, max_size=20),
)
odd_strings = st.sampled_from(
    ["", " ", "a b", "ab\n", "a\tb", "\n", "a@b\n", "@b.c", "a@", "a@@b.c", "a@b c", "no-at"]
)
wrong_types = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
    st.dates(),
)


# --- a person's systems keys: checked by jsonschema itself, remembered by value

permission_ids = st.text(NO_SPACE, min_size=1, max_size=12)
valid_access_items = st.one_of(
    st.fixed_dictionaries({"app": st.sampled_from(APPS)}),
    st.fixed_dictionaries({"app": st.sampled_from(APPS), "admin": st.booleans()}),
    st.fixed_dictionaries({"app": st.sampled_from(APPS), "permission_set_id": permission_ids}),
)
valid_pipedrive = st.fixed_dictionaries(
    {}, optional={"access": st.lists(valid_access_items, min_size=1, max_size=3)}
)
valid_systems = st.lists(st.sampled_from(SYSTEM_NAMES), min_size=1, unique=True)

odd_access_items = st.fixed_dictionaries(
    {},
    optional={
        "app": st.sampled_from([*APPS, "sale", "Sales", "", "sales app", "аpp", 1, None, True]),
        "admin": st.sampled_from([True, False, 1, 0, "yes", None]),
        "permission_set_id": st.sampled_from(["p1", "", "a b", 5, None]),
        "acess": st.just("x"),
    },
)
odd_pipedrive = st.one_of(
    wrong_types,
    st.fixed_dictionaries(
        {},
        optional={
            "access": st.one_of(
                wrong_types, st.lists(st.one_of(valid_access_items, odd_access_items, wrong_types))
            ),
            "acess": wrong_types,
        },
    ),
)
odd_systems = st.one_of(
    wrong_types,
    st.lists(st.sampled_from([*SYSTEM_NAMES, "pipedriv", "DealHub", "", 1, True, None])),
)
NESTED_VALID = {"systems": valid_systems, "pipedrive": valid_pipedrive}
NESTED_ANY = {
    "systems": st.one_of(valid_systems, odd_systems),
    "pipedrive": st.one_of(valid_pipedrive, odd_pipedrive),
}


def valid_value(name: str, spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    if name in NESTED_VALID:
        return NESTED_VALID[name]
    if spec["type"] == "boolean":
        return st.booleans()
    if name == "email":
        return emails.filter(lambda e: len(e) <= spec["maxLength"])
    limit = spec.get("maxLength", 400)
    alphabet = NO_SPACE if name == "login" else st.characters(blacklist_categories=("Cs",))
    text = st.text(alphabet, min_size=spec.get("minLength", 0), max_size=min(limit, 40))
    text |= st.integers(max(limit - 1, 1), limit).map(lambda n: "x" * n)
    if "null" in spec["type"]:
        text |= st.none()
    return text


def any_value(name: str, spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    if name in NESTED_ANY:
        return NESTED_ANY[name]
    limit = spec.get("maxLength", 300)
    around_limit = st.integers(max(limit - 1, 0), limit + 2).map(lambda n: "y" * n)
    spaced = st.builds(
        lambda a, space, b: a + space + b,
        st.text(NO_SPACE, max_size=5),
        st.sampled_from([" ", "\n", "\t", "\u00a0", "\u2028"]),
        st.text(NO_SPACE, max_size=5),
    )
    choices = [valid_value(name, spec), wrong_types, odd_strings, around_limit, st.text()]
    # weighted toward what this field checks, so each check is hit in a few dozen draws
    if "not" in spec:
        choices += [spaced, spaced]
    if "minLength" in spec:
        choices += [st.just("")]
    if "format" in spec:
        choices += [emails, odd_strings]
    return st.one_of(choices)


extra_keys = st.dictionaries(
    st.one_of(
        st.sampled_from(["postion", "Login", "emial", "id", "is_active ", "<<"]),
        st.text(max_size=10),
        st.integers(),
        st.booleans(),
        st.none(),
    ),
    wrong_types | st.text(max_size=5),
    max_size=2,
)


def valid_entries(definition: dict[str, Any]) -> st.SearchStrategy[dict[Any, Any]]:
    props = definition["properties"]
    required = definition.get("required", [])
    return st.fixed_dictionaries(
        {name: valid_value(name, props[name]) for name in required},
        optional={
            name: valid_value(name, spec) for name, spec in props.items() if name not in required
        },
    )


def entries(definition: dict[str, Any]) -> st.SearchStrategy[dict[Any, Any]]:
    props = definition["properties"]
    valid_ish = valid_entries(definition)
    anything = st.fixed_dictionaries(
        {}, optional={name: any_value(name, spec) for name, spec in props.items()}
    )
    mixed = st.tuples(valid_ish, anything, extra_keys).map(
        lambda parts: {**parts[2], **parts[0], **parts[1]}
    )
    # a valid entry with one field (or one extra key) drawn from anything
    one_fault = st.one_of(
        *(
            st.tuples(valid_ish, any_value(name, spec)).map(
                lambda parts, name=name: {**parts[0], name: parts[1]}
            )
            for name, spec in props.items()
        ),
        st.tuples(valid_ish, extra_keys).map(lambda parts: {**parts[1], **parts[0]}),
    )
    return st.one_of(valid_ish, one_fault, one_fault, one_fault, anything, mixed)


def reference(definition: dict[str, Any]) -> Draft202012Validator:
    return Draft202012Validator(
        {"$defs": DEFS, **definition}, format_checker=schema.format_checker()
    )


USER_REFERENCE = reference(USER_DEF)
DEFAULTS_REFERENCE = reference(DEFAULTS_DEF)


@settings(max_examples=300, deadline=None)
@given(entry=entries(USER_DEF))
def test_user_checker_agrees_with_jsonschema(entry: dict[Any, Any]) -> None:
    ours = list(user_checker().errors(entry))
    theirs = list(USER_REFERENCE.iter_errors(entry))
    note(f"ours={ours} theirs={[e.message for e in theirs]}")
    assert (not ours) == (not theirs)


@pytest.mark.parametrize("name", [*USER_DEF["properties"], "extra"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_one_faulty_field_agrees_with_jsonschema(name: str, data: st.DataObject) -> None:
    """A valid user with one field drawn from anything: every check of that field runs."""
    entry = data.draw(valid_entries(USER_DEF), label="valid")
    if name == "extra":
        entry = {**data.draw(extra_keys, label="extra"), **entry}
    else:
        entry[name] = data.draw(any_value(name, USER_DEF["properties"][name]), label=name)
    ours = list(user_checker().errors(entry))
    assert (not ours) == USER_REFERENCE.is_valid(entry), ours


@settings(max_examples=300, deadline=None)
@given(entry=entries(DEFAULTS_DEF))
def test_defaults_checker_agrees_with_jsonschema(entry: dict[Any, Any]) -> None:
    ours = list(defaults_checker().errors(entry))
    assert (not ours) == DEFAULTS_REFERENCE.is_valid(entry)


A = {"login": "a@acme", "email": "a@acme.com", "name": "A"}


# These run whatever hypothesis draws: the property above is not vacuous.
@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ({"login": "a@acme", "email": "a@acme.com", "name": "A"}, True),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", "fax": None}, True),
        ({"login": "x" * 90, "email": "a@acme.com", "name": "A", "city": "c" * 32}, True),
        ({"login": "x" * 91, "email": "a@acme.com", "name": "A"}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", "city": "c" * 33}, False),
        ({"login": "a@acme", "email": "a@acme.com"}, False),
        ({"login": "a acme", "email": "a@acme.com", "name": "A"}, False),
        ({"login": "a@acme\n", "email": "a@acme.com", "name": "A"}, False),
        ({"login": "a@acme", "email": "a@acme.com\n", "name": "A"}, False),
        ({"login": "a@acme", "email": "acme.com", "name": "A"}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": ""}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", "phone": 5}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", "is_active": "no"}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", "is_active": None}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", "postion": "x"}, False),
        ({"login": "a@acme", "email": "a@acme.com", "name": "A", 1: "x"}, False),
        (
            {"login": "a", "email": "a@b.c", "name": "A", "postal_code": datetime.date(2024, 1, 1)},
            False,
        ),
        ({**A, "systems": ["dealhub"]}, True),
        ({**A, "systems": ["pipedrive", "dealhub"]}, True),
        ({**A, "systems": []}, False),
        ({**A, "systems": ["dealhub", "dealhub"]}, False),
        ({**A, "systems": ["salesforce"]}, False),
        ({**A, "systems": "dealhub"}, False),
        ({**A, "pipedrive": {}}, True),
        (
            {**A, "pipedrive": {"access": [{"app": "sales"}, {"app": "global", "admin": True}]}},
            True,
        ),
        ({**A, "pipedrive": {"access": [{"app": "sales", "permission_set_id": "62cc4d7f"}]}}, True),
        ({**A, "pipedrive": {"access": [{"app": "sales", "admin": 1}]}}, False),
        # An app the vendor added since this release is valid; one no file can hold is not.
        ({**A, "pipedrive": {"access": [{"app": "sale"}]}}, True),
        ({**A, "pipedrive": {"access": [{"app": "nova"}]}}, True),
        ({**A, "pipedrive": {"access": [{"app": "s\u0430les"}]}}, False),
        ({**A, "pipedrive": {"access": [{"app": "sales app"}]}}, False),
        # Python's `$` also matches before a final newline: the pattern closes that.
        ({**A, "pipedrive": {"access": [{"app": "sales\n"}]}}, False),
        ({**A, "pipedrive": {"access": [{"admin": True}]}}, False),
        ({**A, "pipedrive": {"access": []}}, False),
        ({**A, "pipedrive": {"access": {"app": "sales"}}}, False),
        ({**A, "pipedrive": {"acess": [{"app": "sales"}]}}, False),
        ({**A, "pipedrive": None}, False),
        (
            {
                **A,
                "pipedrive": {
                    "access": [{"app": "sales", "admin": True, "permission_set_id": "x"}]
                },
            },
            False,
        ),
        ({**A, "pipedrive": {"access": [{"app": "sales", "permission_set_id": "a b"}]}}, False),
    ],
)
def test_checker_and_jsonschema_on_known_entries(entry: dict[Any, Any], valid: bool) -> None:
    assert USER_REFERENCE.is_valid(entry) is valid
    assert (not list(user_checker().errors(entry))) is valid


@pytest.mark.parametrize(
    ("entry", "field", "message"),
    [
        ({"login": 5}, "login", "login must be a string, not a number (YAML read it as a"),
        ({"is_active": "yes"}, "is_active", "is_active must be a boolean, not a string"),
        ({"phone": [1]}, "phone", "phone must be a string or null, not a list"),
        ({"city": {"a": 1}}, "city", "city must be a string or null, not a mapping"),
        ({"fax": True}, "fax", "fax must be a string or null, not a boolean (YAML read it"),
        ({"login": ""}, "login", "login must not be empty"),
        ({"login": "a b"}, "login", "login 'a b' must not contain spaces"),
        ({"email": "ab"}, "email", "email 'ab' is not an email address"),
        ({"name": "n" * 301}, "name", "name is 301 characters; the limit is 300"),
        ({"citi": "x"}, "citi", "unknown key 'citi' (did you mean \"city\"?)"),
        ({"zzzzzz": "x"}, "zzzzzz", "unknown key 'zzzzzz'"),
    ],
)
def test_checker_messages(entry: dict[str, Any], field: str, message: str) -> None:
    [error] = [e for e in user_checker().errors(entry) if e.field is not None]
    assert error.field == field
    assert error.message.startswith(message), error.message


@pytest.mark.parametrize(
    ("value", "field", "path", "message"),
    [
        (
            {"systems": ["dealhub", "pipedriv"]},
            "systems",
            (1,),
            "systems[1]: unknown system 'pipedriv' (did you mean \"pipedrive\"?); "
            "one of: dealhub, pipedrive",
        ),
        ({"systems": []}, "systems", (), "systems must not be an empty list"),
        (
            {"systems": ["pipedrive", "dealhub", "pipedrive"]},
            "systems",
            (2,),
            "systems: 'pipedrive' is listed twice",
        ),
        (
            {"pipedrive": {"access": [{"app": "sales"}, {"app": "campaign app"}]}},
            "pipedrive",
            (("access", 1, "app")),
            "pipedrive.access[1].app 'campaign app' is not an app name such as sales "
            "(letters, digits, _ . - only)",
        ),
        (
            {"pipedrive": {"access": [{"app": "sales", "admin": True, "permission_set_id": "p"}]}},
            "pipedrive",
            ("access", 0),
            "pipedrive.access[0]: give admin or permission_set_id, not both",
        ),
        (
            {"pipedrive": {"access": [{"app": "sales", "admin": "yes"}]}},
            "pipedrive",
            ("access", 0, "admin"),
            "pipedrive.access[0].admin must be true or false, not a string",
        ),
        (
            {"pipedrive": {"access": [{"admin": True}]}},
            "pipedrive",
            ("access", 0),
            "pipedrive.access[0]: 'app' is required",
        ),
        (
            {"pipedrive": {"acces": []}},
            "pipedrive",
            ("acces",),
            "pipedrive: unknown key 'acces' (did you mean \"access\"?)",
        ),
        ({"pipedrive": {"access": []}}, "pipedrive", ("access",), "pipedrive.access must not be"),
        ({"pipedrive": "sales"}, "pipedrive", (), "pipedrive must be a mapping, not a string"),
    ],
)
def test_nested_messages(
    value: dict[str, Any], field: str, path: tuple[Any, ...], message: str
) -> None:
    for checker in (user_checker(), defaults_checker()):
        [error] = [e for e in checker.errors(value) if e.field is not None]
        assert (error.field, error.path) == (field, path)
        assert error.message.startswith(message), error.message


def test_nested_values_are_remembered_by_what_they_are() -> None:
    """True and 1 are equal in Python, not in the schema: the memory keeps them apart."""
    checker = defaults_checker()
    admin = {"pipedrive": {"access": [{"app": "sales", "admin": True}]}}
    one = {"pipedrive": {"access": [{"app": "sales", "admin": 1}]}}
    for _ in range(2):  # the second round answers from memory
        assert list(checker.errors(admin)) == []
        assert [e.path for e in checker.errors(one)] == [("access", 0, "admin")]
        assert list(checker.errors({"systems": ["1"]})) != []
        assert list(checker.errors({"systems": ["dealhub"]})) == []


def test_every_error_of_an_entry() -> None:
    errors = list(user_checker().errors({"login": 1, "phone": 2, "postion": 3}))
    assert [e.field for e in errors] == ["login", "phone", "postion", None]
    assert errors[-1].message == "missing required email, name"


def test_compiled_checker_refuses_keywords_it_cannot_check() -> None:
    with pytest.raises(ValueError, match="cannot check"):
        EntryChecker({"properties": {"login": {"type": "string", "enum": ["a"]}}})


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("a@acme.com", True),
        ("a@b", True),
        ("a.b+c@x.y.z", True),
        ("", False),
        ("acme.com", False),
        ("@acme.com", False),
        ("a@", False),
        ("a@@acme.com", False),
        ("a b@acme.com", False),
        ("a@acme.com\n", False),
        ("\na@acme.com", False),
        (5, True),  # not a string: the type check's business
    ],
)
def test_is_email(value: object, ok: bool) -> None:
    assert is_email(value) is ok


def test_suggest() -> None:
    assert suggest("postion", list(USER_FIELDS)) == ' (did you mean "position"?)'
    assert suggest("user", ["version", "settings", "defaults", "users"]) == (
        ' (did you mean "users"?)'
    )
    assert suggest("qqqq", list(USER_FIELDS)) == ""


@pytest.mark.parametrize(
    ("settings", "valid"),
    [
        ({"max_deactivations": "25%"}, True),
        ({"max_deactivations": "33.3%"}, True),
        ({"max_deactivations": "100%"}, True),
        ({"max_deactivations": "100.0%"}, True),
        ({"max_deactivations": 0}, True),
        ({"max_deactivations": "100.5%"}, False),
        ({"max_deactivations": "101%"}, False),
        ({"max_deactivations": "25%\n"}, False),
        ({"max_deactivations": "25"}, False),
        ({"max_deactivations": -1}, False),
        ({"max_deactivations": True}, False),
        ({"max_deactivations": 2.5}, False),
        ({"environments": {"sb": {"api_url": "u", "login_suffix": "_sb"}}}, True),
        ({"environments": {"sb": {"api_url": "u", "login_suffix": "_s b"}}}, False),
        ({"environments": {"sb": {"api_url": "u", "login_suffix": "_sb\n"}}}, False),
        ({"environments": {"sb": {"api_url": "u", "token_env": "DEALHUB_MY_TOKEN"}}}, True),
        ({"environments": {"sb": {"api_url": "u", "token_env": "GITHUB_TOKEN"}}}, False),
        ({"environments": {"sb": {"api_url": "u", "token_env": "DEALHUB MY"}}}, False),
        ({"environments": {"sb": {"api_url": "u", "token_env": "DEALHUB_TOKEN\n"}}}, False),
        ({"environments": {"sb": {"api_url": ""}}}, False),
        ({"protect": ["a*", ""]}, False),
        ({"unlisted": "ignore"}, True),
        ({"require_external_id": True}, True),
        ({"require_external_id": False}, True),
        ({"require_external_id": "yes"}, False),
        ({"require_external_id": 1}, False),
        ({"systems": ["dealhub", "pipedrive"]}, True),
        ({"systems": ["pipedrive"]}, True),
        ({"systems": []}, False),
        ({"systems": ["dealhub", "dealhub"]}, False),
        ({"systems": ["hubspot"]}, False),
        ({"systems": "dealhub"}, False),
        (
            {"pipedrive": {"unlisted": "ignore", "protect": ["owner@acme.com", "*@ops.acme.com"]}},
            True,
        ),
        ({"pipedrive": {"protect": ["owner"]}}, False),
        ({"pipedrive": {"protect": ["a b@acme.com"]}}, False),
        ({"pipedrive": {"max_deactivations": "10%", "max_creates": 0}}, True),
        ({"pipedrive": {"max_creates": -1}}, False),
        ({"pipedrive": {"max_creates": "5"}}, False),
        ({"pipedrive": {"max_creates": 2.5}}, False),
        ({"pipedrive": {"max_deactivations": "10"}}, False),
        ({"pipedrive": {"require_external_id": True}}, False),
        ({"dealhub": {"protect": ["admin@*"], "max_creates": 5, "unlisted": "ignore"}}, True),
        ({"dealhub": {"unlisted": "never"}}, False),
        ({"environments": {"p": {"api_url": "u", "pipedrive": {"api_url": "https://a"}}}}, True),
        (
            {
                "environments": {
                    "p": {"api_url": "u", "pipedrive": {"api_url": "x", "token_env": "PIPEDRIVE_X"}}
                }
            },
            True,
        ),
        (
            {
                "environments": {
                    "p": {
                        "api_url": "u",
                        "pipedrive": {"api_url": "x", "token_env": "DEALHUB_TOKEN"},
                    }
                }
            },
            False,
        ),
        (
            {
                "environments": {
                    "p": {
                        "api_url": "u",
                        "pipedrive": {"api_url": "x", "token_env": "PIPEDRIVE_X\n"},
                    }
                }
            },
            False,
        ),
        (
            {"environments": {"p": {"api_url": "u", "pipedrive": {"token_env": "PIPEDRIVE_X"}}}},
            False,
        ),
        ({"environments": {"p": {"api_url": "u", "hubspot": {"api_url": "x"}}}}, False),
        # DealHub's api_url is required only when the file manages DealHub
        ({"environments": {"p": {"pipedrive": {"api_url": "x"}}}}, False),
        ({"systems": ["dealhub"], "environments": {"p": {"pipedrive": {"api_url": "x"}}}}, False),
        ({"systems": ["pipedrive"], "environments": {"p": {"pipedrive": {"api_url": "x"}}}}, True),
    ],
)
def test_settings_schema(settings: dict[str, Any], valid: bool) -> None:
    assert document_validator().is_valid({"version": 1, "settings": settings}) is valid


# --- packaging ----------------------------------------------------------------


def test_schema_reaches_a_non_editable_install(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        packaged = json.loads(archive.read("reconciler/data/users.schema.json"))
        archive.extractall(tmp_path / "site")
    assert packaged == load_schema()

    # The installed package finds the schema in its own data, not in a checkout.
    probe = (
        "from importlib import resources; from reconciler import schema; "
        "assert resources.files('reconciler').joinpath('data/users.schema.json').is_file(); "
        f"assert schema.__file__.startswith({os.fspath(tmp_path / 'site')!r}), schema.__file__; "
        "print(schema.load_schema()['title'])"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.fspath(tmp_path / "site")},
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == load_schema()["title"]

    # And the installed tool validates the example from outside the checkout.
    validate = subprocess.run(
        [
            sys.executable,
            "-m",
            "reconciler",
            "validate",
            os.fspath(REPO / "examples" / "users.yaml"),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.fspath(tmp_path / "site")},
    )
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout.strip() == "12 users in 1 file: OK"


def test_unknown_keys_follow_additional_properties() -> None:
    definition = {"properties": {"name": {"type": "string"}}}
    entry = {"name": "A", "nmae": "B"}
    assert list(EntryChecker(definition).errors(entry)) == []
    closed = EntryChecker({**definition, "additionalProperties": False})
    assert [e.field for e in closed.errors(entry)] == ["nmae"]
