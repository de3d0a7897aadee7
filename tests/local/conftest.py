"""Fixtures of the local tier: local mode's servers and processes, started for real."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    """moto's server on loopback, one for a module; each test resets its backends (``moto_api_backend.reset()``)."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
