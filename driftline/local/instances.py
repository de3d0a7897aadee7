"""Where each running local mode keeps its state, so a command run from another folder can say where to look.

``driftline local up`` (and the demo) write one small file per port to the user's runtime folder
(``$XDG_RUNTIME_DIR/driftline``, else ``<temp>/driftline-<uid>``, readable by the user alone) and remove it when
they stop. Nothing is served for this: the emulator answers only the AWS APIs.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from driftline.local.settings import DEFAULT_PORT


@dataclass(frozen=True)
class LocalInstance:
    endpoint_url: str
    state_dir: Path
    stack_name: str


def runtime_dir() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "driftline"
    return Path(tempfile.gettempdir()) / f"driftline-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def record_running(endpoint_url: str, state_dir: Path, stack_name: str) -> Path:
    """Note that local mode serves ``endpoint_url`` with its state in ``state_dir``; returns the note's path."""
    folder = runtime_dir()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"local-{_port(endpoint_url)}.json"
    document = {"endpoint_url": endpoint_url, "state_dir": str(state_dir.resolve()), "stack_name": stack_name}
    path.write_text(json.dumps(document) + "\n")
    return path


def forget_running(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def running_instances() -> list[LocalInstance]:
    """Every recorded local mode that still answers; notes left by one that ended without removing them go."""
    found = []
    for path in sorted(runtime_dir().glob("local-*.json")):
        try:
            document = json.loads(path.read_text())
            instance = LocalInstance(
                endpoint_url=str(document["endpoint_url"]),
                state_dir=Path(document["state_dir"]),
                stack_name=str(document.get("stack_name", "")),
            )
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if endpoint_answers(instance.endpoint_url):
            found.append(instance)
        else:
            forget_running(path)
    return found


def endpoint_answers(endpoint_url: str, timeout: float = 1.0) -> bool:
    """True when something accepts connections at the URL's host and port (local mode listens only there)."""
    host, _, port = endpoint_url.removeprefix("http://").partition(":")
    try:
        with socket.create_connection((host, int(port.rstrip("/"))), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def default_port_answers() -> bool:
    return endpoint_answers(f"http://127.0.0.1:{DEFAULT_PORT}")


def _port(endpoint_url: str) -> str:
    return endpoint_url.rstrip("/").rsplit(":", 1)[-1]
