"""One local cloud per test module: the real template, handlers and ml/ jobs, on a free local port.

A module that deploys with other template parameters than local mode's own overrides ``cloud_parameters``.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from driftline.local.console import Console
from driftline.local.emulator import LocalCloud
from driftline.local.settings import REPO_ROOT, LocalSettings


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


APPLICATION_FOLDERS = ("functions", "layers", "statemachine", "ml")
"""What template.yaml's CodeUri and ContentUri name, relative to it: with the template, the whole application."""


def application_copy(folder: Path, *, template: str | None = None, copied: tuple[str, ...] = ()) -> Path:
    """The application in ``folder``, its template.yaml there; ``template`` replaces the template's text. Its folders
    link to the repository's, but for those ``copied``, which a test may then change. The template's path."""
    (folder / "template.yaml").write_text(template or (REPO_ROOT / "template.yaml").read_text())
    for name in APPLICATION_FOLDERS:
        if name in copied:
            shutil.copytree(REPO_ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (folder / name).symlink_to(REPO_ROOT / name)
    return folder / "template.yaml"


@contextmanager
def running_cloud(
    tmp_path_factory: pytest.TempPathFactory,
    *,
    parameters: dict[str, str] | None = None,
    template: Path | None = None,
) -> Iterator[LocalCloud]:
    """Local mode on a free port deploying ``template`` (the application beside it; default the repository's) with
    local mode's parameters and ``parameters``; stopped on leaving."""
    with _reserved_port() as port:
        settings = LocalSettings(port=port, state_dir=tmp_path_factory.mktemp("driftline-state"))
        settings.parameters.update(parameters or {})
        if template is not None:
            settings.template = template
        local = LocalCloud(settings, Console())
        local.start()
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, cloud_parameters: dict[str, str]) -> Iterator[LocalCloud]:
    """Local mode on a free port, the template deployed with local mode's parameters and ``cloud_parameters``."""
    with running_cloud(tmp_path_factory, parameters=cloud_parameters) as local:
        yield local
