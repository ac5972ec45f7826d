"""The plan as plain data: changes, notes, warnings, guard results, cost and remarks.

A plan is plain data. `diff.compute_plan` makes one, `guards` judges it, the
renderers show it, `apply` sends exactly its `send` payloads, and `plan` (the
codec) writes and reads its JSON form.

This module is the bottom of the tool: it imports nothing of reconciler, so
every layer (the providers included) may use its types without an import
circle. Nothing here knows a system: a plan names its system and its token's
variable itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Action = Literal["create", "update", "reactivate", "deactivate"]
#: The order in which actions are shown and applied.
ACTIONS: tuple[Action, ...] = ("create", "update", "reactivate", "deactivate")


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field's value in the tenant (`before`) and as the plan sets it (`after`)."""

    before: Any
    after: Any


@dataclass(slots=True)
class Change:
    """What the plan does to one user.

    `before` is the user as the tenant had it when planned (None for a create);
    `send` is the exact object apply will PUT for this user.
    """

    action: Action
    key: str
    fields: dict[str, FieldChange]
    before: dict[str, Any] | None
    send: dict[str, Any]
    #: Why the API cannot take this write (apply skips it), or None.
    blocked: str | None = None


@dataclass(frozen=True, slots=True)
class PlanNote:
    """A difference the system's API cannot write: shown, never sent, not a change."""

    key: str
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

    key: str
    action: Action
    #: The fields the change sets (sorted), so a reader sees what it would do.
    fields: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something a reviewer should look at about one user; never fatal."""

    key: str
    message: str


@dataclass(frozen=True, slots=True)
class GuardTrip:
    """A safety guard that this plan trips; `overridden` by --allow-mass-deactivation."""

    guard: str
    message: str
    overridden: bool = False


@dataclass(frozen=True, slots=True)
class Remark:
    """What a reviewer should know about a plan as a whole: neither a change, a note
    nor a warning (writes that lack a field the vendor may require, say).

    A system says its remarks through a `remarks` module beside its provider
    (`providers.remarks`); they follow from the plan's data alone, so a saved
    plan shown again has the same remarks. The renderers show them; the JSON
    form counts the changes each concerns, by `name`.
    """

    #: What the remark is, as a name a program can use (a key of the JSON form).
    name: str
    #: The whole remark: what to know, and what to do about it.
    text: str
    #: The remark in a few words, where room is scarce (a folded summary); a word in
    #: backticks is a name to show as code.
    headline: str
    #: The changes it concerns, in the plan's order.
    concerns: tuple[Change, ...] = ()
    #: What introduces the list of those changes ("Without it").
    concerns_label: str = ""
    #: The remark as a phrase, for "whom {topic} concerns" when a list is cut short.
    topic: str = ""


@dataclass
class Plan:
    """One system's plan: its changes, notes and warnings, the guards it trips, its cost."""

    target: str
    changes: list[Change]
    unchanged: int
    #: The system planned (a registered provider's name): no system is assumed.
    system: str = field(kw_only=True)
    #: The name of the variable holding the environment's token (never the token).
    token_env: str = field(kw_only=True)
    warnings: list[PlanWarning] = field(default_factory=list)
    environment: str | None = None
    active_users: int = 0
    desired_users: int = 0
    guards: list[GuardTrip] = field(default_factory=list)
    #: The login suffix of the environment the files were read for.
    login_suffix: str = ""
    #: A digest of the desired state (saved_plan.desired_digest); set for saved plans.
    desired_digest: str | None = None
    notes: list[PlanNote] = field(default_factory=list)
    #: None where the system's vendor publishes no cost.
    cost: PlanCost | None = None

    @property
    def safe(self) -> bool:
        """False while an unoverridden guard trips: apply refuses such a plan."""
        return all(g.overridden for g in self.guards)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        """How many changes of each action, and how many users it leaves unchanged."""
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
    def writes(self) -> int:
        """The changes apply will send (the blocked ones it skips)."""
        return sum(1 for c in self.changes if not c.blocked)


Status = Literal["done", "failed", "skipped"]


@dataclass
class Outcome:
    """What became of one planned change when it was applied."""

    key: str
    action: Action
    status: Status
    message: str = ""


@dataclass
class ApplyReport:
    """What an apply did to one system: each change's outcome, and what it held back."""

    target: str
    outcomes: list[Outcome]
    requests: dict[str, int] = field(default_factory=dict)
    environment: str | None = None
    #: The system written (a provider's name).
    system: str = field(kw_only=True)
    #: Changes of the fresh plan that `apply --plan` did not write: no reviewed plan holds them.
    held: list[Held] = field(default_factory=list)
    #: Reviewed changes that the fresh plan no longer holds (not written either).
    no_longer_needed: list[Held] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every change written and verified, and none held back."""
        return not self.held and all(o.status == "done" for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {a: 0 for a in ACTIONS}
        counts.update(failed=0, skipped=0)
        for outcome in self.outcomes:
            if outcome.status == "done":
                counts[outcome.action] += 1
            else:
                counts[outcome.status] += 1
        return counts
