"""Safety guards: a plan that would lock out too many people stops (exit 3).

Like octoDNS's `Plan.raise_if_unsafe`, the thresholds are judged on the plan
itself, so `plan` and `apply` (and `apply --plan`) stop on the same rules.
"""

from __future__ import annotations

from reconciler.errors import UnsafePlanError
from reconciler.model import GuardTrip, Plan
from reconciler.settings import Threshold


def evaluate(
    plan: Plan,
    threshold: Threshold,
    *,
    allow_mass_deactivation: bool,
    max_creates: int | None = None,
) -> Plan:
    """Record on the plan every guard it trips (overridden when allowed)."""
    trips: list[GuardTrip] = []
    creates = plan.summary()["create"]
    if max_creates is not None and creates > max_creates:
        # Each new user may take a paid seat: a reviewer raises the limit on purpose.
        trips.append(
            GuardTrip(
                "max_creates",
                f"{creates} creates exceed max_creates (at most {max_creates}) "
                f"by {creates - max_creates}",
            )
        )
    deactivations = plan.summary()["deactivate"]
    active = plan.active_users
    if threshold.exceeded_by(deactivations, active):
        allowed = threshold.allowed(active)
        basis = (
            f"{threshold} of {active} active users: at most {allowed}"
            if threshold.percent
            else f"at most {allowed}"
        )
        trips.append(
            GuardTrip(
                "max_deactivations",
                f"{deactivations} deactivations exceed max_deactivations ({basis}) "
                f"by {deactivations - allowed}",
            )
        )
    if active > 0 and deactivations >= active:
        trips.append(
            GuardTrip(
                "all_users",
                f"the plan deactivates every active user ({active} of {active})",
            )
        )
    if plan.desired_users == 0:
        trips.append(
            GuardTrip(
                "empty_desired_state",
                "the desired state lists no users (an empty or mistyped file?)",
            )
        )
    plan.guards = [GuardTrip(t.guard, t.message, overridden=allow_mass_deactivation) for t in trips]
    return plan


#: What a team does when a guard is right to trip but the change is intended: the
#: settings first, reviewed in the same pull request (the flag is for a run by hand).
_REMEDY = {
    "max_deactivations": "raise max_deactivations in the files' settings, in the same pull "
    "request, where its reviewers see it",
    "max_creates": "raise max_creates in the files' settings, in the same pull request, where "
    "its reviewers see it",
    "all_users": "check the files: they list no active user the system has",
    "empty_desired_state": "check the files: they list no user at all",
}


def remedy(trips: list[GuardTrip]) -> str:
    """What to do about these guards, settings first: `If this is intended, ...`."""
    steps = list(dict.fromkeys(_REMEDY.get(t.guard, "check the files") for t in trips))
    return (
        f"If this is intended, {'; '.join(steps)}; to override the guards for one run by "
        "hand, rerun with --allow-mass-deactivation."
    )


def raise_if_unsafe(plan: Plan) -> None:
    """Raise UnsafePlanError (exit 3) when a guard trips and was not overridden."""
    tripped = [g for g in plan.guards if not g.overridden]
    if tripped:
        reasons = "; ".join(g.message for g in tripped)
        raise UnsafePlanError(f"safety guard stopped the plan: {reasons}. {remedy(tripped)}")
