"""`reconciler sim serve` on a free loopback port, started and stopped by its pid."""

from __future__ import annotations

import contextlib
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.measure import PY, ChildFailed, child_env, reap, rss_mb, tail


def free_port() -> int:
    """A loopback port free at the time of asking."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A running `sim serve`: its process, URL and token, and its stderr's file."""

    proc: subprocess.Popen[Any]
    url: str
    token: str
    log: Path
    #: Its peak RSS in MB, known once it is stopped.
    rss_mb: float = 0.0


@contextlib.contextmanager
def sim_server(
    state: Path,
    workdir: Path,
    *,
    latency: float = 0.0,
    request_log: Path | None = None,
    system: str = "dealhub",
    options: tuple[str, ...] = (),
) -> Iterator[Server]:
    """`reconciler sim serve` on a free loopback port; stopped (SIGINT, by pid) on exit.

    `options` are more of `sim serve`'s options (e.g. `--daily-budget N`).
    """
    token = secrets.token_urlsafe(18)
    port = free_port()
    argv = [PY, "-m", "reconciler", "sim", "serve", "--port", str(port), "--state", str(state)]
    argv += ["--token", token, "--system", system, *options]
    if latency:
        argv += ["--latency", repr(latency)]
    if request_log is not None:
        argv += ["--request-log", str(request_log)]
    log = workdir / f"server-{port}.stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=child_env())
    server = Server(proc, f"http://127.0.0.1:{port}", token, log)
    try:
        wait_until_listening(server, port)
        yield server
    finally:
        server.rss_mb = stop(proc)


def wait_until_listening(server: Server, port: int, timeout: float = 120.0) -> None:
    """Return once the server accepts a connection (ChildFailed if it exits or times out)."""
    # A bare TCP connection, closed without a request: the simulator never sees
    # it, so the request log holds only what reconciler sent.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise ChildFailed(f"sim serve exited {server.proc.returncode}:\n{tail(server.log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise ChildFailed(f"sim serve did not listen on port {port} in {timeout:.0f} s")


def stop(proc: subprocess.Popen[Any]) -> float:
    """Stop the server by its pid; its peak RSS in MB (0 if it was already reaped)."""
    if proc.returncode is not None:
        return 0.0
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGINT)
    try:
        _, usage = reap(proc, 30.0)
    except (ChildFailed, ChildProcessError):
        return 0.0
    proc.returncode = -1
    return rss_mb(usage)
