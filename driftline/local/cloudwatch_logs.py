"""Writes lines into the emulator's CloudWatch Logs, so `aws logs` works against local mode."""

from __future__ import annotations

import threading
import time

from moto.logs.models import logs_backends

from driftline.local.settings import ACCOUNT_ID

_lock = threading.Lock()


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
