"""One request in, one answer out: the plain values every simulator speaks."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl


@dataclass(frozen=True)
class SimResponse:
    """One answer of the simulator.

    When `lost` is true the request was carried out (a write was made) but the
    answer never reaches the client: a transport must drop the connection
    without sending anything, and `status`, `headers` and `body` mean nothing.
    """

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    lost: bool = False


#: The answer of a write that was carried out and whose answer never arrives.
LOST = SimResponse(status=0, lost=True)


def split_target(target: str) -> tuple[str, dict[str, str]]:
    """Split a raw request target ("/path?a=1") into its raw path and decoded query."""
    path, _, query = target.partition("?")
    return path, dict(parse_qsl(query, keep_blank_values=True))
