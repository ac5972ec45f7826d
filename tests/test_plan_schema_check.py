"""The saved plan's compiled check answers as jsonschema does (plan.py over schema_check)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler import plan as codec
from reconciler import providers
from reconciler.desired import load_desired
from reconciler.engine import make_plan

REPO = Path(__file__).resolve().parent.parent
DEFS: dict[str, Any] = json.loads(codec.SCHEMA_FILE.read_text(encoding="utf-8"))["$defs"]


def jsonschema_of(definition: str) -> jsonschema.protocols.Validator:
    """jsonschema as the codec uses it: a whole number is an int."""
    base = jsonschema.Draft202012Validator
    checker = base.TYPE_CHECKER.redefine("integer", lambda _, value: type(value) is int)
    strict = jsonschema.validators.extend(base, type_checker=checker)
    validator: jsonschema.protocols.Validator = strict(
        {"$defs": DEFS, "$ref": f"#/$defs/{definition}"}
    )
    return validator


def plans() -> list[dict[str, Any]]:
    """A DealHub plan of the example files, and a Pipedrive one (notes, cost, creates)."""
    made = []
    for system, people, tenant in [
        ("dealhub", "users.yaml", "tenant.json"),
        ("pipedrive", "people.yaml", "pipedrive/acme.json"),
    ]:
        state = load_desired([str(REPO / "examples" / people)])
        live = json.loads((REPO / "examples" / tenant).read_text(encoding="utf-8"))
        plan = make_plan(
            state, providers.get(system), live, f"sim:{tenant}", allow_mass_deactivation=True
        )
        data = codec.to_json_data(plan)
        # A few of each list: a mutation then lands on every kind of place often.
        for key in ("changes", "notes", "warnings", "guards"):
            data[key] = data[key][:2]
        made.append(data)
    return made


BASES = plans()
PLAN, PLANS = jsonschema_of("plan"), jsonschema_of("plans")
CHECK_PLAN = codec._validator("plan").passes
CHECK_PLANS = codec._validator("plans").passes

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-2, 3)
    | st.sampled_from([1.0, 0.5, -1.5])
    | st.sampled_from(["", "x", "create", "A_B", "A_B\n", "1", "before", "after"])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["before", "after", "login", "unit", "writes", "verify", "message"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)
KEYS = st.sampled_from(
    ["x", "before", "after", "blocked", "cost", "system", "token_env", "plans", "overridden"]
)


def _places(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _places(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _places(value, (*path, index))


def near(value: Any) -> list[Any]:
    """Values a check may tell apart from `value` only just: a number's neighbours, an
    empty text, another type that Python holds as equal (True and 1, 1 and 1.0)."""
    if isinstance(value, bool):
        return [not value, 1, 0, None, "true"]
    if isinstance(value, int):
        return [-1, 0, value + 1, float(value), True, str(value), None]
    if isinstance(value, str):
        return ["", value + "\n", value + "x", "create", 1, None, [value]]
    if value is None:
        return [0, "", False, {}, []]
    if isinstance(value, dict):
        return [[], {}, "x", None, list(value)]
    return [{}, [], [1], "x", None, value[:1] * 2]


def mutated(data: Any, choice: int, how: str, value: Any, key: str) -> Any:
    """`data` with one place set to `value` (an int: that one of its near values),
    deleted, or given one more key."""
    data = copy.deepcopy(data)
    places = list(_places(data))
    path = places[choice % len(places)]
    if not path:
        return value if how in ("set", "near") else data
    node = data
    for step in path[:-1]:
        node = node[step]
    if how == "set":
        node[path[-1]] = value
    elif how == "near":
        options = near(node[path[-1]])
        node[path[-1]] = options[choice // len(places) % len(options)]
    elif how == "delete" and isinstance(node, dict):
        del node[path[-1]]
    elif how == "add" and isinstance(node[path[-1]], dict):
        node[path[-1]][key] = value
    return data


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    base=st.sampled_from([0, 1]),
    choice=st.integers(min_value=0),
    how=st.sampled_from(["set", "near", "near", "delete", "add"]),
    value=VALUES,
    key=KEYS,
)
def test_a_mutated_plan_gets_jsonschema_s_answer(
    base: int, choice: int, how: str, value: Any, key: str
) -> None:
    data = mutated(BASES[base], choice, how, value, key)
    assert CHECK_PLAN(data) is PLAN.is_valid(data)


@settings(max_examples=300, deadline=None)
@given(
    version=st.sampled_from([1, 1.0, True, 2, None]),
    plans_value=st.lists(VALUES, max_size=2) | VALUES,
    other=st.dictionaries(st.sampled_from(["x", "target"]), VALUES, max_size=1),
    drop=st.sampled_from([None, "format_version", "plans"]),
)
def test_a_plans_envelope_gets_jsonschema_s_answer(
    version: Any, plans_value: Any, other: dict[str, Any], drop: str | None
) -> None:
    data = {"format_version": version, "plans": plans_value, **other}
    data.pop(drop or "", None)
    assert CHECK_PLANS(data) is PLANS.is_valid(data)


def test_the_unmutated_plans_pass_both() -> None:
    for data in BASES:
        assert CHECK_PLAN(data) and PLAN.is_valid(data)
    assert CHECK_PLANS({"format_version": 1, "plans": BASES})


def test_the_plan_schema_compiles_whole() -> None:
    """A keyword schema_check cannot compile would leave every read to jsonschema."""
    from reconciler.schema_check import compile_check

    for name in ("plan", "plans"):
        assert compile_check({"$defs": DEFS, "$ref": f"#/$defs/{name}"}) is not None
