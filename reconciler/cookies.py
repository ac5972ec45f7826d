"""The cookie jar of every connection: it keeps nothing (a module of its own, so that
reconciler.http loads http.cookiejar only when it connects)."""

from __future__ import annotations

from http.cookiejar import Cookie, CookieJar
from typing import Any


class NoCookies(CookieJar):
    """A cookie jar that keeps nothing: no cookie a server sets is stored or sent back.

    A server (or a proxy) could set a cookie carrying the token, or one that
    ties runs together; the APIs need none.
    """

    def set_cookie(self, cookie: Cookie) -> None:
        pass

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass
