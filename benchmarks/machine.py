"""What every benchmark records beside its figures: the machine and the date, in one results file."""

from __future__ import annotations

import os
import platform
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def machine() -> str:
    """CPU model, cores, Python and system: figures mean little without them."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def publish(lines: list[str], *, record: bool) -> None:
    """Print the figures under a heading naming the date and machine; with ``record``, append them to RESULTS.md."""
    text = "\n".join([f"## {date.today().isoformat()}: {machine()}", "", *lines]).rstrip("\n") + "\n"
    print(text)
    if record:
        with RESULTS.open("a", encoding="utf-8") as results:
            results.write("\n" + text)
