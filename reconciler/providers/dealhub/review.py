"""DealHub accounts in the access review: its list read tells who is active, nothing more.

`GET /api/v1/users` returns login, email, name, the profile fields and
`is_active`: no admin flag, no access or role, no login time (reference/
dealhub-get-a-list-of-users.txt). The review says so in every format instead of
guessing: a DealHub account is never called dormant.
"""

from __future__ import annotations

from typing import Any

from reconciler.providers.review_hooks import Account, Reports

#: What DealHub's read leaves out, by column: "DealHub does not report A, B and C."
SILENT = {
    "admin": "an admin flag",
    "access": "access or licences",
    "role": "a role (position is a job title)",
    "last_login": "login times, so no DealHub account is judged dormant",
}


class DealHubReview:
    """The review hooks of DealHub (reconciler.providers.review_hooks)."""

    reports = Reports()
    silent = SILENT

    def account(self, raw: dict[str, Any]) -> Account | None:
        login = raw.get("login")
        if not isinstance(login, str) or not login:
            raise ValueError("has no login")
        email, name = raw.get("email"), raw.get("name")
        return Account(
            key=login,
            email=email if isinstance(email, str) else None,
            name=name if isinstance(name, str) else None,
            # A user the API shows without is_active is active (rules.tenant_view).
            active=raw.get("is_active") is not False,
            vendor_id=raw.get("id") if isinstance(raw.get("id"), str) else None,
        )


REVIEW = DealHubReview()
