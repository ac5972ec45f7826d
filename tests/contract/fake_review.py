"""The fake system's review hooks: what a third system writes to be reviewed, and no more.

Its users carry a handle, a name and an active state, and here an optional
`is_root` (its admin) and `seen` (a last-login time): enough to show that the
review's flags are generic. A system declares its hooks on its provider
(`review_hooks`); the test does that with one attribute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from reconciler.providers.review_hooks import Account, Reports, vendor_time

if TYPE_CHECKING:
    from reconciler.providers.review_hooks import ReviewHooks


class FakeReview:
    reports = Reports(admin=True, last_login=True)
    silent: ClassVar[dict[str, str]] = {
        "access": "the fake system has no access levels",
        "role": "the fake system has no roles",
    }

    def account(self, raw: dict[str, Any]) -> Account | None:
        handle = raw.get("handle")
        if not isinstance(handle, str):
            raise ValueError("has no handle")
        name = raw.get("name")
        return Account(
            key=handle,
            email=None,
            name=name if isinstance(name, str) else None,
            active=raw.get("is_active") is not False,
            admin=raw.get("is_root") is True,
            last_login=vendor_time(raw.get("seen"), "seen"),
        )


REVIEW = FakeReview()

if TYPE_CHECKING:
    _hooks: ReviewHooks = REVIEW
