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

Rows are parsed in blocks with pandas' C reader, so a million records take seconds and memory stays bounded
by the block size.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline_ml.drift import WindowSummary
from driftline_ml.values import MISSING_VALUES

BLOCK_ROWS = 50_000
"""Rows parsed at once: large enough for pandas' speed, small enough for bounded memory."""
CAPTURE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json")
CAPTURE_INDEX = "endpointInput"
_MISSING = sorted(MISSING_VALUES)
_DECODER = json.JSONDecoder()


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
    """Accumulates capture records into a WindowSummary for the baseline's features."""

    def __init__(self, specs: list[tuple[str, str]]) -> None:
        self.summary = WindowSummary.empty_like(specs)
        self.names = [name for name, _ in specs]
        self.numeric = [name for name, kind in specs if kind == "numeric"]
        self._positions = {name: i for i, name in enumerate(self.names)}
        self._csv_lines: list[str] = []
        self._rows: list[list[str]] = []

    # -- records ----------------------------------------------------------------------------------------

    def read_file(self, path: Path) -> None:
        opener: Any = open
        if path.name.lower().endswith(".gz"):
            import gzip

            opener = gzip.open
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            self.read_lines(lines, path.name)

    def read_lines(self, lines: Iterable[str], source: str) -> None:
        """Queue each record's rows. The loop is the job's hot path: a plain one-row CSV record (the common
        case) is queued inline, every other shape goes through ``_read_record``."""
        decode = _DECODER.raw_decode
        csv_lines = self._csv_lines
        commas = len(self.names) - 1
        first_name = self.names[0] if self.names else "\0"
        summary = self.summary
        for number, line in enumerate(lines, start=1):
            if not line or line.isspace():
                continue
            summary.records += 1
            try:
                record, end = decode(line)
                body = record["captureData"][CAPTURE_INDEX]
                data = body["data"]
                plain = (
                    body.get("observedContentType") == "text/csv"
                    and body.get("encoding") == "CSV"
                    and data.count(",") == commas
                    and "\n" not in data
                    and '"' not in data
                    and not data.startswith(first_name)
                    and line[end:].isspace()
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                plain = False
            if plain:
                csv_lines.append(data)
            else:
                reason = self._read_record(line)
                if reason:
                    summary.note_malformed(reason, f"{source} line {number}")
            if len(csv_lines) + len(self._rows) >= BLOCK_ROWS:
                self.flush()
                csv_lines = self._csv_lines

    def finish(self) -> WindowSummary:
        self.flush()
        return self.summary

    def _read_record(self, line: str) -> str | None:
        """Queue the record's rows; return why it cannot be read, or None."""
        try:
            record = _DECODER.decode(line)
        except ValueError:
            return "not a JSON object"
        if not isinstance(record, dict):
            return "not a JSON object"
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
            self._summarise(self._parse_csv_block(self._csv_lines))
            self._csv_lines = []
        if self._rows:
            self._summarise(pd.DataFrame(self._rows, columns=self.names, dtype=object))
            self._rows = []

    def _parse_csv_block(self, lines: list[str]) -> pd.DataFrame:
        """The block as a frame: numeric columns read straight to floats when every value is a number or a
        missing marker (the common case), otherwise every column as text."""
        text = "\n".join(lines)
        common: dict[str, Any] = {
            "header": None,
            "names": self.names,
            "skipinitialspace": True,
            "keep_default_na": False,
        }
        try:
            return pd.read_csv(
                io.StringIO(text),
                dtype={name: (np.float64 if name in self.numeric else object) for name in self.names},
                na_values={name: _MISSING for name in self.numeric},
                **common,
            )
        except ValueError:
            return pd.read_csv(io.StringIO(text), dtype=object, na_filter=False, **common)

    def _summarise(self, frame: pd.DataFrame) -> None:
        self.summary.rows += len(frame)
        for feature in self.summary.features:
            column = frame[feature.name]
            if feature.kind == "numeric":
                _add_numeric(feature, column)
            else:
                text = column.astype(str).str.strip()
                missing = text.isin(MISSING_VALUES) | column.isna()
                feature.add(text[~missing].value_counts().to_dict(), int(missing.sum()))


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


def _text(value: Any) -> str:
    """A JSON value as the text a CSV row would hold: null is missing, numbers and strings as written."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def summarise_capture(paths: list[Path], specs: list[tuple[str, str]]) -> WindowSummary:
    reader = CaptureReader(specs)
    for path in paths:
        reader.read_file(path)
    return reader.finish()
