"""One local cloud per test module: the real template, handlers and ml/ jobs, on a free local port.

A module that deploys with other template parameters than local mode's own overrides ``cloud_parameters``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from driftline.local.console import Console
from driftline.local.emulator import LocalCloud
from driftline.local.settings import LocalSettings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on now, for a local mode a test starts itself."""
    return _free_port()


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    """Template parameters the module's cloud deploys with besides local mode's own (as ``--parameter-overrides``)."""
    return {}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, cloud_parameters: dict[str, str]) -> Iterator[LocalCloud]:
    """Local mode on a free port, the template deployed with local mode's parameters and ``cloud_parameters``."""
    settings = LocalSettings(port=_free_port(), state_dir=tmp_path_factory.mktemp("driftline-state"))
    settings.parameters.update(cloud_parameters)
    local = LocalCloud(settings, Console())
    local.start()
    try:
        yield local
    finally:
        local.stop()
