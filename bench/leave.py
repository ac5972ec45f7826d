"""`reconciler leave` against `apply` of the same single change: `python bench/leave.py`.

One people file lists every user of a generated DealHub tenant and of a
Pipedrive company holding the same people (the file plans empty against both).
A person leaves:

- `leave PERSON people.yaml --auto-approve --no-edit`, against both simulators
  served by `reconciler sim serve --latency L` (one process each, loopback);
- `apply people.yaml --auto-approve` of the same file with that one person set
  `is_active: false` (by reconciler.people_edit, as leave would), against fresh
  copies served the same way: it reads both whole lists, writes the one change
  per system and reads both lists again to verify.

Each variant runs `--runs` times, interleaved, each on fresh copies of the state;
the table gives median wall time, the requests each server logged, the bytes
they answered where the log says, and the Pipedrive tokens spent (the log's
`cost`). The ratio is apply / leave. Child processes are reaped by pid (see
bench/measure.py, whose helpers this uses).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package `bench`

from bench.measure import PY, child_env, progress, run_measured
from bench.servers import sim_server
from reconciler.desired import load_desired
from reconciler.people_edit import deactivate_in_file
from reconciler.providers.pipedrive.sim_state import new_user

YOU = "it-owner@acme-bench.example"


@dataclass
class Run:
    wall: float
    requests: dict[str, int]
    tokens: int
    code: int
    #: Seconds from the process's start to the verified deactivations (leave's record).
    verified: float | None = None


def make_world(size: int, seed: int, workdir: Path) -> tuple[Path, Path, Path, str]:
    """(people file, DealHub tenant, Pipedrive company, the person who leaves)."""
    tenant = workdir / "tenant.json"
    subprocess.run(
        [PY, "-m", "reconciler", "sim", "generate", "--users", str(size), "--seed", str(seed),
         "-o", str(tenant)],
        check=True, stdout=subprocess.DEVNULL, env=child_env(),
    )  # fmt: skip
    people = workdir / "people.yaml"
    exported = subprocess.run(
        [PY, "-m", "reconciler", "export", "--api-url", f"sim:{tenant}"],
        check=True, capture_output=True, text=True, env=child_env(DEALHUB_TOKEN="bench"),
    ).stdout  # fmt: skip
    people.write_text(
        exported.replace("version: 1\n", "version: 1\nsettings: {systems: [dealhub, pipedrive]}\n")
    )
    users = json.loads(tenant.read_text())
    company = [new_user(1, YOU, active_flag=True, is_you=True,
                        access=[{"app": "global", "admin": True}])]  # fmt: skip
    for number, user in enumerate(users, start=2):
        company.append(
            new_user(number, user["email"], active_flag=user.get("is_active", True),
                     access=[{"app": "sales"}])
        )  # fmt: skip
    pipedrive = workdir / "company.json"
    pipedrive.write_text(json.dumps(company))
    active = [u for u in users if u.get("is_active", True)]
    person = active[len(active) // 2]["login"]
    return people, tenant, pipedrive, person


def served_run(
    argv: list[str], state: tuple[Path, Path], workdir: Path, latency: float, codes: tuple[int, ...]
) -> Run:
    """Run argv against fresh copies of both states, each served with `latency`."""
    rundir = Path(tempfile.mkdtemp(dir=workdir))
    dealhub, pipedrive = rundir / "tenant.json", rundir / "company.json"
    shutil.copyfile(state[0], dealhub)
    shutil.copyfile(state[1], pipedrive)
    logs = rundir / "dealhub.jsonl", rundir / "pipedrive.jsonl"
    with (
        sim_server(dealhub, rundir, latency=latency, request_log=logs[0]) as dh,
        sim_server(
            pipedrive, rundir, latency=latency, request_log=logs[1], system="pipedrive"
        ) as pd,
    ):
        full = [*argv, "--api-url", dh.url, "--api-url", f"pipedrive={pd.url}"]
        env = child_env(DEALHUB_TOKEN=dh.token, PIPEDRIVE_API_TOKEN=pd.token)
        spawned = time.time()
        with open(rundir / "out.json", "w+b") as out:
            sample, code = run_measured(full, env=env, ok_codes=codes, stdout=out)
            out.seek(0)
            printed = out.read().decode("utf-8", "replace")
    verified = None
    if printed.startswith("{"):
        finished = json.loads(printed)["finished_at"]
        verified = dt.datetime.fromisoformat(finished.replace("Z", "+00:00")).timestamp() - spawned
    requests: Counter[str] = Counter()
    tokens = 0
    for name, log in zip(("dealhub", "pipedrive"), logs, strict=True):
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            requests[f"{name} {entry['method']}"] += 1
            tokens += int(entry.get("cost") or 0)
    shutil.rmtree(rundir, ignore_errors=True)
    return Run(sample.wall, dict(requests), tokens, code, verified)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-leave-") as folder:
        workdir = Path(folder)
        people, tenant, company, person = make_world(args.users, args.seed, workdir)
        gone = workdir / "people-after.yaml"
        state = load_desired([str(people)])
        gone.write_text(deactivate_in_file(state, state.users[person]).after)
        leave = [PY, "-m", "reconciler", "leave", person, str(people)]
        leave += ["--auto-approve", "--no-edit", "--format", "json"]
        apply = [PY, "-m", "reconciler", "apply", str(gone), "--auto-approve", "-q"]
        results: dict[str, list[Run]] = {"leave": [], "apply": []}
        for n in range(args.runs):
            progress(f"run {n + 1}/{args.runs}")
            results["leave"].append(
                served_run(leave, (tenant, company), workdir, args.latency, (0,))
            )
            results["apply"].append(
                served_run(apply, (tenant, company), workdir, args.latency, (0,))
            )
    print(report(results, args, person))


def report(results: dict[str, list[Run]], args: argparse.Namespace, person: str) -> str:
    walls = {name: statistics.median(r.wall for r in runs) for name, runs in results.items()}
    verified = [r.verified for r in results["leave"] if r.verified is not None] or [float("nan")]
    rows = []
    for name, runs in results.items():
        last = runs[-1]
        shown = ", ".join(f"{k}: {v}" for k, v in sorted(last.requests.items()))
        rows.append(
            f"| `{name}` | {walls[name]:.3f} | {sum(last.requests.values())} ({shown}) | "
            f"{last.tokens} |"
        )
    options = ["--users", args.users, "--latency", args.latency, "--runs", args.runs]
    command = shlex.join(["python", "bench/leave.py", *map(str, options), "--seed", str(args.seed)])
    return "\n".join(
        [
            f"`reconciler leave` vs `apply` of the same single change: {args.users:,} users in "
            f"each system, `sim serve --latency {args.latency:g}`, median of {args.runs} runs "
            f"(person: {person}).",
            "",
            "| command | wall s | requests (per server and method) | Pipedrive tokens |",
            "|---|---:|---|---:|",
            *rows,
            "",
            f"apply / leave wall time: {walls['apply'] / walls['leave']:.2f}x; Pipedrive tokens: "
            f"{results['apply'][-1].tokens} / {results['leave'][-1].tokens}. `leave` had both "
            f"deactivations verified {statistics.median(verified):.3f} s after it started "
            "(its record's finished_at; the file edit and the report come after).",
            "",
            f"Command: `{command}`",
        ]
    )


if __name__ == "__main__":
    main()
