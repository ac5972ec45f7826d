"""Section 6: one people file, both systems: `plan` of both against each alone."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from bench.datasets import CHANGE_KINDS, Dataset, plan_argv
from bench.measure import BENCH, PY, Sample, child_env, child_json, med, progress, run_measured
from bench.servers import sim_server
from bench.tables import Check, checks_table, ratio, table

#: The three plans of section 6: DealHub alone, Pipedrive alone, both in one process.
SYSTEMS_VARIANTS = ("dealhub", "pipedrive", "both")


@dataclass
class SystemsDataset:
    """Section 6's files of one size, and the plan summaries they are built to give."""

    size: int
    people: Path
    tenant: Path
    company: Path
    listed: int
    company_users: int
    #: system -> the plan summary the data is built to give (DealHub: section 1's plan).
    expected: dict[str, dict[str, int]]


def make_systems_dataset(ds: Dataset, seed: int, changes: str, workdir: Path) -> SystemsDataset:
    """Section 6's data of one size, built by bench/systems_data.py in a child process."""
    given = [str(ds.tenant), str(ds.desired), ds.size, seed, changes, str(workdir)]
    built = child_json([PY, str(BENCH / "systems_data.py"), json.dumps(given)])
    return SystemsDataset(
        ds.size,
        Path(built["people"]),
        ds.tenant,
        Path(built["company"]),
        built["listed"],
        built["company_users"],
        {"dealhub": dict(ds.changes), "pipedrive": built["pipedrive"]},
    )


def systems_argv(sd: SystemsDataset, variant: str, urls: dict[str, str], fmt: str) -> list[str]:
    """`plan PEOPLE` of one system (`--system NAME`) or of both (no --system)."""
    dealhub, pipedrive = urls["dealhub"], f"pipedrive={urls['pipedrive']}"
    if variant == "both":
        return plan_argv(sd.people, dealhub, fmt, pipedrive)
    return [
        *plan_argv(sd.people, dealhub if variant == "dealhub" else pipedrive, fmt),
        "--system",
        variant,
    ]


@dataclass
class SystemsRun:
    """Section 6 at one size: its data, the samples of each target, the checks."""

    data: SystemsDataset
    #: targets ("`sim:` files", "loopback, latency 0.05 s") -> variant -> samples
    samples: dict[str, dict[str, list[Sample]]]
    checks: list[Check]


def check_systems_plans(sd: SystemsDataset) -> list[Check]:
    """Each plan of section 6 once with --format json: the counts the data was built to
    give, and the two-system plan equal to the one-system plans."""
    urls = {"dealhub": f"sim:{sd.tenant}", "pipedrive": f"sim:{sd.company}"}
    alone = {v: child_json(systems_argv(sd, v, urls, "json")) for v in ("dealhub", "pipedrive")}
    both = child_json(systems_argv(sd, "both", urls, "json"))
    where = f"{sd.size:,} people"
    checks = []
    for system, plan in alone.items():
        got = {k: int(v) for k, v in plan["summary"].items()}
        want = sd.expected[system]
        checks.append(
            (
                f"{where}: {system} plan counts",
                got == want and plan.get("safe") is True,
                f"planned {got}, built for {want}"
                + ("" if plan.get("safe") else "; a guard trips"),
            )
        )
    in_both = {p.get("system"): p for p in both.get("plans", [])}
    for system, plan in alone.items():
        other = in_both.get(system)
        differ = (
            ["missing"]
            if other is None
            else sorted(k for k in plan.keys() | other.keys() if plan.get(k) != other.get(k))
        )
        checks.append(
            (
                f"{where}: {system} in the two-system plan == planned alone",
                not differ,
                f"{len(plan['changes'])} changes, {len(plan.get('notes', []))} notes"
                + (f"; differ in {', '.join(differ)}" if differ else ", equal"),
            )
        )
    return checks


def measure_systems(ds: Dataset, args: argparse.Namespace, workdir: Path) -> SystemsRun:
    """Section 6 at the size of `ds`: checked once, then timed on each target."""
    sd = make_systems_dataset(ds, args.seed, args.changes, workdir)
    checks = check_systems_plans(sd)
    samples: dict[str, dict[str, list[Sample]]] = {}

    def interleaved(target: str, urls: dict[str, str], env: dict[str, str] | None) -> None:
        got = samples.setdefault(target, {v: [] for v in SYSTEMS_VARIANTS})
        for run in range(args.runs):
            progress(f"  {sd.size:,} users, both systems, {target}: run {run + 1}/{args.runs}")
            shift = run % len(SYSTEMS_VARIANTS)  # each variant first in turn
            for variant in SYSTEMS_VARIANTS[shift:] + SYSTEMS_VARIANTS[:shift]:
                argv = systems_argv(sd, variant, urls, args.format)
                got[variant].append(run_measured(argv, env=env)[0])

    sim = {"dealhub": f"sim:{sd.tenant}", "pipedrive": f"sim:{sd.company}"}
    interleaved("`sim:` files", sim, None)
    tenant, company = workdir / f"served-s6-{sd.size}.json", workdir / f"served-pd-{sd.size}.json"
    for latency in args.systems_latencies:
        shutil.copyfile(sd.tenant, tenant)
        shutil.copyfile(sd.company, company)
        with (
            sim_server(tenant, workdir, latency=latency) as dh,
            sim_server(company, workdir, latency=latency, system="pipedrive") as pd,
        ):
            env = child_env(DEALHUB_TOKEN=dh.token, PIPEDRIVE_API_TOKEN=pd.token)
            urls = {"dealhub": dh.url, "pipedrive": pd.url}
            interleaved(f"loopback, latency {latency:g} s", urls, env)
    return SystemsRun(sd, samples, checks)


SYSTEMS_LABELS = {
    "dealhub": "(a) `--system dealhub`",
    "pipedrive": "(b) `--system pipedrive`",
    "sum": "(a) + (b)",
    "max": "max((a), (b))",
    "both": "(c) both systems",
}


def systems_section(runs: list[SystemsRun] | None, fmt: str) -> str:
    """Section 6's Markdown."""
    if runs is None:
        return "Skipped (--skip-systems, or --only-pipedrive without --only-systems)."
    data_rows = []
    for r in runs:
        sd, dh, pd = r.data, r.data.expected["dealhub"], r.data.expected["pipedrive"]
        data_rows.append(
            (
                f"{sd.size:,}",
                f"{sd.listed:,}",
                f"{sd.people.stat().st_size / 1e6:.1f}",
                f"{sd.tenant.stat().st_size / 1e6:.1f}",
                f"{sd.company_users:,}",
                f"{sd.company.stat().st_size / 1e6:.1f}",
                *(dh[k] for k in CHANGE_KINDS),
                *(pd[k] for k in ("create", "reactivate", "deactivate")),
            )
        )
    time_rows, ratio_rows = [], []
    for r in runs:
        for where, by_variant in r.samples.items():
            a, b, c = (by_variant[v] for v in SYSTEMS_VARIANTS)
            # Run by run: the two single-system plans added, and the slower of them.
            combined = {
                "sum": [
                    Sample(x.wall + y.wall, x.cpu + y.cpu, 0.0) for x, y in zip(a, b, strict=True)
                ],
                "max": [
                    Sample(max(x.wall, y.wall), max(x.cpu, y.cpu), max(x.rss_mb, y.rss_mb))
                    for x, y in zip(a, b, strict=True)
                ],
            }
            rows = {"dealhub": a, "pipedrive": b, **combined, "both": c}
            for name, samples in rows.items():
                walls = [s.wall for s in samples]
                rss = med([s.rss_mb for s in samples])
                time_rows.append(
                    (
                        f"{r.data.size:,}",
                        where,
                        SYSTEMS_LABELS[name],
                        f"{med(walls):.3f}",
                        f"{min(walls):.3f}–{max(walls):.3f}",
                        f"{med([s.cpu for s in samples]):.3f}",
                        f"{rss:.0f}" if name != "sum" else "",
                    )
                )
            cw, cc, cr = (med([getattr(s, k) for s in c]) for k in ("wall", "cpu", "rss_mb"))
            sums, maxes = combined["sum"], combined["max"]
            ratio_rows.append(
                (
                    f"{r.data.size:,}",
                    where,
                    ratio(cw, med([s.wall for s in sums])),
                    ratio(cc, med([s.cpu for s in sums])),
                    ratio(cw, med([s.wall for s in maxes])),
                    f"{med([z.wall - m.wall for z, m in zip(c, maxes, strict=True)]):+.3f}",
                    ratio(cr, med([s.rss_mb for s in maxes])),
                )
            )
    checks = [c for r in runs for c in r.checks]
    return "\n".join(
        [
            "One people file listing every person for both systems "
            "(`settings.systems: [dealhub, pipedrive]`), made from section 1's generated "
            "tenant and desired state: the same DealHub changes, and a Pipedrive company of "
            "the same people (same emails) that the file changes by the same share: creates, "
            "reactivations and deactivations (a third each `is_active: false`, left out of "
            "the file, and company users the file never names). Every person keeps their "
            "generated Pipedrive access (a `pipedrive:` block unless it is the default).",
            "",
            table(
                [
                    "users",
                    "people listed",
                    "people file MB",
                    "tenant MB",
                    "company users",
                    "company MB",
                    "DealHub create",
                    "update",
                    "reactivate",
                    "deactivate",
                    "Pipedrive create",
                    "reactivate",
                    "deactivate",
                ],
                data_rows,
            ),
            "",
            f"`{Path(PY).name} -m reconciler plan PEOPLE --format {fmt} > /dev/null` as a "
            "whole process, as in section 1 (wall, CPU = user+sys and peak RSS of that one "
            "child, os.wait4): (a) `--system dealhub --api-url T`, (b) `--system pipedrive "
            "--api-url pipedrive=C`, (c) both systems: `--api-url T --api-url pipedrive=C` "
            "without `--system`, which reads the two systems in parallel threads. Targets are "
            "`sim:` files (in-process simulators) and, for each --systems-latency, two "
            "`reconciler sim serve` processes on loopback (one DealHub, one `--system "
            "pipedrive`) that answer every request after that latency; a plan reads each "
            "system with one request, so reading the two one after the other would add about "
            "one latency to (c) over the slower of (a) and (b), and reading them in parallel "
            "adds none. CPU is the plan's process alone (not the servers'). The three plans "
            "run in turn within a run, each first in turn; (a) + (b) and max((a), (b)) are "
            "taken run by run, then the median.",
            "",
            table(
                ["users", "targets", "plan", "wall s", "wall min–max", "CPU s", "peak RSS MB"],
                time_rows,
                "lll" + "r" * 4,
            ),
            "",
            table(
                [
                    "users",
                    "targets",
                    "wall (c) / ((a) + (b))",
                    "CPU (c) / ((a) + (b))",
                    "wall (c) / max",
                    "wall (c) − max s",
                    "peak RSS (c) / max",
                ],
                ratio_rows,
                "ll" + "r" * 5,
            ),
            "",
            "Checked once per size with `--format json` (`sim:` targets): each "
            "single-system plan has the summary the data was built for (DealHub's: section "
            "1's plan of the DealHub-only desired state of the same tenant), and each system's "
            "plan within (c) equals, key for key, the plan of that system alone.",
            "",
            checks_table(checks),
        ]
    )
