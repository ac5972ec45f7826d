"""The user fields of the DealHub User API, their limits and roles.

One table serves the desired-state loader, the diff, the apply payloads and the
simulator, so a limit is stated once.
"""

from __future__ import annotations

from typing import Any

from reconciler.providers.base import PeopleSchema

# Maximum lengths for the v2 write endpoint (login is 90 there, 100 on v1 reads).
# None means the vendor gives no limit.
STRING_FIELDS: dict[str, int | None] = {
    "login": 90,
    "email": 100,
    "name": 300,
    "external_user_id": 200,
    "position": 300,
    "business_title": None,
    "phone": 50,
    "mobile": 100,
    "fax": 100,
    "company": 100,
    "street": 128,
    "city": 32,
    "state": 32,
    "country": 32,
    "postal_code": 16,
    "user_manager_login": 100,
}

BOOLEAN_FIELDS = ("is_active",)

#: Every field a desired-state user may carry, in the order the vendor lists them.
USER_FIELDS: tuple[str, ...] = (
    "login",
    "email",
    "name",
    "external_user_id",
    "is_active",
    "position",
    "business_title",
    "phone",
    "mobile",
    "fax",
    "company",
    "street",
    "city",
    "state",
    "country",
    "postal_code",
    "user_manager_login",
)

REQUIRED_FIELDS = ("login", "email", "name")

#: Sent on writes, never returned on reads: never shown as a difference.
WRITE_ONLY_FIELDS = frozenset({"external_user_id"})

#: Fields a plan compares (everything but the key and the write-only field).
COMPARED_FIELDS: tuple[str, ...] = tuple(
    f for f in USER_FIELDS if f != "login" and f not in WRITE_ONLY_FIELDS
)

#: Fields the v1 read endpoints return (plus the vendor's own `id`).
READ_FIELDS: tuple[str, ...] = ("login", "id", *COMPARED_FIELDS)

#: Fields that make no sense shared by every user of a file.
NOT_DEFAULTABLE = frozenset({"login", "email", "name", "external_user_id"})

V1_LOGIN_LIMIT = 100


#: What the schema says of a field beyond its type and length.
_FIELD_NOTES: dict[str, dict[str, Any]] = {
    "login": {
        "description": ("Immutable key of the user, unique across all DealHub tenants (no spaces)"),
        "not": {"pattern": "\\s"},
    },
    "email": {"format": "email"},
    "external_user_id": {
        "description": "CRM user ID: write-only, sent with every write to this user"
    },
    "is_active": {"description": "false deactivates the user (never deleted); default true"},
}


def _field_schema(name: str) -> dict[str, Any]:
    """One field's JSON Schema, from the tables above (a limit is stated once)."""
    if name in BOOLEAN_FIELDS:
        return {"type": "boolean", **_FIELD_NOTES.get(name, {})}
    required = name in REQUIRED_FIELDS
    spec: dict[str, Any] = {"type": "string" if required else ["string", "null"]}
    limit = STRING_FIELDS[name]
    if limit is not None:
        spec["maxLength"] = limit
    if required:
        spec["minLength"] = 1
    return {**spec, **_FIELD_NOTES.get(name, {})}


#: DealHub's part of the people file's JSON Schema: as the default system, its fields
#: are a person's own keys and its target sits in an environment itself.
PEOPLE_SCHEMA = PeopleSchema(
    fields={name: _field_schema(name) for name in USER_FIELDS},
    per_user=NOT_DEFAULTABLE,
    required=REQUIRED_FIELDS,
    settings={
        "type": "object",
        "additionalProperties": False,
        "description": "DealHub's own settings, over the shared ones",
        "properties": {
            "unlisted": {"$ref": "#/$defs/unlisted"},
            "protect": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "description": "DealHub logins (globs), added to settings.protect",
            },
            "max_deactivations": {"$ref": "#/$defs/max_deactivations"},
            "max_creates": {"$ref": "#/$defs/max_creates"},
        },
    },
    target={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "api_url": {
                "type": "string",
                "minLength": 1,
                "description": (
                    "DealHub: https://api.dealhub.io or a regional *.dealhub.io host (others "
                    "only with --api-url); required when the file manages DealHub"
                ),
            },
            "token_env": {
                "type": "string",
                "pattern": "^DEALHUB_[A-Z0-9_]*$",
                "not": {"pattern": "\\s"},
                "description": (
                    "The variable holding this environment's token: a DEALHUB_* name, so a "
                    "file cannot send another secret"
                ),
                "patternErrorMessage": (
                    "must be a DEALHUB_* variable name, so that a file cannot send another secret"
                ),
            },
            "login_suffix": {"type": "string", "maxLength": 20, "not": {"pattern": "\\s"}},
        },
    },
)
