"""What a reviewer should know about a plan as a whole: its system's remarks.

A system that has something to say about a plan beyond its changes, notes and
warnings ships a `remarks` module beside its provider, with

    def remarks(plan: Plan) -> list[Remark]

found by `hooks.beside`, the one lookup rule for a system's optional parts;
a system without one has nothing to remark. Remarks follow from the plan's
data alone, so the renderers ask for them when they show a plan, fresh or
saved, and the JSON form counts them (plan.COUNTED_REMARKS).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.providers import REGISTRY, get
from reconciler.providers.hooks import beside

if TYPE_CHECKING:
    from reconciler.model import Plan, Remark


def plan_remarks(plan: Plan) -> list[Remark]:
    """The remarks of the plan's system on this plan (none for a system it does not know)."""
    if plan.system not in REGISTRY:
        return []
    found = getattr(beside(get(plan.system), "remarks"), "remarks", None)
    return list(found(plan)) if found is not None else []
