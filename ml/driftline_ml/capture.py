"""Read SageMaker data capture files into a drift summary, never failing on a bad record.

A capture file is JSON lines, one record per request::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
                                       "data": "5.1,3.5,basic", "encoding": "CSV"},
                     "endpointOutput": {...}},
     "eventMetadata": {"eventId": "...", "inferenceTime": "2026-01-01T00:00:00Z"},
     "eventVersion": "0"}

``encoding`` is ``CSV`` (or ``JSON``: the data is the request body as text) or ``BASE64`` (the body base64
encoded). A ``text/csv`` body holds one or more rows without a header, the features in the training order;
an ``application/json`` body holds ``{"instances": [...]}`` or a bare list, of rows (lists in the training
order) or objects keyed by feature name. A record that cannot be read is counted by reason, named (file and
line) among the summary's examples, and skipped; a row with fewer or more values than the model's features is
counted under the columns it lacks or adds and left out of the statistics.

Whatever a client sent or a file holds, a window is read in bounded time and memory and never fails on it: a
line longer than ``MAX_RECORD_BYTES`` is skipped without being held, a line that is not UTF-8 text, JSON nested
deeper than the endpoint reads (``driftline_ml.json_text``), a value that is a list or an object, text holding
a lone surrogate escape and a compressed file that cannot be decompressed are each a counted, named record;
reasons and column names are counted one by one up to a bound (``driftline_ml.drift.MAX_KEYS``).

A window (``TimeWindow``: Model Monitor's ``start_time`` and ``end_time``) keeps the records whose
``eventMetadata.inferenceTime`` is in [start, end): capture files sit in clock-hour folders, so the hours a
window touches hold records before and after it. Records outside it are counted, not analysed; a record whose
inferenceTime cannot be read cannot be placed and is counted as unreadable.

Speed: records in SageMaker's own layout whose input is one CSV row without escapes (the common case) are
recognised a chunk at a time with byte searches and numpy, without decoding their JSON in Python; their rows
are joined and parsed a block at a time, the numeric columns by pandas' C reader and the categorical ones
counted as bytes by numpy. Every other line goes through the JSON decoder. A million records take seconds and
memory stays bounded by the chunk and block sizes.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import math
import re
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from driftline_ml.drift import WindowSummary, count_into
from driftline_ml.json_text import JsonTooDeep, loads_bounded
from driftline_ml.parallel import Span, lines_before, map_pieces, spans, total_bytes, workers_for
from driftline_ml.values import MISSING_VALUES

BLOCK_ROWS = 100_000
"""Rows parsed at once: large enough for pandas' speed, small enough for bounded memory."""
CHUNK_BYTES = 4 * 2**20
"""Capture text read and matched at once."""
MAX_RECORD_BYTES = 64 * 2**20
"""Longest capture record read. A real-time request and its answer are at most 6 MB each, so SageMaker's record
of both, escaped as JSON text, stays well under; a longer line is skipped, never held whole in memory."""
SKIP_BYTES = 2**20
"""Bytes read at a time while skipping a line longer than ``MAX_RECORD_BYTES``."""
CAPTURE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
CAPTURE_INDEX = "endpointInput"
MAX_SHOWN = 40
"""Characters of a value from a record (a content type, an encoding, a key) quoted in a reason or a name."""
MAX_NAMED_EXTRA_COLUMNS = 20
"""Extra CSV positions named one by one ("column 5"); a row's positions past them are counted together."""
_MISSING = sorted(MISSING_VALUES)

# SageMaker writes {"captureData":{"endpointInput":{"observedContentType":...,"mode":"INPUT","data":...,
# "encoding":"CSV"},"endpointOutput":{...}},"eventMetadata":{...},"eventVersion":"0"}: a line that starts with
# _PLAIN_PREFIX, whose data runs to the first quote, is followed by _PLAIN_DATA_END, ends with _PLAIN_END, holds
# one record and no backslash or control character in its data is read without the JSON decoder.
_PLAIN_PREFIX = b'{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
_PLAIN_DATA_END = b'","encoding":"CSV"}'
_PLAIN_END = b'"eventVersion":"0"}'
_RECORD_KEY = b'"captureData"'
_TIME_KEY = b'"inferenceTime":"'
_TIME_LAYOUT = np.frombuffer(b'0000-00-00T00:00:00Z"', dtype=np.uint8)
"""An inferenceTime as SageMaker writes it (UTC, whole seconds, each digit shown as 0) and its closing quote: such
a time's text sorts as the time. Another layout (a fraction, an offset) is read by the JSON decoder."""
_TIME_DIGITS = np.equal(_TIME_LAYOUT, ord("0"))
_TIME_TEXT_BYTES = len(_TIME_LAYOUT) - 1
_TIME = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?Z"
"""An inferenceTime as SageMaker writes it (UTC, whole seconds or a fraction), whose text sorts as its time."""
_CANONICAL_TIME = re.compile(_TIME + r"\Z")
_NEWLINE, _COMMA, _BACKSLASH, _SPACE = 10, 44, 92, 32
_PADDING = b"\n" * 8
"""Follows a block's rows: a word can be read at any value's start, and the parser, told how many rows to read,
stops before it."""
_LOW_BYTES = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], dtype=np.uint64)
"""A mask of each word's first n bytes (little-endian), for n from 0 to 8."""

UNPLACED = "no readable eventMetadata.inferenceTime, so it cannot be placed in the window"
"""Why a record of a window is not analysed when its inferenceTime is missing or is not a time."""
NOT_UTF8 = "not UTF-8 text"
TOO_DEEP = "JSON nested too deeply to read"
DATA_TOO_DEEP = "endpointInput.data is JSON nested too deeply to read"
NOT_UNICODE = "endpointInput.data is not valid Unicode text (a lone surrogate escape)"
NESTED_VALUE = "a JSON feature value is a list or an object, which the endpoint refuses"
UNDECOMPRESSABLE = "a compressed capture file that cannot be decompressed (not read from there on)"


def too_long_reason() -> str:
    """Why a line longer than ``MAX_RECORD_BYTES`` is not read."""
    size = MAX_RECORD_BYTES
    shown = f"{size // 2**20} MiB" if size % 2**20 == 0 else f"{size:,} bytes"
    return f"a line longer than {shown}, skipped unread"


@dataclass(frozen=True)
class TimeWindow:
    """The records to analyse: those whose ``eventMetadata.inferenceTime`` is in [start, end), in UTC.

    Bounds are kept as ``YYYY-MM-DDTHH:MM:SS`` texts ("" and "~" when open), which compare with an inferenceTime's
    text as the times compare: a window's membership test is two string comparisons, made for a chunk of records
    at once on their times' bytes. A bound with a fraction of a second is moved up to the next
    whole second, as SageMaker writes whole seconds: windows that share a bound still share it.
    """

    start: str = ""
    end: str = "~"

    @classmethod
    def between(cls, start: str | None, end: str | None) -> TimeWindow | None:
        """The window from Model Monitor's ``start_time`` / ``end_time`` texts (ISO 8601; either may be unset);
        None when both are unset. Raises ValueError naming a bound that is not a time."""
        if not (start or "").strip() and not (end or "").strip():
            return None
        return cls(_bound(start, "start_time") or "", _bound(end, "end_time") or "~")

    def holds(self, time: str) -> bool:
        return self.start <= time < self.end

    def describe(self) -> str:
        start = f"{self.start}Z" if self.start else "the first record"
        end = f"{self.end}Z" if self.end != "~" else "the last record"
        return f"{start} to {end}"


def _bound(text: str | None, name: str) -> str | None:
    text = (text or "").strip()
    if not text:
        return None
    moment = _parse_time(text)
    if moment is None:
        raise ValueError(f"{name} {text!r} is not an ISO 8601 time such as 2026-11-20T10:00:00Z")
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _parse_time(text: str) -> datetime | None:
    """An ISO 8601 time in UTC (a time without a zone is UTC, as SageMaker writes its times); None if unreadable."""
    value = text.strip().replace(" ", "T", 1) if "T" not in text else text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    fraction = re.match(r"^(.*T\d\d:\d\d:\d\d)\.(\d+)(.*)$", value)
    if fraction:  # Python 3.9's fromisoformat takes 3 or 6 digits of a fraction only
        value = f"{fraction.group(1)}.{(fraction.group(2) + '000000')[:6]}{fraction.group(3)}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # noqa: UP017 (Python 3.9 has no datetime.UTC)
    return moment.astimezone(timezone.utc)  # noqa: UP017


def record_time(record: dict[str, Any]) -> str | None:
    """A decoded record's inferenceTime as text that sorts as the time (``YYYY-MM-DDTHH:MM:SS[.f]Z``, UTC)."""
    metadata = record.get("eventMetadata")
    text = metadata.get("inferenceTime") if isinstance(metadata, dict) else None
    if not isinstance(text, str):
        return None
    if _CANONICAL_TIME.match(text):
        return text
    moment = _parse_time(text)
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def capture_files(folder: Path) -> list[Path]:
    """Every capture file under ``folder`` (SageMaker lays them out as <endpoint>/<variant>/yyyy/mm/dd/hh/)."""
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(CAPTURE_SUFFIXES)
    )


class CaptureReader:
    """Accumulates capture records into a WindowSummary for the baseline's features; with a ``window``, only the
    records whose inferenceTime is in it."""

    def __init__(self, specs: list[tuple[str, str]], window: TimeWindow | None = None) -> None:
        self.summary = WindowSummary.empty_like(specs)
        self.window = window
        self.names = [name for name, _ in specs]
        self.numeric = [name for name, kind in specs if kind == "numeric"]
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._csv_blocks: list[bytes] = []
        """Rows of unquoted CSV text, a block's rows joined by newlines (no newline after the last)."""
        self._csv_rows = 0
        self._rows: list[list[str]] = []
        self._first_name = self.names[0].encode("utf-8") if self.names else b""
        self._first_lines: dict[Span, int] = {}
        self._numbers_only = True
        """Whether every numeric value so far was a number (no missing marker, no text)."""

    def _first_line(self, span: Span) -> int:
        """The number, in its file, of the span's first line (counted once per span)."""
        if span not in self._first_lines:
            self._first_lines[span] = (lines_before(span) if span.start else 0) + 1
        return self._first_lines[span]

    # -- files ------------------------------------------------------------------------------------------

    def read_file(self, path: Path) -> None:
        self.read_span(Span(path))

    def read_span(self, span: Span) -> None:
        """Read the span's records a chunk of whole lines at a time (memory bounded by ``CHUNK_BYTES`` and
        ``MAX_RECORD_BYTES``). A compressed file that breaks off is read up to where it breaks."""
        compressed = span.path.name.lower().endswith(".gz")
        lines_read = 0
        try:
            with gzip.open(span.path, "rb") if compressed else span.path.open("rb") as handle:
                if span.start:
                    handle.seek(span.start)
                left = None if span.end is None else span.end - span.start
                for chunk, skipped in whole_lines(handle, left):
                    if skipped:
                        self.summary.records += 1
                        where = f"{span.path.name} line {self._first_line(span) + lines_read}"
                        self.summary.note_malformed(too_long_reason(), where)
                        lines_read += 1
                    else:
                        lines_read += self._read_chunk(chunk, span, lines_read)
        except (OSError, EOFError, zlib.error):
            if not compressed:
                raise
            # A file under the capture prefix named .gz that is not (or not wholly) gzip: what it held past the
            # break is lost, the rest of the window is not.
            self.summary.note_malformed(
                UNDECOMPRESSABLE, f"{span.path.name} line {self._first_line(span) + lines_read}"
            )

    def read_lines(self, lines: Iterable[str], source: str) -> None:
        """Read records given as lines (numbered from 1 in the examples of what could not be read)."""
        text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
        self._read_chunk(text.encode("utf-8", "surrogatepass"), Span(Path(source)), 0)

    # -- chunks of lines ----------------------------------------------------------------------------------

    def _read_chunk(self, raw: bytes, span: Span, lines_before_chunk: int) -> int:
        """Read a chunk of whole lines; return how many lines it held."""
        if not raw.endswith(b"\n"):
            raw += b"\n"  # the file's last line, without its newline
        unreadable = _unreadable_lines(raw)
        if unreadable:
            lines = raw.split(b"\n")
            for index, _ in unreadable:
                lines[index] = b""  # blanked: counted below, never read
            raw = b"\n".join(lines)
        data = np.frombuffer(raw, dtype=np.uint8)
        ends = np.flatnonzero(data == _NEWLINE)
        starts = np.empty_like(ends)
        starts[:1] = 0
        starts[1:] = ends[:-1] + 1
        plain, data_starts, data_ends, times = self._plain_lines(raw, data, starts, ends)

        problems = list(unreadable)
        others = []
        for index in np.flatnonzero(~plain).tolist():
            line = raw[starts[index] : ends[index]].decode("utf-8")
            if line.strip():
                others.append((index, line))
        plain_rows = np.flatnonzero(plain)
        self.summary.records += len(plain_rows) + len(others) + len(unreadable)
        begin, end = data_starts[plain_rows], data_ends[plain_rows]
        if self.window is not None and len(plain_rows):
            inside = self._in_window(times[plain_rows])
            begin, end = begin[inside], end[inside]
        named = self._starting_with_first_name(raw, begin)
        if named.any():
            # perhaps a header row naming the features, which the endpoint skips: read such rows one by one
            for start, stop in zip(begin[named].tolist(), end[named].tolist()):  # noqa: B905 (Python 3.9)
                self._queue_csv(raw[start:stop].decode("utf-8"))
            begin, end = begin[~named], end[~named]
        if len(begin):
            self._csv_blocks.append(b"\n".join(map(raw.__getitem__, map(slice, begin.tolist(), end.tolist()))))
            self._csv_rows += len(begin)
        for index, line in others:
            reason = self._read_record(line)
            if reason:
                problems.append((index, reason))
        if problems:
            first_line = self._first_line(span) + lines_before_chunk
            for index, reason in sorted(problems):
                self.summary.note_malformed(reason, f"{span.path.name} line {first_line + index}")
        if self._csv_rows + len(self._rows) >= BLOCK_ROWS:
            self.flush()
        return len(ends)

    def _plain_lines(
        self, raw: bytes, data: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Which lines are plain records (SageMaker's layout, one CSV row without escapes as input), where each
        line's data begins and ends, and (with a window) each plain line's inferenceTime as 20 bytes.

        Every test runs on all lines at once: the layout's fixed texts are compared a word at a time at each line's
        start, data end and end, and one count of the record key rules out a line holding two records."""
        lines = len(ends)
        words = _words(raw)
        plain = ends - starts >= len(_PLAIN_PREFIX) + len(_PLAIN_DATA_END) + len(_PLAIN_END)
        plain[plain] = _matches_at(words, starts[plain], _PLAIN_PREFIX)
        data_starts = starts + len(_PLAIN_PREFIX)
        find = raw.find
        data_ends = np.fromiter(map(find, repeat(b'"'), data_starts.tolist(), ends.tolist()), np.int64, lines)
        plain &= (data_ends >= 0) & (data_ends + len(_PLAIN_DATA_END) + len(_PLAIN_END) <= ends)
        plain[plain] = _matches_at(words, data_ends[plain], _PLAIN_DATA_END)
        plain[plain] = _matches_at(words, ends[plain] - len(_PLAIN_END), _PLAIN_END)
        # Each plain line holds the record key once in its prefix: a line holding a second record (which the JSON
        # decoder reads, saying what is wrong with it) shows as more keys than plain lines and other lines hold.
        other_keys = sum(raw.count(_RECORD_KEY, starts[i], ends[i]) for i in np.flatnonzero(~plain).tolist())
        if raw.count(_RECORD_KEY) != np.count_nonzero(plain) + other_keys:
            keys = np.fromiter((m.start() for m in re.finditer(re.escape(_RECORD_KEY), raw)), np.int64)
            plain &= np.bincount(np.searchsorted(ends, keys), minlength=lines)[:lines] == 1
        for marks in _escapes_and_controls(raw, data, lines):
            line = np.searchsorted(ends, marks)
            plain[line[(marks >= data_starts[line]) & (marks < data_ends[line])]] = False
        times = np.zeros(lines, dtype=f"S{_TIME_TEXT_BYTES}")
        if self.window is not None:
            rfind = raw.rfind
            keys = np.fromiter(map(rfind, repeat(_TIME_KEY), data_ends.tolist(), ends.tolist()), np.int64, lines)
            time_starts = keys + len(_TIME_KEY)
            plain &= (keys >= 0) & (time_starts + len(_TIME_LAYOUT) <= ends)
            candidates = np.flatnonzero(plain)
            found = data[time_starts[candidates, None] + np.arange(len(_TIME_LAYOUT))]
            shaped = np.where(_TIME_DIGITS, (found >= ord("0")) & (found <= ord("9")), found == _TIME_LAYOUT).all(1)
            plain[candidates[~shaped]] = False
            texts = np.ascontiguousarray(found[shaped, :_TIME_TEXT_BYTES])
            times[candidates[shaped]] = texts.view(f"S{_TIME_TEXT_BYTES}").ravel()
        return plain, data_starts, data_ends, times

    def _starting_with_first_name(self, raw: bytes, begin: np.ndarray) -> np.ndarray:
        """Which plain rows (data starting at ``begin``) start with the first feature's name: compared a word at
        a time, then in full where the first 8 bytes agree. A plain row's data is followed by more than 8 bytes
        of its line, so every word read lies in the chunk."""
        head = self._first_name[:8]
        if not head or not len(begin):
            return np.zeros(len(begin), dtype=bool)
        mask = np.uint64((1 << (8 * len(head))) - 1)
        named = (_words(raw)[begin] & mask) == np.uint64(int.from_bytes(head, "little"))
        for position in np.flatnonzero(named).tolist():
            named[position] = raw.startswith(self._first_name, int(begin[position]))
        return named

    def _in_window(self, times: np.ndarray) -> np.ndarray:
        """Which of the plain records' times are in the window; the others are counted as outside it."""
        window = self.window
        assert window is not None
        inside = (times >= np.bytes_(window.start.encode())) & (times < np.bytes_(window.end.encode()))
        self.summary.outside_window += int(len(times) - np.count_nonzero(inside))
        return inside

    def finish(self) -> WindowSummary:
        self.flush()
        return self.summary

    # -- records read by the JSON decoder ------------------------------------------------------------------

    def _read_record(self, line: str) -> str | None:
        """Queue the record's rows; return why it cannot be read, or None."""
        try:
            record = loads_bounded(line)
        except (JsonTooDeep, RecursionError):
            return TOO_DEEP
        except ValueError:
            return "not a JSON object"
        if not isinstance(record, dict):
            return "not a JSON object"
        if self.window is not None:
            time = record_time(record)
            if time is None:
                return UNPLACED
            if not self.window.holds(time):
                self.summary.outside_window += 1
                return None
        captured = record.get("captureData")
        body = captured.get(CAPTURE_INDEX) if isinstance(captured, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("data"), str):
            return "no captureData.endpointInput.data"
        data = body["data"]
        encoding = body.get("encoding") or "CSV"
        content_type = body.get("observedContentType") or "text/csv"
        if not isinstance(encoding, str):
            return f"unknown endpointInput.encoding {_shown(encoding)}"
        if not isinstance(content_type, str):
            return f"unsupported content type {_shown(content_type)}"
        if encoding.upper() == "BASE64":
            try:
                data = base64.b64decode(data, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return "endpointInput.data is not base64-encoded UTF-8 text"
        elif encoding.upper() not in ("CSV", "JSON"):
            return f"unknown endpointInput.encoding {_shown(encoding)}"
        kind = content_type.split(";")[0].strip().lower()
        if kind in ("text/csv", "text/plain", "application/csv"):
            if not _is_text(data):
                return NOT_UNICODE
            return self._queue_csv(data)
        if kind in ("application/json", "application/jsonlines"):
            return self._queue_json(data)
        return f"unsupported content type {_shown(kind)}"

    def _queue_csv(self, data: str) -> str | None:
        width = len(self.names)
        lines = [line for line in data.splitlines() if line.strip()]
        if lines and [value.strip() for value in lines[0].split(",")] == self.names:
            lines = lines[1:]  # a header row naming the features, which the endpoint skips too
        quoted = [line for line in lines if '"' in line]
        try:
            values = [next(csv.reader([line], skipinitialspace=True)) for line in quoted]
        except csv.Error as error:  # a quoted value past the reader's field limit, say
            return f"endpointInput.data is CSV that cannot be read ({_shown(str(error))})"
        queued = []
        for line in lines:
            if '"' in line:
                continue
            if line.count(",") + 1 == width and "\x00" not in line:
                queued.append(line.encode("utf-8"))
            else:
                self._queue_values(line.split(","))
        for row in values:
            self._queue_values(row)
        if queued:
            self._csv_blocks.append(b"\n".join(queued))  # their widths are checked a block at a time
            self._csv_rows += len(queued)
        return None

    def _queue_json(self, data: str) -> str | None:
        try:
            body = loads_bounded(data)
        except (JsonTooDeep, RecursionError):
            return DATA_TOO_DEEP
        except ValueError:
            return "endpointInput.data is not valid JSON"
        rows = body.get("instances") if isinstance(body, dict) else body
        if isinstance(body, dict) and rows is None:
            rows = [body]
        if not isinstance(rows, list):
            return 'JSON body is neither a list of rows nor {"instances": [...]}'
        if rows and not isinstance(rows[0], (list, dict)):
            rows = [rows]
        for row in rows:
            if not isinstance(row, (list, dict)):
                return "a JSON row is neither a list nor an object"
            if any(isinstance(value, (list, dict)) for value in (row.values() if isinstance(row, dict) else row)):
                return NESTED_VALUE
        if "\\u" in data:  # an escape may stand for a lone surrogate, which is not text
            texts = (_text(v) for row in rows for v in (row.values() if isinstance(row, dict) else row))
            keys = (str(key) for row in rows if isinstance(row, dict) for key in row)
            if not _is_text("".join(texts)) or not _is_text("".join(keys)):
                return NOT_UNICODE
        for row in rows:
            if isinstance(row, dict):
                self._queue_named(row)
            else:
                self._queue_values([_text(v) for v in row])
        return None

    def _queue_values(self, values: list[str]) -> None:
        width = len(self.names)
        if len(values) == width:
            self._rows.append(values)
            return
        summary = self.summary
        summary.rows_left_out += 1
        if len(values) < width:
            for name in self.names[len(values) :]:
                count_into(summary.missing_columns, name)
            return
        named = min(len(values), width + MAX_NAMED_EXTRA_COLUMNS)
        for position in range(width, named):
            count_into(summary.extra_columns, f"column {position + 1}")
        if named < len(values):
            count_into(summary.extra_columns, f"column {named + 1} and later")

    def _queue_named(self, row: dict[str, Any]) -> None:
        """An object keyed by feature name, read as the endpoint reads it: a feature it leaves out is a missing
        value (completeness), a key the model does not take makes the row one the endpoint refused."""
        extra = [str(key) for key in row if key not in self._positions]
        if extra:
            self.summary.rows_left_out += 1
            for name in extra:
                count_into(self.summary.extra_columns, _shown_name(name))
            return
        self._rows.append([_text(row.get(name)) for name in self.names])

    # -- blocks of rows -----------------------------------------------------------------------------------

    def flush(self) -> None:
        if self._csv_blocks:
            padded, rows = b"\n".join([*self._csv_blocks, _PADDING]), self._csv_rows
            self._csv_blocks, self._csv_rows = [], 0
            self._summarise_csv(padded, rows)
        if self._rows:
            self._summarise(pd.DataFrame(self._rows, columns=self.names, dtype=object))
            self._rows = []

    def _summarise_csv(self, padded: bytes, rows: int) -> None:
        """Rows of unquoted values (``padded``: the rows, each ending with a newline, then ``_PADDING``): the
        numeric columns parsed by pandas, the categorical ones counted as bytes. A row with more or fewer values
        than the features is counted under the columns it lacks or adds instead.

        The common case costs one pass: the positions of commas and newlines, which for rows all of the right
        width fall on a grid of one row per line."""
        width = len(self.names)
        text = np.frombuffer(padded, dtype=np.uint8, count=len(padded) - len(_PADDING))
        separators = np.flatnonzero((text == _COMMA) | (text == _NEWLINE))
        if len(separators) != rows * width or not (text[separators[width - 1 :: width]] == _NEWLINE).all():
            padded, rows = self._without_odd_rows(padded[: len(text) - 1])
            if not rows:
                return
            text = np.frombuffer(padded, dtype=np.uint8, count=len(padded) - len(_PADDING))
            separators = np.flatnonzero((text == _COMMA) | (text == _NEWLINE))
        grid = separators.reshape(rows, width)
        numbers = self._parse_numbers(padded, rows) if self.numeric else None
        row_starts = np.empty(rows, dtype=np.int64)
        row_starts[:1] = 0
        row_starts[1:] = grid[:-1, -1] + 1
        self.summary.rows += rows
        for position, feature in enumerate(self.summary.features):
            if feature.kind == "numeric":
                assert numbers is not None
                _add_numeric(feature, numbers[feature.name])
            else:
                begin = grid[:, position - 1] + 1 if position else row_starts
                feature.add(*_field_counts(padded, begin, grid[:, position]))

    def _without_odd_rows(self, body: bytes) -> tuple[bytes, int]:
        """The rows of the features' width, padded as ``_summarise_csv`` takes them; the others counted under the
        columns they lack or add."""
        lines = body.split(b"\n")
        commas = np.fromiter(map(bytes.count, lines, repeat(b",")), dtype=np.int64, count=len(lines))
        odd = commas != len(self.names) - 1
        for position in np.flatnonzero(odd).tolist():
            self._queue_values(lines[position].decode("utf-8").split(","))
        kept = [lines[position] for position in np.flatnonzero(~odd).tolist()]
        return b"\n".join([*kept, _PADDING]), len(kept)

    def _parse_numbers(self, padded: bytes, rows: int) -> pd.DataFrame:
        """The numeric columns of the first ``rows`` rows as floats when every value is a number or a missing marker
        (the common case), otherwise as text."""
        body = padded
        common: dict[str, Any] = {
            "header": None,
            "names": self.names,
            "usecols": self.numeric,
            "nrows": rows,
            "skipinitialspace": True,
            "keep_default_na": False,
            "skip_blank_lines": False,
        }
        if self._numbers_only:
            try:  # without looking up missing markers: a third faster, for blocks without any
                return pd.read_csv(io.BytesIO(body), dtype=np.float64, na_filter=False, **common)
            except ValueError:
                self._numbers_only = False  # this window has missing markers or text: look them up from now on
        try:
            return pd.read_csv(io.BytesIO(body), dtype=np.float64, na_values=_MISSING, **common)
        except ValueError:
            return pd.read_csv(io.BytesIO(body), dtype=object, na_filter=False, **common)

    def _summarise(self, frame: pd.DataFrame) -> None:
        self.summary.rows += len(frame)
        for feature in self.summary.features:
            column = frame[feature.name]
            if feature.kind == "numeric":
                _add_numeric(feature, column)
            else:
                feature.add(*_category_counts(column))


class ByteStream(Protocol):
    """A file opened for reading bytes, plain or decompressing."""

    def read(self, size: int, /) -> bytes: ...

    def readline(self, size: int, /) -> bytes: ...


def whole_lines(handle: ByteStream, left: int | None) -> Iterator[tuple[bytes, int]]:
    """The handle's next ``left`` bytes (all, when None) as chunks of whole lines, ``(chunk, 0)``, and for each line
    longer than ``MAX_RECORD_BYTES``, in its place, ``(b"", bytes skipped)``: such a line is read through a
    block at a time and never held. The last line of a file may lack its newline."""
    read_some = partial(_read_until_broken, handle) if isinstance(handle, gzip.GzipFile) else handle.read
    carry = b""
    while True:
        size = CHUNK_BYTES if left is None else min(CHUNK_BYTES, left)
        try:
            read = read_some(size) if size > 0 else b""
        except BrokenOff as broken:  # a compressed file broken off: the whole lines it gave still count
            given = carry + broken.partial
            cut = given.rfind(b"\n") + 1
            if cut:
                yield given[:cut], 0
            raise
        if left is not None:
            left -= len(read)
        chunk, carry = carry + read, b""
        if not read:
            if chunk:
                yield chunk, 0
            return
        if chunk.endswith(b"\n"):
            yield chunk, 0
            continue
        limit = MAX_RECORD_BYTES if left is None else min(MAX_RECORD_BYTES, left)
        try:
            rest = handle.readline(limit) if limit > 0 else b""
        except (OSError, EOFError, zlib.error):  # a compressed file broken off: its whole lines still count
            cut = chunk.rfind(b"\n") + 1
            if cut:
                yield chunk[:cut], 0
            raise
        if left is not None:
            left -= len(rest)
        if rest.endswith(b"\n") or len(rest) < MAX_RECORD_BYTES:
            yield chunk + rest, 0  # the line completed (or the input ended)
            continue
        cut = chunk.rfind(b"\n") + 1
        if cut:
            yield chunk[:cut], 0
        skipped = len(chunk) - cut + len(rest)
        while True:
            size = SKIP_BYTES if left is None else min(SKIP_BYTES, left)
            block = handle.read(size) if size > 0 else b""
            if left is not None:
                left -= len(block)
            newline = block.find(b"\n")
            if newline >= 0 or not block:
                skipped += newline + 1 if newline >= 0 else 0
                carry = block[newline + 1 :] if newline >= 0 else b""
                break
            skipped += len(block)
        yield b"", skipped


class BrokenOff(OSError):
    """A compressed file that breaks off (cut short, corrupt): ``partial`` holds what it gave before the break."""

    def __init__(self, partial: bytes) -> None:
        super().__init__("the compressed file breaks off")
        self.partial = partial


def _read_until_broken(handle: gzip.GzipFile, size: int) -> bytes:
    """``handle.read(size)``, a decompressed block at a time, so that a file that breaks off loses only what
    follows the break: ``BrokenOff`` carries what was read before it."""
    given = bytearray()
    try:
        while len(given) < size:
            block = handle.read1(size - len(given))
            if not block:
                break
            given += block
    except (OSError, EOFError, zlib.error) as error:
        raise BrokenOff(bytes(given)) from error
    return bytes(given)


def _unreadable_lines(raw: bytes) -> list[tuple[int, str]]:
    """(index, reason) of each line of the chunk that is not read: longer than ``MAX_RECORD_BYTES`` or not
    UTF-8 text. Checked on the whole chunk first, line by line only when that fails."""
    found = []
    long_possible = len(raw) > MAX_RECORD_BYTES
    if long_possible or not raw.isascii():
        try:
            raw.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        if long_possible or not valid:
            for index, line in enumerate(raw.split(b"\n")):
                if len(line) > MAX_RECORD_BYTES:
                    found.append((index, too_long_reason()))
                elif not valid and not line.isascii() and not _is_utf8(line):
                    found.append((index, NOT_UTF8))
    return found


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_text(text: str) -> bool:
    """Text that UTF-8 can encode: no lone surrogate, which a JSON escape such as \\ud800 can make."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _words(raw: bytes) -> np.ndarray:
    """The 8-byte little-endian word starting at each byte of ``raw`` (a view: no copy)."""
    return np.ndarray(shape=(max(len(raw) - 7, 0),), dtype="<u8", buffer=raw, strides=(1,))


def _matches_at(words: np.ndarray, positions: np.ndarray, literal: bytes) -> np.ndarray:
    """Whether ``literal`` (8 bytes or more) starts at each position; every position leaves room for it. Compared
    a word at a time, the last word ending with the literal."""
    found = np.ones(len(positions), dtype=bool)
    for offset in [*range(0, len(literal) - 8, 8), len(literal) - 8]:
        found &= words[positions + offset] == int.from_bytes(literal[offset : offset + 8], "little")
    return found


def _escapes_and_controls(raw: bytes, data: np.ndarray, lines: int) -> list[np.ndarray]:
    """Positions of backslashes and of control characters other than newlines, when there are any."""
    found = []
    if b"\\" in raw:
        found.append(np.flatnonzero(data == _BACKSLASH))
    if np.count_nonzero(data < _SPACE) != lines:
        found.append(np.flatnonzero((data < _SPACE) & (data != _NEWLINE)))
    return found


def _field_counts(padded: bytes, begin: np.ndarray, end: np.ndarray) -> tuple[dict[str, int], int]:
    """Counts of each value of a column given by its fields' byte ranges in ``padded`` (a block's text followed by
    at least 8 bytes), stripped of surrounding blanks, and how many values are missing. Values of up to 8 bytes
    (the common case) are counted as words by pandas' hash table: no value holds a NUL, so zeroing the bytes past
    a value makes every value a distinct word."""
    lengths = end - begin
    longest = int(lengths.max()) if len(lengths) else 0
    raw_counts: Iterable[tuple[bytes, int]]
    if longest <= 8:
        keys = _words(padded)[begin] & _LOW_BYTES[lengths]
        tally = pd.Series(keys).value_counts(sort=False)
        raw_counts = zip(tally.index.to_numpy(dtype=np.uint64).view("S8").tolist(), tally.to_numpy().tolist())  # noqa: B905
    elif longest <= 32:
        width = 16 if longest <= 16 else 32
        text = np.frombuffer(padded, dtype=np.uint8)
        index = begin[:, None] + np.arange(width)
        np.minimum(index, len(text) - 1, out=index)
        cells = text[index]
        cells[np.arange(width) >= lengths[:, None]] = 0
        values, counts = np.unique(cells.view(f"S{width}").ravel(), return_counts=True)
        raw_counts = zip(values.tolist(), counts.tolist())  # noqa: B905 (Python 3.9)
    else:
        raw_counts = Counter(map(padded.__getitem__, map(slice, begin.tolist(), end.tolist()))).items()
    found: dict[str, int] = {}
    missing = 0
    for value, count in raw_counts:
        name = value.decode("utf-8").strip()
        if name in MISSING_VALUES:
            missing += int(count)
        else:
            found[name] = found.get(name, 0) + int(count)
    return found, missing


def _add_numeric(feature: Any, column: pd.Series) -> None:
    if column.dtype == np.float64:
        numbers = column.to_numpy()
        finite = np.isfinite(numbers)
        present = int(np.count_nonzero(finite))
        if present == len(numbers):  # every value a number (the common case)
            feature.add(numbers)
            return
        missing = int(np.count_nonzero(np.isnan(numbers)))
        feature.add(numbers[finite], missing=missing, non_numeric=len(numbers) - missing - present)
        return
    text = column.astype(str).str.strip()
    missing_mask = text.isin(MISSING_VALUES).to_numpy()
    numbers = pd.to_numeric(text.where(~missing_mask), errors="coerce").to_numpy(dtype=np.float64)
    finite = np.isfinite(numbers)
    missing = int(missing_mask.sum())
    feature.add(numbers[finite], missing=missing, non_numeric=len(numbers) - missing - int(finite.sum()))


def _category_counts(column: pd.Series) -> tuple[dict[str, int], int]:
    """Counts of each value, stripped of surrounding blanks, and how many values are missing. Counting the raw
    values first keeps the per-row work in pandas; only the distinct values are stripped here."""
    counts: dict[str, int] = {}
    missing = 0
    for value, count in column.value_counts(dropna=False).items():
        text = "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
        if text in MISSING_VALUES:
            missing += int(count)
        else:
            counts[text] = counts.get(text, 0) + int(count)
    return counts, missing


def _text(value: Any) -> str:
    """A JSON scalar as the text a CSV row would hold: null is missing, numbers and strings as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shown(value: Any) -> str:
    """A value from a record as a reason quotes it: text cut to ``MAX_SHOWN`` characters, other JSON by its kind."""
    if not isinstance(value, str):
        return f"(a JSON {type(value).__name__})"
    return repr(value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "...")


def _shown_name(name: str) -> str:
    """A column name from a record, cut to ``MAX_SHOWN`` characters."""
    return name if len(name) <= MAX_SHOWN else name[:MAX_SHOWN] + "..."


def summarise_capture(
    paths: list[Path], specs: list[tuple[str, str]], workers: int | None = None, window: TimeWindow | None = None
) -> WindowSummary:
    """The window's summary, read in parallel pieces on an instance with several CPUs (see parallel.py); with a
    ``window``, of the records whose inferenceTime is in it."""
    pieces = spans(paths, splittable=lambda path: not path.name.lower().endswith(".gz"))
    workers = workers or workers_for(total_bytes(paths), len(pieces))
    if workers <= 1:
        reader = CaptureReader(specs, window)
        for piece in pieces:
            for span in piece:
                reader.read_span(span)
        return reader.finish()
    summary = WindowSummary.empty_like(specs)
    for part in map_pieces(partial(_summarise_piece, specs, window), pieces, workers):
        summary.merge(part)
    return summary


def _summarise_piece(specs: list[tuple[str, str]], window: TimeWindow | None, piece: list[Span]) -> WindowSummary:
    reader = CaptureReader(specs, window)
    for span in piece:
        reader.read_span(span)
    return reader.finish()
