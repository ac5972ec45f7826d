"""The performance harness of reconciler: `python bench/run.py [--sizes ...] [--runs N]`.

For each size it generates (seeded) a tenant and a desired state changing ~5% of
it, then measures, interleaving the variants run by run and reporting medians:

1. `reconciler plan` as a whole process, against `sim:TENANT.json` (in-process
   simulator) and against `reconciler sim serve` over loopback HTTP: wall time,
   CPU time (user+sys) and peak RSS of that one child, read with os.wait4;
2. the floor: a process that only loads the same YAML (libyaml CSafeLoader) and
   tenant JSON, and the ratios plan / floor;
3. the stages of a plan, timed with perf_counter in a fresh process per run;
4. `reconciler apply` of the change set against `sim serve --latency`, with the
   requests counted from the server's request log and checked against
   1 read + ceil(changes / 100) writes + 1 verification read;
5. Pipedrive apply in-process on a simulated clock (tokens, requests, pacing);
6. one people file for both systems: `plan --system dealhub`, `plan --system
   pipedrive` and `plan` of both (which reads the two in parallel), as whole
   processes like section 1, with both against the sum of the two;
7. issue 21's item 7: start-up against the bare import of the CLI's libraries,
   the diff's cost per user (Pipedrive against DealHub), peak memory per user.

Every child process is started and reaped here by pid; the harness itself holds no
tenant in memory. It writes the tables to --out (Markdown) and prints them. Each
section lives in its own module of the package `bench` (see bench/__init__.py).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the package `bench`

from bench.applying import apply_checks, measure_apply
from bench.datasets import Dataset, make_dataset
from bench.issue21 import Issue21, measure_memory, measure_per_user, measure_startup
from bench.measure import PY, ROOT, progress, run_measured, use_bytecode_cache
from bench.pipedrive import measure_pipedrive
from bench.processes import measure_processes
from bench.report import Report, bytecode_note, harness_rss_note, machine, to_json
from bench.systems import (
    SystemsDataset,
    check_systems_plans,
    make_systems_dataset,
    measure_systems,
)
from bench.systems_data import build_systems_data
from bench.tables import Check

#: What other scripts and the smoke tests reach through this module.
__all__ = [
    "Dataset",
    "build_systems_data",
    "check_systems_plans",
    "main",
    "make_dataset",
    "make_systems_dataset",
]


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The options of bench/README.md, checked."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--sizes", default="1000,10000", help="Tenant sizes (default 1000,10000).")
    p.add_argument("--runs", type=int, default=5, help="Runs per measure; medians reported.")
    p.add_argument("--out", default=str(ROOT / "bench" / "RESULTS.md"), help="Markdown output.")
    p.add_argument("--json", dest="json_out", help="Also write the raw results as JSON here.")
    p.add_argument("--skip-apply", action="store_true", help="Do not measure apply.")
    p.add_argument("--apply-size", type=int, default=10000, help="Tenant size for apply.")
    p.add_argument("--apply-latency", type=float, default=0.02, help="sim serve --latency.")
    p.add_argument("--apply-runs", type=int, help="Runs of apply (default: --runs).")
    p.add_argument("--skip-pipedrive", action="store_true", help="Do not measure Pipedrive.")
    p.add_argument(
        "--only-pipedrive",
        action="store_true",
        help="Measure Pipedrive apply alone (sections 1-4 are then left empty).",
    )
    p.add_argument("--skip-systems", action="store_true", help="Do not measure section 6.")
    p.add_argument(
        "--only-systems",
        action="store_true",
        help="Measure section 6 (one people file, both systems) alone, at every --sizes.",
    )
    p.add_argument(
        "--systems-latency",
        default="0.05,0.5",
        help="Section 6's loopback servers: sim serve --latency, comma-separated, each a "
        "round of runs (default 0.05,0.5; '' for no loopback runs).",
    )
    p.add_argument("--skip-issue21", action="store_true", help="Do not measure section 7.")
    p.add_argument(
        "--startup-runs",
        type=int,
        help="Runs of section 7a's short processes (default: 3 × --runs).",
    )
    p.add_argument(
        "--memory-sizes",
        default="",
        help="Section 7c: more sizes (e.g. 100000) whose plans' peak memory is measured "
        "alone, beside section 1's sizes (default: none).",
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--changes", default="5%", help="Share of users changed (sim generate).")
    p.add_argument("--format", default="text", choices=("text", "json", "markdown"))
    p.add_argument("--keep", help="Keep the generated data in this directory.")
    p.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="Run children with the environment's bytecode settings as they are (by default "
        "they cache .pyc files in a private PYTHONPYCACHEPREFIX, as an installed tool has).",
    )
    args = p.parse_args(argv)
    args.size_list = sizes(p, "--sizes", args.sizes)
    args.memory_size_list = sizes(p, "--memory-sizes", args.memory_sizes)
    try:
        args.systems_latencies = [float(s) for s in args.systems_latency.split(",") if s.strip()]
    except ValueError:
        p.error(f"--systems-latency {args.systems_latency!r}: give seconds separated by commas")
    if any(not 0 <= x < 60 for x in args.systems_latencies):
        p.error("--systems-latency: each latency from 0 to 60 seconds")
    if args.runs < 1 or any(s < 1 for s in args.size_list + args.memory_size_list):
        p.error("--runs and every size must be at least 1")
    if args.startup_runs is not None and args.startup_runs < 1:
        p.error("--startup-runs must be at least 1")
    return args


def sizes(p: argparse.ArgumentParser, option: str, value: str) -> list[int]:
    """A comma-separated list of sizes ('10_000' allowed)."""
    try:
        return [int(s.replace("_", "")) for s in value.split(",") if s.strip()]
    except ValueError:
        p.error(f"{option} {value!r}: give integers separated by commas")


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    here = Path.cwd()
    script = os.path.relpath(Path(__file__).resolve(), here)
    command = shlex.join([os.path.relpath(PY, here) if PY.startswith(str(here)) else PY,
                          script, *argv])  # fmt: skip
    report = Report(args, command, dt.datetime.now().astimezone(), machine())
    t0 = time.perf_counter()
    workdir_ctx: Any = (
        contextlib.nullcontext(args.keep)
        if args.keep
        else tempfile.TemporaryDirectory(prefix="reconciler-bench-")
    )
    with workdir_ctx as workdir_name:
        workdir = Path(workdir_name)
        workdir.mkdir(parents=True, exist_ok=True)
        if not args.no_bytecode_cache:
            use_bytecode_cache(str(workdir / "pycache"))
        report.machine.append(("bytecode cache of the children", bytecode_note(args)))
        failed_checks = measure_all(report, args, workdir)
        report.machine.append(("peak RSS of the harness at the end", harness_rss_note()))
        report.elapsed = time.perf_counter() - t0
        text = report.markdown()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(to_json(report), indent=2), encoding="utf-8")
    print(text)
    progress(f"wrote {out}")
    failed = [c for c in report.checks if not c[1]] + failed_checks
    for name, _, detail in failed:
        progress(f"CHECK FAILED: {name}: {detail}")
    return 1 if failed else 0


def measure_all(report: Report, args: argparse.Namespace, workdir: Path) -> list[Check]:
    """Every section asked for, into `report`; the failed checks of sections 5 and 6
    (shown in their sections and in the exit status, not in the Checks table)."""
    for _ in range(2):  # warm the bytecode and the page cache
        run_measured([PY, "-c", "import reconciler.cli, yaml, json"])
    datasets: dict[int, Dataset] = {}

    def dataset(size: int) -> Dataset:
        if size not in datasets:
            progress(f"{size:,} users: generating")
            datasets[size] = make_dataset(size, args.seed, args.changes, workdir)
        return datasets[size]

    only = args.only_pipedrive or args.only_systems  # the other sections are left empty
    for size in [] if only else args.size_list:
        ds = dataset(size)
        report.datasets.append(ds)
        processes, stages = measure_processes(ds, args.runs, args.format, workdir)
        report.processes[size], report.stages[size] = processes, stages
    failed_checks: list[Check] = []
    systems_data: dict[int, SystemsDataset] = {}
    if not args.skip_systems and (args.only_systems or not only):
        report.systems = []
        for size in args.size_list:
            progress(f"{size:,} users (one people file, both systems)")
            sr = measure_systems(dataset(size), args, workdir)
            systems_data[size] = sr.data
            report.systems.append(sr)
            failed_checks += [c for c in sr.checks if not c[1]]
    if not args.skip_apply and not only:
        ds = dataset(args.apply_size)
        runs = measure_apply(ds, args.apply_runs or args.runs, args.apply_latency, workdir)
        report.apply = (ds, runs)
        report.checks += apply_checks(ds, runs)
    if not args.skip_issue21 and not only:
        report.issue21 = measure_issue21(report, args, workdir, dataset, systems_data)
    # Last: it runs in this process, and every child started after it would count the
    # memory it took in its own peak RSS (see bench/systems_data.py).
    if not args.skip_pipedrive and (args.only_pipedrive or not only):
        report.pipedrive = []
        for size in args.size_list:
            progress(f"{size:,} users (Pipedrive apply, simulated clock)")
            pd = measure_pipedrive(size, args.seed, args.changes, workdir)
            report.pipedrive.append(pd)
            failed_checks += [c for c in pd.checks() if not c[1]]
    return failed_checks


def measure_issue21(
    report: Report,
    args: argparse.Namespace,
    workdir: Path,
    dataset: Callable[[int], Dataset],
    systems_data: dict[int, SystemsDataset],
) -> Issue21:
    """Section 7: (a) start-up, (b) diff per user on section 6's data, (c) memory per user
    from section 1's runs and at --memory-sizes."""
    found = Issue21()
    progress("start-up against the import floor")
    found.startup = measure_startup(args.startup_runs or 3 * args.runs)
    for size in args.size_list:
        sd = systems_data.get(size) or make_systems_dataset(
            dataset(size), args.seed, args.changes, workdir
        )
        found.per_user[size] = measure_per_user(sd, args.runs)
    for size, processes in report.processes.items():
        ds = dataset(size)
        kept = {v: processes[v] for v in ("import reconciler.cli", "plan sim:", "plan http")}
        found.memory[size] = (ds.input_bytes, kept)
    for size in args.memory_size_list:
        if size not in found.memory:
            ds = dataset(size)
            found.memory[size] = (ds.input_bytes, measure_memory(ds, args.runs, workdir))
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
