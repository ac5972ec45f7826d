"""Realistic generated tenants, and desired-state files that change a share of them.

For demos, tests and benchmarks: `generate_tenant` makes the simulator's state,
`generate_desired` a YAML file that, planned against it, touches about a given
fraction of the users with every kind of action.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from reconciler.sim.pipedrive_state import permission_set_id, timestamp
from reconciler.sim.state import User

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
DOMAIN = "acme"

# Share of changes per kind; deactivations are split between `is_active: false`
# and leaving the user out of the file.
_SHARES = {"create": 0.3, "update": 0.4, "reactivate": 0.1, "deactivate": 0.2}
#: Stays under the planner's default max_deactivations of 25% of active users.
_MAX_DEACTIVATED_PERCENT = 24


def generate_tenant(n: int, seed: int) -> list[User]:
    """`n` users with unique logins, an acyclic manager tree and ~10% inactive users.

    Logins look like `jane.doe42@acme`; every manager is a user of the tenant.
    The same `n` and `seed` always give the same users.
    """
    rng = random.Random(seed)
    seen: dict[str, int] = {}
    users: list[User] = []
    for index in range(n):
        first, last, handle = _person_handle(rng, seen)
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


def _person_handle(rng: random.Random, seen: dict[str, int]) -> tuple[str, str, str]:
    """A first name, a last name and a handle (`jane.doe`, `jane.doe2`) unique in `seen`."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    base = f"{first}.{last}".lower()
    count = seen.get(base, 0) + 1
    seen[base] = count
    # Bases have no digits, so a numbered handle never collides with another base.
    return first, last, base if count == 1 else f"{base}{count}"


def _profile(rng: random.Random) -> dict[str, str]:
    profile: dict[str, str] = {}
    if rng.random() < 0.9:
        profile["position"] = rng.choice(POSITIONS)
    if rng.random() < 0.35:
        profile["business_title"] = rng.choice(BUSINESS_TITLES)
    city, state, country, postal, dial = rng.choice(PLACES)
    if rng.random() < 0.75:
        profile["phone"] = _number(rng, dial)
    if rng.random() < 0.5:
        profile["mobile"] = _number(rng, dial)
    if rng.random() < 0.08:
        profile["fax"] = _number(rng, dial)
    if rng.random() < 0.95:
        profile["company"] = rng.choice(COMPANIES)
    if rng.random() < 0.6:
        profile["street"] = f"{rng.choice(STREETS)} {rng.randrange(1, 200)}"
        profile["postal_code"] = f"{postal}{rng.randrange(100, 1000)}"
    if rng.random() < 0.85:
        profile.update(city=city, state=state, country=country)
    return profile


def _number(rng: random.Random, dial: str) -> str:
    return f"{dial}-{rng.randrange(1_000_000, 10_000_000)}"


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
    deactivating = min(counts["deactivate"], len(active) * _MAX_DEACTIVATED_PERCENT // 100)
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
        out.append(_entry(fields))

    logins = {u["login"] for u in tenant}
    for number in range(counts["create"]):
        fields = _new_user(rng, logins, number)
        if managers:
            fields["user_manager_login"] = rng.choice(managers)
        out.append(_entry(fields))
    # Only string values can hold such characters, and each sits inside a JSON
    # string, where the escape is valid: one pass over the text is enough.
    return _UNPRINTABLE.sub(_escape, "".join(out))


def _change(rng: random.Random, fields: dict[str, Any]) -> None:
    """Change one or two managed fields of a user, each to a different value."""
    city, _, _, _, dial = rng.choice(PLACES)
    choices: list[tuple[str, Callable[[], Any]]] = [
        ("position", lambda: rng.choice(POSITIONS)),
        ("phone", lambda: _number(rng, dial)),
        ("mobile", lambda: _number(rng, dial)),
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


def _entry(fields: dict[str, Any]) -> str:
    # A JSON string is a valid YAML double-quoted scalar, and far faster than yaml.dump.
    lines = [f"{key}: {_LITERALS.get(value) or _dumps(value)}" for key, value in fields.items()]
    return "  - " + "\n    ".join(lines) + "\n"


_LITERALS: dict[Any, str] = {None: "null", True: "true", False: "false"}
_dumps = json.JSONEncoder(ensure_ascii=False).encode
# Characters YAML refuses raw (non-printables, lone surrogates that json.dumps
# lets through), reads as line breaks inside a quoted scalar (NEL, LS, PS), or
# may drop (BOM): written as escapes, they come back as they were.
_UNPRINTABLE = re.compile("[\x7f-\x9f\u2028\u2029\ud800-\udfff\ufeff\ufffe\uffff]")


def _escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


# Pipedrive

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
        first, last, handle = _person_handle(rng, seen)
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
                "phone": _number(rng, "+1 415") if rng.random() < 0.4 else None,
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
    deactivating = min(counts["deactivate"], seat_holders * _MAX_DEACTIVATED_PERCENT // 100)
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
        f"defaults:\n  pipedrive: {_dumps({'access': _DEFAULT_ACCESS})}\n",
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
    return _UNPRINTABLE.sub(_escape, "".join(out))


_DEFAULT_ACCESS: list[dict[str, Any]] = [{"app": "sales"}]


def _pipedrive_entry(fields: dict[str, Any], access: list[dict[str, Any]]) -> str:
    # JSON is YAML: the block is written as a flow mapping.
    block = f"    pipedrive: {_dumps({'access': access})}\n" if access != _DEFAULT_ACCESS else ""
    return _entry(fields) + block


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
