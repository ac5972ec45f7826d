"""`reconciler review` against `reconciler plan` of the same files: `python bench/review.py`.

One people file listing N people for DealHub and Pipedrive (bench/run.py's
section 6 data: a seeded tenant, a company of the same people, ~5% changes),
committed to a temporary git repository in three commits (the file, then two
edits), both systems served by `reconciler sim serve` on loopback. Then, one
run after the other (interleaved, medians over --runs):

- `plan FILE` of both systems, as a whole process;
- `review FILE` of both systems (`--format json`), as a whole process: one
  listing read per system and the plan, plus the git pass and the rows;
- the git pass alone (`provenance.find` in a fresh process), for scale;

and prints wall, CPU and peak RSS of each, and review / plan.

Then `review --details --system pipedrive` at --details-size people (the same
kind of data, 500 by default): the simulator's burst limit (20 requests per
2 s) paces the two detail reads of every active user, so 10,000 people would
take ~30 minutes a run. Each run gets a fresh `sim serve --system pipedrive
--daily-budget B --request-log`, and the tokens it spent are the sum of the
`cost` the simulator charged, from that log. The minimum is 2 (`/v1/users/me`)
+ 20 (the list) + 20 per active user (permissions and roleAssignments, 10
each). Two runs, each once (pacing, not CPU, sets their time):

- a budget large enough (twice the minimum): exit 0, every active user read,
  spent == the minimum, only GETs, no refusal;
- a budget too small (half the minimum): exit 1 with a report marked partial,
  fewer users read, spent <= the budget, and no request the simulator refused
  (the client stops before the budget, it does not run into it).

A failed check prints FAILED and exits 1.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package `bench`

from bench.datasets import make_dataset
from bench.measure import PY, child_env, run_measured
from bench.processes import stages_of
from bench.servers import Server, sim_server
from bench.systems import make_systems_dataset


def git(repo: Path, *args: str) -> None:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)


def history(people: Path, repo: Path) -> Path:
    """The people file in a new repository, in three commits: all, then two edits."""
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    target = repo / "people.yaml"
    lines = people.read_text(encoding="utf-8").splitlines(keepends=True)
    target.write_text("".join(lines), encoding="utf-8")
    git(repo, "add", "people.yaml")
    git(repo, "commit", "-q", "-m", "Everyone")
    names = [i for i, line in enumerate(lines) if line.lstrip().startswith('name: "')]
    for number in (1, 2):
        # About 1% of the names, a different 1% each time: one line of some entries changes.
        chosen = set(names[number - 1 :: 100])
        edited = [
            line.replace('name: "', f'name: "{number} ', 1) if i in chosen else line
            for i, line in enumerate(lines)
        ]
        target.write_text("".join(edited), encoding="utf-8")
        git(repo, "commit", "-qam", f"Edit {number}")
        lines = edited
    return target


# -- --details: tokens against the minimum, at a budget large enough and one too small ------

#: Pipedrive's token costs (the vendor's Users page): the two detail reads, the list, `me`.
DETAIL_READ = 10
LIST_READ = 20
ME_READ = 2
#: The simulator's default burst limit: 20 requests per 2 s window.
BURST, WINDOW_S = 20, 2.0


@dataclass
class DetailsRun:
    """One `review --details --system pipedrive` against a fresh simulator."""

    label: str
    budget: int
    active: int
    code: int
    wall: float
    #: Requests by kind, from the simulator's request log.
    kinds: Counter[str]
    #: Tokens the simulator charged (the sum of `cost` over its log).
    spent: int
    #: Requests the simulator answered with anything but 2xx.
    refused: int
    #: The review document's `details` entry for Pipedrive.
    details: dict[str, Any]
    checks: list[tuple[str, bool]] = field(default_factory=list)

    @property
    def minimum(self) -> int:
        return ME_READ + LIST_READ + 2 * DETAIL_READ * self.active

    @property
    def requests(self) -> int:
        return sum(self.kinds.values())

    @property
    def burst_floor(self) -> float:
        """The least time the burst limit allows these requests: the first 20 go at once,
        each further 20 a window later."""
        return WINDOW_S * max(0, -(-self.requests // BURST) - 1)


@contextlib.contextmanager
def pipedrive_server(
    company: Path, workdir: Path, *, daily_budget: int, request_log: Path
) -> Iterator[Server]:
    """`sim serve --system pipedrive --daily-budget B --request-log LOG` on loopback."""
    options = ("--daily-budget", str(daily_budget))
    with sim_server(
        company, workdir, request_log=request_log, system="pipedrive", options=options
    ) as server:
        yield server


def request_kind(path: str) -> str:
    """`me`, `list`, `permissions`, `roleAssignments` or `other`, from a logged path."""
    parts = [p for p in path.split("/") if p]
    if parts[-1:] == ["me"]:
        return "me"
    if parts[-1:] == ["users"]:
        return "list"
    if len(parts) >= 2 and parts[-2].isdigit() and parts[-1] in ("permissions", "roleAssignments"):
        return parts[-1]
    return "other"


def active_users(company: Path) -> int:
    """Active users of a simulator company file: those --details reads."""
    users = json.loads(company.read_text(encoding="utf-8"))
    return sum(1 for u in users if u.get("active_flag") is True)


def run_details(
    label: str, budget: int, people: Path, company: Path, workdir: Path, active: int
) -> DetailsRun:
    """`review --details` of Pipedrive alone against a fresh simulator with this budget."""
    workdir.mkdir()
    state = workdir / "company.json"
    state.write_bytes(company.read_bytes())  # the simulator persists its state: a copy each
    request_log, out = workdir / "requests.jsonl", workdir / "review.json"
    with pipedrive_server(state, workdir, daily_budget=budget, request_log=request_log) as server:
        env = child_env(PIPEDRIVE_API_TOKEN=server.token)
        argv = [PY, "-m", "reconciler", "review", str(people), "--system", "pipedrive"]
        argv += ["--api-url", f"pipedrive={server.url}", "--details", "--format", "json"]
        argv += ["-o", str(out)]
        sample, code = run_measured(argv, env=env, ok_codes=(0, 1))
    entries = [json.loads(line) for line in request_log.read_text(encoding="utf-8").splitlines()]
    kinds = Counter(
        request_kind(e["path"]) if e["method"] == "GET" else f"{e['method']} (a write)"
        for e in entries
    )
    document = json.loads(out.read_text(encoding="utf-8"))
    (details,) = [d for d in document.get("details", []) if d.get("system") == "pipedrive"]
    return DetailsRun(
        label=label,
        budget=budget,
        active=active,
        code=code,
        wall=sample.wall,
        kinds=kinds,
        spent=sum(int(e.get("cost") or 0) for e in entries),
        refused=sum(1 for e in entries if not (200 <= (e.get("status") or 0) < 300)),
        details=details,
    )


def check_enough(run: DetailsRun) -> None:
    """A budget large enough: everything read, for exactly the minimum."""
    reads = {"me", "list", "permissions", "roleAssignments"}
    counted = run.details["spent"] == run.minimum - ME_READ - LIST_READ
    run.checks = [
        ("exit 0", run.code == 0),
        ("complete", run.details["complete"] is True and run.details["stopped"] is None),
        ("every active user read", run.details["read"] == run.details["wanted"] == run.active),
        ("tokens spent == minimum", run.spent == run.minimum),
        ("the review counts the detail reads' tokens", counted),
        ("only GETs, none refused", set(run.kinds) <= reads and not run.refused),
    ]


def check_too_small(run: DetailsRun) -> None:
    """A budget too small: a partial report (exit 1), and no more spent than the budget."""
    run.checks = [
        ("exit 1", run.code == 1),
        ("marked partial", run.details["complete"] is False and bool(run.details["stopped"])),
        ("fewer users read", run.details["read"] < run.details["wanted"] == run.active),
        ("tokens spent <= budget", run.spent <= run.budget),
        ("stopped before the budget, none refused", not run.refused),
        ("only GETs", not any(k.endswith("(a write)") for k in run.kinds)),
    ]


def measure_details(size: int, seed: int, workdir: Path) -> list[DetailsRun]:
    """`review --details` at a budget large enough, then at one too small."""
    workdir.mkdir()
    ds = make_dataset(size, seed, "5%", workdir)
    sd = make_systems_dataset(ds, seed, "5%", workdir)
    active = active_users(sd.company)
    minimum = ME_READ + LIST_READ + 2 * DETAIL_READ * active
    runs = []
    for label, budget, check in (
        ("enough", 2 * minimum, check_enough),
        ("too small", minimum // 2, check_too_small),
    ):
        run = run_details(label, budget, sd.people, sd.company, workdir / label, active)
        check(run)
        runs.append(run)
        print(f"--details, budget {label}: done", file=sys.stderr)
    return runs


def details_table(size: int, runs: list[DetailsRun]) -> str:
    lines = [
        f"`review --details --system pipedrive` at {size:,} people, "
        f"{runs[0].active:,} active in Pipedrive; "
        f"minimum {runs[0].minimum:,} tokens (2 me + 20 list + 20 × active); one run each",
        "",
        "| budget | tokens | exit | users read | tokens spent | spent / minimum | requests "
        "| wall s | burst floor s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        lines.append(
            f"| {run.label} | {run.budget:,} | {run.code} | "
            f"{run.details['read']:,} of {run.details['wanted']:,} | {run.spent:,} | "
            f"{run.spent / run.minimum:.3f} | {run.requests:,} | {run.wall:.1f} | "
            f"{run.burst_floor:.1f} |"
        )
    lines.append("")
    for run in runs:
        failed = [name for name, ok in run.checks if not ok]
        said = "all ok" if not failed else "**FAILED**: " + ", ".join(failed)
        names = ", ".join(name for name, _ in run.checks)
        lines.append(f"Checked, budget {run.label} ({names}): {said}.")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--details-size",
        type=int,
        default=500,
        help="people of the --details runs (paced by the burst limit: ~0.2 s each); 0: skip",
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        work = Path(tmp)
        ds = make_dataset(args.size, args.seed, "5%", work)
        sd = make_systems_dataset(ds, args.seed, "5%", work)
        people = history(sd.people, work / "repo")
        with (
            sim_server(sd.tenant, work) as dealhub,
            sim_server(sd.company, work, system="pipedrive") as pipedrive,
        ):
            env = child_env(DEALHUB_TOKEN=dealhub.token, PIPEDRIVE_API_TOKEN=pipedrive.token)
            targets = ["--api-url", dealhub.url, "--api-url", f"pipedrive={pipedrive.url}"]
            commands = {
                "plan": [PY, "-m", "reconciler", "plan", str(people), *targets],
                "review": [PY, "-m", "reconciler", "review", str(people), *targets],
            }
            commands["review"] += ["--format", "json", "-o", str(work / "review.json")]
            samples: dict[str, list[Any]] = {name: [] for name in commands}
            git_pass: list[float] = []
            for run in range(args.runs):
                for name, argv in commands.items():
                    sample, _ = run_measured(argv, env=env, ok_codes=(0, 2))
                    samples[name].append(sample)
                git_pass.append(stages_of("provenance", str(people))["provenance"])
                print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
        details = (
            measure_details(args.details_size, args.seed, work / "details")
            if args.details_size
            else []
        )
        review = json.loads((work / "review.json").read_text(encoding="utf-8"))
        dated = sum(1 for a in review["accounts"] if a["commit"] is not None)
        print(f"\nreview vs plan: {args.size:,} people in both systems over loopback")
        print(
            f"accounts reviewed: {len(review['accounts']):,} ({dated:,} with a commit); "
            f"medians of {args.runs} runs\n"
        )
        print("| command | wall s | CPU s | peak RSS MB |")
        print("|---|---:|---:|---:|")
        medians = {}
        for name, taken in samples.items():
            wall = statistics.median(s.wall for s in taken)
            cpu = statistics.median(s.cpu for s in taken)
            rss = statistics.median(s.rss_mb for s in taken)
            medians[name] = wall
            print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")
        print(f"| git pass alone (in-process) | {statistics.median(git_pass):.2f} | | |")
        print(f"\nreview / plan (wall): {medians['review'] / medians['plan']:.2f}")
        if details:
            print("\n" + details_table(args.details_size, details))
        if args.json is not None:
            result = {
                "size": args.size,
                "runs": args.runs,
                "accounts": len(review["accounts"]),
                "with_commit": dated,
                "samples": {name: [vars(s) for s in taken] for name, taken in samples.items()},
                "git_pass": git_pass,
                "review_over_plan": medians["review"] / medians["plan"],
                "details_size": args.details_size,
                "details": [
                    {
                        "label": r.label,
                        "budget": r.budget,
                        "active": r.active,
                        "minimum": r.minimum,
                        "code": r.code,
                        "wall": r.wall,
                        "kinds": dict(r.kinds),
                        "spent": r.spent,
                        "refused": r.refused,
                        "details": r.details,
                        "checks": dict(r.checks),
                    }
                    for r in details
                ],
            }
            args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if all(ok for r in details for _, ok in r.checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
