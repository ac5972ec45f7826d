"""The simulators' one request log: masked before anything keeps it (sim/request_log.py)."""

from __future__ import annotations

from typing import Any

from reconciler.sim.request_log import REDACTED, RequestLog
from reconciler.sim.response import LOST, SimResponse


def masking(text: str) -> str:
    return text.replace("s3cret", REDACTED)


def test_every_part_of_an_entry_is_masked() -> None:
    log = RequestLog(masking, secret_params=("api_token",))
    log.record(
        "PUT",
        "/users/s3cret",
        {"q": "a s3cret b", "api_token": "anything"},
        b'{"note": "s3cret"}',
        SimResponse(status=200),
        {"cost": 10},
    )
    assert log.entries == [
        {
            "method": "PUT",
            "path": f"/users/{REDACTED}",
            "query": {"q": f"a {REDACTED} b", "api_token": REDACTED},
            "body": {"note": REDACTED},
            "status": 200,
            "lost": False,
            "cost": 10,
        }
    ]


def test_a_body_that_is_not_json_is_kept_as_masked_text() -> None:
    log = RequestLog(masking)
    log.record("POST", "/x", {}, b"token=s3cret&", SimResponse(status=400))
    assert log.entries[0]["body"] == f"token={REDACTED}&"


def test_a_lost_answer_has_no_status() -> None:
    log = RequestLog(masking)
    log.record("PUT", "/x", {}, b"", LOST)
    assert log.entries[0]["status"] is None and log.entries[0]["lost"] is True


def test_entries_are_handed_on_even_when_not_kept() -> None:
    seen: list[dict[str, Any]] = []
    log = RequestLog(masking, keep=False, on_request=seen.append)
    log.record("GET", "/s3cret", {}, b"", SimResponse(status=200))
    assert log.entries == []
    assert [e["path"] for e in seen] == [f"/{REDACTED}"]
