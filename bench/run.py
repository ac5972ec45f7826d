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
   processes like section 1, with both against the sum of the two.

Every child process is started and reaped here by pid; the harness itself holds no
tenant in memory. It writes the tables to --out (Markdown) and prints them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BATCH_SIZE = 100  # reconciler apply's default --batch-size

FLOOR_CODE = (
    "import json, sys, yaml\n"
    "with open(sys.argv[1], encoding='utf-8') as fh:\n"
    "    yaml.load(fh, Loader=yaml.CSafeLoader)\n"
    "with open(sys.argv[2], encoding='utf-8') as fh:\n"
    "    json.load(fh)\n"
)
# Two tighter floors, for context: the same with the cyclic GC off (reconciler
# pauses it while it builds the YAML), and libyaml's event stream alone, the
# least work that reads the YAML at all (reconciler builds its data from it).
FLOOR_NOGC_CODE = "import gc\ngc.disable()\n" + FLOOR_CODE
FLOOR_EVENTS_CODE = (
    "import json, sys, yaml\n"
    "with open(sys.argv[1], encoding='utf-8') as fh:\n"
    "    for _event in yaml.parse(fh, Loader=yaml.CSafeLoader):\n"
    "        pass\n"
    "with open(sys.argv[2], encoding='utf-8') as fh:\n"
    "    json.load(fh)\n"
)
FLOORS = {
    "floor": FLOOR_CODE,
    "floor, gc off": FLOOR_NOGC_CODE,
    "floor, libyaml events": FLOOR_EVENTS_CODE,
}

# The stages of `reconciler plan`, in the order the CLI runs them; the worker
# (STAGES_CODE) times each in a fresh process.
PIPELINE = ("import", "parse", "validate", "connect", "fetch", "diff", "guards", "render")
STAGE_NOTES = {
    "import": "import reconciler.cli (every module plan loads)",
    "parse": "yaml_source.read_yaml of the desired file",
    "validate": "desired.load_desired minus parse (schema, fields, semantics)",
    "load_desired": "desired.load_desired (parse + validate)",
    "connect": "client.connect('sim:...'): read the tenant JSON into the simulator",
    "fetch": "client.list_users(): GET /api/v1/users in-process, decode, check",
    "diff": "diff.compute_plan",
    "guards": "guards.evaluate",
    "render": "render.render_plan in the measured --format",
    "render_text": "render.render_plan(plan, 'text')",
    "render_json": "render.render_plan(plan, 'json')",
    "render_markdown": "render.render_plan(plan, 'markdown')",
}


# -- measuring one child process --------------------------------------------------------


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    extra: dict[str, float] = field(default_factory=dict)


class ChildFailed(RuntimeError):
    pass


#: Where children keep their bytecode (see --no-bytecode-cache); None leaves the
#: environment's PYTHONDONTWRITEBYTECODE / PYTHONPYCACHEPREFIX as they are.
_pyc_prefix: str | None = None


def child_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DEALHUB_") and k not in ("GITHUB_ACTIONS", "FORCE_COLOR")
    }
    env["NO_COLOR"] = "1"
    if _pyc_prefix is not None:
        # An installed reconciler has its .pyc files; without them every process
        # would compile reconciler's modules again (~40 ms). A private prefix keeps
        # them out of the source tree.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = _pyc_prefix
    env.update(extra)
    return env


def run_measured(
    argv: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    stdout: Any = subprocess.DEVNULL,
    timeout: float = 1800.0,
    ok_codes: tuple[int, ...] = (0,),
) -> tuple[Sample, int]:
    """Run argv to completion; wall, user+sys and peak RSS of that child alone (os.wait4)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=err, env=env or child_env())
        status, usage = _wait4(proc, timeout)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code not in ok_codes:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-3000:]
            raise ChildFailed(f"{shlex.join(argv)} exited {code}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    # Linux reports ru_maxrss in KiB (macOS in bytes).
    rss = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
    return Sample(wall, cpu, rss), code


def _wait4(proc: subprocess.Popen[Any], timeout: float) -> tuple[int, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            raise ChildFailed(f"pid {proc.pid} ran over {timeout:.0f} s and was killed")
        time.sleep(0.002)


def proc_cpu_seconds(pid: int) -> float | None:
    """user+sys CPU a running process has used so far (Linux /proc), else None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the ")" closing comm, field 3 is state; utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the simulator served over loopback -----------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    proc: subprocess.Popen[Any]
    url: str
    token: str
    log: Path
    rss_mb: float = 0.0


@contextlib.contextmanager
def sim_server(
    state: Path,
    workdir: Path,
    *,
    latency: float = 0.0,
    request_log: Path | None = None,
    system: str = "dealhub",
) -> Iterator[Server]:
    """`reconciler sim serve` on a free loopback port; stopped (SIGINT, by pid) on exit."""
    token = secrets.token_urlsafe(18)
    port = free_port()
    argv = [PY, "-m", "reconciler", "sim", "serve", "--port", str(port), "--state", str(state)]
    argv += ["--token", token, "--system", system]
    if latency:
        argv += ["--latency", repr(latency)]
    if request_log is not None:
        argv += ["--request-log", str(request_log)]
    log = workdir / f"server-{port}.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=child_env())
    server = Server(proc, f"http://127.0.0.1:{port}", token, log)
    try:
        _wait_until_listening(server, port)
        yield server
    finally:
        server.rss_mb = _stop(proc)


def _wait_until_listening(server: Server, port: int, timeout: float = 120.0) -> None:
    # A bare TCP connection, closed without a request: the simulator never sees
    # it, so the request log holds only what reconciler sent.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ChildFailed(f"sim serve exited {server.proc.returncode}:\n{_tail(server.log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise ChildFailed(f"sim serve did not listen on port {port} in {timeout:.0f} s")


def _stop(proc: subprocess.Popen[Any]) -> float:
    """Stop the server by its pid; its peak RSS in MB (0 if it was already reaped)."""
    if proc.returncode is not None:
        return 0.0
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        _, usage = _wait4(proc, 30.0)
    except ChildFailed:
        return 0.0
    except ChildProcessError:
        return 0.0
    proc.returncode = -1
    return float(usage.ru_maxrss / 1024)


def _tail(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")[-3000:]
    except OSError:
        return ""


# -- the data of one size -------------------------------------------------------------------


@dataclass
class Dataset:
    size: int
    tenant: Path
    desired: Path
    gen_wall: float
    changes: dict[str, int]

    @property
    def n_changes(self) -> int:
        return sum(self.changes[k] for k in ("create", "update", "reactivate", "deactivate"))


def make_dataset(size: int, seed: int, changes: str, workdir: Path) -> Dataset:
    tenant, desired = workdir / f"tenant-{size}.json", workdir / f"desired-{size}.yaml"
    argv = [PY, "-m", "reconciler", "sim", "generate", "--users", str(size), "--seed", str(seed)]
    argv += ["-o", str(tenant), "--desired", str(desired), "--changes", changes]
    sample, _ = run_measured(argv)
    summary = plan_summary(desired, tenant)
    return Dataset(size, tenant, desired, sample.wall, summary)


def plan_summary(desired: Path, tenant: Path) -> dict[str, int]:
    """The plan's summary, from `plan --format json` (a copy of the tenant: plan never writes)."""
    data = child_json(plan_argv(desired, f"sim:{tenant}", "json"))
    summary = data["summary"]
    if not data.get("safe", False):
        raise ChildFailed(f"the generated plan trips a safety guard: {data.get('guards')}")
    return {k: int(v) for k, v in summary.items()}


def child_json(argv: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """What a child printed as JSON (`plan ... --format json`), parsed."""
    with tempfile.TemporaryFile() as out:
        run_measured(argv, stdout=out, env=env)
        out.seek(0)
        data: dict[str, Any] = json.load(out)
    return data


def plan_argv(desired: Path, url: str, fmt: str, *more_urls: str) -> list[str]:
    argv = [PY, "-m", "reconciler", "plan", str(desired), "--api-url", url, "--format", fmt]
    for other in more_urls:
        argv += ["--api-url", other]
    return argv


# -- 1 and 2: whole processes ----------------------------------------------------------------

VARIANTS = ("python -c pass", "import reconciler.cli", *FLOORS, "plan sim:", "plan http")


def measure_processes(
    ds: Dataset, runs: int, fmt: str, workdir: Path
) -> tuple[dict[str, list[Sample]], dict[str, list[float]]]:
    """Interleaved runs of every variant and of the stages, so drift on a noisy
    machine hits them alike. Returns the samples and the stage timings."""
    results: dict[str, list[Sample]] = {v: [] for v in VARIANTS}
    stages: dict[str, list[float]] = {}
    state = workdir / f"served-{ds.size}.json"
    shutil.copyfile(ds.tenant, state)
    with sim_server(state, workdir) as server:
        http_env = child_env(DEALHUB_TOKEN=server.token)
        for run in range(runs):
            progress(f"  {ds.size:,} users: process run {run + 1}/{runs}")
            results["python -c pass"].append(run_measured([PY, "-c", "pass"])[0])
            results["import reconciler.cli"].append(
                run_measured([PY, "-c", "import reconciler.cli"])[0]
            )
            for name, code in FLOORS.items():
                floor = [PY, "-c", code, str(ds.desired), str(ds.tenant)]
                results[name].append(run_measured(floor)[0])
            results["plan sim:"].append(
                run_measured(plan_argv(ds.desired, f"sim:{ds.tenant}", fmt))[0]
            )
            before = proc_cpu_seconds(server.proc.pid)
            sample, _ = run_measured(plan_argv(ds.desired, server.url, fmt), env=http_env)
            after = proc_cpu_seconds(server.proc.pid)
            if before is not None and after is not None:
                sample.extra["server_cpu"] = after - before
            results["plan http"].append(sample)
            for name, value in run_stages(ds, fmt).items():
                stages.setdefault(name, []).append(value)
    for sample in results["plan http"]:
        sample.extra["server_rss"] = server.rss_mb
    return results, stages


# -- 3: stages, in a fresh process per run ------------------------------------------------------


# Run with `python -c` so that the "import" stage starts from a bare interpreter,
# as the CLI does (this harness's own imports would otherwise be preloaded).
STAGES_CODE = """
import json, os, resource, sys, time
desired, tenant, fmt, mode = sys.argv[1:5]
t = {}

def rss():  # resident MB now (Linux), else -1
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return -1.0

start = time.perf_counter()
import reconciler.cli  # every module the CLI's plan loads
from reconciler import guards
from reconciler.providers.dealhub.client import connect
from reconciler.desired import load_desired
from reconciler.diff import compute_plan
from reconciler.render import render_plan
from reconciler.yaml_source import read_yaml
t["import"] = time.perf_counter() - start
t["rss:import"] = rss()
# Whatever process-wide setup the CLI's entry point makes (it may turn the cyclic
# GC off, for one), made here too by running it on --version, output discarded.
import contextlib, gc, io
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        reconciler.cli.main(["--version"])
    except SystemExit:
        pass
t["gc_enabled"] = float(gc.isenabled())

def timed(name, func):
    begin = time.perf_counter()
    value = func()
    t[name] = time.perf_counter() - begin
    t["rss:" + name] = rss()
    return value

if mode == "parse":
    # Alone in its process: parsing twice in one process would slow the second.
    timed("parse", lambda: read_yaml(desired))
    sys.stdout.write(json.dumps(t) + "\\n")
    sys.stdout.flush()
    os._exit(0)
state = timed("load_desired", lambda: load_desired([desired]))
client = timed("connect", lambda: connect("sim:" + tenant, None, writable=False))
users = timed("fetch", client.list_users)
plan = timed("diff", lambda: compute_plan(state, users, target=client.target))
threshold = state.settings.max_deactivations
plan = timed("guards", lambda: guards.evaluate(plan, threshold, allow_mass_deactivation=False))
for name in ("text", "json", "markdown"):
    timed("render_" + name, lambda: render_plan(plan, name, color=False))
t["render"] = t["render_" + fmt]
t["rss:render"] = t["rss:render_" + fmt]
t["rss:peak"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
client.close()
sys.stdout.write(json.dumps(t) + "\\n")
sys.stdout.flush()
os._exit(0)  # freeing the objects is not a stage: the whole-process run shows it
"""


def run_stages(ds: Dataset, fmt: str) -> dict[str, float]:
    """One run of STAGES_CODE: seconds per stage, MB held after each.

    `parse` is timed in a process of its own, the other stages in a second one,
    each fresh; validate = load_desired - parse.
    """
    timings: dict[str, float] = {}
    for mode in ("parse", "plan"):
        argv = [PY, "-c", STAGES_CODE, str(ds.desired), str(ds.tenant), fmt, mode]
        with tempfile.TemporaryFile() as fh:
            run_measured(argv, stdout=fh)
            fh.seek(0)
            found = json.loads(fh.read())
        if mode == "parse":
            timings["parse"], timings["rss:parse"] = found["parse"], found["rss:parse"]
            timings["gc_enabled_parse"] = found["gc_enabled"]
        else:
            timings.update(found)
    timings["validate"] = max(0.0, timings["load_desired"] - timings["parse"])
    timings["rss:validate"] = timings["rss:load_desired"]
    return timings


# -- 4: apply against sim serve with latency -----------------------------------------------------


@dataclass
class ApplyRun:
    sample: Sample
    counts: dict[str, int]
    non_2xx: int
    converged: bool | None


def classify(entry: dict[str, Any]) -> str:
    method, path = entry.get("method"), str(entry.get("path", ""))
    if method == "GET" and path == "/api/v1/users":
        return "GET /api/v1/users"
    if method == "PUT" and path == "/api/v2/users":
        return "PUT /api/v2/users"
    if method == "GET" and path.startswith("/api/v1/request/") and path.endswith("/status"):
        return "status polls"
    return "other"


def measure_apply(
    ds: Dataset, runs: int, latency: float, workdir: Path, check_convergence: bool = True
) -> list[ApplyRun]:
    results = []
    for run in range(runs):
        progress(f"  apply at {ds.size:,} users: run {run + 1}/{runs}")
        rundir = workdir / f"apply-{ds.size}-{run}"
        rundir.mkdir()
        state, log = rundir / "tenant.json", rundir / "requests.jsonl"
        shutil.copyfile(ds.tenant, state)
        with sim_server(state, rundir, latency=latency, request_log=log) as server:
            argv = [PY, "-m", "reconciler", "apply", str(ds.desired), "--auto-approve"]
            argv += ["--api-url", server.url]
            with open(rundir / "apply.out", "w+b") as out:
                sample, _ = run_measured(
                    argv, env=child_env(DEALHUB_TOKEN=server.token), stdout=out
                )
                out.seek(0)
                text = out.read().decode("utf-8", "replace")
        if " 0 failed." not in text:
            raise ChildFailed(f"apply did not complete cleanly:\n{text[-2000:]}")
        counts = dict.fromkeys(
            ("GET /api/v1/users", "PUT /api/v2/users", "status polls", "other"), 0
        )
        non_2xx = 0
        with open(log, encoding="utf-8") as fh:
            for line in fh:
                entry = json.loads(line)
                counts[classify(entry)] += 1
                status = entry.get("status")
                if status is None or not 200 <= status < 300:
                    non_2xx += 1
        converged = None
        if check_convergence and run == 0:
            # SPEC invariant 7: after apply, plan against the same tenant shows no changes.
            argv = [*plan_argv(ds.desired, f"sim:{state}", "text"), "--detailed-exitcode"]
            _, code = run_measured(argv, ok_codes=(0, 2))
            converged = code == 0
        results.append(ApplyRun(sample, counts, non_2xx, converged))
        shutil.rmtree(rundir, ignore_errors=True)
    return results


# -- reporting ------------------------------------------------------------------------------------


def med(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b > 0 else "n/a"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str = "") -> str:
    align = align or "l" + "r" * (len(headers) - 1)
    marks = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> list[tuple[str, str]]:
    model = ""
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/meminfo", encoding="ascii") as fh:
            kb = int(fh.readline().split()[1])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    load = ""
    with contextlib.suppress(OSError):
        load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    import yaml

    return [
        ("platform", platform.platform()),
        ("python", f"{platform.python_implementation()} {platform.python_version()} ({PY})"),
        ("CPUs (os.cpu_count)", str(os.cpu_count())),
        ("CPU model (lscpu)", model or "unknown"),
        ("memory", mem or "unknown"),
        ("load average at start (1/5/15 min)", load or "unknown"),
        ("libyaml", "yes" if getattr(yaml, "__with_libyaml__", False) else "NO"),
    ]


def harness_rss_note() -> str:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (
        f"{peak:.0f} MB (Linux counts a parent's peak RSS, as it was when a child started, in "
        "the child's ru_maxrss: no peak RSS above is below the harness's at that time, "
        "which is its start-up size until section 5)"
    )


def bytecode_note(args: argparse.Namespace) -> str:
    set_off = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    if args.no_bytecode_cache:
        was = "PYTHONDONTWRITEBYTECODE=1" if set_off else "default settings"
        return f"as the environment has it ({was}; --no-bytecode-cache)"
    note = "; overrides the environment's PYTHONDONTWRITEBYTECODE=1" if set_off else ""
    return f"private PYTHONPYCACHEPREFIX, warmed before measuring{note}"


@dataclass
class Report:
    args: argparse.Namespace
    command: str
    started: dt.datetime
    machine: list[tuple[str, str]]
    datasets: list[Dataset] = field(default_factory=list)
    processes: dict[int, dict[str, list[Sample]]] = field(default_factory=dict)
    stages: dict[int, dict[str, list[float]]] = field(default_factory=dict)
    apply: tuple[Dataset, list[ApplyRun]] | None = None
    pipedrive: list[PipedriveRun] | None = None
    systems: list[SystemsRun] | None = None
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    elapsed: float = 0.0

    def markdown(self) -> str:
        a = self.args
        parts = [
            "# reconciler benchmark results",
            "",
            f"Generated by `bench/run.py` on {self.started:%Y-%m-%d %H:%M:%S %Z} "
            f"in {self.elapsed:.0f} s. Command (from the repository root):",
            "",
            f"    {self.command}",
            "",
            f"Medians of {a.runs} run(s); within a run every variant runs once, in turn, so "
            "ratios compare runs made under the same machine load. The machine is shared "
            "and noisy: read ratios rather than absolute times.",
            "",
            "## Machine",
            "",
            table(["", ""], self.machine, "ll"),
            "",
            "## Data",
            "",
            f"Generated with `reconciler sim generate --seed {a.seed} --changes {a.changes}`; "
            "changes counted from `plan --format json`.",
            "",
            self.data_table(),
            "",
            "## 1. `plan` as a whole process",
            "",
            f"`{Path(PY).name} -m reconciler plan DESIRED --api-url URL --format {a.format} "
            "> /dev/null`. CPU is user+sys and peak RSS is ru_maxrss of that one child "
            "(os.wait4). `sim:` runs the simulator in-process (it reads the tenant JSON "
            "itself); `http` fetches from `reconciler sim serve` on loopback (a separate "
            "process started once per size, whose CPU per plan is shown apart).",
            "",
            self.process_table(),
            "",
            "## 2. The floor, and plan / floor",
            "",
            "`floor` is a process that only does `yaml.load(DESIRED, Loader=CSafeLoader)` "
            "and `json.load(TENANT)` after interpreter start. Two tighter floors for "
            "context: `floor, gc off` is the same with `gc.disable()` first (as "
            "reconciler does while it builds its data), and `floor, libyaml "
            "events` only iterates `yaml.parse(DESIRED, Loader=CSafeLoader)` (libyaml's "
            "event stream, from which reconciler builds its data) before `json.load`: "
            "the least work that reads both files. Ratios are of the medians.",
            "",
            self.floor_table(),
            "",
            "plan against each floor:",
            "",
            self.floor_ratios_table(),
            "",
            "## 3. Stages of a plan (in-process, `sim:`)",
            "",
            "Fresh processes (cold caches, as in the CLI), interleaved with the runs of "
            "sections 1 and 2; times from `time.perf_counter`. Each run times `parse` "
            "alone in one process and the other stages together in another; `validate` = "
            "`load_desired` − `parse`. `pipeline` sums, run by run, the stages the CLI "
            "runs (the median of those sums); `other` is the whole-process `plan sim:` "
            "wall minus the pipeline: interpreter start, click, writing the output, exit. "
            "They come from different processes, so on a noisy machine `other` can come "
            "out slightly negative. Before the stages, each process runs "
            "`reconciler.cli.main(['--version'])` so that the process-wide setup of the CLI "
            f"applies (cyclic GC during the stages: {self.gc_state()}).",
            "",
            self.stages_table(),
            "",
        ]
        parts += ["## 4. `apply` against `sim serve` with injected latency", ""]
        parts += [self.apply_section(), ""]
        parts += ["## 5. Pipedrive `apply`: tokens, requests and pacing", ""]
        parts += [pipedrive_section(self.pipedrive), ""]
        parts += ["## 6. One people file, both systems: `plan` of both against each alone", ""]
        parts += [systems_section(self.systems, a.format), ""]
        parts += ["## Checks", ""]
        parts += [
            table(
                ["check", "result", "detail"],
                [(n, "ok" if ok else "**FAILED**", d) for n, ok, d in self.checks],
                "lll",
            )
            if self.checks
            else "(none)",
            "",
        ]
        return "\n".join(parts)

    def data_table(self) -> str:
        rows = []
        for ds in self.datasets:
            c = ds.changes
            rows.append(
                (
                    f"{ds.size:,}",
                    f"{ds.tenant.stat().st_size / 1e6:.1f}",
                    f"{ds.desired.stat().st_size / 1e6:.1f}",
                    f"{ds.gen_wall:.2f}",
                    c["create"],
                    c["update"],
                    c["reactivate"],
                    c["deactivate"],
                    c["unchanged"],
                    ds.n_changes,
                )
            )
        return table(
            [
                "users",
                "tenant MB",
                "desired MB",
                "generate s",
                "create",
                "update",
                "reactivate",
                "deactivate",
                "unchanged",
                "changes",
            ],
            rows,
        )

    def process_table(self) -> str:
        rows = []
        for size, res in self.processes.items():
            for variant in ("plan sim:", "plan http"):
                samples = res[variant]
                walls = [s.wall for s in samples]
                server_cpu = [s.extra["server_cpu"] for s in samples if "server_cpu" in s.extra]
                server_rss = [s.extra["server_rss"] for s in samples if "server_rss" in s.extra]
                rows.append(
                    (
                        f"{size:,}",
                        variant,
                        f"{med(walls):.3f}",
                        f"{min(walls):.3f}–{max(walls):.3f}",
                        f"{med([s.cpu for s in samples]):.3f}",
                        f"{med([s.rss_mb for s in samples]):.0f}",
                        f"{med(server_cpu):.3f}" if server_cpu else "",
                        f"{max(server_rss):.0f}" if server_rss and max(server_rss) else "",
                    )
                )
        return table(
            [
                "users",
                "variant",
                "wall s",
                "wall min–max",
                "CPU s",
                "peak RSS MB",
                "server CPU s",
                "server peak RSS MB",
            ],
            rows,
            "ll" + "r" * 6,
        )

    def floor_table(self) -> str:
        rows = []
        for size, res in self.processes.items():
            floor = res["floor"]
            fw, fc, fr = (med([getattr(s, k) for s in floor]) for k in ("wall", "cpu", "rss_mb"))
            for variant in VARIANTS:
                samples = res[variant]
                w, c, r = (med([getattr(s, k) for s in samples]) for k in ("wall", "cpu", "rss_mb"))
                rows.append(
                    (
                        f"{size:,}",
                        variant,
                        f"{w:.3f}",
                        f"{c:.3f}",
                        f"{r:.0f}",
                        ratio(w, fw),
                        ratio(c, fc),
                        ratio(r, fr),
                    )
                )
        return table(
            [
                "users",
                "process",
                "wall s",
                "CPU s",
                "peak RSS MB",
                "wall / floor",
                "CPU / floor",
                "RSS / floor",
            ],
            rows,
            "ll" + "r" * 6,
        )

    def gc_state(self) -> str:
        states = {v for st in self.stages.values() for v in st.get("gc_enabled", [])}
        if not states:
            return "unknown"
        return "mixed" if len(states) > 1 else ("on" if states.pop() else "off")

    def floor_ratios_table(self) -> str:
        rows = []
        for size, res in self.processes.items():
            for variant in ("plan sim:", "plan http"):
                row: list[str] = [f"{size:,}", variant]
                for key in ("wall", "cpu"):
                    value = med([getattr(s, key) for s in res[variant]])
                    for floor in FLOORS:
                        row.append(ratio(value, med([getattr(s, key) for s in res[floor]])))
                rows.append(row)
        headers = ["users", "plan"]
        for key in ("wall", "CPU"):
            headers += [f"{key} / {floor}" for floor in FLOORS]
        return table(headers, rows, "ll" + "r" * 2 * len(FLOORS))

    def stages_table(self) -> str:
        sizes = list(self.stages)
        names = [*PIPELINE, "pipeline", "other", "plan sim: (whole process)"]
        extra = ["load_desired", "render_text", "render_json", "render_markdown"]
        medians: dict[int, dict[str, float]] = {}
        for size in sizes:
            runs = self.stages[size]
            st = {k: med(v) for k, v in runs.items()}
            # Summed run by run (parse + validate is load_desired), then the median.
            summed = [runs[k] for k in PIPELINE if k not in ("parse", "validate")]
            summed.append(runs["load_desired"])
            pipeline = [sum(values) for values in zip(*summed, strict=True)]
            st["pipeline"] = med(pipeline)
            whole = med([s.wall for s in self.processes[size]["plan sim:"]])
            st["plan sim: (whole process)"] = whole
            st["other"] = whole - st["pipeline"]
            medians[size] = st
        headers = ["stage"]
        for size in sizes:
            headers += [f"{size:,} s", f"{size:,} share", f"{size:,} RSS MB after"]
        headers.append("what")
        rows = []
        for name in [*names, *extra]:
            row: list[Any] = [name if name not in extra else f"({name})"]
            for size in sizes:
                st = medians[size]
                value = st.get(name, float("nan"))
                share = value / st["plan sim: (whole process)"]
                held = st.get(f"rss:{name}")
                row += [f"{value:.3f}", f"{share:.0%}", f"{held:.0f}" if held else ""]
            row.append(STAGE_NOTES.get(name, ""))
            rows.append(row)
        peak = ["peak RSS (ru_maxrss)"]
        for size in sizes:
            value = medians[size].get("rss:peak")
            peak += ["", "", f"{value:.0f}" if value else ""]
        rows.append([*peak, "the stages process (all but parse) at its end"])
        slowest = []
        for size in sizes:
            st = medians[size]
            top = max(PIPELINE, key=lambda k: st[k])
            slowest.append(f"{size:,} users: **{top}** ({st[top]:.3f} s)")
        return (
            table(headers, rows, "l" + "r" * (3 * len(sizes)) + "l")
            + "\n\nSlowest stage: "
            + "; ".join(slowest)
            + ". Rows in parentheses are not added to the pipeline. `RSS MB after` is "
            "the process's resident memory (/proc/self/statm) right after the stage, with "
            "everything earlier stages built still alive (`parse`: its own process, "
            "holding the parsed document)."
        )

    def apply_section(self) -> str:
        if self.apply is None:
            return "Skipped (--skip-apply, --only-pipedrive or --only-systems)."
        ds, runs = self.apply
        latency = self.args.apply_latency
        walls = [r.sample.wall for r in runs]
        counts = runs[0].counts
        total = sum(counts.values())
        expected = 1 + math.ceil(ds.n_changes / BATCH_SIZE) + 1
        bound = total * latency
        lines = [
            f"`reconciler apply DESIRED --auto-approve --api-url http://127.0.0.1:PORT` "
            f"against `sim serve --latency {latency:g} --request-log FILE` over a fresh copy "
            f"of the {ds.size:,}-user tenant each run; {ds.n_changes} changes, batch size "
            f"{BATCH_SIZE}. Requests are counted from the server's request log. The lower "
            "bound is requests × latency (the requests are sequential).",
            "",
            table(
                [
                    "users",
                    "changes",
                    "GET /api/v1/users",
                    "PUT /api/v2/users",
                    "status polls",
                    "other",
                    "requests",
                    "expected 1 + ⌈changes/100⌉ + 1",
                    "non-2xx",
                ],
                [
                    (
                        f"{ds.size:,}",
                        ds.n_changes,
                        counts["GET /api/v1/users"],
                        counts["PUT /api/v2/users"],
                        counts["status polls"],
                        counts["other"],
                        total,
                        expected,
                        runs[0].non_2xx,
                    )
                ],
            ),
            "",
            table(
                [
                    "users",
                    "latency s",
                    "wall s",
                    "wall min–max",
                    "CPU s (client)",
                    "peak RSS MB (client)",
                    "lower bound s",
                    "wall / lower bound",
                    "wall − lower bound s",
                ],
                [
                    (
                        f"{ds.size:,}",
                        f"{latency:g}",
                        f"{med(walls):.3f}",
                        f"{min(walls):.3f}–{max(walls):.3f}",
                        f"{med([r.sample.cpu for r in runs]):.3f}",
                        f"{med([r.sample.rss_mb for r in runs]):.0f}",
                        f"{bound:.3f}",
                        ratio(med(walls), bound) if bound else "n/a (latency 0)",
                        f"{med(walls) - bound:.3f}",
                    )
                ],
            ),
        ]
        plan_http = self.processes.get(ds.size, {}).get("plan http")
        if plan_http:
            planned = med([s.wall for s in plan_http])
            rest = med(walls) - planned
            lines += [
                "",
                f"For scale: `plan` over HTTP at {ds.size:,} users (section 1, no latency) "
                f"takes {planned:.3f} s, and apply first computes the same plan; apply − plan "
                f"= {rest:.3f} s for the other {total - 1} requests "
                f"({(total - 1) * latency:.3f} s of it injected latency) and the "
                "verification.",
            ]
        return "\n".join(lines)


# -- Pipedrive apply, on a simulated clock --------------------------------------------

PD_TOKEN = "bench-pipedrive-token"
PD_READ, PD_WRITE, PD_BURST, PD_WINDOW = 22, 10, 20, 2.0


@dataclass
class PipedriveRun:
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

    def checks(self) -> list[tuple[str, bool, str]]:
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

    share = float(changes.rstrip("%")) / (100 if changes.endswith("%") else 1)
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


# -- 6: one people file, both systems ----------------------------------------------------------

#: The three plans of section 6: DealHub alone, Pipedrive alone, both in one process.
SYSTEMS_VARIANTS = ("dealhub", "pipedrive", "both")
SYSTEMS_KINDS = ("create", "update", "reactivate", "deactivate")
#: Share of Pipedrive's changes per kind (its API cannot update a user), as `sim generate`.
SYSTEMS_PD_SHARES = {"create": 0.4, "reactivate": 0.15}
SYSTEMS_HEADER = (
    "# Generated by bench/run.py: one people file for DealHub and Pipedrive.\n"
    "version: 1\nsettings:\n  systems: [dealhub, pipedrive]\n  unlisted: deactivate\n"
    "  max_deactivations: 25%\n"
    "  pipedrive: {unlisted: deactivate, max_deactivations: 25%}\n"
    'defaults:\n  pipedrive: {"access": [{"app": "sales"}]}\nusers:\n'
)


@dataclass
class SystemsDataset:
    size: int
    people: Path
    tenant: Path
    company: Path
    listed: int
    company_users: int
    #: system -> the plan summary the data is built to give (DealHub: section 1's plan).
    expected: dict[str, dict[str, int]]


# Run in a child: a process's ru_maxrss counts its parent's peak RSS when it was started
# (Linux carries the peak of the memory it had before exec), so this harness never holds
# a tenant itself; the child imports this file as a module and prints what it built.
SYSTEMS_BUILD_CODE = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bench_run", sys.argv[1])
bench = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = bench
spec.loader.exec_module(bench)
print(json.dumps(bench.build_systems_data(*json.loads(sys.argv[2]))))
"""


def make_systems_dataset(ds: Dataset, seed: int, changes: str, workdir: Path) -> SystemsDataset:
    """Section 6's data of one size, built by `build_systems_data` in a child process."""
    given = [str(ds.tenant), str(ds.desired), ds.size, seed, changes, str(workdir)]
    argv = [PY, "-c", SYSTEMS_BUILD_CODE, str(Path(__file__).resolve()), json.dumps(given)]
    built = child_json(argv)
    return SystemsDataset(
        ds.size,
        Path(built["people"]),
        ds.tenant,
        Path(built["company"]),
        built["listed"],
        built["company_users"],
        {"dealhub": dict(ds.changes), "pipedrive": built["pipedrive"]},
    )


def build_systems_data(
    tenant_file: str, desired_file: str, size: int, seed: int, changes: str, workdir: str
) -> dict[str, Any]:
    """Section 1's tenant and desired state, made one people file for both systems, and a
    Pipedrive company of the same people (same emails) that the file changes by about
    `changes` of them: creates, reactivations, deactivations (listed `is_active: false`,
    left out of the file, and company users the file never names). Returns the files
    written and the Pipedrive plan summary they are built to give."""
    import random

    import yaml

    from reconciler.providers.pipedrive.sim_generate import _short_access, generate_company

    share = float(changes.rstrip("%")) / (100 if changes.endswith("%") else 1)
    with open(desired_file, encoding="utf-8") as fh:
        listed = yaml.load(fh, Loader=yaml.CSafeLoader)["users"]
    with open(tenant_file, encoding="utf-8") as fh:
        tenant = json.load(fh)
    entry_of = {u["login"]: u for u in listed}
    known = {u["login"] for u in tenant}
    # Every person: the tenant's users (listed or left out), then the file's new people.
    people: list[tuple[str, str, dict[str, Any] | None]] = [
        (
            entry_of[u["login"]]["email"] if u["login"] in entry_of else u["email"],
            u["name"],
            entry_of.get(u["login"]),
        )
        for u in tenant
    ] + [(u["email"], u["name"], u) for u in listed if u["login"] not in known]
    active = [i for i, (_, _, e) in enumerate(people) if e and e.get("is_active") is not False]
    inactive = [i for i, (_, _, e) in enumerate(people) if e and e.get("is_active") is False]
    omitted = [i for i, (_, _, e) in enumerate(people) if e is None]

    total = round(share * len(people))
    counts = {kind: int(total * s) for kind, s in SYSTEMS_PD_SHARES.items()}
    if total >= 3:
        counts = {kind: max(1, n) for kind, n in counts.items()}
    deactivate = total - sum(counts.values())
    rng = random.Random(f"bench-systems-{seed}")
    you, *others = active  # the token's own user: listed, active, never changed
    rng.shuffle(others)
    rng.shuffle(inactive)
    rng.shuffle(omitted)
    created = set(others[: counts["create"]])
    reactivated = set(others[counts["create"] : counts["create"] + counts["reactivate"]])
    # Deactivations a third each: listed `is_active: false`, left out, never named.
    turned_off = set(inactive[: deactivate // 3])
    left_out = set(omitted[: deactivate // 3])
    strangers = deactivate - len(turned_off) - len(left_out)

    records = generate_company(len(people) + strangers, seed)
    company: list[dict[str, Any]] = []
    entries = [SYSTEMS_HEADER]
    for index, (email, name, entry) in enumerate(people):
        record = records[index]
        if entry is not None:
            access = _short_access(record["access"])
            block = f"    pipedrive: {_json({'access': access})}\n"
            entries.append(
                "  - "
                + "\n    ".join(f"{k}: {_json(v)}" for k, v in entry.items())
                + "\n"
                + (block if access != [{"app": "sales"}] else "")
            )
        if index in created:
            continue
        if index in reactivated:
            active_flag = False
        elif index in turned_off or index in left_out:
            active_flag = True
        else:
            active_flag = index in active  # as the file wants it: no change
        record.update(
            email=email,
            name=name if record["activated"] else email,  # invited: named by their email
            active_flag=active_flag,
            is_deleted=False,
            is_you=index == you,
            has_created_company=index == you,
        )
        company.append(record)
    for number, record in enumerate(records[len(people) :]):
        handle, domain = record["email"].lower().split("@")
        record.update(
            email=f"{handle}.ext{number}@{domain}",  # no person of the file has it
            active_flag=True,
            is_deleted=False,
            is_you=False,
            has_created_company=False,
        )
        company.append(record)
    people_file = Path(workdir) / f"people-{size}.yaml"
    people_file.write_text("".join(entries), encoding="utf-8")
    company_file = Path(workdir) / f"company-{size}.json"
    company_file.write_text(json.dumps(company), encoding="utf-8")
    n_listed = len(active) + len(inactive)
    pipedrive = {
        "create": len(created),
        "update": 0,
        "reactivate": len(reactivated),
        "deactivate": deactivate,
        "unchanged": n_listed - len(created) - len(reactivated) - len(turned_off),
    }
    return {
        "people": str(people_file),
        "company": str(company_file),
        "listed": n_listed,
        "company_users": len(company),
        "pipedrive": pipedrive,
    }


_json = json.JSONEncoder(ensure_ascii=False).encode  # a JSON scalar is a YAML flow scalar


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
    data: SystemsDataset
    #: targets ("`sim:` files", "loopback, latency 0.05 s") -> variant -> samples
    samples: dict[str, dict[str, list[Sample]]]
    checks: list[tuple[str, bool, str]]


def check_systems_plans(sd: SystemsDataset) -> list[tuple[str, bool, str]]:
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
                *(dh[k] for k in SYSTEMS_KINDS),
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
            table(
                ["check", "result", "detail"],
                [(n, "ok" if ok else "**FAILED**", d) for n, ok, d in checks],
                "lll",
            ),
        ]
    )


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
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
    try:
        args.size_list = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error(f"--sizes {args.sizes!r}: give integers separated by commas")
    try:
        args.systems_latencies = [float(s) for s in args.systems_latency.split(",") if s.strip()]
    except ValueError:
        p.error(f"--systems-latency {args.systems_latency!r}: give seconds separated by commas")
    if any(not 0 <= x < 60 for x in args.systems_latencies):
        p.error("--systems-latency: each latency from 0 to 60 seconds")
    if args.runs < 1 or any(s < 1 for s in args.size_list):
        p.error("--runs and every size must be at least 1")
    return args


def to_json(report: Report) -> dict[str, Any]:
    def samples(xs: list[Sample]) -> list[dict[str, Any]]:
        return [{"wall": s.wall, "cpu": s.cpu, "rss_mb": s.rss_mb, **s.extra} for s in xs]

    data: dict[str, Any] = {
        "command": report.command,
        "date": report.started.isoformat(),
        "machine": dict(report.machine),
        "data": {
            str(ds.size): {"changes": ds.changes, "n_changes": ds.n_changes}
            for ds in report.datasets
        },
        "processes": {
            str(size): {v: samples(xs) for v, xs in res.items()}
            for size, res in report.processes.items()
        },
        "stages": {str(size): st for size, st in report.stages.items()},
        "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in report.checks],
    }
    if report.systems is not None:
        data["systems"] = {
            str(r.data.size): {
                "people_listed": r.data.listed,
                "company_users": r.data.company_users,
                "expected": r.data.expected,
                "samples": {
                    target: {v: samples(xs) for v, xs in by_variant.items()}
                    for target, by_variant in r.samples.items()
                },
                "checks": [{"name": n, "ok": ok, "detail": d} for n, ok, d in r.checks],
            }
            for r in report.systems
        }
    if report.apply is not None:
        ds, runs = report.apply
        data["apply"] = {
            "size": ds.size,
            "latency": report.args.apply_latency,
            "n_changes": ds.n_changes,
            "expected_requests": 1 + math.ceil(ds.n_changes / BATCH_SIZE) + 1,
            "runs": [
                {**samples([r.sample])[0], "counts": r.counts, "non_2xx": r.non_2xx,
                 "converged": r.converged}
                for r in runs
            ],
        }  # fmt: skip
    return data


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
        global _pyc_prefix
        if not args.no_bytecode_cache:
            _pyc_prefix = str(workdir / "pycache")
        report.machine.append(("bytecode cache of the children", bytecode_note(args)))
        for _ in range(2):  # warm the bytecode and the page cache
            run_measured([PY, "-c", "import reconciler.cli, yaml, json"])
        datasets: dict[int, Dataset] = {}
        only = args.only_pipedrive or args.only_systems  # the other sections are left empty
        for size in [] if only else args.size_list:
            progress(f"{size:,} users: generating")
            ds = make_dataset(size, args.seed, args.changes, workdir)
            datasets[size] = ds
            report.datasets.append(ds)
            processes, stages = measure_processes(ds, args.runs, args.format, workdir)
            report.processes[size], report.stages[size] = processes, stages
        # Shown in sections 5 and 6 and in the exit status, not in the Checks table of 1-4.
        failed_checks: list[tuple[str, bool, str]] = []
        if not args.skip_systems and (args.only_systems or not only):
            report.systems = []
            for size in args.size_list:
                ds = datasets.get(size) or make_dataset(size, args.seed, args.changes, workdir)
                progress(f"{size:,} users (one people file, both systems)")
                sr = measure_systems(ds, args, workdir)
                report.systems.append(sr)
                failed_checks += [c for c in sr.checks if not c[1]]
        if not args.skip_apply and not only:
            ds = datasets.get(args.apply_size)
            if ds is None:
                progress(f"{args.apply_size:,} users (apply): generating")
                ds = make_dataset(args.apply_size, args.seed, args.changes, workdir)
            runs = measure_apply(ds, args.apply_runs or args.runs, args.apply_latency, workdir)
            report.apply = (ds, runs)
            expected = 1 + math.ceil(ds.n_changes / BATCH_SIZE) + 1
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
                report.checks.append(("apply requests == 1 + ⌈changes/100⌉ + 1", ok, detail))
                if r.converged is not None:
                    report.checks.append(
                        (
                            "plan after apply shows no changes",
                            r.converged,
                            "plan --detailed-exitcode exited "
                            + ("0" if r.converged else "2 (changes left)"),
                        )
                    )
        # Last: it runs in this process, and every child started after it would count the
        # memory it took in its own peak RSS (see SYSTEMS_BUILD_CODE).
        if not args.skip_pipedrive and (args.only_pipedrive or not only):
            report.pipedrive = []
            for size in args.size_list:
                progress(f"{size:,} users (Pipedrive apply, simulated clock)")
                pd = measure_pipedrive(size, args.seed, args.changes, workdir)
                report.pipedrive.append(pd)
                failed_checks += [c for c in pd.checks() if not c[1]]
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
