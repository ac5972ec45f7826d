"""Realistic generated DealHub tenants, and people files that change a share of them.

For demos, tests and benchmarks: `generate_tenant` makes the simulator's state,
`generate_desired` a YAML file that, planned against it, touches about a given
fraction of the users with every kind of action.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.sim.generate import (
    DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_DEACTIVATED_PERCENT,
    entry,
    escape_unprintable,
    person_handle,
    phone_number,
)
from reconciler.sim.store import User

POSITIONS = (
    "Account Executive", "Sales Manager", "CCS", "Sales Engineer", "VP Sales",
    "Deal Desk Analyst", "Solutions Consultant", "Customer Success Manager",
    "Sales Operations", "Regional Director", "Business Development Rep",
)  # fmt: skip
BUSINESS_TITLES = ("Enterprise AE", "Mid-Market AE", "SMB AE", "Team Lead", "Director", "SE")
COMPANIES = ("Acme", "Acme Europe", "Acme Labs", "Acme APAC")
#: city, state, country, postal code prefix, phone prefix
PLACES = (
    ("Holon", "Center", "Israel", "58", "03"),
    ("Tel Aviv", "Tel Aviv", "Israel", "61", "03"),
    ("Austin", "TX", "United States", "787", "+1 512"),
    ("New York", "NY", "United States", "100", "+1 212"),
    ("London", "England", "United Kingdom", "EC1", "+44 20"),
    ("Berlin", "Berlin", "Germany", "101", "+49 30"),
    ("Paris", "Ile-de-France", "France", "750", "+33 1"),
    ("Toronto", "ON", "Canada", "M5V", "+1 416"),
    ("Sydney", "NSW", "Australia", "20", "+61 2"),
)
STREETS = ("Harokmin", "Main Street", "Market Street", "High Street", "King Street", "Elm Road")
# Share of changes per kind; deactivations are split between `is_active: false`
# and leaving the user out of the file.
_SHARES = {"create": 0.3, "update": 0.4, "reactivate": 0.1, "deactivate": 0.2}


def generate_tenant(n: int, seed: int) -> list[User]:
    """`n` users with unique logins, an acyclic manager tree and ~10% inactive users.

    Logins look like `jane.doe42@acme`; every manager is a user of the tenant.
    The same `n` and `seed` always give the same users.
    """
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    users: list[User] = []
    for index in range(n):
        first, last, handle = person_handle(rng, seen)
        user: User = {
            "login": f"{handle}@{DOMAIN}",
            "id": str(786865600000 + index),
            "email": f"{handle}@{DOMAIN}.com",
            "name": f"{first} {last}",
            "external_user_id": f"005XX{index + 1:010d}",
            "is_active": index == 0 or rng.random() >= 0.1,
        }
        user.update(_profile(rng))
        # Managers always come earlier in the list, so the tree has no cycle.
        if index > 0 and rng.random() >= 0.02:
            user["user_manager_login"] = users[rng.randrange(max(1, index // 6))]["login"]
        users.append(user)
    return users


def _profile(rng: random.Random) -> dict[str, str]:
    profile: dict[str, str] = {}
    if rng.random() < 0.9:
        profile["position"] = rng.choice(POSITIONS)
    if rng.random() < 0.35:
        profile["business_title"] = rng.choice(BUSINESS_TITLES)
    city, state, country, postal, dial = rng.choice(PLACES)
    if rng.random() < 0.75:
        profile["phone"] = phone_number(rng, dial)
    if rng.random() < 0.5:
        profile["mobile"] = phone_number(rng, dial)
    if rng.random() < 0.08:
        profile["fax"] = phone_number(rng, dial)
    if rng.random() < 0.95:
        profile["company"] = rng.choice(COMPANIES)
    if rng.random() < 0.6:
        profile["street"] = f"{rng.choice(STREETS)} {rng.randrange(1, 200)}"
        profile["postal_code"] = f"{postal}{rng.randrange(100, 1000)}"
    if rng.random() < 0.85:
        profile.update(city=city, state=state, country=country)
    return profile


def generate_desired(tenant: Sequence[User], *, changes: float, seed: int) -> str:
    """The text of a desired-state file that changes about `changes` of `tenant`'s users.

    The changes are spread over creates, updates, reactivations and
    deactivations (some `is_active: false`, some users left out), keeping
    deactivations under 25% of the active users. Everyone else is listed as
    the tenant has them.
    """
    if not 0.0 <= changes <= 1.0:
        raise ValueError(f"changes must be a fraction between 0 and 1, not {changes}")
    rng = random.Random(seed)
    total = round(changes * len(tenant))
    counts = {kind: int(total * share) for kind, share in _SHARES.items()}
    if total >= len(_SHARES):
        for kind in counts:
            counts[kind] = max(1, counts[kind])
    counts["update"] += total - sum(counts.values())

    active = [i for i, u in enumerate(tenant) if u.get("is_active", True)]
    inactive = [i for i, u in enumerate(tenant) if not u.get("is_active", True)]
    rng.shuffle(active)
    rng.shuffle(inactive)
    deactivating = min(counts["deactivate"], len(active) * MAX_DEACTIVATED_PERCENT // 100)
    reactivated = set(inactive[: counts["reactivate"]])
    deactivated = active[:deactivating]
    omitted = set(deactivated[: deactivating // 2])
    set_inactive = set(deactivated[deactivating // 2 :])
    updated = set(active[deactivating : deactivating + counts["update"]])
    # New users report to someone who stays active.
    managers = [tenant[i]["login"] for i in active[deactivating : deactivating + 1000]]

    out = [
        "# Generated by `reconciler sim generate`: a desired state for the simulator.\n",
        "version: 1\nsettings:\n  unlisted: deactivate\n  max_deactivations: 25%\nusers:\n",
    ]
    for index, user in enumerate(tenant):
        if index in omitted:
            continue
        fields = {k: v for k, v in user.items() if k not in ("id", "is_active")}
        if index in updated:
            _change(rng, fields)
        elif rng.random() < 0.02 and "email" in fields:
            fields["email"] = fields["email"].swapcase()  # emails compare case-insensitively
        was_active = user.get("is_active", True)
        if index in set_inactive or (not was_active and index not in reactivated):
            fields["is_active"] = False
        out.append(entry(fields))

    logins = {u["login"] for u in tenant}
    for number in range(counts["create"]):
        fields = _new_user(rng, logins, number)
        if managers:
            fields["user_manager_login"] = rng.choice(managers)
        out.append(entry(fields))
    # Only string values can hold such characters, and each sits inside a JSON
    # string, where the escape is valid: one pass over the text is enough.
    return escape_unprintable("".join(out))


def _change(rng: random.Random, fields: dict[str, Any]) -> None:
    """Change one or two managed fields of a user, each to a different value."""
    city, _, _, _, dial = rng.choice(PLACES)
    choices: list[tuple[str, Callable[[], Any]]] = [
        ("position", lambda: rng.choice(POSITIONS)),
        ("phone", lambda: phone_number(rng, dial)),
        ("mobile", lambda: phone_number(rng, dial)),
        ("business_title", lambda: rng.choice(BUSINESS_TITLES)),
        ("city", lambda: city),
    ]
    if fields.get("fax") or fields.get("business_title"):
        # null in the file means "must be empty": the plan clears the field.
        clearable = "fax" if fields.get("fax") else "business_title"
        choices.append((clearable, lambda: None))
    for name, make in rng.sample(choices, rng.choice((1, 1, 2))):
        value = make()
        while value is not None and value == fields.get(name):
            value = f"{value} II"
        fields[name] = value


def _new_user(rng: random.Random, taken: set[str], number: int) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    handle = f"{first}.{last}.new{number}".lower()
    while f"{handle}@{DOMAIN}" in taken:
        handle += "x"
    taken.add(f"{handle}@{DOMAIN}")
    fields: dict[str, Any] = {
        "login": f"{handle}@{DOMAIN}",
        "email": f"{handle}@{DOMAIN}.com",
        "name": f"{first} {last}",
        "external_user_id": f"005XN{number + 1:010d}",
    }
    fields.update(_profile(rng))
    return fields
