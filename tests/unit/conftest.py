"""Unit tests are pure: no socket, no subprocess and no AWS emulator, so the whole tier runs in seconds.

A test that needs a server or a process belongs in ``tests/local/`` (local mode's servers and jobs) and one that
needs moto in ``tests/integration/``; here such a call fails the test, saying so.
"""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable
from typing import Any

import pytest


class NotAUnitTest(AssertionError):
    """A unit test reached for a socket, a process or the AWS emulator."""


def _refused(what: str) -> Callable[..., Any]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotAUnitTest(
            f"a unit test may not {what}: move it to tests/local/ (servers, processes) or tests/integration/ (moto)"
        )

    return refuse


@pytest.fixture(autouse=True)
def pure(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.core.models import MockAWS

    monkeypatch.setattr(socket.socket, "bind", _refused("bind a socket"))
    monkeypatch.setattr(socket.socket, "connect", _refused("open a connection"))
    monkeypatch.setattr(subprocess.Popen, "__init__", _refused("start a process"))
    monkeypatch.setattr(os, "fork", _refused("fork a process"))
    monkeypatch.setattr(MockAWS, "start", _refused("start the AWS emulator"))
