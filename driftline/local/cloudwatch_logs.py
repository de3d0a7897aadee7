"""Writes lines into the emulator's CloudWatch Logs, so `aws logs` works against local mode.

Jobs and functions write from their own threads while clients read (``aws logs tail``, the console, tests): every
Logs request the emulator answers and every line written here run under one lock, so a read never iterates
groups, streams or events that a write is adding to (moto's Logs are not thread-safe: such a read failed with a
500 that local mode's terminal printed).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.core.responses import BaseResponse
from moto.logs.models import logs_backends
from moto.logs.responses import LogsResponse

from driftline.local import seams
from driftline.local.settings import ACCOUNT_ID

_lock = threading.RLock()
SEAM = "cloudwatch-logs"


def install() -> None:
    if seams.claim(SEAM):
        seams.add(LogsResponse, "call_action", _answered_under_the_lock)


def uninstall() -> None:
    seams.undo(SEAM, [(LogsResponse, "call_action")])


def _answered_under_the_lock(self: BaseResponse) -> Any:
    """A Logs request answered whole (the backend's work and the answer built from its objects) under the lock.

    ``BaseResponse.call_action`` is looked up at each request, so local mode's other checks of every request
    (``request_constraints``, installed after this) still run."""
    with _lock:
        return BaseResponse.call_action(self)


def put_lines(region: str, group: str, stream: str, lines: list[str]) -> None:
    if not lines:
        return
    backend = logs_backends[ACCOUNT_ID][region]
    now = int(time.time() * 1000)
    with _lock:
        backend.ensure_log_group(group)
        if stream not in backend.groups[group].streams:
            backend.create_log_stream(group, stream)
        backend.put_log_events(group, stream, [{"timestamp": now, "message": line} for line in lines])
