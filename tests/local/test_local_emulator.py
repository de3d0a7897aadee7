"""Local mode's start-up guard: it never starts beside another server on the same port."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from driftline.local.emulator import LocalCloud, PortInUse, StateFolderInUse, _require_free_state_dir
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


def test_a_second_local_mode_on_the_state_folder_of_a_running_one_is_refused_naming_it(tmp_path: Path) -> None:
    with socket.socket() as running:
        running.bind(("127.0.0.1", 0))
        running.listen()
        url = f"http://127.0.0.1:{running.getsockname()[1]}"
        stack_file = tmp_path / "stack.json"
        stack_file.write_text(json.dumps({"endpoint_url": url, "stack_name": "driftline", "outputs": {}}))
        with socket.socket() as free:
            free.bind(("127.0.0.1", 0))
            other_port = free.getsockname()[1]
        cloud = LocalCloud(LocalSettings(port=other_port, state_dir=tmp_path))
        with pytest.raises(StateFolderInUse, match=f"already running with the state folder .*{url}.*--state-dir"):
            cloud.start()
        assert json.loads(stack_file.read_text())["endpoint_url"] == url  # the running one's file is untouched


def test_a_stack_file_left_by_a_stopped_local_mode_does_not_block_a_new_one(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        stopped_port = probe.getsockname()[1]
    (tmp_path / "stack.json").write_text(json.dumps({"endpoint_url": f"http://127.0.0.1:{stopped_port}"}))
    _require_free_state_dir(tmp_path)  # nothing listens there any more: no error
