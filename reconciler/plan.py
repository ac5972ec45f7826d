"""The plan's JSON form (SPEC section 5), which is also the saved plan `apply --plan` reads.

`to_json_data` writes a plan (`model.Plan`); `from_json_data` reads one back and
refuses anything that is not one. The reader is checked by the JSON Schema of
the plan format (schemas/plan.schema.json, compiled once, on the first read):
the schema says the shape, and the code below adds only what a schema cannot
say (a user planned twice, a create with a before, `safe` against the guards,
a system the registry knows). Every refusal is one sentence, no traceback.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler import providers
from reconciler.errors import UsageError
from reconciler.model import (
    Change,
    FieldChange,
    GuardTrip,
    Plan,
    PlanCost,
    PlanNote,
    PlanWarning,
)
from reconciler.providers.remarks import plan_remarks
from reconciler.textsafe import json_safe

if TYPE_CHECKING:
    import jsonschema

    from reconciler.schema import Validator

FORMAT_VERSION = 1

#: The plan format's schema, at the repository's root (where editors find it); a wheel
#: carries it as reconciler/data/plan.schema.json (pyproject's force-include).
SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "plan.schema.json"

#: Counts that format 1 carries for every system: a remark of that name gives the
#: number of changes it concerns (providers.remarks), every other system 0.
COUNTED_REMARKS = ("writes_without_external_user_id",)


# -- writing ----------------------------------------------------------------------------


def _sorted(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in sorted(d)}


def to_json_data(plan: Plan) -> dict[str, Any]:
    """The JSON form of SPEC section 5, which is also the saved plan."""
    counted = {remark.name: len(remark.concerns) for remark in plan_remarks(plan)}
    return {
        "format_version": FORMAT_VERSION,
        "system": plan.system,
        "target": plan.target,
        "environment": plan.environment,
        "token_env": plan.token_env,
        "login_suffix": plan.login_suffix,
        **({"desired_digest": plan.desired_digest} if plan.desired_digest else {}),
        "summary": plan.summary(),
        "safe": plan.safe,
        "guards": [
            {"guard": g.guard, "message": g.message, "overridden": g.overridden}
            for g in plan.guards
        ],
        "active_users": plan.active_users,
        "desired_users": plan.desired_users,
        **{name: counted.get(name, 0) for name in COUNTED_REMARKS},
        **(
            {
                "cost": {
                    "unit": plan.cost.unit,
                    "writes": plan.cost.writes,
                    "verify": plan.cost.verify,
                    "total": plan.cost.total,
                    "budget_left": plan.cost.budget_left,
                }
            }
            if plan.cost
            else {}
        ),
        "changes": [
            {
                "action": c.action,
                "login": c.key,
                "fields": {
                    name: {"before": fc.before, "after": fc.after}
                    for name, fc in sorted(c.fields.items())
                },
                **({"before": _sorted(c.before)} if c.before is not None else {}),
                "send": _sorted(c.send),
                **({"blocked": c.blocked} if c.blocked else {}),
            }
            for c in plan.changes
        ],
        "notes": [
            {
                "login": n.key,
                "field": n.field,
                "before": n.before,
                "after": n.after,
                "reason": n.reason,
            }
            for n in plan.notes
        ],
        "warnings": [{"login": w.key, "message": w.message} for w in plan.warnings],
    }


def dumps(plan: Plan) -> str:
    return json_text(to_json_data(plan))


def dumps_plans(plans: list[Plan]) -> str:
    """One system's plan as SPEC section 5 shows it; several as `{"plans": [...]}`."""
    if len(plans) == 1:
        return dumps(plans[0])
    return json_text({"format_version": FORMAT_VERSION, "plans": [to_json_data(p) for p in plans]})


def json_text(data: Any) -> str:
    """Indented JSON with invisible characters escaped, so a reader sees them."""
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


# -- reading ----------------------------------------------------------------------------


def multi_plan_parts(data: Any) -> list[Any]:
    """The plan objects of a saved plan: itself, or each of its `plans`."""
    if isinstance(data, dict) and "plans" in data:
        _check(data, "plans")
        parts: list[Any] = data["plans"]
        return parts
    return [data]


def from_json_data(data: Any) -> Plan:
    """Read a saved plan back; refuses anything that is not one (UsageError).

    Strict on purpose: apply sends each change's `send`, and a guard that could
    not be read must not silently make the plan safe.
    """
    _check(data, "plan")
    changes = _changes(data["changes"])
    # A plan saved before plans named their system was the default system's.
    system = data.get("system", providers.DEFAULT)
    providers.known(system, f"{_NOT_A_PLAN}: system")
    token_env = data.get("token_env")
    if token_env is None:
        token_env = providers.get(system).capabilities.token_env
    cost = data.get("cost")
    plan = Plan(
        target=data["target"],
        changes=changes,
        unchanged=data.get("summary", {}).get("unchanged", 0),
        system=system,
        token_env=token_env,
        warnings=[PlanWarning(w["login"], w["message"]) for w in data.get("warnings", [])],
        environment=data.get("environment"),
        active_users=data.get("active_users", 0),
        desired_users=data.get("desired_users", 0),
        guards=[
            GuardTrip(g["guard"], g["message"], g.get("overridden", False))
            for g in data.get("guards", [])
        ],
        login_suffix=data.get("login_suffix", ""),
        desired_digest=data.get("desired_digest"),
        notes=[
            PlanNote(n["login"], n["field"], n.get("before"), n.get("after"), n.get("reason", ""))
            for n in data.get("notes", [])
        ],
        cost=(
            None
            if cost is None
            else PlanCost(cost["unit"], cost["writes"], cost["verify"], cost.get("budget_left"))
        ),
    )
    if "safe" in data and data["safe"] is not plan.safe:
        _refuse("safe does not agree with its guards")
    return plan


def _changes(raw_changes: list[dict[str, Any]]) -> list[Change]:
    """The changes of a plan the schema passed, with the rules between its values."""
    changes = []
    seen: set[str] = set()
    for raw in raw_changes:
        login, action, before = raw["login"], raw["action"], raw.get("before")
        if login in seen:
            _refuse(f"{login}: planned twice")
        seen.add(login)
        if action == "create" and before is not None:
            _refuse(f"{login}: a create with a before")
        if action != "create" and before is None:
            _refuse(f"{login}: no before")
        changes.append(
            Change(
                action=action,
                key=login,
                fields={
                    name: FieldChange(fc.get("before"), fc.get("after"))
                    for name, fc in raw.get("fields", {}).items()
                },
                before=before,
                send=dict(raw["send"]),
                blocked=raw.get("blocked"),
            )
        )
    return changes


_NOT_A_PLAN = "the saved plan is not a reconciler plan"


def _refuse(what: str) -> None:
    raise UsageError(f"{_NOT_A_PLAN}: {what}")


def _check(data: Any, definition: str) -> None:
    """Refuse `data` unless it is a `definition` ("plan", "plans") of the plan schema."""
    validator = _validator(definition)
    if validator.passes(data):
        return
    # Refused: jsonschema finds the words (the compiled check only says yes or no).
    error = next(validator.jsonschema_validator().iter_errors(data), None)
    # The two agree (tests/test_schema_check.py); were they not to, refusing is the safe side.
    _refuse(_explain(error) if error is not None else "it does not follow the plan format")


def _explain(error: jsonschema.ValidationError) -> str:
    """The first problem of a plan that the schema refused, as a sentence."""
    from reconciler.schema import dotted, explain

    path = list(error.absolute_path)
    if not path and error.validator == "type":
        return "not a JSON object"
    required, instance = error.validator_value, error.instance
    if error.validator == "required" and isinstance(required, list) and isinstance(instance, dict):
        missing = next(key for key in required if key not in instance)
        return f"it has no {missing}" if not path else f"{dotted(path)} has no {missing}"
    if path == ["format_version"]:
        return f"format_version {error.instance!r} (this reconciler reads {FORMAT_VERSION})"
    return next(explain(error))[1]


def schema_text() -> str:
    """The plan format's schema as shipped: in the installed package, else in the checkout."""
    from importlib import resources

    packaged = resources.files("reconciler").joinpath("data/plan.schema.json")
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    return SCHEMA_FILE.read_text(encoding="utf-8")


@functools.cache
def _defs() -> dict[str, Any]:
    defs: dict[str, Any] = json.loads(schema_text())["$defs"]
    return defs


@functools.cache
def _validator(definition: str) -> Validator:
    """One definition of the plan schema ("plan", "plans"): its compiled check, so a plan
    of 100,000 changes reads in 2.6 s, not 17 s; jsonschema only to word a refusal."""
    from reconciler.schema import Validator

    return Validator(
        {"$defs": _defs(), "$ref": f"#/$defs/{definition}"}, types={"integer": _whole_number}
    )


def _whole_number(value: Any) -> bool:
    # A whole number is a JSON integer: 1.0 is not one here, as it is to JSON Schema,
    # so a count read back is written back as it was read.
    return type(value) is int
