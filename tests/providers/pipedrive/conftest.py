"""Fixtures of the Pipedrive simulator's tests: a client on a fresh simulator."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from tests.providers.pipedrive.helpers import MakeApi, PdApi, build


@pytest.fixture
def make_api() -> Iterator[MakeApi]:
    """Build an in-process simulator and a client; keyword arguments are options."""
    with ExitStack() as stack:
        yield lambda **kwargs: build(stack, **kwargs)


@pytest.fixture(params=["in-process", "socket"])
def connect(request: pytest.FixtureRequest) -> Iterator[MakeApi]:
    """Like make_api, in-process or over a loopback socket."""
    with ExitStack() as stack:
        yield lambda **kwargs: build(stack, over_socket=request.param == "socket", **kwargs)


@pytest.fixture
def api(connect: MakeApi) -> PdApi:
    return connect()
