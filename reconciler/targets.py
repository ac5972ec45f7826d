"""Which API a command talks to, and where the token may go.

The command line decides where the token goes, never a file alone: a
desired-state file or a saved plan reaches CI from a pull request or an
artifact, and must not be able to send the token to a host of its choosing.
"""

from __future__ import annotations

from reconciler.client import DealHubClient, connect
from reconciler.errors import UsageError
from reconciler.http import SIM_PREFIX, api_url_host, check_url, is_loopback, read_token
from reconciler.settings import DEFAULT_TOKEN_ENV, Environment


def is_trusted_target(url: str) -> bool:
    """A target a file may choose by itself: a DealHub host, loopback, or the simulator.

    A URL that is not http(s) is simply not trusted; an http(s) URL that
    cannot be read unambiguously (a space, user info, a bad port) is a UsageError.
    """
    if url.startswith(SIM_PREFIX):
        return True
    if not url.strip().lower().startswith(("http://", "https://")):
        return False
    scheme, host = api_url_host(url, source="the target")
    if scheme == "https" and (host == "dealhub.io" or host.endswith(".dealhub.io")):
        return True
    return is_loopback(host)


def choose_target(env: Environment | None, api_url: str | None, *, ambient: bool) -> str:
    """--api-url wins; then the environment named with --env; then DEALHUB_API_URL.

    `ambient` says api_url came from DEALHUB_API_URL rather than the command
    line: an --env chosen on the command line must not be overridden by it, or
    the suffix and the token of one tenant would be used against another.
    """
    if api_url and not (env is not None and ambient):
        return api_url
    if env is not None:
        if not is_trusted_target(env.api_url):
            raise UsageError(
                f"settings.environments.{env.name}.api_url is {env.api_url}: a file may only "
                "name a DealHub host (https://*.dealhub.io) or loopback; pass any other "
                "target with --api-url"
            )
        return env.api_url
    raise UsageError(
        "no target: pass --api-url URL (or sim:TENANT.json), set DEALHUB_API_URL, "
        "or choose --env NAME"
    )


def normalised(url: str) -> str:
    """The target as a client names it (and a plan records it): checked, no trailing /."""
    return url if url.startswith(SIM_PREFIX) else check_url(url)


def open_client(
    env: Environment | None,
    url: str,
    token_file: str | None,
    *,
    writable: bool,
    expected_users: int = 0,
) -> DealHubClient:
    """Connect to `url` with the token of `env` (or DEALHUB_TOKEN), or --token-file.

    `expected_users` (those of the desired state) raises the size cap of an answer.
    """
    token = read_token(
        token_file=token_file,
        env_var=env.token_env if env else DEFAULT_TOKEN_ENV,
        required=not url.startswith(SIM_PREFIX),
    )
    return connect(url, token, writable=writable, expected_users=expected_users)
