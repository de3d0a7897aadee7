"""One local cloud per test module: the real template, handlers and ml/ jobs, on a free local port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from driftline.local.console import Console
from driftline.local.emulator import LocalCloud
from driftline.local.settings import LocalSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_cloud(state_dir: Path, parameters: dict[str, str] | None = None) -> Iterator[LocalCloud]:
    """Local mode on a free port, the template deployed with local mode's parameters and ``parameters``."""
    settings = LocalSettings(port=free_port(), state_dir=state_dir)
    settings.parameters.update(parameters or {})
    local = LocalCloud(settings, Console())
    local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with running_cloud(tmp_path_factory.mktemp("driftline-state")) as local:
        yield local
