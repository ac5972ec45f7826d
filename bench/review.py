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

and prints wall, CPU and peak RSS of each, and review / plan. Until cli.py
registers `review`, the child registers it itself (the same click command).

`--details` is not measured here: `sim serve` does not answer
`/v1/users/{id}/permissions` and `/roleAssignments` yet. Its cost is known
before it reads: 20 tokens per active Pipedrive user (two reads of 10), the
minimum the vendor's API allows, plus the list read that every review makes.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable

_spec = importlib.util.spec_from_file_location("bench_run", HERE / "run.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench
_spec.loader.exec_module(bench)

REVIEW_CODE = (
    "import sys\n"
    "from reconciler.cli import cli, main\n"
    "from reconciler.commands.review import review\n"
    "cli.commands.setdefault('review', review)\n"
    "main(sys.argv[1:])\n"
)
GIT_CODE = (
    "import sys, time\n"
    "from reconciler import provenance\n"
    "from reconciler.desired import load_desired\n"
    "state = load_desired([sys.argv[1]])\n"
    "start = time.perf_counter()\n"
    "found = provenance.find(state)\n"
    "dated = sum(1 for c in found.commits.values() if c is not None)\n"
    "print(f'{time.perf_counter() - start:.3f} {dated}')\n"
)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        work = Path(tmp)
        ds = bench.make_dataset(args.size, args.seed, "5%", work)
        sd = bench.make_systems_dataset(ds, args.seed, "5%", work)
        people = history(sd.people, work / "repo")
        with (
            bench.sim_server(sd.tenant, work) as dealhub,
            bench.sim_server(sd.company, work, system="pipedrive") as pipedrive,
        ):
            env = bench.child_env(DEALHUB_TOKEN=dealhub.token, PIPEDRIVE_API_TOKEN=pipedrive.token)
            targets = ["--api-url", dealhub.url, "--api-url", f"pipedrive={pipedrive.url}"]
            commands = {
                "plan": [PY, "-m", "reconciler", "plan", str(people), *targets],
                "review": [PY, "-c", REVIEW_CODE, "review", str(people), *targets],
            }
            commands["review"] += ["--format", "json", "-o", str(work / "review.json")]
            samples: dict[str, list[Any]] = {name: [] for name in commands}
            git_pass: list[float] = []
            for run in range(args.runs):
                for name, argv in commands.items():
                    sample, _ = bench.run_measured(argv, env=env, ok_codes=(0, 2))
                    samples[name].append(sample)
                out = subprocess.run(
                    [PY, "-c", GIT_CODE, str(people)],
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                ).stdout.split()
                git_pass.append(float(out[0]))
                print(f"run {run + 1}/{args.runs} done", file=sys.stderr)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
