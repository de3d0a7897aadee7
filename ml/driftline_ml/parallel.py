"""Spread one job's reading over the instance's CPUs: files cut into line-aligned byte ranges, summarised apart.

A processing instance has several vCPUs, and reading CSV or JSON lines is bound to one core per process. The
drift jobs therefore cut their input into pieces of about ``PIECE_BYTES`` (whole small files grouped, large
files split at line ends), summarise each piece in a forked worker process, and merge the summaries, which
merge exactly (counts, moments) or within the sketch's error bound (quantiles). Below
``PARALLEL_MIN_BYTES`` of input, or on one CPU, everything runs in the job's own process: forking costs more
than it saves there. Workers are forked, not spawned, so they start with the libraries already imported.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

PIECE_BYTES = 32 * 2**20
"""Bytes of input one worker reads at a time: large enough to amortise a task, small enough for bounded memory."""
PARALLEL_MIN_BYTES = 48 * 2**20
"""Less input than this is read in the job's own process."""

Result = TypeVar("Result")


@dataclass(frozen=True)
class Span:
    """Bytes ``start`` to ``end`` of a file, starting at a line's start and ending after a line's end
    (``end`` None: to the end of the file)."""

    path: Path
    start: int = 0
    end: int | None = None


def spans(
    paths: Iterable[Path], piece_bytes: int | None = None, splittable: Callable[[Path], bool] | None = None
) -> list[list[Span]]:
    """Pieces of about ``piece_bytes`` (default ``PIECE_BYTES``): small files grouped, large ones cut at line ends.

    A file ``splittable`` refuses (a compressed file, say) stays one span, whatever its size.
    """
    piece_bytes = piece_bytes or PIECE_BYTES
    pieces: list[list[Span]] = []
    current: list[Span] = []
    current_bytes = 0
    for path in paths:
        size = path.stat().st_size
        if size > piece_bytes and (splittable is None or splittable(path)):
            if current:
                pieces.append(current)
                current, current_bytes = [], 0
            pieces.extend([span] for span in line_aligned_spans(path, size, piece_bytes))
            continue
        if current and current_bytes + size > piece_bytes:
            pieces.append(current)
            current, current_bytes = [], 0
        current.append(Span(path))
        current_bytes += size
    if current:
        pieces.append(current)
    return pieces


SCAN_BYTES = 64 * 1024
"""Bytes read at a time while looking for the line end after a cut (a line may be far longer: never held whole)."""


def line_aligned_spans(path: Path, size: int, piece_bytes: int) -> list[Span]:
    """The file cut every ``piece_bytes`` bytes, each cut moved on to just after the next newline."""
    cuts = [0]
    with path.open("rb") as handle:
        while cuts[-1] + piece_bytes < size:
            cut = after_next_newline(handle, cuts[-1] + piece_bytes)
            if cut >= size:
                break
            cuts.append(cut)
    return [Span(path, start, end) for start, end in zip(cuts, [*cuts[1:], None])]  # noqa: B905 (Python 3.9)


def after_next_newline(handle: BinaryIO, position: int) -> int:
    """The offset just after the first newline at or after ``position`` (the file's size when there is none),
    found reading ``SCAN_BYTES`` at a time."""
    handle.seek(position)
    while True:
        block = handle.read(SCAN_BYTES)
        newline = block.find(b"\n")
        if newline >= 0:
            return position + newline + 1
        if len(block) < SCAN_BYTES:
            return position + len(block)
        position += len(block)


def read_span(span: Span) -> bytes:
    with span.path.open("rb") as handle:
        handle.seek(span.start)
        return handle.read() if span.end is None else handle.read(span.end - span.start)


class SpanReader(io.RawIOBase):
    """The span's bytes as a file, read from disk as they are needed (a span may be gigabytes)."""

    def __init__(self, span: Span) -> None:
        super().__init__()
        self._file = span.path.open("rb")
        self._file.seek(span.start)
        self._left = None if span.end is None else span.end - span.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._left is not None:
            view = view[: self._left]
        count = self._file.readinto(view) or 0
        if self._left is not None:
            self._left -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def lines_before(span: Span) -> int:
    """How many lines of the file come before the span (to number a span's lines as the whole file's)."""
    count = 0
    left = span.start
    with span.path.open("rb") as handle:
        while left > 0:
            block = handle.read(min(left, 8 * 2**20))
            if not block:
                break
            count += block.count(b"\n")
            left -= len(block)
    return count


def total_bytes(paths: Iterable[Path]) -> int:
    return sum(path.stat().st_size for path in paths)


def workers_for(input_bytes: int, pieces: int, cpus: int | None = None) -> int:
    """Worker processes worth starting: one per CPU (the instance's vCPUs), no more than there are pieces."""
    cpus = cpus or os.cpu_count() or 1
    if input_bytes < PARALLEL_MIN_BYTES:
        return 1
    return max(1, min(cpus, pieces))


def map_pieces(function: Callable[[list[Span]], Result], pieces: list[list[Span]], workers: int) -> Iterator[Result]:
    """``function`` over the pieces, in order: in forked workers when ``workers`` > 1, else in this process."""
    if workers <= 1:
        yield from map(function, pieces)
        return
    # Objects that exist now (the imported libraries: pandas alone has hundreds of thousands) are left out of the
    # workers' collections, which then neither walk them nor write to their pages, which the fork shares: the idiom
    # the gc module documents for forking, worth about a tenth of a 2-CPU window's time. This process collects
    # them again once its workers are done.
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield from pool.imap(function, pieces)
    finally:
        gc.unfreeze()
