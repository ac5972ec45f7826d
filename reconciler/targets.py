"""Which API a command talks to, and where the token may go.

The command line decides where the token goes, never a file alone: a
desired-state file or a saved plan reaches CI from a pull request or an
artifact, and must not be able to send the token to a host of its choosing.
"""

from __future__ import annotations

import os

from reconciler import providers
from reconciler.errors import UsageError
from reconciler.http import (
    SIM_PREFIX,
    TokenSource,
    api_url_host,
    check_url,
    is_loopback,
    read_token,
)
from reconciler.providers.base import OpenOptions, Provider, Remote
from reconciler.settings import Environment


def is_trusted_target(url: str, domain: str | None = None) -> bool:
    """A target a file may choose by itself: the vendor's hosts, loopback, or the simulator.

    `domain` is the system's trusted domain (Capabilities.trusted_domain; by default
    the registry's default system's). A URL that is not http(s) is simply not trusted;
    an http(s) URL that cannot be read unambiguously (a space, user info, a bad port)
    is a UsageError.
    """
    if domain is None:
        domain = providers.get(providers.DEFAULT).capabilities.trusted_domain
    if url.startswith(SIM_PREFIX):
        return True
    if not url.strip().lower().startswith(("http://", "https://")):
        return False
    scheme, host = api_url_host(url, source="the target")
    if scheme == "https" and (host == domain or host.endswith("." + domain)):
        return True
    return is_loopback(host)


def normalised(url: str) -> str:
    """The target as a client names it (and a plan records it): checked, no trailing /."""
    return url if url.startswith(SIM_PREFIX) else check_url(url)


# -- several systems -------------------------------------------------------------------


#: The system the bare forms name (`--api-url URL`, `--token-file PATH`): the registry's default.
BARE = providers.DEFAULT


def by_system(values: tuple[str, ...], option: str) -> dict[str, str]:
    """`--api-url URL` (the default system's) and `--api-url SYSTEM=URL`, by system name.

    A value whose part before `=` is shaped like a system name must name a
    registered one: `--api-url fake=URL` for an unknown `fake` is an error, never
    the default system's URL. (A URL or path before any `=` holds `:`, `/` or `.`.)
    """
    named: dict[str, str] = {}
    for value in values:
        system, sep, rest = value.partition("=")
        if not (sep and providers.NAME.fullmatch(system)):
            system, rest = BARE, value
        else:
            providers.known(system, f"{option} {system}=...")
        if system in named:
            raise UsageError(f"{option} names {system} twice")
        named[system] = rest
    return named


def system_target(
    provider: Provider, env: Environment | None, named: str | None
) -> tuple[str, str]:
    """(URL, token variable) of one system: --api-url, then --env, then PREFIX_API_URL.

    The command line wins; an environment chosen on the command line wins over
    a variable merely left in the environment, or the token of one tenant
    would be used against another. A file may only name the vendor's own
    hosts, loopback or the simulator.
    """
    caps = provider.capabilities
    token_env = caps.token_env
    env_url = None
    if env is not None:
        if caps.name == BARE:
            env_url, token_env = env.api_url, env.token_env
        elif caps.name in env.systems:
            env_url, token_env = env.systems[caps.name].api_url, env.systems[caps.name].token_env
    if named:
        return named, token_env
    if env_url is not None:
        if not is_trusted_target(env_url, caps.trusted_domain):
            where = "" if caps.name == BARE else f".{caps.name}"
            raise UsageError(
                f"settings.environments.{env.name if env else ''}{where}.api_url is {env_url}: "
                f"a file may only name a {caps.title} host (https://*.{caps.trusted_domain}) "
                "or loopback; pass any other target with --api-url"
            )
        return env_url, token_env
    ambient = os.environ.get(f"{caps.env_prefix}_API_URL", "").strip()
    if ambient:
        return ambient, token_env
    flag = "--api-url URL" if caps.name == BARE else f"--api-url {caps.name}=URL"
    raise UsageError(
        f"no target for {caps.title}: pass {flag} (or sim:PATH), set "
        f"{caps.env_prefix}_API_URL, or choose --env NAME"
    )


def open_remote(
    provider: Provider,
    url: str,
    token_env: str,
    token_file: str | None,
    *,
    writable: bool,
    options: OpenOptions,
) -> Remote:
    """Connect to one system with its token (from `token_env`, or --token-file)."""
    token = system_token(provider, url, token_env, token_file)
    return provider.open(url, token, writable=writable, options=options)


def system_token(
    provider: Provider, url: str, token_env: str, token_file: str | None
) -> TokenSource | None:
    """One system's token for `url`: from --token-file, else from `token_env`.

    Required unless the target is the simulator; a message names the --token-file
    form of this system (bare for the default system).
    """
    name = provider.capabilities.name
    return read_token(
        token_file=token_file,
        env_var=token_env,
        required=not url.startswith(SIM_PREFIX),
        system="" if name == BARE else name,
    )
