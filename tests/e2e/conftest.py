"""One local cloud per test module: the real template, handlers and ml/ jobs, on a free local port."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from driftline.local.console import Console
from driftline.local.emulator import LocalCloud
from driftline.local.settings import LocalSettings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    state_dir: Path = tmp_path_factory.mktemp("driftline-state")
    local = LocalCloud(LocalSettings(port=free_port(), state_dir=state_dir), Console())
    local.start()
    yield local
    local.stop()
