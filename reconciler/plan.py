"""The plan: typed changes, warnings and guard results, and its saved JSON form.

A plan is plain data. `diff.compute_plan` makes one, `guards` judges it, the
renderers show it, and `apply` sends exactly its `send` payloads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

from reconciler.errors import UsageError
from reconciler.settings import DEFAULT_TOKEN_ENV

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
        "target": plan.target,
        "environment": plan.environment,
        "token_env": plan.token_env,
        "summary": plan.summary(),
        "safe": plan.safe,
        "guards": [
            {"guard": g.guard, "message": g.message, "overridden": g.overridden}
            for g in plan.guards
        ],
        "active_users": plan.active_users,
        "desired_users": plan.desired_users,
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
            }
            for c in plan.changes
        ],
        "warnings": [{"login": w.login, "message": w.message} for w in plan.warnings],
    }


def dumps(plan: Plan) -> str:
    return json.dumps(to_json_data(plan), indent=2, ensure_ascii=False) + "\n"


def _require(cond: bool, what: str) -> None:
    if not cond:
        raise UsageError(f"the saved plan is not a reconciler plan: {what}")


def from_json_data(data: Any) -> Plan:
    """Read a saved plan back; refuses anything that is not one (UsageError)."""
    _require(isinstance(data, dict), "not a JSON object")
    _require(
        data.get("format_version") == FORMAT_VERSION,
        f"format_version {data.get('format_version')!r} (this reconciler reads {FORMAT_VERSION})",
    )
    _require(isinstance(data.get("target"), str), "no target")
    changes = []
    raw_changes = data.get("changes")
    _require(isinstance(raw_changes, list), "no changes list")
    for raw in raw_changes:
        _require(isinstance(raw, dict), "a change is not an object")
        action = raw.get("action")
        _require(action in ACTIONS, f"unknown action {action!r}")
        login = raw.get("login")
        send = raw.get("send")
        _require(isinstance(login, str) and login != "", "a change without a login")
        _require(isinstance(send, dict) and send.get("login") == login, f"{login}: bad send")
        before = raw.get("before")
        _require(before is None or isinstance(before, dict), f"{login}: bad before")
        _require(action == "create" or before is not None, f"{login}: no before")
        fields = raw.get("fields") or {}
        _require(isinstance(fields, dict), f"{login}: bad fields")
        changes.append(
            Change(
                action=action,
                login=login,
                fields={
                    k: FieldChange(v.get("before"), v.get("after"))
                    for k, v in fields.items()
                    if isinstance(v, dict)
                },
                before=before,
                send=send,
            )
        )
    guards = [
        GuardTrip(g["guard"], g["message"], bool(g.get("overridden")))
        for g in data.get("guards") or []
        if isinstance(g, dict) and "guard" in g and "message" in g
    ]
    summary = data.get("summary") or {}
    return Plan(
        target=data["target"],
        changes=changes,
        unchanged=int(summary.get("unchanged", 0)),
        warnings=[
            PlanWarning(w.get("login", ""), w.get("message", ""))
            for w in data.get("warnings") or []
            if isinstance(w, dict)
        ],
        environment=data.get("environment"),
        token_env=str(data.get("token_env") or DEFAULT_TOKEN_ENV),
        active_users=int(data.get("active_users", 0)),
        desired_users=int(data.get("desired_users", 0)),
        guards=guards,
    )
