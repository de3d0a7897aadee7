"""Short text files a local process leaves behind (a job's exit message, a server's failure)."""

from __future__ import annotations

from pathlib import Path


def read_text_or_none(path: Path) -> str | None:
    """The file's text without surrounding blank space; None when it is missing, unreadable or blank."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return text or None
