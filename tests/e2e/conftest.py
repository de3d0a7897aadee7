"""One local cloud per test module: the real template, handlers and ml/ jobs, on a free local port.

A module that deploys with other template parameters than local mode's own overrides ``cloud_parameters``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from driftline.local.console import Console
from driftline.local.emulator import LocalCloud
from driftline.local.settings import LocalSettings


@contextmanager
def _reserved_port() -> Iterator[int]:
    """A free port, kept bound (not listening) until local mode listens on it: the system gives it to no other
    socket meanwhile (test processes run side by side), and SO_REUSEADDR on both sides lets local mode take it."""
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        yield int(holder.getsockname()[1])


@pytest.fixture
def free_port() -> Iterator[int]:
    """A port for a local mode the test starts itself, reserved for it while the test runs."""
    with _reserved_port() as port:
        yield port


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    """Template parameters the module's cloud deploys with besides local mode's own (as ``--parameter-overrides``)."""
    return {}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, cloud_parameters: dict[str, str]) -> Iterator[LocalCloud]:
    """Local mode on a free port, the template deployed with local mode's parameters and ``cloud_parameters``."""
    with _reserved_port() as port:
        settings = LocalSettings(port=port, state_dir=tmp_path_factory.mktemp("driftline-state"))
        settings.parameters.update(cloud_parameters)
        local = LocalCloud(settings, Console())
        local.start()
    try:
        yield local
    finally:
        local.stop()
