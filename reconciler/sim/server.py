"""A simulator over a real HTTP socket, with the standard library's threading server."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from reconciler.sim.response import split_target
from reconciler.sim.systems import SimulatedApi

#: Largest request body accepted; far above what 100,000 users take.
MAX_BODY_BYTES = 512 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], simulator: SimulatedApi, verbose: bool) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.simulator = simulator
        self.verbose = verbose
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # Keep-alive like the real API, so a lost answer is a dropped connection mid-exchange.
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; Nagle plus delayed ACKs would add 40 ms.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._dispatch()

    do_PUT = do_POST = do_DELETE = do_PATCH = do_GET

    def _dispatch(self) -> None:
        body = self._read_body()
        if body is None:
            self.send_error(400, "Bad request body")
            return
        path, query = split_target(self.path)
        headers = {key: value for key, value in self.headers.items()}
        response = self.server.simulator.handle(self.command, path, query, headers, body)
        if response.lost:
            # Close without a byte of answer, as a server that died after the write would.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.send_response(response.status)
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY_BYTES:
            return None
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                return None
            total += size
            if total > MAX_BODY_BYTES:
                return None
            if size == 0:
                # Trailers end with an empty line.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def log_message(self, format: str, *args: object) -> None:
        # The request line only (method, path, status): never headers, so never the token.
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def serve_forever(
    sim: SimulatedApi,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    verbose: bool = False,
    on_ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until Ctrl-C, then close the socket and return.

    `on_ready` receives the base URL once the socket listens (useful with port 0).
    """
    server = _Server((host, port), sim, verbose)
    try:
        if on_ready is not None:
            on_ready(server.url)
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@contextlib.contextmanager
def running(
    sim: SimulatedApi, host: str = "127.0.0.1", port: int = 0, *, verbose: bool = False
) -> Iterator[str]:
    """Serve `sim` on a background thread; yields its base URL, stops on exit."""
    server = _Server((host, port), sim, verbose)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
