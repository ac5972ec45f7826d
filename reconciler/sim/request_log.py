"""What a simulator records of each request: the log tests and `sim serve --request-log` read.

Every entry is masked before it is kept: a token a client sent (in a header, a
path, a query or a body) never reaches the log. What counts as a token, and
which query parameters carry one, is the system's to say (`mask`, `secret_params`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Collection, Mapping
from typing import Any

from reconciler.sim.response import SimResponse

REDACTED = "[REDACTED]"

#: Called with each entry as it is recorded (`sim serve --request-log` writes it out).
OnRequest = Callable[[dict[str, Any]], None]


class RequestLog:
    """The requests one simulator answered, masked, kept in order and/or handed on."""

    def __init__(
        self,
        mask: Callable[[str], str],
        *,
        keep: bool = True,
        on_request: OnRequest | None = None,
        secret_params: Collection[str] = (),
    ) -> None:
        #: The recorded entries, oldest first (empty when not kept).
        self.entries: list[dict[str, Any]] = []
        self._mask = mask
        self._keep = keep
        self._on_request = on_request
        self._secret_params = frozenset(secret_params)
        self._lock = threading.Lock()

    def record(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        body: bytes,
        response: SimResponse,
        info: Mapping[str, Any] | None = None,
    ) -> None:
        """Record one request and what became of it (`info`: the system's own fields)."""
        if not self._keep and self._on_request is None:
            return
        entry: dict[str, Any] = {
            "method": method,
            "path": self._mask(path),
            "query": {
                name: REDACTED if name in self._secret_params else self._mask(value)
                for name, value in query.items()
            },
            "body": self._body(body),
            "status": None if response.lost else response.status,
            "lost": response.lost,
            **(info or {}),
        }
        with self._lock:
            if self._keep:
                self.entries.append(entry)
            if self._on_request is not None:
                self._on_request(entry)

    def _body(self, body: bytes) -> Any:
        if not body:
            return None
        text = self._mask(body.decode("utf-8", errors="replace"))
        try:
            return json.loads(text)
        except ValueError:
            return text
