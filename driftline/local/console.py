"""Where local mode's output goes: the terminal (tagged by source) and CloudWatch Logs in the emulator."""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Collection
from typing import TextIO

_lock = threading.Lock()
_ALWAYS_SHOWN = ("ERROR", "WARNING", "CRITICAL")
"""Levels a handler's line starts with (``readable_log_line``) that ``Console.only`` never hides."""


class Console:
    """Prints lines tagged with their source, one line at a time, from any thread."""

    def __init__(self, stream: TextIO | None = None, *, quiet_sources: tuple[str, ...] = ()) -> None:
        self._stream = stream or sys.stdout
        self.quiet = False
        self._quiet_sources = quiet_sources
        self._only: frozenset[str] | None = None

    def only(self, sources: Collection[str]) -> None:
        """From now on show these sources' lines, and any source's errors and warnings; the rest still reaches
        its logs (CloudWatch Logs, the jobs' ``job.log``)."""
        self._only = frozenset(sources)

    def line(self, source: str, text: str) -> None:
        if self.quiet or source in self._quiet_sources:
            return
        if self._only is not None and source not in self._only and not text.startswith(_ALWAYS_SHOWN):
            return
        stamp = time.strftime("%H:%M:%S")
        with _lock:
            self._stream.write(f"{stamp} [{source}] {text}\n")
            self._stream.flush()


def readable_log_line(raw: str) -> str | None:
    """Powertools logs are JSON lines; the terminal shows their level and message, CloudWatch keeps the JSON.

    Embedded-metric records (``_aws``) are for CloudWatch only: None means "not for the terminal".
    """
    stripped = raw.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            return stripped
        if isinstance(record, dict) and "_aws" in record:
            return None
        if isinstance(record, dict) and "message" in record:
            level = record.get("level", "")
            message = record["message"]
            if not isinstance(message, str):
                message = json.dumps(message, default=str)
            return f"{level:<7} {message}".rstrip()
    return stripped


ERROR_TEXT_LIMIT = 400
"""A handler error's message is cut here in the terminal; its log group keeps it whole."""
_WHITESPACE = re.compile(r"\s+")


def handler_error_line(error_type: str, message: str, *, named: bool, log_group: str) -> str:
    """A failed invocation in one terminal line: ``ERROR   <name>: <message>``, whatever the message's lines.

    A named error (one the application raises for an outcome it reports, like a file that fails validation) says
    no more; any other is a bug, and the line says where its traceback is.
    """
    text = _WHITESPACE.sub(" ", message).strip()
    if len(text) > ERROR_TEXT_LIMIT:
        text = text[: ERROR_TEXT_LIMIT - 3].rstrip() + "..."
    line = f"{'ERROR':<7} {error_type}: {text}" if text else f"{'ERROR':<7} {error_type}"
    if named:
        return line
    where = f"its traceback is in the CloudWatch Logs group {log_group}; driftline logs <run> shows it"
    return f"{line} (unexpected: {where})"
