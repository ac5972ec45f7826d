"""What a reviewer of a DealHub plan should know beyond its changes (providers.remarks)."""

from __future__ import annotations

from reconciler.model import Change, Plan, Remark

#: The remark's name, which the JSON form of every plan counts (format 1).
WITHOUT_EXTERNAL_ID = "writes_without_external_user_id"


def without_external_id(plan: Plan) -> list[Change]:
    """The writes that carry no external_user_id, which DealHub's v2 schema requires."""
    return [c for c in plan.changes if not c.blocked and "external_user_id" not in c.send]


def remarks(plan: Plan) -> list[Remark]:
    """The plan's writes without external_user_id, when it has any."""
    missing = without_external_id(plan)
    if not missing:
        return []
    count = len(missing)
    carry = "write carries" if count == 1 else "writes carry"
    return [
        Remark(
            name=WITHOUT_EXTERNAL_ID,
            text=(
                f"{count} of {plan.writes} writes carry no external_user_id: reads never "
                "return it, and the vendor's v2 schema lists it as required. If DealHub "
                "rejects them, add external_user_id to those users in the files "
                "(settings.require_external_id checks it offline)."
            ),
            headline=f"{count:,} {carry} no `external_user_id`",
            concerns=tuple(missing),
            concerns_label="Without it",
            topic="the external_user_id note",
        )
    ]
