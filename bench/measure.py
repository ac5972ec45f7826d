"""Measuring one child process: wall time, CPU (user+sys) and peak RSS, read with os.wait4.

Every child is started and reaped here by its pid, so what is measured is that one
process and nothing else; the harness never holds a tenant in memory itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

#: The repository the harness measures (bench/..).
ROOT = Path(__file__).resolve().parent.parent
#: bench/, where the programs run in fresh processes live (stages.py, floors.py).
BENCH = ROOT / "bench"
#: The interpreter every child runs on: the harness's own.
PY = sys.executable
#: What a child may get as stdout: a file, DEVNULL or None (inherited).
Stdout = IO[Any] | int | None


@dataclass
class Sample:
    """One finished child: seconds of wall and CPU time, peak resident MB."""

    wall: float
    cpu: float
    rss_mb: float
    #: Figures measured beside the child (the server's CPU, its peak RSS).
    extra: dict[str, float] = field(default_factory=dict)


class ChildFailed(RuntimeError):
    """A child exited with a code it should not have, or ran over its time."""


#: Where children keep their bytecode (see --no-bytecode-cache); None leaves the
#: environment's PYTHONDONTWRITEBYTECODE / PYTHONPYCACHEPREFIX as they are.
_pyc_prefix: str | None = None


def use_bytecode_cache(prefix: str | None) -> None:
    """Children cache their .pyc files under `prefix` from now on (None: as the env says)."""
    global _pyc_prefix
    _pyc_prefix = prefix


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child: the harness's, without tokens or colour, plus `extra`."""
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
    stdout: Stdout = subprocess.DEVNULL,
    timeout: float = 1800.0,
    ok_codes: tuple[int, ...] = (0,),
) -> tuple[Sample, int]:
    """Run argv to completion; wall, user+sys and peak RSS of that child alone (os.wait4)."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=stdout, stderr=err, env=env or child_env())
        status, usage = reap(proc, timeout)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        proc.returncode = code
        if code not in ok_codes:
            err.seek(0)
            tail = err.read().decode("utf-8", "replace")[-3000:]
            raise ChildFailed(f"{shlex.join(argv)} exited {code}:\n{tail}")
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss_mb(usage)), code


def rss_mb(usage: resource.struct_rusage) -> float:
    """Peak RSS in MB: Linux reports ru_maxrss in KiB (macOS in bytes)."""
    return usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)


def reap(proc: subprocess.Popen[Any], timeout: float) -> tuple[int, resource.struct_rusage]:
    """Wait for proc by its pid (killing it after `timeout` s): its status and usage."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            return status, usage
        if time.monotonic() > deadline:
            os.kill(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
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


def child_output(argv: Sequence[str], env: dict[str, str] | None = None) -> bytes:
    """What a child printed on stdout (it must exit 0)."""
    with tempfile.TemporaryFile() as out:
        run_measured(argv, stdout=out, env=env)
        out.seek(0)
        return out.read()


def child_json(argv: Sequence[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """What a child printed as one JSON object (`plan ... --format json`), parsed."""
    data = json.loads(child_output(argv, env))
    if not isinstance(data, dict):
        raise ChildFailed(f"{shlex.join(argv)} printed {type(data).__name__}, not an object")
    return data


def tail(path: Path) -> str:
    """The last 3,000 characters of a log file ('' if it cannot be read)."""
    with contextlib.suppress(OSError):
        return path.read_text(encoding="utf-8", errors="replace")[-3000:]
    return ""


def med(values: Sequence[float]) -> float:
    """The median (NaN for no values: a table shows 'nan', not a crash)."""
    return statistics.median(values) if values else float("nan")


def progress(message: str) -> None:
    """A line of progress on stderr (the tables go to stdout)."""
    print(message, file=sys.stderr, flush=True)
