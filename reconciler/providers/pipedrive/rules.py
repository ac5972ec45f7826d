"""Pipedrive's rules as pure functions over plain data: projection, views, equality, payloads.

A Pipedrive user is keyed by email (any letter case). Only the active state can
change after creation; access is set on create only, and the name never (a new
user's name is their email until they accept the invitation). The generic diff
turns a difference in anything else into a note: see `CAPABILITIES`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from reconciler.desired import DesiredState, DesiredUser
from reconciler.errors import Problem
from reconciler.keys import encoding_note
from reconciler.providers.base import OPEN_VALUE, Capabilities, OpenSet, PeopleSchema

if TYPE_CHECKING:
    from reconciler.model import Change, PlanWarning

SYSTEM = "pipedrive"

#: The apps a user can be given access to (the vendor's create body, August 2026). The
#: vendor adds apps (`nova`, in August 2026): the set is open (ACCESS_APP).
APPS = ("global", "sales", "campaigns", "projects", "account_settings", "partnership", "nova")
#: Where an app sits in a person's `pipedrive:` block, and the open set it belongs to.
ACCESS_APP_PATH = "access.app"
ACCESS_APP = OpenSet("Pipedrive access app", APPS)
#: What a person gets when the file gives no access: the vendor's own default.
DEFAULT_ACCESS: tuple[dict[str, Any], ...] = ({"app": "sales"},)
_ACCESS_KEYS = ("app", "admin", "permission_set_id")

#: Pipedrive's part of the people file's JSON Schema (SPEC section 7).
PEOPLE_SCHEMA = PeopleSchema(
    person={
        "type": "object",
        "additionalProperties": False,
        "description": "This person in Pipedrive (set on create: the API cannot change it later)",
        "properties": {
            "access": {
                "type": "array",
                "minItems": 1,
                "items": {"$ref": "#/$defs/pipedrive_access"},
                "description": "The apps this person may use; replaces the defaults' access whole",
            }
        },
    },
    settings={
        "type": "object",
        "additionalProperties": False,
        "description": (
            "Pipedrive's own settings, over the shared ones (settings.protect is DealHub's)"
        ),
        "properties": {
            "unlisted": {"$ref": "#/$defs/unlisted"},
            "protect": {
                "type": "array",
                "description": "Pipedrive emails (globs, any letter case) never deactivated",
                "items": {
                    "type": "string",
                    "pattern": "^[^@\\s]+@[^@\\s]+$",
                    "patternErrorMessage": "is not an email or an email glob such as *@acme.com",
                },
            },
            "max_deactivations": {"$ref": "#/$defs/max_deactivations"},
            "max_creates": {"$ref": "#/$defs/max_creates"},
        },
    },
    target={
        "type": "object",
        "additionalProperties": False,
        "required": ["api_url"],
        "description": "This environment's Pipedrive company",
        "properties": {
            "api_url": {
                "type": "string",
                "minLength": 1,
                "description": (
                    "https://COMPANY.pipedrive.com (others only with --api-url pipedrive=URL)"
                ),
            },
            "token_env": {
                "type": "string",
                "pattern": "^PIPEDRIVE_[A-Z0-9_]*$",
                "not": {"pattern": "\\s"},
                "default": "PIPEDRIVE_API_TOKEN",
                "patternErrorMessage": (
                    "must be a PIPEDRIVE_* variable name, so that a file cannot send another secret"
                ),
                "description": "The variable holding this company's API token: a PIPEDRIVE_* name",
            },
        },
    },
    defs={
        "pipedrive_access": {
            "type": "object",
            "additionalProperties": False,
            "required": ["app"],
            "properties": {
                "app": {
                    "title": "Pipedrive app",
                    "type": "string",
                    "pattern": OPEN_VALUE,
                    "patternErrorMessage": (
                        "is not an app name such as sales (letters, digits, _ . - only)"
                    ),
                    "examples": list(APPS),
                    "description": (
                        "One of the vendor's apps. The vendor adds apps (nova, August 2026): "
                        "an app reconciler does not know yet is accepted with a warning"
                    ),
                },
                "admin": {
                    "type": "boolean",
                    "description": "Admin of this app (or a permission set)",
                },
                "permission_set_id": {
                    "type": "string",
                    "minLength": 1,
                    "not": {"pattern": "\\s"},
                    "description": "The permission set within this app (or admin)",
                },
            },
            "not": {"required": ["admin", "permission_set_id"]},
        }
    },
)

CAPABILITIES = Capabilities(
    name=SYSTEM,
    title="Pipedrive",
    key="email",
    key_ignores_case=True,
    compared=("email", "name", "is_active", "access"),
    settable_on_create=frozenset({"email", "access", "is_active"}),
    changeable=frozenset({"is_active"}),
    cannot_change={
        "name": (
            "Pipedrive's API cannot set a name; a new user's name is their email until "
            "they accept the invitation"
        ),
        "access": "Pipedrive's API cannot change access after creation",
        "email": "Pipedrive's API cannot change an email",
    },
    batch_size=1,
    cost_unit="tokens",
    read_cost=22,  # a read: GET /v1/users/me (2 tokens), then GET /v1/users (20)
    write_cost=10,
    env_prefix="PIPEDRIVE",
    token_env="PIPEDRIVE_API_TOKEN",
    trusted_domain="pipedrive.com",
    open_sets={ACCESS_APP_PATH: ACCESS_APP},
    people_schema=PEOPLE_SCHEMA,
)
#: The key rule (emails, letter case and Unicode encoding aside): see keys.caseless.
key_fold = CAPABILITIES.key_fold

SELF_DEACTIVATION = "the token's own user (is_you) is never deactivated"


# -- the desired side ------------------------------------------------------------


def wanted_access(user: DesiredUser) -> list[dict[str, Any]]:
    """The access a person's `pipedrive:` block gives, as the file wrote it, sorted by app.

    Nothing is added (an `admin: false` beside a permission_set_id would make the
    vendor refuse the create), so the create sends exactly what the file says.
    """
    items = [
        {k: item[k] for k in _ACCESS_KEYS if k in item}
        for item in _access_items(user)
        if _is_mapping(item)
    ]
    if len(items) > 1:  # most people have one app: no sort to make
        items.sort(key=_app_text)
    return items


def _app_text(item: Mapping[str, Any]) -> str:
    return str(item.get("app", ""))


def _is_mapping(value: Any) -> bool:
    # dict first: a C check answers it, where Mapping's is an ABC's (per item, per user).
    return isinstance(value, (dict, Mapping))


def _access_items(user: DesiredUser) -> Sequence[Any]:
    block = user.blocks.get(SYSTEM) or {}
    access = block.get("access") if _is_mapping(block) else None
    if access is None:
        return DEFAULT_ACCESS
    # Read only: the list the file gave (shared with the defaults' other people).
    return access if isinstance(access, list) else [access]


def project(state: DesiredState) -> dict[str, DesiredUser]:
    """The people listed for Pipedrive, keyed by their email as written."""
    systems = state.settings.systems
    records: dict[str, DesiredUser] = {}
    for user in state.users.values():
        if not user.listed_for(SYSTEM, systems):
            continue
        email = user.fields["email"]
        lines = user.key_lines
        records[email] = DesiredUser(
            login=email,
            fields={
                "email": email,
                "name": user.fields["name"],
                "is_active": user.fields.get("is_active") is not False,
                "access": wanted_access(user),
            },
            file=user.file,
            line=user.line,
            key_lines={
                "login": lines.get("email", user.line),
                "email": lines.get("email", user.line),
                "name": lines.get("name", user.line),
                "is_active": lines.get("is_active", user.line),
                "access": lines.get(SYSTEM, user.line),
            },
            systems=user.systems,
            blocks=user.blocks,
        )
    return records


def access_problems(user: DesiredUser) -> list[str]:
    """What the vendor would refuse in a person's access list (the schema may miss it)."""
    problems: list[str] = []
    seen: set[str] = set()
    for item in _access_items(user):
        if not _is_mapping(item):
            problems.append("pipedrive access: each item must be a mapping with an app")
            continue
        unknown = [str(k) for k in item if k not in _ACCESS_KEYS]
        if unknown:
            problems.append(f"pipedrive access: unknown key {min(unknown)!r}")
        if "admin" in item and type(item["admin"]) is not bool:
            problems.append("pipedrive access: admin must be true or false")
        pset = item.get("permission_set_id")
        if "permission_set_id" in item and (not isinstance(pset, str) or not pset):
            problems.append("pipedrive access: permission_set_id must be a non-empty string")
        app = item.get("app")
        if not ACCESS_APP.fits(app):
            # A new app is accepted (with a warning): only what no file can hold is refused.
            problems.append(
                f"pipedrive access: app {app!r} is not an app name such as {', '.join(APPS)}"
            )
            continue
        if app in seen:
            problems.append(f"pipedrive access: app {app!r} is given twice")
        seen.add(app)
        if "admin" in item and "permission_set_id" in item:
            problems.append(
                f"pipedrive access of app {app!r}: give either admin or permission_set_id, "
                "not both (Pipedrive refuses both)"
            )
    return problems


def check(records: Mapping[str, DesiredUser]) -> list[Problem]:
    """Input errors: access the vendor would refuse, and two people of one key (key_fold)."""
    problems: list[Problem] = []
    first: dict[str, DesiredUser] = {}
    for email, record in records.items():
        for message in access_problems(record):
            problems.append(Problem(record.file, record.key_lines["access"], message, "access"))
        earlier = first.setdefault(key_fold(email), record)
        if earlier is not record:
            problems.append(
                Problem(
                    record.file,
                    record.key_lines["email"],
                    f"Pipedrive email {email!r} is also listed as {earlier.login!r} at "
                    f"{earlier.where('email')}; Pipedrive ignores letter case in emails"
                    + encoding_note(email, earlier.login),
                    "email",
                )
            )
    return problems


# -- the tenant side -------------------------------------------------------------


def entry_problem(raw: Any) -> str | None:
    """Why a /v1/users entry cannot be read as a user, or None (a deleted user is readable)."""
    if not isinstance(raw, dict):
        return "is not a user object"
    user_id = raw.get("id")
    if type(user_id) is not int or user_id < 1:
        return f"has an id that is {_describe(user_id)}, not a positive whole number"
    email = raw.get("email")
    if not isinstance(email, str) or not email.strip():
        return "has no email"
    for name in ("active_flag", "is_you", "is_deleted"):
        value = raw.get(name)
        # is_you and is_deleted may be left out (read as false); active_flag may not.
        if type(value) is not bool and (name == "active_flag" or value is not None):
            return f"has {name} {_describe(value)}, not true or false"
    if not isinstance(raw.get("name"), (str, type(None))):
        return f"has a name that is {_describe(raw.get('name'))}, not a string"
    access = raw.get("access", [])
    if not isinstance(access, (list, type(None))):
        return f"has access that is {_describe(access)}, not a list"
    for item in access or ():
        if not isinstance(item, dict) or not isinstance(item.get("app"), str):
            return "has an access item that is not an object with an app"
        if item.get("admin") is not None and type(item["admin"]) is not bool:
            return f"has access admin {_describe(item['admin'])}, not true or false"
        pset = item.get("permission_set_id")
        if pset is not None and not isinstance(pset, str):
            return f"has a permission_set_id that is {_describe(pset)}, not a string"
    return None


class CheckedEntry(dict[str, Any]):
    """A /v1/users entry that `entry_problem` passed, as the client's read returns it.

    The read checks every entry once (the client refuses the whole list for one bad
    entry); `tenant_view` does not check a CheckedEntry again. Made only by
    `checked_entry`; the client sets `is_you` on one after, and nothing else changes it.
    """

    __slots__ = ()


def checked_entry(raw: Any) -> CheckedEntry:
    """`raw` as a CheckedEntry; ValueError naming what `entry_problem` finds wrong."""
    problem = entry_problem(raw)
    if problem is not None:
        raise ValueError(problem)
    return CheckedEntry(raw)


def normal_access(items: Iterable[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """Access as compared: {app, admin (default false), permission_set_id when given}, by app."""
    normal: list[dict[str, Any]] = []
    for item in items or ():
        entry: dict[str, Any] = {"app": item["app"], "admin": item.get("admin") is True}
        permission_set = item.get("permission_set_id")
        if permission_set is not None:
            entry["permission_set_id"] = permission_set
        normal.append(entry)
    if len(normal) > 1:
        normal.sort(key=_app_text)
    return normal


def tenant_view(raw: dict[str, Any]) -> dict[str, Any] | None:
    """A /v1/users entry as compared and saved in plans; None for a deleted user.

    Only what provisioning reads: never last_login, modified or anything else
    that moves on its own (a saved plan compares `before` exactly). Raises
    ValueError for an entry `entry_problem` refuses; the client refuses those first,
    and what its read returns (CheckedEntry) is not checked again.
    """
    if type(raw) is not CheckedEntry:
        problem = entry_problem(raw)
        if problem is not None:
            raise ValueError(f"a Pipedrive user entry {problem}")
    if raw.get("is_deleted") is True:
        return None
    return {
        "id": raw["id"],
        "email": raw["email"],
        "name": raw.get("name") or "",
        "is_active": raw["active_flag"],
        "access": normal_access(raw.get("access")),
        "is_you": raw.get("is_you") is True,
    }


def stated_access(current: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The access a people file can state for a user's access as read (tenant_view).

    Only what the plan compares: each app a file can hold (ACCESS_APP.fits) once,
    as its first entry has it, with `admin: true` when set. A permission set is
    the server's detail (an exported default set would pin every user to it).
    What is left out makes the plan show a note, never a change: access cannot
    change after creation.
    """
    items: dict[str, bool] = {}
    for item in current:
        app = item.get("app")
        if ACCESS_APP.fits(app) and app not in items:
            items[app] = item.get("admin") is True
    return [
        {"app": app, **({"admin": True} if admin else {})} for app, admin in sorted(items.items())
    ]


# -- comparing -------------------------------------------------------------------


def same_access(wanted: Any, current: Any) -> bool:
    """Whether a user's access is what the file asks, as far as the file says.

    Apps must match exactly and admin defaults to false on both sides. The
    server fills in a default permission_set_id on reads, so one is compared
    only when the file gives it (and then admin only if the file gives that too).
    """
    if not isinstance(wanted, list) or not isinstance(current, list):
        return bool(wanted == current)
    want = {item.get("app"): item for item in wanted if isinstance(item, dict)}
    have = {item.get("app"): item for item in current if isinstance(item, dict)}
    if len(want) != len(wanted) or len(have) != len(current) or want.keys() != have.keys():
        return False
    for app, item in want.items():
        other = have[app]
        if item.get("permission_set_id") is not None:
            if item["permission_set_id"] != other.get("permission_set_id"):
                return False
            if "admin" in item and (item["admin"] is True) != (other.get("admin") is True):
                return False
        elif (item.get("admin") is True) != (other.get("admin") is True):
            return False
    return True


def same(name: str, wanted: Any, current: Any) -> bool:
    """Whether two values of a compared field are equal as Pipedrive stores them."""
    if name == "email":
        if isinstance(wanted, str) and isinstance(current, str):
            return key_fold(wanted) == key_fold(current)
        return bool(wanted == current)
    if name == "access":
        return same_access(wanted, current)
    # `True == 1` in Python; an active flag must be a boolean on both sides.
    return type(wanted) is type(current) and bool(wanted == current)


# -- writing ---------------------------------------------------------------------


def payload(
    key: str,
    wanted: Mapping[str, Any],
    current: Mapping[str, Any] | None,
    changed: Iterable[str],
) -> dict[str, Any]:
    """What a write sends for one user.

    A create is the POST body: email, access as the file gives it, active_flag.
    A reactivation or deactivation is `{"active_flag": bool}` plus the user's
    `id` from the tenant: the write path puts the id in the URL
    (`PUT /v1/users/{id}`) and never in a body.
    """
    active = wanted.get("is_active") is not False
    if current is None:
        access = wanted.get("access")
        return {
            "email": wanted.get("email", key),
            "access": [dict(item) for item in (DEFAULT_ACCESS if access is None else access)],
            "active_flag": active,
        }
    return {"id": current.get("id"), "active_flag": active}


_CREATE_KEYS = frozenset({"email", "access", "active_flag"})
_UPDATE_KEYS = frozenset({"id", "active_flag"})


def unwritable(send: Mapping[str, Any]) -> str | None:
    """Why a payload cannot be sent as it is, or None."""
    if type(send.get("active_flag")) is not bool:
        return "active_flag must be true or false"
    if "email" in send:
        extra = sorted(set(send) - _CREATE_KEYS)
        if extra:
            return f"a Pipedrive create cannot carry {', '.join(extra)}"
        if not isinstance(send["email"], str) or not send["email"].strip():
            return "a Pipedrive create needs an email"
        if not isinstance(send.get("access"), list):
            return "a Pipedrive create needs an access list"
        return None
    extra = sorted(set(send) - _UPDATE_KEYS)
    if extra:
        return f"a Pipedrive update can change active_flag only, not {', '.join(extra)}"
    user_id = send.get("id")
    if type(user_id) is not int or user_id < 1:
        return "the user's Pipedrive id is unknown, so PUT /v1/users/{id} cannot be sent"
    return None


def undeactivatable(current: Mapping[str, Any]) -> str | None:
    """Why a tenant user must never be deactivated, or None."""
    return SELF_DEACTIVATION if current.get("is_you") is True else None


def seats_warning(
    tenant: Mapping[str, Mapping[str, Any]], changes: Iterable[Change]
) -> PlanWarning | None:
    """How many users take a seat before and after the plan, when it changes that.

    Every active or invited user takes a paid seat, and with no free seat the
    vendor may buy one and bill it at once: a reviewer should see the count.
    """
    from reconciler.model import PlanWarning

    counts = dict.fromkeys(("create", "reactivate", "deactivate"), 0)
    for change in changes:
        if change.action == "create" and change.send.get("active_flag") is False:
            continue
        if change.action in counts:
            counts[change.action] += 1
    added = counts["create"] + counts["reactivate"]
    if not added and not counts["deactivate"]:
        return None
    now = sum(1 for user in tenant.values() if user.get("is_active") is True)
    after = now + added - counts["deactivate"]
    made = f"{counts['create']} created, {counts['reactivate']} reactivated"
    gone = f", {counts['deactivate']} deactivated" if counts["deactivate"] else ""
    return PlanWarning(
        "",
        f"Pipedrive seats: {now} active users now, {after} after apply ({made}{gone}). "
        "Each active or invited user takes a paid seat, and with "
        "no free seat Pipedrive may buy one and bill it at once (deactivating does not "
        "free a seat's billing until the subscription changes).",
    )


def _describe(value: Any) -> str:
    if value is None:
        return "missing or null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "..."
        return f"the string {shown!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"[:60]
    return "an object" if isinstance(value, dict) else "a list"
