"""Section 4: `reconciler apply` against `sim serve --latency`, requests counted from its log."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.datasets import Dataset, plan_argv
from bench.measure import PY, ChildFailed, Sample, child_env, progress, run_measured
from bench.servers import sim_server
from bench.tables import Check

#: reconciler apply's default --batch-size.
BATCH_SIZE = 100
#: The kinds of request the log is counted by, in the tables' order.
KINDS = ("GET /api/v1/users", "PUT /api/v2/users", "status polls", "other")


@dataclass
class ApplyRun:
    """One apply: the client's process, the requests the server logged, convergence."""

    sample: Sample
    counts: dict[str, int]
    non_2xx: int
    #: Whether a plan afterwards shows no changes (checked on the first run only).
    converged: bool | None


def expected_requests(n_changes: int) -> int:
    """1 read + ⌈changes / batch⌉ writes + 1 verification read."""
    return 1 + math.ceil(n_changes / BATCH_SIZE) + 1


def classify(entry: dict[str, Any]) -> str:
    """The kind of one logged request."""
    method, path = entry.get("method"), str(entry.get("path", ""))
    if method == "GET" and path == "/api/v1/users":
        return "GET /api/v1/users"
    if method == "PUT" and path == "/api/v2/users":
        return "PUT /api/v2/users"
    if method == "GET" and path.startswith("/api/v1/request/") and path.endswith("/status"):
        return "status polls"
    return "other"


def apply_argv(desired: Path, url: str) -> list[str]:
    """`python -m reconciler apply DESIRED --auto-approve --api-url URL`."""
    return [PY, "-m", "reconciler", "apply", str(desired), "--auto-approve", "--api-url", url]


def apply_once(
    ds: Dataset,
    rundir: Path,
    latency: float,
    *,
    env: dict[str, str] | None = None,
    check_convergence: bool = False,
) -> ApplyRun:
    """One apply against a fresh copy of the tenant served with `latency`.

    `env` adds to the child's environment (a revision's PYTHONPATH, for one).
    """
    rundir.mkdir()
    state, log = rundir / "tenant.json", rundir / "requests.jsonl"
    shutil.copyfile(ds.tenant, state)
    more = env or {}
    with (
        sim_server(state, rundir, latency=latency, request_log=log) as server,
        open(rundir / "apply.out", "w+b") as out,
    ):
        sample, _ = run_measured(
            apply_argv(ds.desired, server.url),
            env=child_env(DEALHUB_TOKEN=server.token, **more),
            stdout=out,
        )
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    if " 0 failed." not in text:
        raise ChildFailed(f"apply did not complete cleanly:\n{text[-2000:]}")
    counts = dict.fromkeys(KINDS, 0)
    non_2xx = 0
    with open(log, encoding="utf-8") as fh:
        for line in fh:
            entry = json.loads(line)
            counts[classify(entry)] += 1
            status = entry.get("status")
            if status is None or not 200 <= status < 300:
                non_2xx += 1
    converged = None
    if check_convergence:
        # SPEC invariant 7: after apply, plan against the same tenant shows no changes.
        argv = [*plan_argv(ds.desired, f"sim:{state}", "text"), "--detailed-exitcode"]
        _, code = run_measured(argv, ok_codes=(0, 2), env=child_env(**more))
        converged = code == 0
    shutil.rmtree(rundir, ignore_errors=True)
    return ApplyRun(sample, counts, non_2xx, converged)


def measure_apply(ds: Dataset, runs: int, latency: float, workdir: Path) -> list[ApplyRun]:
    """`runs` applies, the first checked to converge."""
    results = []
    for run in range(runs):
        progress(f"  apply at {ds.size:,} users: run {run + 1}/{runs}")
        rundir = workdir / f"apply-{ds.size}-{run}"
        results.append(apply_once(ds, rundir, latency, check_convergence=run == 0))
    return results


def apply_checks(ds: Dataset, runs: list[ApplyRun]) -> list[Check]:
    """Each run sent exactly the requests expected; the first converged."""
    expected = expected_requests(ds.n_changes)
    checks: list[Check] = []
    for i, r in enumerate(runs):
        total = sum(r.counts.values())
        detail = (
            f"run {i + 1}: {r.counts['GET /api/v1/users']} reads + "
            f"{r.counts['PUT /api/v2/users']} writes + {r.counts['status polls']} polls "
            f"+ {r.counts['other']} other = {total}; expected 1 + "
            f"⌈{ds.n_changes}/{BATCH_SIZE}⌉ + 1 = {expected}"
        )
        ok = (
            total == expected
            and r.counts["GET /api/v1/users"] == 2
            and r.counts["PUT /api/v2/users"] == expected - 2
        )
        checks.append(("apply requests == 1 + ⌈changes/100⌉ + 1", ok, detail))
        if r.converged is not None:
            checks.append(
                (
                    "plan after apply shows no changes",
                    r.converged,
                    "plan --detailed-exitcode exited "
                    + ("0" if r.converged else "2 (changes left)"),
                )
            )
    return checks
