"""How the tool words counts, lists and a plan's one-line totals, the same everywhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.model import Plan


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


def cost_line(plan: Plan) -> str | None:
    """`Cost: 80 tokens (6 writes x 10, 20 for the verification read); 29,860 left today.`"""
    cost = plan.cost
    if cost is None:
        return None
    writes = plan.writes
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


def complete_line(counts: dict[str, int]) -> str:
    """`Apply complete: N created, N updated, N reactivated, N deactivated, N failed.`"""
    failed = counts["failed"] + counts["skipped"]
    return (
        f"Apply complete: {counts['create']} created, {counts['update']} updated, "
        f"{counts['reactivate']} reactivated, {counts['deactivate']} deactivated, "
        f"{failed} failed."
    )
