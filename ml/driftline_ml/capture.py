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
order) or objects keyed by feature name. A record that cannot be read (not JSON, no ``endpointInput``,
unknown encoding or content type) is counted by reason and skipped; a row with fewer or more values than
the model's features is counted under the columns it lacks or adds and left out of the statistics.

A window (``TimeWindow``: Model Monitor's ``start_time`` and ``end_time``) keeps the records whose
``eventMetadata.inferenceTime`` is in [start, end): capture files sit in clock-hour folders, so the hours a
window touches hold records before and after it. Records outside it are counted, not analysed; a record whose
inferenceTime cannot be read cannot be placed and is counted as unreadable.

Rows are parsed in blocks with pandas' C reader, so a million records take seconds and memory stays bounded
by the block size.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline_ml.drift import WindowSummary
from driftline_ml.parallel import Span, lines_before, map_pieces, spans, total_bytes, workers_for
from driftline_ml.values import MISSING_VALUES

BLOCK_ROWS = 100_000
"""Rows parsed at once: large enough for pandas' speed, small enough for bounded memory."""
CHUNK_BYTES = 8 * 2**20
"""Capture text read and matched at once."""
CAPTURE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
CAPTURE_INDEX = "endpointInput"
_MISSING = sorted(MISSING_VALUES)
_DECODER = json.JSONDecoder()
_RECORD_KEY = '"captureData"'
_PLAIN_RECORD = re.compile(
    r'^(?:\{"captureData":\{"endpointInput":\{"observedContentType":"text/csv","mode":"INPUT","data":"'
    r'([^"\\\x00-\x1f]*)","encoding":"CSV"\}[^\n]*"eventVersion":"[^"\\\n]*"(\})[ \t\r]*|(.*))$',
    re.M,
)
"""One match per line: (row, "}", "") for a record in SageMaker's own layout whose input is CSV text with no
quote, backslash or control character (the common case), ("", "", line) for any other line.

SageMaker writes ``{"captureData":{"endpointInput":{"observedContentType":...,"mode":"INPUT","data":...,
"encoding":"CSV"},"endpointOutput":{...}},"eventMetadata":{...},"eventVersion":"0"}``; a line in that layout
that does not end as a record does goes to the JSON decoder, which says what is wrong with it."""
_TIME = r"[0-9]{4}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9](?:\.[0-9]+)?Z"
"""An inferenceTime as SageMaker writes it (UTC, whole seconds or a fraction), whose text sorts as its time."""
_PLAIN_TIMED_RECORD = re.compile(
    r'^(?:\{"captureData":\{"endpointInput":\{"observedContentType":"text/csv","mode":"INPUT","data":"'
    r'([^"\\\x00-\x1f]*)","encoding":"CSV"\}[^\n]*"inferenceTime":"(' + _TIME + r')"'
    r'(?:\},"eventVersion":"[^"\\\n]*"|[^\n]*"eventVersion":"[^"\\\n]*")(\})[ \t\r]*|(.*))$',
    re.M,
)
"""``_PLAIN_RECORD`` with the record's inferenceTime: (row, time, "}", "") or ("", "", "", line). SageMaker
writes the time last in ``eventMetadata``, just before ``eventVersion``, which the pattern tries first (the
cheapest match); a record whose inferenceTime is written otherwise (a time zone offset, say) goes to the JSON
decoder and is placed from there."""
_CANONICAL_TIME = re.compile(_TIME + r"\Z")
_ROW, _TIME_OF, _CLOSED = itemgetter(0), itemgetter(1), itemgetter(2)
UNPLACED = "no readable eventMetadata.inferenceTime, so it cannot be placed in the window"
"""Why a record of a window is not analysed when its inferenceTime is missing or is not a time."""


@dataclass(frozen=True)
class TimeWindow:
    """The records to analyse: those whose ``eventMetadata.inferenceTime`` is in [start, end), in UTC.

    Bounds are kept as ``YYYY-MM-DDTHH:MM:SS`` texts ("" and "~" when open), which compare with an inferenceTime's
    text as the times compare: a window's membership test is two string comparisons, and a block of records
    wholly inside costs one ``min`` and one ``max``. A bound with a fraction of a second is moved up to the next
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
        self._pattern = _PLAIN_RECORD if window is None else _PLAIN_TIMED_RECORD
        self.names = [name for name, _ in specs]
        self.numeric = [name for name, kind in specs if kind == "numeric"]
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._csv_lines: list[str] = []
        self._rows: list[list[str]] = []
        self._header_mark = '"data":"' + (self.names[0] if self.names else "")

    # -- records ----------------------------------------------------------------------------------------

    def read_file(self, path: Path) -> None:
        self.read_span(Span(path))

    def read_span(self, span: Span) -> None:
        """Read the span's records a chunk of whole lines at a time (memory bounded by ``CHUNK_BYTES``)."""
        opener: Any = open
        if span.path.name.lower().endswith(".gz"):
            import gzip

            opener = gzip.open
        try:
            self._read_opened(span, opener)
        except (OSError, EOFError, zlib.error):
            if opener is open:
                raise
            # A file under the capture prefix named .gz that is not (or not wholly) gzip: what it held is lost,
            # the rest of the window is not.
            self.summary.note_malformed("a compressed capture file that cannot be decompressed", span.path.name)

    def _read_opened(self, span: Span, opener: Any) -> None:
        lines_read = 0
        with opener(span.path, "rb") as handle:
            if span.start:
                handle.seek(span.start)
            left = None if span.end is None else span.end - span.start
            while left is None or left > 0:
                chunk = handle.read(CHUNK_BYTES if left is None else min(CHUNK_BYTES, left))
                if not chunk:
                    break
                if not chunk.endswith(b"\n") and (left is None or len(chunk) < left):
                    chunk += handle.readline()  # whole lines only; a span ends after a newline
                if left is not None:
                    left -= len(chunk)
                lines_read += self._read_chunk(chunk.decode("utf-8", errors="replace"), span, lines_read)

    def read_lines(self, lines: Iterable[str], source: str) -> None:
        """Read records given as lines (numbered from 1 in the examples of what could not be read)."""
        self._read_chunk("".join(line if line.endswith("\n") else line + "\n" for line in lines), Span(Path(source)), 0)

    def _read_chunk(self, text: str, span: Span, lines_before_chunk: int) -> int:
        """Queue a chunk of whole lines; return how many lines it held.

        The hot path is one regular expression over the chunk: a record in SageMaker's own layout whose
        input is one plain CSV row with the baseline's number of values (the common case) yields its row
        with no JSON decoding in Python; every other line is decoded and read by ``_read_record``.
        """
        matches = self._pattern.findall(text)
        if text.endswith("\n"):
            matches.pop()  # the empty match after the final newline is not a line
        if self.window is None:
            plain = [data for data, closed, _ in matches if closed]
            times: list[str] = []
        elif "" not in map(_CLOSED, matches):  # every line a plain record (the common case)
            plain, times = list(map(_ROW, matches)), list(map(_TIME_OF, matches))
        else:
            plain = [data for data, _, closed, _ in matches if closed]
            times = [time for _, time, closed, _ in matches if closed]
        others = self._other_lines(matches, len(plain))
        if text.count(_RECORD_KEY) > len(plain) + sum(line.count(_RECORD_KEY) for _, line in others):
            # a line in SageMaker's layout holds a second record, which the pattern would not see: decode
            # every line of the chunk, so that line is reported as the JSON decoder finds it
            matches = [("", "", line) for line in text.split("\n")[: len(matches)]]
            plain = []
            others = self._other_lines(matches, 0)
        summary = self.summary
        summary.records += len(plain) + len(others)
        if self.window is not None and plain:
            plain = self._in_window(plain, times)
        if self._header_mark in text:
            # perhaps a header row naming the features, which the endpoint skips: read such rows one by one
            named = np.fromiter(map(str.startswith, plain, repeat(self.names[0])), dtype=bool, count=len(plain))
            for position in np.flatnonzero(named):
                self._queue_csv(plain[position])
            plain = [plain[position] for position in np.flatnonzero(~named)]
        self._csv_lines.extend(plain)  # their widths are checked a block at a time, in _parse_rows
        first_line: int | None = None
        for index, line in others:
            reason = self._read_record(line)
            if reason:
                if first_line is None:
                    first_line = (lines_before(span) if span.start else 0) + lines_before_chunk + 1
                summary.note_malformed(reason, f"{span.path.name} line {first_line + index}")
        if len(self._csv_lines) + len(self._rows) >= BLOCK_ROWS:
            self.flush()
        return len(matches)

    @staticmethod
    def _other_lines(matches: list[tuple[str, ...]], plain: int) -> list[tuple[int, str]]:
        """(index, line) of each non-blank line not in SageMaker's plain layout."""
        if plain == len(matches):
            return []
        return [(i, match[-1]) for i, match in enumerate(matches) if not match[-2] and match[-1].strip()]

    def _in_window(self, plain: list[str], times: list[str]) -> list[str]:
        """The rows whose record's time is in the window; the others counted as outside it. A block wholly
        inside (or wholly outside) the window costs a ``min`` and a ``max``."""
        window = self.window
        assert window is not None
        first, last = min(times), max(times)
        if window.start <= first and last < window.end:
            return plain
        if last < window.start or window.end <= first:
            self.summary.outside_window += len(plain)
            return []
        start, end = window.start, window.end
        kept = [data for data, time in zip(plain, times) if start <= time < end]  # noqa: B905 (Python 3.9)
        self.summary.outside_window += len(plain) - len(kept)
        return kept

    def finish(self) -> WindowSummary:
        self.flush()
        return self.summary

    def _read_record(self, line: str) -> str | None:
        """Queue the record's rows; return why it cannot be read, or None."""
        try:
            record = _DECODER.decode(line)
        except ValueError:
            return "not a JSON object"
        except RecursionError:
            return "JSON nested too deeply to read"
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
        encoding = str(body.get("encoding") or "CSV").upper()
        if encoding == "BASE64":
            try:
                data = base64.b64decode(data, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return "endpointInput.data is not base64-encoded UTF-8 text"
        elif encoding not in ("CSV", "JSON"):
            return f"unknown endpointInput.encoding {body.get('encoding')!r}"
        content_type = str(body.get("observedContentType") or "text/csv").split(";")[0].strip().lower()
        if content_type in ("text/csv", "text/plain", "application/csv"):
            self._queue_csv(data)
            return None
        if content_type in ("application/json", "application/jsonlines"):
            return self._queue_json(data)
        return f"unsupported content type {content_type!r}"

    def _queue_csv(self, data: str) -> None:
        width = len(self.names)
        lines = [line for line in data.splitlines() if line.strip()]
        if lines and [value.strip() for value in lines[0].split(",")] == self.names:
            lines = lines[1:]  # a header row naming the features, which the endpoint skips too
        for line in lines:
            if '"' in line:
                self._queue_values(next(csv.reader([line], skipinitialspace=True)))
            elif line.count(",") + 1 == width:
                self._csv_lines.append(line)
            else:
                self._queue_values(line.split(","))

    def _queue_json(self, data: str) -> str | None:
        try:
            body = json.loads(data)
        except ValueError:
            return "endpointInput.data is not valid JSON"
        except RecursionError:
            return "endpointInput.data is JSON nested too deeply to read"
        rows = body.get("instances") if isinstance(body, dict) else body
        if isinstance(body, dict) and rows is None:
            rows = [body]
        if not isinstance(rows, list):
            return 'JSON body is neither a list of rows nor {"instances": [...]}'
        if rows and not isinstance(rows[0], (list, dict)):
            rows = [rows]
        for row in rows:
            if isinstance(row, dict):
                self._queue_named(row)
            elif isinstance(row, list):
                self._queue_values([_text(v) for v in row])
            else:
                return "a JSON row is neither a list nor an object"
        return None

    def _queue_values(self, values: list[str]) -> None:
        width = len(self.names)
        if len(values) == width:
            self._rows.append(values)
            return
        self.summary.rows_left_out += 1
        counter = self.summary.missing_columns if len(values) < width else self.summary.extra_columns
        names = (
            self.names[len(values) :] if len(values) < width else [f"column {i + 1}" for i in range(width, len(values))]
        )
        for name in names:
            counter[name] = counter.get(name, 0) + 1

    def _queue_named(self, row: dict[str, Any]) -> None:
        """An object keyed by feature name, read as the endpoint reads it: a feature it leaves out is a missing
        value (completeness), a key the model does not take makes the row one the endpoint refused."""
        extra = [str(key) for key in row if key not in self._positions]
        if extra:
            self.summary.rows_left_out += 1
            for name in extra:
                self.summary.extra_columns[name] = self.summary.extra_columns.get(name, 0) + 1
            return
        self._rows.append([_text(row.get(name)) for name in self.names])

    # -- blocks of rows -----------------------------------------------------------------------------------

    def flush(self) -> None:
        if self._csv_lines:
            lines, self._csv_lines = self._csv_lines, []
            self._summarise(self._parse_rows(lines))
        if self._rows:
            self._summarise(pd.DataFrame(self._rows, columns=self.names, dtype=object))
            self._rows = []

    def _parse_rows(self, lines: list[str]) -> pd.DataFrame:
        """Rows of unquoted values as a frame; a row with more or fewer values than the features is counted
        under the columns it lacks or adds instead.

        The common case costs one count: a block holding exactly (features - 1) commas per row either has
        every row of the right width, or a row with too many values, which the parser refuses; only then are
        the rows counted one by one.
        """
        width = len(self.names)
        text = "\n".join(lines).encode("utf-8")  # bytes: pandas parses them without re-encoding
        if text.count(b",") == len(lines) * (width - 1):
            try:
                return self._parse_csv_block(text)
            except pd.errors.ParserError:
                pass
        odd = np.fromiter(map(str.count, lines, repeat(",")), dtype=np.int64, count=len(lines)) != width - 1
        for position in np.flatnonzero(odd):
            self._queue_values(lines[position].split(","))
        kept = [lines[position] for position in np.flatnonzero(~odd)]
        if not kept:
            return pd.DataFrame({name: pd.Series(dtype=object) for name in self.names})
        return self._parse_csv_block("\n".join(kept).encode("utf-8"))

    def _parse_csv_block(self, text: bytes) -> pd.DataFrame:
        """The block as a frame: numeric columns read straight to floats when every value is a number or a
        missing marker (the common case), otherwise every column as text."""
        common: dict[str, Any] = {
            "header": None,
            "names": self.names,
            "skipinitialspace": True,
            "keep_default_na": False,
        }
        try:
            return pd.read_csv(
                io.BytesIO(text),
                dtype={name: (np.float64 if name in self.numeric else object) for name in self.names},
                na_values={name: _MISSING for name in self.numeric},
                **common,
            )
        except pd.errors.ParserError:
            raise
        except ValueError:
            return pd.read_csv(io.BytesIO(text), dtype=object, na_filter=False, **common)

    def _summarise(self, frame: pd.DataFrame) -> None:
        self.summary.rows += len(frame)
        for feature in self.summary.features:
            column = frame[feature.name]
            if feature.kind == "numeric":
                _add_numeric(feature, column)
            else:
                feature.add(*_category_counts(column))


def _add_numeric(feature: Any, column: pd.Series) -> None:
    if column.dtype == np.float64:
        numbers = column.to_numpy()
        missing = int(np.isnan(numbers).sum())
        finite = np.isfinite(numbers)
        feature.add(numbers[finite], missing=missing, non_numeric=len(numbers) - missing - int(finite.sum()))
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
    """A JSON value as the text a CSV row would hold: null is missing, numbers and strings as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


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
