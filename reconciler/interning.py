"""One copy of each repeated string while a large input is read.

A people file or a tenant repeats a few values across thousands of users (a
company, a city, a title): read as they are, each user holds its own copy of
each, about 60 bytes apiece. An `Interner` hands back the first copy it saw of
an equal string, so a 100,000-user read keeps one "Acme Europe" instead of tens
of thousands.

Unlike `sys.intern` its table is the reader's own and goes with it, and it is
bounded: it stops taking new strings once it holds MAX_KEPT (the values that
repeat show up early), so a file of nothing but unique values costs a table of
references to strings the data holds anyway, never one entry per value.
"""

from __future__ import annotations

from collections.abc import Callable

#: Distinct strings one Interner takes, give or take the values of one record.
MAX_KEPT = 4096


class Interner:
    """Hands back one copy of each equal string (see the module docstring)."""

    __slots__ = ("_kept",)

    def __init__(self) -> None:
        self._kept: dict[str, str] = {}

    def sharer(self) -> Callable[[str, str], str]:
        """`share(value, value)`: the copy kept of a string equal to `value`, else
        `value` itself, kept while there is room.

        One C call per value (a dict's setdefault, then its get once full), for the
        loops over every value of a large input; ask for a new one per record, so
        that the table stops growing at MAX_KEPT.
        """
        kept = self._kept
        return kept.setdefault if len(kept) < MAX_KEPT else kept.get
