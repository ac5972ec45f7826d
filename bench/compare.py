"""Two revisions of reconciler side by side, in one run: `python bench/compare.py BASE`.

Issue 21 asks that its work leave the benchmark's plan and apply figures within 5%:
this measures section 1's `plan` (against `sim:` and over loopback HTTP) and section
4's `apply` (against `sim serve --latency`) of BASE and of `--against` (default HEAD),
interleaved run by run, each revision first in turn, and reports the ratios.

Each revision is extracted with `git archive` into a temporary directory and run by
this interpreter with `PYTHONPATH` pointing at it (checked: the child imports
reconciler from there). Both revisions so run on the same Python and the very same
dependency versions, the only difference being the code under test; a virtualenv
per revision would cost a pip install each and could resolve other versions. The
data is generated, and the simulators are served, by the checkout this script is
in, so both revisions read the same files from the same servers. Children run in the
temporary directory (a child's working directory comes first on its sys.path). Before timing,
each size's plan is checked to print the same text and JSON under both revisions.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package `bench`

from bench.applying import ApplyRun, apply_once, expected_requests
from bench.datasets import Dataset, make_dataset, plan_argv
from bench.measure import (
    PY,
    ROOT,
    ChildFailed,
    Sample,
    child_env,
    child_output,
    med,
    progress,
    run_measured,
    use_bytecode_cache,
)
from bench.report import machine
from bench.servers import sim_server
from bench.tables import Check, checks_table, ratio, table

#: The measured commands of one size, per revision.
PLANS = ("plan sim:", "plan http")
#: How far a figure may move before the table flags it (issue 21 item 6).
TOLERANCE = 0.05


@dataclass
class Revision:
    """One revision of the code: its role, its name as given, its commit, where it is."""

    #: "base" or "new": what the tables and the samples are keyed by.
    role: str
    name: str
    commit: str
    tree: Path
    subject: str

    def env(self, **extra: str) -> dict[str, str]:
        """A child's environment that imports reconciler from this revision."""
        return child_env(PYTHONPATH=str(self.tree), **extra)


@dataclass
class Results:
    """Samples by size, then command, then revision role."""

    plans: dict[int, dict[str, dict[str, list[Sample]]]] = field(default_factory=dict)
    apply: dict[str, list[ApplyRun]] = field(default_factory=dict)
    apply_data: Dataset | None = None
    checks: list[Check] = field(default_factory=list)


def git(*args: str) -> str:
    """A git command in this repository; its stdout, stripped (ChildFailed if it fails)."""
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except OSError as exc:  # no git at all
        raise ChildFailed(f"git {shlex.join(args)}: {exc}") from None
    if done.returncode != 0:
        raise ChildFailed(f"git {shlex.join(args)}: {done.stderr.strip() or done.returncode}")
    return done.stdout.strip()


def extract(role: str, name: str, into: Path) -> Revision:
    """The revision `name`, extracted (git archive: no worktree, no change to the repo)."""
    commit = git("rev-parse", "--verify", f"{name}^{{commit}}")
    tree = into / role
    tree.mkdir()
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=ROOT, check=True, capture_output=True
    ).stdout  # the commit exists: rev-parse said so
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    revision = Revision(role, name, commit, tree, git("show", "-s", "--format=%s", commit))
    where = child_output(
        [PY, "-c", "import reconciler; print(reconciler.__file__)"], revision.env()
    )
    if not Path(where.decode().strip()).is_relative_to(tree):
        raise ChildFailed(f"{name}: reconciler imported from {where.decode().strip()}, not {tree}")
    return revision


def same_plans(ds: Dataset, revisions: Sequence[Revision]) -> list[Check]:
    """Each revision prints the same plan of `ds`, as text and as JSON."""
    checks: list[Check] = []
    for fmt in ("text", "json"):
        argv = plan_argv(ds.desired, f"sim:{ds.tenant}", fmt)
        outputs = {r.role: child_output(argv, r.env()) for r in revisions}
        same = len(set(outputs.values())) == 1
        sizes = ", ".join(f"{role}: {len(out):,} bytes" for role, out in outputs.items())
        checks.append(
            (f"{ds.size:,} users: plan --format {fmt} the same under both revisions", same, sizes)
        )
    return checks


def in_turn(revisions: Sequence[Revision], run: int) -> list[Revision]:
    """The revisions, each first in turn from one run to the next."""
    shift = run % len(revisions)
    return [*revisions[shift:], *revisions[:shift]]


def measure_plans(
    ds: Dataset, revisions: Sequence[Revision], runs: int, workdir: Path
) -> dict[str, dict[str, list[Sample]]]:
    """Section 1's two plans under each revision, interleaved."""
    got: dict[str, dict[str, list[Sample]]] = {p: {r.role: [] for r in revisions} for p in PLANS}
    state = workdir / f"served-{ds.size}.json"
    shutil.copyfile(ds.tenant, state)
    with sim_server(state, workdir) as server:
        for run in range(runs):
            progress(f"  {ds.size:,} users: plans, run {run + 1}/{runs}")
            for r in in_turn(revisions, run):
                argv = plan_argv(ds.desired, f"sim:{ds.tenant}", "text")
                got["plan sim:"][r.role].append(run_measured(argv, env=r.env())[0])
                argv = plan_argv(ds.desired, server.url, "text")
                env = r.env(DEALHUB_TOKEN=server.token)
                got["plan http"][r.role].append(run_measured(argv, env=env)[0])
    return got


def measure_applies(
    ds: Dataset, revisions: Sequence[Revision], runs: int, latency: float, workdir: Path
) -> dict[str, list[ApplyRun]]:
    """Section 4's apply under each revision, interleaved, each on a fresh tenant."""
    got: dict[str, list[ApplyRun]] = {r.role: [] for r in revisions}
    for run in range(runs):
        progress(f"  apply at {ds.size:,} users: run {run + 1}/{runs}")
        for r in in_turn(revisions, run):
            rundir = workdir / f"apply-{r.role}-{run}"
            got[r.role].append(
                apply_once(
                    ds,
                    rundir,
                    latency,
                    env={"PYTHONPATH": str(r.tree)},
                    check_convergence=run == 0,
                )
            )
    return got


def apply_checks(ds: Dataset, results: dict[str, list[ApplyRun]]) -> list[Check]:
    """Every apply of every revision sent the requests expected, and converged."""
    expected = expected_requests(ds.n_changes)
    checks: list[Check] = []
    for role, runs in results.items():
        totals = [sum(r.counts.values()) for r in runs]
        converged = all(r.converged is not False for r in runs)
        checks.append(
            (
                f"apply under {role}: {expected} requests each run, then no change left",
                all(t == expected for t in totals) and converged,
                f"requests {totals}; plan afterwards " + ("empty" if converged else "NOT empty"),
            )
        )
    return checks


def row(label: str, by_role: dict[str, list[Sample]]) -> list[str]:
    """Medians of both revisions and new / base for wall, CPU and peak RSS."""
    out = [label]
    ratios = []
    for key in ("wall", "cpu", "rss_mb"):
        b = med([getattr(s, key) for s in by_role["base"]])
        n = med([getattr(s, key) for s in by_role["new"]])
        out += [f"{b:.3f}" if key != "rss_mb" else f"{b:.0f}"]
        out += [f"{n:.3f}" if key != "rss_mb" else f"{n:.0f}"]
        out.append(ratio(n, b))
        ratios.append(n / b if b > 0 else float("nan"))
    # Apart: on a machine with more runnable processes than cores, wall time includes
    # the waits for a core, which CPU time does not.
    out += ["yes" if abs(r - 1) <= TOLERANCE else "**no**" for r in ratios[1::-1]]
    return out


def markdown(
    results: Results,
    revisions: Sequence[Revision],
    args: argparse.Namespace,
    command: str,
    started: dt.datetime,
    elapsed: float,
) -> str:
    headers = [
        "users / command",
        "wall s base",
        "wall s new",
        "wall new / base",
        "CPU s base",
        "CPU s new",
        "CPU new / base",
        "peak RSS MB base",
        "peak RSS MB new",
        "RSS new / base",
        f"CPU within {TOLERANCE:.0%}",
        f"wall within {TOLERANCE:.0%}",
    ]
    rows = []
    for size, by_plan in results.plans.items():
        for plan in PLANS:
            rows.append(row(f"{size:,}: `{plan}`", by_plan[plan]))
    if results.apply_data is not None:
        ds = results.apply_data
        samples = {role: [r.sample for r in runs] for role, runs in results.apply.items()}
        rows.append(row(f"{ds.size:,}: `apply` (latency {args.apply_latency:g} s)", samples))
    revs = [(r.role, f"`{r.name}`", r.commit[:9], r.subject[:90]) for r in revisions]
    return "\n".join(
        [
            "# reconciler: two revisions side by side",
            "",
            f"Generated by `bench/compare.py` on {started:%Y-%m-%d %H:%M:%S %Z} in "
            f"{elapsed:.0f} s. Command (from the repository root):",
            "",
            f"    {command}",
            "",
            table(["", "revision", "commit", "subject"], revs, "llll"),
            "",
            "## Machine",
            "",
            table(["", ""], machine(), "ll"),
            "",
            "## Plan and apply, base against new",
            "",
            f"Medians of {args.runs} runs, the two revisions interleaved within each run (each "
            "first in turn), so the ratios compare runs made under the same load; read them "
            "rather than the absolute times on a shared machine. As bench/run.py's sections 1 "
            f"and 4: `plan DESIRED --format text` against `sim:TENANT` and against `sim serve` "
            f"on loopback, and `apply DESIRED --auto-approve` against `sim serve --latency "
            f"{args.apply_latency:g}` on a fresh copy of the tenant each run. Wall, CPU "
            "(user+sys) and peak RSS of the reconciler process alone (os.wait4). Data: "
            f"`reconciler sim generate --seed {args.seed} --changes {args.changes}`, generated "
            "and served by the harness's own checkout for both revisions.",
            "",
            table(headers, rows, "l" + "r" * 9 + "ll"),
            "",
            "CPU time is the figure to read when the machine's load average (Machine, above) "
            "exceeds its cores: wall time then includes the waits for a core, which fall on "
            "the two revisions unevenly even when interleaved.",
            "",
            "## Checks",
            "",
            checks_table(results.checks),
            "",
        ]
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("base", help="The revision to compare against (a commit, branch or tag).")
    p.add_argument("--against", default="HEAD", help="The new revision (default HEAD).")
    p.add_argument("--sizes", default="1000,10000", help="Tenant sizes (default 1000,10000).")
    p.add_argument("--runs", type=int, default=3, help="Runs per measure; medians reported.")
    p.add_argument("--apply-size", type=int, default=10000, help="Tenant size of apply.")
    p.add_argument("--apply-latency", type=float, default=0.02, help="sim serve --latency.")
    p.add_argument("--skip-apply", action="store_true", help="Do not measure apply.")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--changes", default="5%", help="Share of users changed (sim generate).")
    p.add_argument(
        "--out", default=str(ROOT / "bench" / "SIDE_BY_SIDE.md"), help="Markdown output."
    )
    args = p.parse_args(argv)
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes {args.sizes!r}: give integers separated by commas")
    if args.runs < 1 or args.apply_size < 1 or any(s < 1 for s in args.size_list):
        p.error("--runs, --apply-size and every size must be at least 1")
    return args


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    here = Path.cwd()
    shown_py = os.path.relpath(PY, here) if PY.startswith(str(here)) else PY
    command = shlex.join([shown_py, os.path.relpath(Path(__file__).resolve(), here), *argv])
    started, t0 = dt.datetime.now().astimezone(), time.perf_counter()
    results = Results()
    with tempfile.TemporaryDirectory(prefix="reconciler-compare-") as tmp:
        workdir = Path(tmp)
        # Children start here: `python -m` and `-c` put their working directory first on
        # sys.path, and in the repository that would be its own reconciler/, not PYTHONPATH's.
        os.chdir(workdir)
        use_bytecode_cache(str(workdir / "pycache"))
        try:
            revisions = [
                extract("base", args.base, workdir),
                extract("new", args.against, workdir),
            ]
        except ChildFailed as exc:
            os.chdir(here)
            progress(f"bench/compare.py: {exc}")
            return 2
        if revisions[0].commit == revisions[1].commit:
            progress(f"note: {args.base} and {args.against} are the same commit")
        for r in revisions:  # warm each revision's bytecode and the page cache
            for _ in range(2):
                run_measured([PY, "-c", "import reconciler.cli"], env=r.env())
        datasets: dict[int, Dataset] = {}
        for size in args.size_list:
            progress(f"{size:,} users: generating")
            ds = datasets[size] = make_dataset(size, args.seed, args.changes, workdir)
            results.checks += same_plans(ds, revisions)
            results.plans[size] = measure_plans(ds, revisions, args.runs, workdir)
        if not args.skip_apply:
            ds = datasets.get(args.apply_size) or make_dataset(
                args.apply_size, args.seed, args.changes, workdir
            )
            results.apply_data = ds
            results.apply = measure_applies(ds, revisions, args.runs, args.apply_latency, workdir)
            results.checks += apply_checks(ds, results.apply)
        text = markdown(results, revisions, args, command, started, time.perf_counter() - t0)
        os.chdir(here)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text)
    progress(f"wrote {out}")
    failed = [c for c in results.checks if not c[1]]
    for name, _, detail in failed:
        progress(f"CHECK FAILED: {name}: {detail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
