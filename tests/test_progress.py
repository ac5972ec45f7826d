"""Progress of a long apply: lines in a CI log, nothing when quiet."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import httpx

from reconciler.apply import Applier
from reconciler.diff import compute_plan
from reconciler.progress import BarProgress, LogProgress, Progress, for_stream
from reconciler.providers.dealhub.client import DealHubClient
from reconciler.providers.dealhub.provider import DealHubRemote
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.faults import Faults
from reconciler.sim.transport import SimTransport
from tests.helpers.people import desired, user

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "users.yaml"


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_log_lines_say_batch_users_failed_and_elapsed() -> None:
    stream, clock = io.StringIO(), FakeClock()
    shown = LogProgress(stream, interval=3600, clock=clock)
    shown.start(batches=3, users=250)
    clock.now += 12
    shown.update(2, settled=200, failed=3)
    shown.waiting("asynchronous request 4D11 (queued)")
    shown.waiting("")
    shown.finish()
    lines = stream.getvalue().splitlines()
    assert lines[0] == "apply: batch 0 of 3, 0 of 250 users settled, 0 failed, 0 s"
    assert lines[1] == (
        "apply: batch 2 of 3, 200 of 250 users settled, 3 failed, 12 s; "
        "waiting for asynchronous request 4D11 (queued)"
    )
    assert lines[-1] == "apply: batch 2 of 3, 200 of 250 users settled, 3 failed, 12 s"


def test_a_quiet_stretch_still_prints_every_interval() -> None:
    stream = io.StringIO()
    shown = LogProgress(stream, interval=0.01)
    shown.start(batches=2, users=10)
    deadline = time.monotonic() + 5
    while stream.getvalue().count("\n") < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    shown.finish()
    assert stream.getvalue().count("\n") >= 4


def test_the_form_follows_the_stream() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(for_stream(Terminal(), quiet=False), BarProgress)
    assert isinstance(for_stream(io.StringIO(), quiet=False), LogProgress)
    quiet = for_stream(Terminal(), quiet=True)
    assert type(quiet) is Progress


def test_apply_in_several_batches_reports_progress_on_stderr(run: Any, tenant: Path) -> None:
    result = run(
        "apply", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--auto-approve", "--batch-size", "2"
    )
    assert result.code == 0, result.all
    assert "apply: batch 0 of 3, 0 of 6 users settled, 0 failed" in result.err
    assert "apply: batch 3 of 3, 6 of 6 users settled, 0 failed" in result.err
    assert "apply: batch" not in result.out


def test_quiet_and_single_batch_applies_print_no_progress(run: Any, tenant: Path) -> None:
    args = ("apply", str(EXAMPLE), "--api-url", f"sim:{tenant}", "--auto-approve")
    assert "apply: batch" not in run(*args, "--batch-size", "2", "-q").err
    assert "apply: batch" not in run(*args).err


def test_polling_an_asynchronous_request_says_what_it_waits_for() -> None:
    users = [{"login": "a@x", "email": "a@x.com", "name": "A", "is_active": True}]
    sim = Simulator(TenantStore(users), token="tok-progress", faults=Faults(async_mode=True))
    http = httpx.Client(
        transport=SimTransport(sim),
        base_url="http://simulator",
        headers={"Authorization": "Bearer tok-progress"},
    )
    client = DealHubClient(http, target="sim", token_origin="test")
    plan = compute_plan(desired([user("a@x", position="New")]), client.list_users(), target="t")
    stream = io.StringIO()
    report = Applier(
        DealHubRemote(client, poll_interval=0, sleep=lambda _: None),
        progress=LogProgress(stream, interval=3600),
    ).run(plan)
    assert report.ok
    assert "waiting for asynchronous request" in stream.getvalue()
