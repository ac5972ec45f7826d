"""What the environment may not do to the token: cookies, proxies, certificates.

The client keeps no cookies; a loopback target never goes through a proxy (the
token would cross it in clear text); a SOCKS proxy without socksio and a
certificate variable naming a missing file are clear errors naming the
variable and the file. The proxy and certificate cases run the real
`reconciler` command in a subprocess, with those variables set.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from reconciler import redact
from reconciler.errors import UsageError
from reconciler.http import TokenSource, environment_proxy, ssl_context
from reconciler.providers.dealhub.client import connect
from reconciler.providers.dealhub.sim import Simulator
from reconciler.providers.dealhub.sim_state import TenantStore
from reconciler.sim.server import running
from tests.helpers.loopback import serve

TOKEN = "env-test-token-7c3a91"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy")


@pytest.fixture(autouse=True)
def _forget_tokens() -> Iterator[None]:
    redact.forget_all()
    yield
    redact.forget_all()


# -- cookies ------------------------------------------------------------------------------


def test_a_cookie_carrying_the_token_is_never_stored_or_sent_back() -> None:
    seen: list[str | None] = []

    def respond(handler: BaseHTTPRequestHandler) -> None:
        seen.append(handler.headers.get("Cookie"))
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Set-Cookie", f"session={TOKEN}; Path=/")
        handler.send_header("Set-Cookie", "tracker=1; Path=/; Max-Age=3600")
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"[]")

    with serve(respond) as url:
        client = connect(url, TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
        for _ in range(3):
            assert client.list_users() == []
        assert len(client._http.cookies.jar) == 0
        client.close()
    assert seen == [None, None, None]


def test_the_simulators_client_keeps_no_cookies(tmp_path: Path) -> None:
    state = tmp_path / "tenant.json"
    state.write_text("[]")
    client = connect(f"sim:{state}", None, writable=False)
    client._http.cookies.set("session", TOKEN)  # even one set by hand is dropped
    assert len(client._http.cookies.jar) == 0
    client.close()


# -- proxies and certificates, through the command --------------------------------------


@contextlib.contextmanager
def trap() -> Iterator[tuple[str, list[bytes]]]:
    """A loopback socket standing in for a proxy: it records whatever reaches it."""
    received: list[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.1)
    stop = threading.Event()

    def serve_forever() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    received.append(conn.recv(65536))
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}", received
    finally:
        stop.set()
        thread.join()
        server.close()


def people(tmp_path: Path) -> Path:
    path = tmp_path / "users.yaml"
    path.write_text(
        "version: 1\nsettings: {unlisted: ignore}\nusers:\n"
        "  - {login: a@x, email: a@x.com, name: A}\n",
        encoding="utf-8",
    )
    return path


def reconciler(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k.upper() not in {*PROXY_VARIABLES, "NO_PROXY"}}
    clean.pop("SSL_CERT_FILE", None)
    clean.pop("SSL_CERT_DIR", None)
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "DEALHUB_TOKEN": TOKEN, "NO_COLOR": "1", **env},
    )


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "HTTPS_PROXY"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_target_never_goes_through_a_proxy(
    tmp_path: Path, variable: str, host: str
) -> None:
    sim = Simulator(TenantStore([]), token=TOKEN)
    with trap() as (proxy, received), running(sim) as url:
        target = url.replace("127.0.0.1", host)
        done = reconciler("plan", str(people(tmp_path)), "--api-url", target, **{variable: proxy})
    assert done.returncode in (0, 2), done.stderr
    assert received == []  # the token never reached the proxy
    assert [e["path"] for e in sim.request_log] == ["/api/v1/users"]
    assert TOKEN not in done.stdout + done.stderr


def test_a_socks_proxy_without_socksio_is_named(tmp_path: Path) -> None:
    done = reconciler(
        "plan",
        str(people(tmp_path)),
        "--api-url",
        "https://api.dealhub.io",
        ALL_PROXY="socks5://127.0.0.1:1",
    )
    assert done.returncode == 1
    assert "internal error" not in done.stderr
    assert "ALL_PROXY='socks5://127.0.0.1:1' names a SOCKS proxy" in done.stderr
    assert "socksio" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "kind"), [("SSL_CERT_FILE", "file"), ("SSL_CERT_DIR", "directory")]
)
def test_a_missing_certificate_file_is_named(tmp_path: Path, variable: str, kind: str) -> None:
    missing = tmp_path / "no-such-ca.pem"
    done = reconciler(
        "plan",
        str(people(tmp_path)),
        "--api-url",
        "https://api.dealhub.io",
        **{variable: str(missing)},
    )
    assert done.returncode == 1
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert f"{variable} names {str(missing)!r}, which is not a readable {kind}" in done.stderr


def test_a_certificate_file_that_holds_no_certificate_is_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")
    done = reconciler(
        "plan",
        str(people(tmp_path)),
        "--api-url",
        "https://api.dealhub.io",
        SSL_CERT_FILE=str(junk),
    )
    assert done.returncode == 1
    assert f"SSL_CERT_FILE names {str(junk)!r}, whose certificates cannot be loaded" in done.stderr


# -- the rules, directly ------------------------------------------------------------------


@pytest.fixture
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in (*PROXY_VARIABLES, "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_an_http_proxy_for_an_https_target_is_kept(no_proxies: pytest.MonkeyPatch) -> None:
    # CONNECT tunnels the TLS: the proxy never sees the token.
    no_proxies.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    assert environment_proxy("api.dealhub.io") == "http://proxy.corp:3128"


def test_no_proxy_is_honoured(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    no_proxies.setenv("NO_PROXY", ".dealhub.io")
    assert environment_proxy("api.dealhub.io") is None


@pytest.mark.parametrize("value", ["ftp://proxy:21", "http://[::1", "gopher://x"])
def test_a_proxy_the_tool_cannot_use_is_named(no_proxies: pytest.MonkeyPatch, value: str) -> None:
    no_proxies.setenv("HTTPS_PROXY", value)
    with pytest.raises(UsageError, match="HTTPS_PROXY="):
        environment_proxy("api.dealhub.io")


def test_certifi_is_used_when_no_variable_is_set(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.delenv("SSL_CERT_FILE", raising=False)
    no_proxies.delenv("SSL_CERT_DIR", raising=False)
    assert ssl_context().verify_mode.name == "CERT_REQUIRED"


def test_a_loopback_connection_has_no_proxy_mounted(no_proxies: pytest.MonkeyPatch) -> None:
    no_proxies.setenv("HTTP_PROXY", "http://proxy.corp:3128")
    no_proxies.setenv("ALL_PROXY", "http://proxy.corp:3128")
    client = connect("http://127.0.0.1:9", TokenSource(TOKEN, "DEALHUB_TOKEN"), writable=False)
    transport = client._http._transport_for_url(httpx.URL("http://127.0.0.1:9/api/v1/users"))
    assert isinstance(transport, httpx.HTTPTransport)
    assert type(transport._pool).__name__ == "ConnectionPool"  # not an HTTPProxy pool
    client.close()
