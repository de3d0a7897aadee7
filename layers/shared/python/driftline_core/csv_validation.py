"""Checking an uploaded CSV in one streaming pass, before any SageMaker job is paid for.

The file is read line by line and only counters, a few examples and a capped set of target values are
kept, so a million-row upload is checked in constant memory. Every problem found is reported at once,
in sentences that name the column, the rows and the values, so the user can fix the file in one go.

Row numbers are the file's line numbers, the header being row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from driftline_core.dataset_config import (
    DEFAULT_MIN_ROWS,
    MAX_CLASSES_FOR_INFERENCE,
    ColumnSpec,
    Schema,
    TargetStats,
    default_target,
    infer_problem_type,
)
from driftline_core.errors import ValidationFailed
from driftline_core.models import ProblemType

if TYPE_CHECKING:
    from _csv import Reader

MAX_EXAMPLES = 5
"""Examples quoted per problem; the count says how many more there are."""
MAX_TRACKED_TARGET_VALUES = 100
"""Distinct target values remembered; enough to infer a problem type and name the classes."""
MISSING_VALUES = frozenset(
    {
        "",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "-NaN",
        "-nan",
        "1.#IND",
        "1.#QNAN",
        "<NA>",
        "N/A",
        "NA",
        "NULL",
        "NaN",
        "None",
        "n/a",
        "nan",
        "null",
    }
)
"""Values that mean "no value": the markers pandas reads as missing, so the jobs see what this check saw."""

_SHOWN_VALUE_LENGTH = 40
_BINARY_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive or an Excel .xlsx workbook"),
    (b"\xd0\xcf\x11\xe0", "an Excel .xls workbook"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ", "an xz-compressed file"),
    (b"Obj\x01", "an Avro file"),
    (b"ORC", "an ORC file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"SQLite format 3", "an SQLite database"),
    (b"\xff\xfe", "a UTF-16 text file"),
    (b"\xfe\xff", "a UTF-16 text file"),
)


@dataclass(frozen=True)
class CsvReport:
    """What an accepted file showed: its shape, its schema and what its target column holds."""

    header: list[str]
    rows: int
    """Data rows (blank lines are not rows)."""
    schema: Schema
    """The schema the file was checked against, or the one inferred from it."""
    schema_inferred: bool
    target: str
    problem_type: ProblemType
    """As given, or inferred from the target values."""
    target_stats: TargetStats


def validate_csv(
    lines: Iterable[bytes],
    *,
    source: str,
    schema: Schema | None = None,
    target: str | None = None,
    problem_type: ProblemType | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> CsvReport:
    """Check a CSV given as byte lines; raise ValidationFailed naming every problem, prefixed by ``source``.

    ``schema`` None means the schema is inferred from this file; ``target`` None means the default target
    column; ``problem_type`` None means it is inferred from the target values.
    """
    # Spaces after a delimiter are skipped, as the preprocessing job reads the file (skipinitialspace).
    reader = csv.reader(_decoded_lines(lines, source), skipinitialspace=True)
    header = _read_header(reader, source)
    _check_header(header, source)
    if schema is not None:
        _check_against_schema(header, schema, source)
    target_column = target if target is not None else default_target(header)
    if target_column not in header:
        raise ValidationFailed(
            f"{source}: the target column '{target_column}' is not in the header ({_names(header)}); "
            'add it, or set "target" in the dataset\'s dataset.json to the column to predict.'
        )

    scan = _Scan(header, schema, header.index(target_column))
    try:
        scan.read(reader)
    except csv.Error as error:
        raise ValidationFailed(
            f"{source}: row {reader.line_num} cannot be read as CSV ({error}); check for an unclosed quote."
        ) from None

    problems = scan.problems(min_rows)
    stats = scan.target.stats(target_column)
    effective_problem_type = problem_type
    if stats.values:
        effective_problem_type = problem_type or infer_problem_type(stats)
        problems.extend(_target_problems(target_column, stats, problem_type, scan.target))
    if problems or effective_problem_type is None:
        raise ValidationFailed(_message(source, problems))
    return CsvReport(
        header=header,
        rows=scan.rows,
        schema=schema if schema is not None else scan.inferred_schema(),
        schema_inferred=schema is None,
        target=target_column,
        problem_type=effective_problem_type,
        target_stats=stats,
    )


def _decoded_lines(lines: Iterable[bytes], source: str) -> Iterator[str]:
    """Text lines for the csv reader; stops at the first sign that the object is not UTF-8 text."""
    for number, line in enumerate(lines, start=1):
        raw = line
        if number == 1:
            described = _binary_kind(raw)
            if described:
                raise ValidationFailed(
                    f"{source}: is not a UTF-8 CSV file (it looks like {described}); "
                    "upload the data as an uncompressed, UTF-8 encoded CSV with a header row."
                )
            if raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # the byte-order mark spreadsheet programs write
        if b"\x00" in raw:
            raise ValidationFailed(
                f"{source}: is not a UTF-8 CSV file (row {number} contains NUL bytes, so it is binary data); "
                "upload the data as a UTF-8 encoded CSV with a header row."
            )
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValidationFailed(
                f"{source}: is not a UTF-8 CSV file (row {number} has the byte 0x{raw[error.start]:02x}, "
                "which is not UTF-8); save the file as CSV UTF-8 and upload it again."
            ) from None


def _binary_kind(first_line: bytes) -> str | None:
    for signature, described in _BINARY_SIGNATURES:
        if first_line.startswith(signature):
            return described
    return None


def _read_header(reader: Reader, source: str) -> list[str]:
    try:
        for row in reader:
            if row:
                return row
    except csv.Error as error:
        raise ValidationFailed(f"{source}: the header row cannot be read as CSV ({error}).") from None
    raise ValidationFailed(
        f"{source}: is empty; upload a CSV with a header row naming the columns and at least one data row."
    )


def _check_header(header: list[str], source: str) -> None:
    problems = []
    unnamed = [str(position) for position, name in enumerate(header, start=1) if not name.strip()]
    if unnamed:
        problems.append(
            f"the header has no name for column {', '.join(unnamed)}; every column needs a name "
            "(is the first row a header row?)"
        )
    seen: set[str] = set()
    duplicates: list[str] = []
    for name in header:
        if name in seen and name not in duplicates and name.strip():
            duplicates.append(name)
        seen.add(name)
    if duplicates:
        problems.append(f"the header names {_names(duplicates)} more than once; column names must be unique")
    if all(_is_number(name) for name in header):
        problems.append(
            f"the first row ({_names(header[:MAX_EXAMPLES])}{', ...' if len(header) > MAX_EXAMPLES else ''}) "
            "holds numbers, not column names; add a header row naming the columns"
        )
    if problems:
        raise ValidationFailed(_message(source, problems))


def _check_against_schema(header: list[str], schema: Schema, source: str) -> None:
    expected = schema.names
    missing = [name for name in expected if name not in header]
    unexpected = [name for name in header if name not in expected]
    if not missing and not unexpected:
        return
    parts = []
    if missing:
        parts.append(f"missing {_names(missing)}")
    if unexpected:
        parts.append(f"unexpected {_names(unexpected)}")
    raise ValidationFailed(
        f"{source}: the columns do not match the dataset's schema ({'; '.join(parts)}). "
        f"Expected: {_names(expected)}. Upload a file with these columns, or change the schema by "
        'declaring "columns" in the dataset\'s dataset.json.'
    )


def _is_number(value: str) -> bool:
    """A finite decimal number as pandas reads one (no digit separators, no non-ASCII digits)."""
    try:
        number = float(value)
    except ValueError:
        return False
    return math.isfinite(number) and value.isascii() and "_" not in value


@dataclass
class _Examples:
    """A count and the first few (row, text) examples of one kind of problem."""

    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, row: int, text: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((row, text))

    def listed(self) -> str:
        shown = ", ".join(f"row {row}{': ' + text if text else ''}" for row, text in self.examples)
        return shown + (", ..." if self.count > len(self.examples) else "")


class _TargetValues:
    """Distinct target values (capped) and whether they are all numbers, all whole numbers."""

    def __init__(self) -> None:
        self.values = 0
        self.distinct: dict[str, None] = {}
        self.more_distinct = False
        self.all_numeric = True
        self.all_integer = True
        self.non_numeric_example: tuple[int, str] | None = None
        self.empty = _Examples()

    def add(self, value: str, row: int) -> None:
        if value in MISSING_VALUES or not value.strip():
            self.empty.add(row, "")
            return
        self.values += 1
        if value in self.distinct:
            return
        if len(self.distinct) < MAX_TRACKED_TARGET_VALUES:
            self.distinct[value] = None
        else:
            self.more_distinct = True
        if not self.all_numeric:
            return
        if not _is_number(value):
            self.all_numeric = self.all_integer = False
            self.non_numeric_example = (row, value)
        elif self.all_integer and not float(value).is_integer():
            self.all_integer = False

    def stats(self, column: str) -> TargetStats:
        return TargetStats(
            column=column,
            values=self.values,
            distinct_values=list(self.distinct),
            more_distinct_values=self.more_distinct,
            all_numeric=self.all_numeric,
            all_integer=self.all_integer,
        )


class _Scan:
    """The state of one pass over the data rows."""

    def __init__(self, header: list[str], schema: Schema | None, target_index: int) -> None:
        self.header = header
        self.width = len(header)
        self.rows = 0
        self.target_index = target_index
        self.target = _TargetValues()
        self.wrong_width = _Examples()
        self.checked_numeric = schema is not None
        if schema is not None:
            # Checking: each declared numeric column must hold numbers.
            self.numeric = [i for i, name in enumerate(header) if schema.column_type(name) == "numeric"]
        else:
            # Inferring: every column is numeric until a value says otherwise.
            self.numeric = list(range(self.width))
        self.not_numbers = {i: _Examples() for i in self.numeric}
        self.has_value = [False] * self.width

    def read(self, reader: Reader) -> None:
        width, target_index = self.width, self.target_index
        for row in reader:
            if not row:
                continue  # a blank line
            line_num = reader.line_num
            self.rows += 1
            if len(row) != width:
                self.wrong_width.add(line_num, f"{len(row)} field{'s' if len(row) != 1 else ''}")
                continue
            if self.numeric:
                self._check_numbers(row, line_num)
            self.target.add(row[target_index], line_num)

    def _check_numbers(self, row: list[str], line_num: int) -> None:
        for index in self.numeric:
            value = row[index]
            if value in MISSING_VALUES:
                continue
            self.has_value[index] = True
            if _is_number(value):
                continue
            if self.checked_numeric:
                self.not_numbers[index].add(line_num, _show(value))
            else:
                self.numeric = [i for i in self.numeric if i != index]

    def inferred_schema(self) -> Schema:
        """Numeric where every value was a number (and there was one); categorical otherwise."""
        numeric = {index for index in self.numeric if self.has_value[index]}
        return Schema(
            columns=[
                ColumnSpec(name=name, type="numeric" if index in numeric else "categorical")
                for index, name in enumerate(self.header)
            ]
        )

    def problems(self, min_rows: int) -> list[str]:
        problems: list[str] = []
        if self.rows < min_rows:
            problems.append(
                f"it has {self.rows} data row{'s' if self.rows != 1 else ''}, and at least {min_rows} are "
                'needed to train and test a model (the minimum is "min_rows" in the dataset\'s dataset.json)'
            )
        if self.wrong_width.count:
            problems.append(
                f"{_count(self.wrong_width.count, 'row')} {_do(self.wrong_width.count)} not have "
                f"the header's "
                f"{self.width} fields ({self.wrong_width.listed()}); check for missing or extra commas, "
                "values with commas that are not quoted, and unclosed quotes"
            )
        if self.checked_numeric:
            for index, bad in self.not_numbers.items():
                if bad.count:
                    problems.append(
                        f"{_count(bad.count, 'value')} in numeric column '{self.header[index]}' "
                        f"{'are not numbers' if bad.count != 1 else 'is not a number'} "
                        f'({bad.listed()}); correct or empty them, or declare the column "categorical" '
                        "in the dataset's dataset.json"
                    )
        if self.target.empty.count:
            column = self.header[self.target_index]
            problems.append(
                f"the target column '{column}' is empty in {_count(self.target.empty.count, 'row')} "
                f"({self.target.empty.listed()}); every row needs a target value to learn from"
            )
        return problems


def _target_problems(column: str, stats: TargetStats, declared: ProblemType | None, values: _TargetValues) -> list[str]:
    """Whether the target's values can train the problem type given (or any problem type, when none is)."""
    distinct = stats.distinct_count
    if distinct < 2:
        only = stats.distinct_values[0] if stats.distinct_values else ""
        return [
            f"the target column '{column}' has the same value ({_show(only)}) in every row; a model needs "
            "at least two different target values (two classes) to learn from"
        ]
    if declared == "binary_classification" and distinct != 2:
        return [
            f"the dataset's problem type is binary_classification but the target column '{column}' "
            f"has {_distinct(stats)} distinct values ({_values(stats)}); fix the target values, or declare "
            '"problem_type": "multiclass_classification" in the dataset\'s dataset.json'
        ]
    if declared == "regression" and not stats.all_numeric:
        row, value = values.non_numeric_example or (0, "")
        return [
            f"the dataset's problem type is regression but the target column '{column}' has values "
            f"that are not numbers (row {row}: {_show(value)}); fix the target values, or declare a "
            "classification problem_type in the dataset's dataset.json"
        ]
    if declared is None and infer_problem_type(stats) is None:
        return [
            f"the target column '{column}' has more than {MAX_CLASSES_FOR_INFERENCE} distinct values "
            'that are not numbers, so the kind of model cannot be chosen; declare "problem_type" in the '
            'dataset\'s dataset.json (or "target", if this is not the column to predict)'
        ]
    return []


def _message(source: str, problems: list[str]) -> str:
    if len(problems) == 1:
        return f"{source}: {problems[0]}."
    return f"{source}: {len(problems)} problems\n" + "\n".join(f"- {problem}." for problem in problems)


def _show(value: str) -> str:
    shown = value if len(value) <= _SHOWN_VALUE_LENGTH else value[:_SHOWN_VALUE_LENGTH] + "..."
    return "'" + shown.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _names(names: Iterable[str]) -> str:
    return ", ".join(_show(name) for name in names)


def _values(stats: TargetStats) -> str:
    shown = [_show(value) for value in stats.distinct_values[:MAX_EXAMPLES]]
    more = len(stats.distinct_values) > MAX_EXAMPLES or stats.more_distinct_values
    return ", ".join(shown) + (", ..." if more else "")


def _distinct(stats: TargetStats) -> str:
    return f"more than {stats.distinct_count - 1}" if stats.more_distinct_values else str(stats.distinct_count)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' if number != 1 else ''}"


def _do(number: int) -> str:
    return "do" if number != 1 else "does"
