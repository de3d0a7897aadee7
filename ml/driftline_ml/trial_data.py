"""Read an A/B trial's evidence: each variant's captured answers and the ground-truth labels, never failing on a
bad line.

Captured answers are SageMaker data capture records (JSON lines, see ``capture.py``); the trial reads each record's
``eventMetadata`` (its id and ``inferenceTime``) and ``captureData.endpointOutput``: the answer as ``serving.py``
writes it (``text/csv``: a class label followed by the class probabilities, or a predicted value, one line per
row; ``application/json``: ``{"predictions": [{"predicted_label": ..., "probabilities": {...}} or
{"predicted_value": ...}]}``), a bare JSON value or list of values, encoded ``CSV``, ``JSON`` or ``BASE64``.

A record's id is its ``eventMetadata.inferenceId`` when the caller set one (``InvokeEndpoint``'s InferenceId),
else its ``eventMetadata.eventId``, as Model Monitor merges ground truth with captured data. Labels come in either
of two layouts, by file name:

- ``.jsonl`` / ``.json`` (optionally ``.gz``): Model Monitor's ground-truth records,
  ``{"groundTruthData": {"data": "1", "encoding": "CSV"}, "eventMetadata": {"eventId": "<id>"},
  "eventVersion": "0"}``, under ``<prefix>/yyyy/mm/dd/hh/``. ``data`` holds the label (one CSV value; a record
  whose answer has several rows takes a CSV row of as many labels, in order);
- ``.csv`` (optionally ``.gz``): a header naming an ``inference_id`` column and the dataset's target column, then
  one label per row.

Files are read in path order, so when an id is labelled twice the later file's label (a later hour's) wins; the
repeat is counted. A line that cannot be read is counted by reason, the first few named by file and line.
Standard library and numpy only, as the rest of the job code.
"""

from __future__ import annotations

import base64
import binascii
import csv
import gzip
import io
import math
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from driftline_ml.capture import (
    NOT_UTF8,
    TOO_DEEP,
    UNDECOMPRESSABLE,
    UNPLACED,
    TimeWindow,
    capture_files,
    record_time,
    too_long_reason,
    whole_lines,
)
from driftline_ml.drift import count_into
from driftline_ml.json_text import JsonTooDeep, loads_bounded
from driftline_ml.values import class_label, is_missing, is_number

MAX_EXAMPLES = 5
"""Unreadable lines named by file and line, per variant and for the labels: enough to find the cause."""
MAX_SHOWN = 40
LABEL_JSON_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz")
LABEL_CSV_SUFFIXES = (".csv", ".csv.gz")
ID_COLUMN = "inference_id"
NO_ID = "no eventMetadata.inferenceId or eventMetadata.eventId"
NO_OUTPUT = (
    "no captureData.endpointOutput.data (the endpoint's data capture must record its output: CaptureMode Output)"
)
REPEATED_ID = "the id of an earlier labelled record of this variant (the later one is not used)"


@dataclass
class Problems:
    """Lines not read, counted by reason, the first few named by file and line. A reason may quote what a record
    held, so past ``MAX_KEYS`` kinds they are counted together (``count_into``): the outputs stay small."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def note(self, reason: str, where: str) -> None:
        count_into(self.counts, reason)
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{where}: {reason}")

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class Answer:
    """One row of a variant's answer: the label it predicted (classifiers) or its value (regressors), and the class
    probabilities it gave, named by class when the answer names them (JSON) or in the model's class order (CSV)."""

    label: str | None = None
    value: float | None = None
    probabilities: tuple[float, ...] = ()
    classes: tuple[str, ...] = ()


@dataclass
class VariantCapture:
    """What a variant's capture files held: ``records`` = ``requests`` + ``outside_window`` + unreadable."""

    variant: str
    files: int = 0
    records: int = 0
    requests: int = 0
    """Records in the trial window whose id and answer were read."""
    outside_window: int = 0
    problems: Problems = field(default_factory=Problems)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    """The answers of labelled requests, by id."""


@dataclass
class Labels:
    files: int = 0
    other_files: list[str] = field(default_factory=list)
    """Files of neither layout, not read."""
    records: int = 0
    values: dict[str, list[str]] = field(default_factory=dict)
    """Each labelled id's label(s), as text."""
    repeated: int = 0
    problems: Problems = field(default_factory=Problems)


def shown(value: Any) -> str:
    if not isinstance(value, str):
        return f"(a JSON {type(value).__name__})"
    return repr(value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "...")


def file_lines(path: Path) -> Iterator[tuple[int, bytes | None]]:
    """Each line of a file (plain or gzip) with its number; None in place of a line longer than the capture
    reader's limit, which is never held. A gzip file that breaks off raises after its whole lines."""
    number = 0
    with gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb") as handle:
        for chunk, skipped in whole_lines(handle, None):
            if skipped:
                number += 1
                yield number, None
                continue
            lines = chunk.split(b"\n")
            if lines and not lines[-1]:
                lines.pop()
            for line in lines:
                number += 1
                yield number, line


def json_lines(path: Path, problems: Problems) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """Each non-blank line of a JSON-lines file with where it is: its JSON object, or None for a line that is not
    one (noted in ``problems``), as is the break of a compressed file that breaks off."""
    try:
        for number, raw in file_lines(path):
            where = f"{path.name} line {number}"
            if raw is not None and not raw.strip():
                continue
            reason = None
            record = None
            if raw is None:
                reason = too_long_reason()
            else:
                try:
                    record = loads_bounded(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    reason = NOT_UTF8
                except (JsonTooDeep, RecursionError):
                    reason = TOO_DEEP
                except ValueError:
                    reason = "not a JSON object"
                if reason is None and not isinstance(record, dict):
                    reason = "not a JSON object"
            if reason is not None:
                problems.note(reason, where)
                yield where, None
            else:
                yield where, record
    except (OSError, EOFError, zlib.error):
        if not path.name.lower().endswith(".gz"):
            raise
        problems.note(UNDECOMPRESSABLE, path.name)
        yield path.name, None


# -- labels ------------------------------------------------------------------------------------------------------


def read_labels(folder: Path, target: str | None) -> Labels:
    """Every label under ``folder``, by id; ``target`` names the label column of the CSV layout."""
    labels = Labels()
    files = sorted(
        (p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.relative_to(folder).as_posix(),
    )
    for path in files:
        name = path.name.lower()
        if name.endswith(LABEL_JSON_SUFFIXES):
            labels.files += 1
            for where, record in json_lines(path, labels.problems):
                labels.records += 1
                if record is not None:
                    _ground_truth_record(labels, record, where)
        elif name.endswith(LABEL_CSV_SUFFIXES):
            labels.files += 1
            _label_csv(labels, path, target)
        else:
            labels.other_files.append(path.relative_to(folder).as_posix())
    return labels


def _keep(labels: Labels, key: str, values: list[str]) -> None:
    if key in labels.values:
        labels.repeated += 1
    labels.values[key] = values


def _ground_truth_record(labels: Labels, record: dict[str, Any], where: str) -> None:
    metadata = record.get("eventMetadata")
    key = metadata.get("eventId") if isinstance(metadata, dict) else None
    if not isinstance(key, str) or not key:
        labels.problems.note("no eventMetadata.eventId (the id of the captured request it labels)", where)
        return
    truth = record.get("groundTruthData")
    data = truth.get("data") if isinstance(truth, dict) else None
    if not isinstance(data, str):
        labels.problems.note("no groundTruthData.data (the label, as text)", where)
        return
    assert isinstance(truth, dict)
    encoding = truth.get("encoding") or "CSV"
    if not isinstance(encoding, str) or encoding.upper() not in ("CSV", "JSON"):
        labels.problems.note(f"groundTruthData.encoding {shown(encoding)} is neither CSV nor JSON", where)
        return
    if encoding.upper() == "JSON":
        try:
            parsed = loads_bounded(data)
        except (ValueError, RecursionError):
            labels.problems.note("groundTruthData.data is not JSON, as its encoding says", where)
            return
        items = parsed if isinstance(parsed, list) else [parsed]
        if any(isinstance(item, (dict, list)) for item in items):
            labels.problems.note("groundTruthData.data holds a JSON list or object where a label belongs", where)
            return
        values = ["" if item is None else str(item) for item in items]
    else:
        values = next(csv.reader([data]), [""]) if data.strip() else [""]
    _keep(labels, key, values)


def _label_csv(labels: Labels, path: Path, target: str | None) -> None:
    """A CSV of labels: ``inference_id`` and the target column (the only other column when the target is not
    known)."""
    problems = labels.problems
    try:
        reader = csv.reader(_csv_text_lines(path))
        header = [name.strip() for name in next(reader, [])]
        others = [name for name in header if name != ID_COLUMN]
        column = target if target in header else (others[0] if target is None and len(others) == 1 else None)
        if ID_COLUMN not in header or column is None:
            wanted = f"the target column {target!r}" if target else "one label column"
            reason = f"a label CSV whose header does not name {ID_COLUMN!r} and {wanted}; the file is not read"
            problems.note(reason, f"{path.name} line 1")
            return
        id_at, label_at = header.index(ID_COLUMN), header.index(column)
        for row in reader:
            where = f"{path.name} line {reader.line_num}"
            if not row or not any(cell.strip() for cell in row):
                continue
            labels.records += 1
            if len(row) != len(header):
                problems.note(f"{len(row)} values where the header names {len(header)} columns", where)
                continue
            key = row[id_at].strip()
            if not key:
                problems.note(f"no {ID_COLUMN}", where)
                continue
            _keep(labels, key, [row[label_at]])
    except UnicodeDecodeError:
        problems.note(NOT_UTF8 + " (the rest of the file is not read)", path.name)
    except LineTooLong as error:
        problems.note(f"{too_long_reason()} (the rest of the file is not read)", f"{path.name} line {error.number}")
    except csv.Error as error:
        problems.note(f"not CSV ({error}; the rest of the file is not read)", path.name)
    except (OSError, EOFError, zlib.error):
        if not path.name.lower().endswith(".gz"):
            raise
        problems.note(UNDECOMPRESSABLE, path.name)


class LineTooLong(ValueError):
    """A CSV line longer than the capture reader's limit: the file is not read past it."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


def _csv_text_lines(path: Path) -> Iterator[str]:
    """A label CSV's lines as text for ``csv.reader``, each at most the capture reader's limit (``file_lines``), so
    a file without line breaks is never held whole; a byte-order mark is dropped, as a spreadsheet's export has."""
    for number, raw in file_lines(path):
        if raw is None:
            raise LineTooLong(number)
        text = raw.decode("utf-8")
        yield (text[1:] if number == 1 and text.startswith("\ufeff") else text) + "\n"


# -- captured answers --------------------------------------------------------------------------------------------


def read_variant(
    folder: Path, variant: str, labelled: dict[str, list[str]], classifier: bool, window: TimeWindow | None
) -> VariantCapture:
    """A variant's capture files: every record counted, the answers of the labelled ones kept."""
    capture = VariantCapture(variant)
    files = capture_files(folder)
    capture.files = len(files)
    for path in files:
        for where, record in json_lines(path, capture.problems):
            capture.records += 1
            if record is not None:
                _capture_record(capture, record, where, labelled, classifier, window)
    return capture


def _capture_record(
    capture: VariantCapture,
    record: dict[str, Any],
    where: str,
    labelled: dict[str, list[str]],
    classifier: bool,
    window: TimeWindow | None,
) -> None:
    if window is not None:
        time = record_time(record)
        if time is None:
            capture.problems.note(UNPLACED, where)
            return
        if not window.holds(time):
            capture.outside_window += 1
            return
    metadata = record.get("eventMetadata")
    key = None
    if isinstance(metadata, dict):
        for name in ("inferenceId", "eventId"):
            if isinstance(metadata.get(name), str) and metadata[name]:
                key = metadata[name]
                break
    if key is None:
        capture.problems.note(NO_ID, where)
        return
    try:
        answers = read_answer(record, classifier)
    except UnreadableAnswer as error:
        capture.problems.note(str(error), where)
        return
    if key in labelled:
        if key in capture.answers:
            capture.problems.note(REPEATED_ID, where)
            return
        capture.answers[key] = answers
    capture.requests += 1


class UnreadableAnswer(ValueError):
    """Why a record's answer cannot be read (a phrase naming the field)."""


def read_answer(record: dict[str, Any], classifier: bool) -> list[Answer]:
    """The rows of a captured answer."""
    captured = record.get("captureData")
    output = captured.get("endpointOutput") if isinstance(captured, dict) else None
    if not isinstance(output, dict) or not isinstance(output.get("data"), str):
        raise UnreadableAnswer(NO_OUTPUT)
    data = output["data"]
    encoding = output.get("encoding") or "CSV"
    content_type = output.get("observedContentType") or "text/csv"
    if not isinstance(encoding, str) or encoding.upper() not in ("CSV", "JSON", "BASE64"):
        raise UnreadableAnswer(f"endpointOutput.encoding {shown(encoding)} is not CSV, JSON or BASE64")
    if not isinstance(content_type, str):
        raise UnreadableAnswer(f"endpointOutput.observedContentType {shown(content_type)} is not text")
    if encoding.upper() == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise UnreadableAnswer("endpointOutput.data is not base64-encoded UTF-8 text") from error
    kind = content_type.split(";")[0].strip().lower()
    if kind == "text/csv":
        rows = _csv_answer(data, classifier)
    elif kind == "application/json" or kind.endswith("+json"):
        rows = _json_answer(data, classifier)
    else:
        raise UnreadableAnswer(
            f"endpointOutput content type {shown(content_type)} is neither text/csv nor application/json"
        )
    if not rows:
        raise UnreadableAnswer("endpointOutput.data holds no answer")
    return rows


def _csv_answer(data: str, classifier: bool) -> list[Answer]:
    try:
        lines = [row for row in csv.reader(io.StringIO(data)) if row and any(cell.strip() for cell in row)]
    except csv.Error as error:
        raise UnreadableAnswer(f"endpointOutput.data is not CSV ({error})") from error
    return [_answer(row[0], row[1:], (), classifier) for row in lines]


def _json_answer(data: str, classifier: bool) -> list[Answer]:
    try:
        parsed = loads_bounded(data)
    except (ValueError, RecursionError) as error:
        raise UnreadableAnswer("endpointOutput.data is not JSON, as its content type says") from error
    if isinstance(parsed, dict) and "predictions" in parsed:
        parsed = parsed["predictions"]
    items = parsed if isinstance(parsed, list) else [parsed]
    rows = []
    for item in items:
        if isinstance(item, dict):
            given = item.get("predicted_label" if classifier else "predicted_value")
            probabilities = item.get("probabilities") if classifier else None
            if isinstance(probabilities, dict):
                rows.append(_answer(given, list(probabilities.values()), tuple(map(str, probabilities)), classifier))
            else:
                score = item.get("score") if classifier else None
                rows.append(_answer(given, [] if score is None else [score], (), classifier, score_only=True))
        elif isinstance(item, list):
            raise UnreadableAnswer("endpointOutput.data holds a list where one answer belongs")
        else:
            rows.append(_answer(item, [], (), classifier))
    return rows


def _answer(
    given: Any, probabilities: list[Any], classes: tuple[str, ...], classifier: bool, *, score_only: bool = False
) -> Answer:
    text = "" if given is None else given if isinstance(given, str) else str(given)
    if isinstance(given, (bool, dict, list)):
        raise UnreadableAnswer(f"the answer {shown(text)} is not a {'class label' if classifier else 'number'}")
    if not classifier:
        if is_missing(text) or not is_number(text.strip()):
            raise UnreadableAnswer(f"the predicted value {shown(text)} is not a number")
        return Answer(value=float(text))
    label = class_label(text)
    if label is None:
        raise UnreadableAnswer("the answer names no class label")
    numbers: list[float] = []
    for value in probabilities:
        written = value if isinstance(value, str) else str(value)
        if isinstance(value, bool) or not is_number(written.strip()):
            raise UnreadableAnswer(f"the answer's class probabilities are not numbers (such as {shown(written)})")
        numbers.append(float(written))
    if score_only and numbers:
        # A lone score (SageMaker's built-in algorithms) is the positive class's: shown as (negative, positive).
        return Answer(label=label, probabilities=(1 - numbers[0], numbers[0]))
    return Answer(label=label, probabilities=tuple(numbers), classes=classes if len(classes) == len(numbers) else ())


def label_number(text: str) -> float | None:
    """A regression label's value; None when it is missing or not a number."""
    stripped = text.strip()
    if is_missing(stripped) or not is_number(stripped):
        return None
    number = float(stripped)
    return number if math.isfinite(number) else None
