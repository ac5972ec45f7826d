"""Markdown tables and ratios, as every section of the results writes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: One check: (name, passed, detail).
Check = tuple[str, bool, str]


def ratio(a: float, b: float) -> str:
    """a / b as '1.23×' ('n/a' when b is not positive)."""
    return f"{a / b:.2f}×" if b > 0 else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    """A Markdown table; `align` is one 'l' or 'r' per column (default: first left)."""
    align = align or "l" + "r" * (len(headers) - 1)
    marks = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def checks_table(checks: Sequence[Check]) -> str:
    """The checks as a table, a failed one marked **FAILED**."""
    return table(
        ["check", "result", "detail"],
        [(n, "ok" if ok else "**FAILED**", d) for n, ok, d in checks],
        "lll",
    )
