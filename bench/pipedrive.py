"""Section 5: Pipedrive `apply` in-process, on a simulated clock (tokens, requests, pacing).

It runs in the harness's own process, so the harness runs it last: every child started
after it would count the memory it took in its own peak RSS (Linux's ru_maxrss).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import share_of
from bench.tables import Check, ratio, table

PD_TOKEN = "bench-pipedrive-token"
#: Tokens of a read and of a write; the simulator's default burst: requests per window (s).
PD_READ, PD_WRITE, PD_BURST, PD_WINDOW = 22, 10, 20, 2.0


@dataclass
class PipedriveRun:
    """One Pipedrive plan, apply and verification, as the simulator counted them."""

    size: int
    changes: int
    reads: int
    writes: int
    too_many: int
    tokens: int
    simulated: float
    wall: float
    converged: bool
    failed: int

    @property
    def requests(self) -> int:
        return self.reads + self.writes

    @property
    def token_floor(self) -> int:
        return 2 * PD_READ + PD_WRITE * self.changes  # the plan's read, the writes, the check

    @property
    def time_floor(self) -> float:
        return PD_WINDOW * self.requests / PD_BURST

    def checks(self) -> list[Check]:
        where = f"Pipedrive {self.size:,} users"
        return [
            (f"{where}: no 429", self.too_many == 0, f"{self.too_many} answers 429"),
            (
                f"{where}: tokens == 2 reads + 10 a change",
                self.tokens == self.token_floor,
                f"{self.tokens} spent, {self.token_floor} minimum",
            ),
            (
                f"{where}: plan after apply is empty",
                self.converged and self.failed == 0,
                f"{self.failed} failed",
            ),
        ]


def measure_pipedrive(size: int, seed: int, changes: str, workdir: Path) -> PipedriveRun:
    """One Pipedrive apply in-process against the simulator, its clock moved by the client."""
    import httpx

    from reconciler.apply import Applier
    from reconciler.desired import load_desired
    from reconciler.engine import make_plan
    from reconciler.providers.pipedrive import PROVIDER
    from reconciler.providers.pipedrive.client import PipedriveClient
    from reconciler.providers.pipedrive.sim import PipedriveOptions, PipedriveSimulator
    from reconciler.providers.pipedrive.sim_generate import (
        generate_company,
        generate_pipedrive_desired,
    )
    from reconciler.providers.pipedrive.sim_limits import ManualClock
    from reconciler.providers.pipedrive.sim_state import PipedriveStore
    from reconciler.sim.transport import SimTransport

    share = share_of(changes)
    users = generate_company(size, seed)
    desired = workdir / f"pipedrive-{size}.yaml"
    desired.write_text(generate_pipedrive_desired(users, changes=share, seed=seed))
    clock = ManualClock()
    sim = PipedriveSimulator(
        PipedriveStore(users),
        token=PD_TOKEN,
        options=PipedriveOptions(burst=PD_BURST),
        clock=clock,
    )
    http = httpx.Client(
        transport=SimTransport(sim), base_url="http://simulator", headers={"x-api-token": PD_TOKEN}
    )
    client = PipedriveClient(
        http,
        target="sim:bench",
        token_origin="bench",
        sleep=clock.advance,
        clock=clock,
        wall=clock,
        seed=0,
    )
    with client:
        start, t0 = clock.now, time.perf_counter()
        state = load_desired([str(desired)])
        plan = make_plan(state, PROVIDER, client.read(), "sim:bench", allow_mass_deactivation=True)
        report = Applier(client, provider=PROVIDER).run(plan)
        wall, simulated = time.perf_counter() - t0, clock.now - start
        log = list(sim.request_log)
        tokens = sim.tokens_spent_total
        again = make_plan(state, PROVIDER, client.read(), "sim:bench", allow_mass_deactivation=True)
    return PipedriveRun(
        size=size,
        changes=len(plan.changes),
        reads=sum(1 for e in log if e["method"] == "GET"),
        writes=sum(1 for e in log if e["method"] != "GET"),
        too_many=sum(1 for e in log if e["status"] == 429),
        tokens=tokens,
        simulated=simulated,
        wall=wall,
        converged=not again.changes,
        failed=sum(1 for o in report.outcomes if o.status != "done"),
    )


def pipedrive_section(runs: list[PipedriveRun] | None) -> str:
    """Section 5's Markdown."""
    if runs is None:
        return "Skipped (--skip-pipedrive, or --only-systems without --only-pipedrive)."
    rows = [
        (
            f"{r.size:,}",
            r.changes,
            f"{r.reads} + {r.writes}",
            r.too_many,
            f"{r.tokens:,}",
            f"{r.token_floor:,}",
            ratio(r.tokens, r.token_floor),
            f"{r.simulated:.1f}",
            f"{r.time_floor:.1f}",
            ratio(r.simulated, r.time_floor),
            f"{r.wall:.2f}",
        )
        for r in runs
    ]
    return "\n".join(
        [
            "`plan` + `apply` in-process (`Applier` over `PipedriveClient`) against the "
            f"Pipedrive simulator at its default burst limit of {PD_BURST} requests per "
            f"{PD_WINDOW:g}-second window, on a **simulated clock** (`ManualClock`) that "
            "moves only when the client sleeps: *simulated s* is the time the pacing "
            "would take against the real API, *wall s* the CPU-bound time of this run. "
            "Tokens are the simulator's count; the minimum is 20 for the plan's read, 10 a "
            f"change and 20 for the verification read. The time floor is {PD_WINDOW:g} s × "
            f"requests / {PD_BURST} (the first window is free, so a run can come in just "
            "under it).",
            "",
            table(
                [
                    "users",
                    "changes",
                    "requests (reads + writes)",
                    "429s",
                    "tokens",
                    "token minimum",
                    "tokens / minimum",
                    "simulated s",
                    "burst floor s",
                    "simulated / floor",
                    "wall s",
                ],
                rows,
            ),
            "",
            "Checked in every run: no 429, tokens exactly the minimum, and a plan after "
            "apply with no change: "
            + ("all ok." if all(ok for r in runs for _, ok, _ in r.checks()) else "**FAILED**."),
        ]
    )
