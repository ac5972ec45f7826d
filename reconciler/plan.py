"""The plan: typed changes, warnings and guard results, and its saved JSON form.

A plan is plain data. `diff.compute_plan` makes one, `guards` judges it, the
renderers show it, and `apply` sends exactly its `send` payloads.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.errors import UsageError
from reconciler.providers import DEFAULT, REGISTRY
from reconciler.settings import DEFAULT_TOKEN_ENV
from reconciler.textsafe import json_safe

FORMAT_VERSION = 1

Action = Literal["create", "update", "reactivate", "deactivate"]
#: The order in which actions are shown and applied.
ACTIONS: tuple[Action, ...] = ("create", "update", "reactivate", "deactivate")


@dataclass(frozen=True, slots=True)
class FieldChange:
    before: Any
    after: Any


@dataclass(slots=True)
class Change:
    """What the plan does to one user.

    `before` is the user as the tenant had it when planned (None for a create);
    `send` is the exact object apply will PUT for this user.
    """

    action: Action
    login: str
    fields: dict[str, FieldChange]
    before: dict[str, Any] | None
    send: dict[str, Any]
    #: Why the API cannot take this write (apply skips it), or None.
    blocked: str | None = None


@dataclass(frozen=True, slots=True)
class PlanNote:
    """A difference the system's API cannot write: shown, never sent, not a change."""

    login: str
    field: str
    before: Any
    after: Any
    reason: str


@dataclass(frozen=True, slots=True)
class PlanCost:
    """What applying the plan will cost where the vendor charges per call."""

    unit: str
    writes: int
    verify: int
    #: What the vendor said is left of today's budget, when its answers said it.
    budget_left: int | None = None

    @property
    def total(self) -> int:
        return self.writes + self.verify


@dataclass(frozen=True, slots=True)
class Held:
    """A change `apply --plan` does not write, and why (see saved_plan.review).

    Held changes are changes of the fresh plan that no reviewed plan holds;
    the same type reports saved changes that the fresh plan no longer needs.
    """

    login: str
    action: Action
    #: The fields the change sets (sorted), so a reader sees what it would do.
    fields: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class PlanWarning:
    login: str
    message: str


@dataclass(frozen=True, slots=True)
class GuardTrip:
    """A safety guard that this plan trips; `overridden` by --allow-mass-deactivation."""

    guard: str
    message: str
    overridden: bool = False


@dataclass
class Plan:
    target: str
    changes: list[Change]
    unchanged: int
    warnings: list[PlanWarning] = field(default_factory=list)
    environment: str | None = None
    #: The name of the variable holding the environment's token (never the token).
    token_env: str = DEFAULT_TOKEN_ENV
    active_users: int = 0
    desired_users: int = 0
    guards: list[GuardTrip] = field(default_factory=list)
    #: The login suffix of the environment the files were read for.
    login_suffix: str = ""
    #: A digest of the desired state (saved_plan.desired_digest); set for saved plans.
    desired_digest: str | None = None
    #: The system planned (a provider's name; the registry's default unless set).
    system: str = DEFAULT
    notes: list[PlanNote] = field(default_factory=list)
    #: None where the vendor publishes no cost (DealHub).
    cost: PlanCost | None = None

    @property
    def safe(self) -> bool:
        """False while an unoverridden guard trips: apply refuses such a plan."""
        return all(g.overridden for g in self.guards)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(ACTIONS, 0)
        for change in self.changes:
            counts[change.action] += 1
        return {**counts, "unchanged": self.unchanged}

    def by_action(self, action: Action) -> list[Change]:
        return [c for c in self.changes if c.action == action]

    @property
    def blocked(self) -> list[Change]:
        """Changes the API cannot take: named in the plan, skipped by apply."""
        return [c for c in self.changes if c.blocked]

    @property
    def writes_without_external_id(self) -> int:
        """DealHub writes that carry no external_user_id, which its v2 schema requires."""
        if self.system != "dealhub":
            return 0
        return sum(1 for c in self.changes if not c.blocked and "external_user_id" not in c.send)


def cost_line(plan: Plan) -> str | None:
    """`Cost: 80 tokens (6 writes x 10, 20 for the verification read); 29,860 left today.`"""
    cost = plan.cost
    if cost is None:
        return None
    writes = sum(1 for c in plan.changes if not c.blocked)
    each = cost.writes // writes if writes else 0
    text = (
        f"Cost: {cost.total:,} {cost.unit} ({plural(writes, 'write')} x {each}, "
        f"{cost.verify} for the verification read)"
    )
    if not writes:
        # No write, so apply needs no verification read either (cost_of).
        text = f"Cost: 0 {cost.unit} (nothing to write)"
    if cost.budget_left is not None:
        text += f"; {cost.budget_left:,} {cost.unit} left of today's budget"
        if cost.total > cost.budget_left:
            text += " (apply would stop before the budget runs out; the next day's run goes on)"
    return text + "."


def external_id_note(plan: Plan) -> str | None:
    """What a reviewer should know about writes without external_user_id, or None."""
    missing = plan.writes_without_external_id
    if plan.system != "dealhub" or missing == 0:
        return None
    writes = sum(1 for c in plan.changes if not c.blocked)
    return (
        f"{missing} of {writes} writes carry no external_user_id: reads never return it, and "
        "the vendor's v2 schema lists it as required. If DealHub rejects them, add "
        "external_user_id to those users in the files (settings.require_external_id checks "
        "it offline)."
    )


def plural(count: int, noun: str) -> str:
    """`1 write`, `2 writes`: a count with its noun (nouns of this tool take an s)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def and_joined(items: list[str]) -> str:
    """["a", "b", "c"] -> "a, b and c" (one item: itself)."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def summary_line(summary: dict[str, int]) -> str:
    """`Plan: N to create, N to update, N to reactivate, N to deactivate.`"""
    return (
        f"Plan: {summary['create']} to create, {summary['update']} to update, "
        f"{summary['reactivate']} to reactivate, {summary['deactivate']} to deactivate."
    )


def _sorted(d: dict[str, Any]) -> dict[str, Any]:
    return {k: d[k] for k in sorted(d)}


def to_json_data(plan: Plan) -> dict[str, Any]:
    """The JSON form of SPEC section 5, which is also the saved plan."""
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
        "writes_without_external_user_id": plan.writes_without_external_id,
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
                "login": c.login,
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
                "login": n.login,
                "field": n.field,
                "before": n.before,
                "after": n.after,
                "reason": n.reason,
            }
            for n in plan.notes
        ],
        "warnings": [{"login": w.login, "message": w.message} for w in plan.warnings],
    }


def dumps(plan: Plan) -> str:
    return json_text(to_json_data(plan))


def dumps_plans(plans: list[Plan]) -> str:
    """One system's plan as SPEC section 5 shows it; several as `{"plans": [...]}`."""
    if len(plans) == 1:
        return dumps(plans[0])
    return json_text({"format_version": FORMAT_VERSION, "plans": [to_json_data(p) for p in plans]})


def multi_plan_parts(data: Any) -> list[Any]:
    """The plan objects of a saved plan: itself, or each of its `plans`."""
    if isinstance(data, dict) and "plans" in data:
        _require(
            set(data) == {"format_version", "plans"}
            and data["format_version"] == FORMAT_VERSION
            and isinstance(data["plans"], list)
            and len(data["plans"]) > 0,
            "bad plans",
        )
        parts: list[Any] = data["plans"]
        return parts
    return [data]


def json_text(data: Any) -> str:
    """Indented JSON with invisible characters escaped, so a reader sees them."""
    return json_safe(json.dumps(data, indent=2, ensure_ascii=False)) + "\n"


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise UsageError(f"the saved plan is not a reconciler plan: {what}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_json_str_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


_TOKEN_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _read_send(login: str, send: Any) -> dict[str, Any]:
    # Only the shape here: what a payload may hold is the provider's rule, checked
    # against a fresh derivation by saved_plan.check_consistent.
    _require(_is_json_str_dict(send), f"{login}: bad send")
    return dict(send)


def _read_change(raw: Any, seen: set[str]) -> Change:
    _require(isinstance(raw, dict), "a change is not an object")
    action = raw.get("action")
    _require(isinstance(action, str) and action in ACTIONS, f"unknown action {action!r}")
    login = raw.get("login")
    _require(isinstance(login, str) and login != "", "a change without a login")
    assert isinstance(login, str)
    _require(login not in seen, f"{login}: planned twice")
    seen.add(login)
    send = _read_send(login, raw.get("send"))
    before = raw.get("before")
    _require(before is None or _is_json_str_dict(before), f"{login}: bad before")
    if action == "create":
        _require(before is None, f"{login}: a create with a before")
    else:
        _require(before is not None, f"{login}: no before")
    fields = raw.get("fields", {})
    _require(_is_json_str_dict(fields), f"{login}: bad fields")
    for name, fc in fields.items():
        _require(
            isinstance(fc, dict) and set(fc) <= {"before", "after"},
            f"{login}: bad fields.{name}",
        )
    blocked = raw.get("blocked")
    _require(blocked is None or isinstance(blocked, str), f"{login}: bad blocked")
    return Change(
        action=action,
        login=login,
        fields={k: FieldChange(v.get("before"), v.get("after")) for k, v in fields.items()},
        before=before,
        send=send,
        blocked=blocked,
    )


def from_json_data(data: Any) -> Plan:
    """Read a saved plan back; refuses anything that is not one (UsageError).

    Strict on purpose: apply sends each change's `send`, and a guard that could
    not be read must not silently make the plan safe.
    """
    _require(isinstance(data, dict), "not a JSON object")
    version = data.get("format_version")
    _require(
        _is_int(version) and version == FORMAT_VERSION,
        f"format_version {version!r} (this reconciler reads {FORMAT_VERSION})",
    )
    _require(isinstance(data.get("target"), str) and data["target"] != "", "no target")
    raw_changes = data.get("changes")
    _require(isinstance(raw_changes, list), "no changes list")
    seen: set[str] = set()
    changes = [_read_change(raw, seen) for raw in raw_changes]

    raw_guards = data.get("guards", [])
    _require(isinstance(raw_guards, list), "bad guards")
    guards = []
    for g in raw_guards:
        _require(
            isinstance(g, dict)
            and isinstance(g.get("guard"), str)
            and isinstance(g.get("message"), str)
            and isinstance(g.get("overridden", False), bool),
            "bad guard",
        )
        guards.append(GuardTrip(g["guard"], g["message"], g.get("overridden", False)))

    raw_warnings = data.get("warnings", [])
    _require(isinstance(raw_warnings, list), "bad warnings")
    warnings = []
    for w in raw_warnings:
        _require(
            isinstance(w, dict)
            and isinstance(w.get("login"), str)
            and isinstance(w.get("message"), str),
            "bad warning",
        )
        warnings.append(PlanWarning(w["login"], w["message"]))

    summary = data.get("summary", {})
    _require(isinstance(summary, dict), "bad summary")
    unchanged = summary.get("unchanged", 0)
    _require(_is_int(unchanged) and unchanged >= 0, "bad summary.unchanged")
    environment = data.get("environment")
    _require(environment is None or isinstance(environment, str), "bad environment")
    token_env = data.get("token_env", DEFAULT_TOKEN_ENV)
    _require(
        isinstance(token_env, str) and _TOKEN_ENV.fullmatch(token_env) is not None,
        "bad token_env",
    )
    # A plan saved before plans named their system was the default system's.
    system = data.get("system", DEFAULT)
    _require(isinstance(system, str) and system in REGISTRY, f"unknown system {system!r}")
    notes = []
    raw_notes = data.get("notes", [])
    _require(isinstance(raw_notes, list), "bad notes")
    for n in raw_notes:
        _require(
            isinstance(n, dict)
            and isinstance(n.get("login"), str)
            and isinstance(n.get("field"), str)
            and isinstance(n.get("reason", ""), str),
            "bad note",
        )
        notes.append(
            PlanNote(n["login"], n["field"], n.get("before"), n.get("after"), n.get("reason", ""))
        )
    cost = None
    raw_cost = data.get("cost")
    if raw_cost is not None:
        _require(
            isinstance(raw_cost, dict)
            and isinstance(raw_cost.get("unit"), str)
            and all(_is_int(raw_cost.get(k)) for k in ("writes", "verify"))
            and (raw_cost.get("budget_left") is None or _is_int(raw_cost["budget_left"])),
            "bad cost",
        )
        cost = PlanCost(
            raw_cost["unit"], raw_cost["writes"], raw_cost["verify"], raw_cost.get("budget_left")
        )
    login_suffix = data.get("login_suffix", "")
    _require(isinstance(login_suffix, str), "bad login_suffix")
    digest = data.get("desired_digest")
    _require(digest is None or isinstance(digest, str), "bad desired_digest")
    counts = {}
    for key in ("active_users", "desired_users"):
        counts[key] = data.get(key, 0)
        _require(_is_int(counts[key]) and counts[key] >= 0, f"bad {key}")

    plan = Plan(
        target=data["target"],
        changes=changes,
        unchanged=unchanged,
        warnings=warnings,
        environment=environment,
        token_env=token_env,
        active_users=counts["active_users"],
        desired_users=counts["desired_users"],
        guards=guards,
        login_suffix=login_suffix,
        desired_digest=digest,
        system=system,
        notes=notes,
        cost=cost,
    )
    if "safe" in data:
        _require(data["safe"] is plan.safe, "safe does not agree with its guards")
    return plan
