"""Realistic generated Pipedrive companies, and people files that change a share of them."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

from reconciler.providers.pipedrive.sim_state import permission_set_id, timestamp
from reconciler.sim.generate import (
    DOMAIN,
    FIRST_NAMES,
    LAST_NAMES,
    MAX_DEACTIVATED_PERCENT,
    dumps,
    entry,
    escape_unprintable,
    person_handle,
    phone_number,
)
from reconciler.sim.store import User

PIPEDRIVE_DOMAIN = "acme.com"
#: A Pipedrive company's access profiles and how common each is: (weight, [(app, admin)]).
ACCESS_PROFILES: tuple[tuple[int, tuple[tuple[str, bool], ...]], ...] = (
    (60, (("sales", False),)),
    (14, (("sales", False), ("campaigns", False))),
    (9, (("sales", False), ("projects", False))),
    (5, (("global", True), ("sales", True))),
    (4, (("sales", False), ("account_settings", False))),
    (3, (("campaigns", False),)),
    (3, (("sales", False), ("campaigns", False), ("projects", False))),
    (2, (("sales", False), ("partnership", False))),
)
#: A permission set of the company's own, given to some sales users instead of the default.
MANAGER_SET = "62cc4d7f-4038-4352-abf3-a8c1c822b631"
_LOCALES = (
    ("en_US", "USD", "America/New_York", "-05:00"),
    ("en_GB", "GBP", "Europe/London", "+00:00"),
    ("de_DE", "EUR", "Europe/Berlin", "+01:00"),
    ("fr_FR", "EUR", "Europe/Paris", "+01:00"),
    ("he_IL", "ILS", "Asia/Jerusalem", "+02:00"),
    ("en_AU", "AUD", "Australia/Sydney", "+10:00"),
)
#: 2020-09-13, when the generated company was founded.
_FOUNDED = 1_600_000_000
# Share of a Pipedrive desired state's changes per kind (its API cannot update a user).
_PIPEDRIVE_SHARES = {"create": 0.4, "reactivate": 0.15, "deactivate": 0.45}


def generate_company(n: int, seed: int) -> list[User]:
    """`n` Pipedrive users (n ≥ 1): the token's own admin first, ~10% inactive, a few deleted.

    Some users are invited and have not accepted yet (active, not `activated`,
    named by their email); access varies from sales alone to admins. The same
    `n` and `seed` always give the same users.
    """
    if n < 1:
        raise ValueError("a Pipedrive company has at least its token's own user")
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    users: list[User] = []
    user_id = 13_400_000 + rng.randrange(100_000)
    weights = [weight for weight, _ in ACCESS_PROFILES]
    for index in range(n):
        first, last, handle = person_handle(rng, seen)
        if rng.random() < 0.02:
            handle = handle.capitalize()  # emails come in any letter case
        email = f"{handle}@{PIPEDRIVE_DOMAIN}"
        user_id += rng.randrange(1, 40)  # ids are global across companies: gaps
        draw = rng.random()
        you = index == 0
        deleted = not you and draw < 0.03
        inactive = deleted or (not you and draw < 0.13)
        invited = not inactive and not you and draw < 0.18
        if you:
            profile: tuple[tuple[str, bool], ...] = (
                ("global", True),
                ("sales", True),
                ("account_settings", False),
            )
        else:
            profile = rng.choices([p for _, p in ACCESS_PROFILES], weights)[0]
        access = []
        for app, admin in profile:
            set_id = permission_set_id(app, admin)
            if app == "sales" and not admin and rng.random() < 0.08:
                set_id = MANAGER_SET
            access.append({"app": app, "admin": admin, "permission_set_id": set_id})
        locale, currency, zone, offset = rng.choice(_LOCALES)
        created = _FOUNDED + index * 3600 * 7 + rng.randrange(3600)
        modified = created + rng.randrange(86400 * 300)
        seen_last = None if invited else timestamp(modified + rng.randrange(86400 * 30))
        users.append(
            {
                "id": user_id,
                "name": email if invited else f"{first} {last}",
                "default_currency": currency,
                "locale": locale,
                "lang": 1,
                "email": email,
                "phone": phone_number(rng, "+1 415") if rng.random() < 0.4 else None,
                "activated": not invited,
                "last_login": seen_last,
                "created": timestamp(created),
                "modified": timestamp(modified),
                "has_created_company": you,
                "access": access,
                "active_flag": not inactive,
                "timezone_name": zone,
                "timezone_offset": offset,
                "role_id": 1 if rng.random() < 0.85 else 2,
                "icon_url": (
                    f"https://avatars.pipedriveassets.com/avatar/{user_id}.jpg"
                    if not invited and rng.random() < 0.5
                    else None
                ),
                "is_you": you,
                "is_deleted": deleted,
            }
        )
    return users


def generate_pipedrive_desired(company: Sequence[User], *, changes: float, seed: int) -> str:
    """A desired-state file (SPEC section 7) that changes about `changes` of `company`'s users.

    The changes are creates (one may re-add a deleted user's email),
    reactivations and deactivations (some `is_active: false`, some users left
    out), keeping deactivations under 25% of the active users and never
    touching the token's own user. Everyone else is listed as the company has
    them; a few entries ask for other access than the user has, which the
    vendor's API cannot change (a note in the plan, not a change).
    """
    if not 0.0 <= changes <= 1.0:
        raise ValueError(f"changes must be a fraction between 0 and 1, not {changes}")
    rng = random.Random(seed)
    live = [i for i, u in enumerate(company) if not u["is_deleted"]]
    total = round(changes * len(live))
    counts = {kind: int(total * share) for kind, share in _PIPEDRIVE_SHARES.items()}
    if total >= len(counts):
        for kind in counts:
            counts[kind] = max(1, counts[kind])
    counts["create"] += total - sum(counts.values())

    active = [i for i in live if company[i]["active_flag"] and not company[i]["is_you"]]
    inactive = [i for i in live if not company[i]["active_flag"]]
    rng.shuffle(active)
    rng.shuffle(inactive)
    seat_holders = len(active) + 1
    deactivating = min(counts["deactivate"], seat_holders * MAX_DEACTIVATED_PERCENT // 100)
    counts["create"] += counts["deactivate"] - deactivating
    reactivated = set(inactive[: counts["reactivate"]])
    counts["create"] += counts["reactivate"] - len(reactivated)
    deactivated = active[:deactivating]
    omitted = set(deactivated[: deactivating // 2])
    set_inactive = set(deactivated[deactivating // 2 :])
    other_access = set(active[deactivating : deactivating + total // 10])
    weights = [weight for weight, _ in ACCESS_PROFILES]

    out = [
        "# Generated by `reconciler sim generate --system pipedrive`: a desired state for "
        "the simulator.\n",
        "version: 1\nsettings:\n  systems: [pipedrive]\n  unlisted: deactivate\n"
        "  max_deactivations: 25%\n"
        "  pipedrive: {unlisted: deactivate, max_deactivations: 25%}\n",
        f"defaults:\n  pipedrive: {dumps({'access': _DEFAULT_ACCESS})}\n",
        "users:\n",
    ]
    for index in live:
        if index in omitted:
            continue
        user = company[index]
        access = _short_access(user["access"])
        if index in other_access:
            access = _other_access(access)
        fields = _person(user["email"], user["name"])
        if index in set_inactive or (not user["active_flag"] and index not in reactivated):
            fields["is_active"] = False
        out.append(_pipedrive_entry(fields, access))

    taken = {u["email"].casefold() for u in company}
    readded = [u for u in company if u["is_deleted"]]
    for number in range(counts["create"]):
        if number == 0 and readded:
            fields = _person(readded[0]["email"], readded[0]["name"])
        else:
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            handle = f"{first}.{last}.new{number}".lower()
            while f"{handle}@{PIPEDRIVE_DOMAIN}" in taken:
                handle += "x"
            taken.add(f"{handle}@{PIPEDRIVE_DOMAIN}")
            fields = _person(f"{handle}@{PIPEDRIVE_DOMAIN}", f"{first} {last}")
            profile = rng.choices([p for _, p in ACCESS_PROFILES], weights)[0]
            access = [{"app": app, **({"admin": True} if admin else {})} for app, admin in profile]
        out.append(_pipedrive_entry(fields, access))
    return escape_unprintable("".join(out))


_DEFAULT_ACCESS: list[dict[str, Any]] = [{"app": "sales"}]


def _pipedrive_entry(fields: dict[str, Any], access: list[dict[str, Any]]) -> str:
    # JSON is YAML: the block is written as a flow mapping.
    block = f"    pipedrive: {dumps({'access': access})}\n" if access != _DEFAULT_ACCESS else ""
    return entry(fields) + block


def _person(email: str, name: str) -> dict[str, Any]:
    """The keys SPEC section 2 requires of everyone: a DealHub-style login, email, a name.

    An invited user's Pipedrive name is their email: the file names the person.
    """
    handle = email.split("@")[0].lower()
    if "@" in name:
        name = " ".join(part.capitalize() for part in re.split(r"[._]", handle) if part)
    return {"login": f"{handle}@{DOMAIN}", "email": email, "name": name}


def _short_access(access: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Access as a person writes it: admin only when true, only a non-default permission set."""
    short: list[dict[str, Any]] = []
    for item in access:
        entry: dict[str, Any] = {"app": item["app"]}
        admin = bool(item.get("admin"))
        set_id = item.get("permission_set_id")
        if set_id and set_id != permission_set_id(item["app"], admin):
            entry["permission_set_id"] = set_id  # the vendor takes one or the other
        elif admin:
            entry["admin"] = True
        short.append(entry)
    return short


def _other_access(access: list[dict[str, Any]]) -> list[dict[str, Any]]:
    apps = {item["app"] for item in access}
    missing = [app for app in ("campaigns", "projects", "partnership", "sales") if app not in apps]
    return [*access, {"app": missing[0]}] if missing else access[1:]
