"""Local mode's start-up guard: it never starts beside another server on the same port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from driftline.local.emulator import LocalCloud, PortInUse
from driftline.local.settings import LocalSettings


def test_starting_on_a_port_another_server_listens_on_fails_clearly(tmp_path: Path) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        cloud = LocalCloud(LocalSettings(port=port, state_dir=tmp_path))
        with pytest.raises(PortInUse, match=f"port {port}.*--port"):
            cloud.start()
    assert not (tmp_path / "stack.json").exists()
