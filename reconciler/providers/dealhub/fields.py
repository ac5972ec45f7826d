"""The user fields of the DealHub User API, their limits and roles.

One table serves the desired-state loader, the diff, the apply payloads and the
simulator, so a limit is stated once.
"""

from __future__ import annotations

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
