"""Reads and writes of the emulator from two threads at once, made to interleave in every test run."""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

READS = 30


@contextmanager
def threads_switching_often() -> Iterator[None]:
    """The interpreter switches threads every microsecond instead of every 5 ms, so a read and a write that can
    interleave do, in every test run rather than now and then on a loaded machine."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def read_while_writing(read: Callable[[], Any], write: Callable[[int], Any], *, pause: float = 0.0) -> int:
    """``READS`` reads while another thread writes (``write(0)``, ``write(1)``, ... with ``pause`` seconds between
    them) until the reads are done; how many writes it made."""
    reading = threading.Event()
    reading.set()
    written: list[int] = []

    def keep_writing() -> None:
        for number in itertools.count():
            if not reading.is_set():
                return
            write(number)
            written.append(number)
            if pause:
                time.sleep(pause)

    writer = threading.Thread(target=keep_writing)
    with threads_switching_often():
        writer.start()
        try:
            for _ in range(READS):
                read()
        finally:
            reading.clear()
            writer.join()
    return len(written)
