"""What the systems' generators share: names, the people file's entries, the change budget.

Each system's generator lives in its provider's package (its simulator's
`generate` and `generate_desired`); `reconciler sim generate` asks it for a
realistic state and a people file that changes a share of it, for demos,
tests and benchmarks.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

FIRST_NAMES = (
    "Aaron", "Abigail", "Adam", "Alice", "Amir", "Anna", "Ben", "Carla", "Chen", "Daniel",
    "David", "Dana", "Elena", "Eli", "Emma", "Fatima", "Gal", "Grace", "Hannah", "Ivan",
    "Jane", "John", "Julia", "Kai", "Laura", "Liam", "Maya", "Mohammed", "Noa", "Omar",
    "Olivia", "Pablo", "Priya", "Roy", "Sara", "Sofia", "Tom", "Uri", "Wei", "Yael",
)  # fmt: skip
LAST_NAMES = (
    "Agassi", "Brown", "Cohen", "Davis", "Evans", "Fischer", "Garcia", "Haddad", "Ito",
    "Johnson", "Kim", "Levi", "Lopez", "Martin", "Mizrahi", "Nguyen", "Okafor", "Patel",
    "Rossi", "Schmidt", "Smith", "Tanaka", "Taylor", "Weiss", "Wilson", "Yamamoto", "Zhang",
)  # fmt: skip
#: The login domain of generated people (`jane.doe42@acme`).
DOMAIN = "acme"
#: Stays under the planner's default max_deactivations of 25% of active users.
MAX_DEACTIVATED_PERCENT = 24


def person_handle(rng: random.Random, seen: dict[str, int]) -> tuple[str, str, str]:
    """A first name, a last name and a handle (`jane.doe`, `jane.doe2`) unique in `seen`."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    base = f"{first}.{last}".lower()
    count = seen.get(base, 0) + 1
    seen[base] = count
    # Bases have no digits, so a numbered handle never collides with another base.
    return first, last, base if count == 1 else f"{base}{count}"


def phone_number(rng: random.Random, dial: str) -> str:
    """A phone number under the dialling prefix `dial` ("+1 415-4821093")."""
    return f"{dial}-{rng.randrange(1_000_000, 10_000_000)}"


def entry(fields: dict[str, Any]) -> str:
    """One person of a people file's `users:` list, as YAML text."""
    # A JSON string is a valid YAML double-quoted scalar, and far faster than yaml.dump.
    lines = [f"{key}: {_LITERALS.get(value) or dumps(value)}" for key, value in fields.items()]
    return "  - " + "\n    ".join(lines) + "\n"


_LITERALS: dict[Any, str] = {None: "null", True: "true", False: "false"}
#: JSON text of a value, which is also a YAML flow value.
dumps = json.JSONEncoder(ensure_ascii=False).encode
# Characters YAML refuses raw (non-printables, lone surrogates that json.dumps
# lets through), reads as line breaks inside a quoted scalar (NEL, LS, PS), or
# may drop (BOM): written as escapes, they come back as they were.
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def escape_unprintable(text: str) -> str:
    """`text` with the characters YAML refuses or changes written as JSON escapes.

    Only string values can hold such characters, and each sits inside a JSON
    string, where the escape is valid: one pass over the whole file is enough.
    """
    return _UNPRINTABLE.sub(_escape, text)
