"""Checking an uploaded CSV in one streaming pass, before any SageMaker job is paid for.

The file is read line by line and only counters, a few examples and a capped set of target values are
kept, so a million-row upload is checked in constant memory. Every problem found is reported at once,
in sentences that name the column, the rows and the values, so the user can fix the file in one go.

Row numbers are the file's line numbers, the header being row 1, as a spreadsheet shows them.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from driftline_core.errors import ValidationFailed
from driftline_core.ingest.csv_stream import text_lines
from driftline_core.ingest.dataset_config import (
    DEFAULT_MIN_ROWS,
    DELIMITERS,
    MAX_CLASSES_FOR_INFERENCE,
    MIN_ROWS_PER_CLASS,
    ColumnSpec,
    Delimiter,
    Schema,
    TargetStats,
    default_target,
    infer_problem_type,
    minimum_rows,
)
from driftline_core.ingest.values import MISSING_VALUES, class_label, is_number
from driftline_core.payloads import ProblemType

if TYPE_CHECKING:
    from _csv import Reader

MAX_EXAMPLES = 5
"""Examples quoted per problem; the count says how many more there are."""
MAX_TRACKED_TARGET_VALUES = 100
"""Distinct target values remembered; enough to infer a problem type and name the classes."""
STRAY_VALUES = 5
STRAY_SHARE = 0.01
"""A column of numbers may hold this many values that are not numbers (or this share, if more) and still be
inferred numeric: those few are reported as errors to correct, not taken as categories."""

_SHOWN_VALUE_LENGTH = 40
_DECIMAL_COMMA_NUMBER = re.compile(r"\s*[+-]?(?:[0-9]+|[0-9]{1,3}(?:\.[0-9]{3})+)?,[0-9]+(?:[eE][+-]?[0-9]+)?\s*")
"""A number as spreadsheets in many locales save one: a decimal comma, maybe dots between thousands
(``270122,51``, ``1.234,5``). pandas reads such a value as text, so Validate names the notation instead."""
_BATCH_ROWS = 2048
"""Rows checked together, column by column."""
_LABEL_CACHE_SIZE = 10_000


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
    chunks: Iterable[bytes],
    *,
    source: str,
    gzipped: bool = False,
    delimiter: Delimiter = ",",
    schema: Schema | None = None,
    target: str | None = None,
    problem_type: ProblemType | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> CsvReport:
    """Check a CSV given as bytes in chunks of any size; raise ValidationFailed naming every problem.

    Messages start with ``source``. ``gzipped`` means the bytes are a gzip stream of the CSV. ``schema`` None
    means the schema is inferred from this file; ``target`` None means the default target column;
    ``problem_type`` None means it is inferred from the target values.
    """
    header, target_column, scan = _scan_file(CsvFile(chunks, source, gzipped), delimiter, schema, target)
    problems = scan.problems(max(min_rows, minimum_rows()))
    return _report(
        source,
        problems,
        header=header,
        rows=scan.rows,
        schema=schema if schema is not None else scan.inferred_schema(),
        schema_inferred=schema is None,
        target_column=target_column,
        target_values=scan.target,
        problem_type=problem_type,
        target_in_decimal_commas=scan.target_index in scan.decimal_comma_columns(),
    )


@dataclass(frozen=True)
class CsvFile:
    """One CSV of several checked as one data set: its bytes in chunks and the name its problems start with."""

    chunks: Iterable[bytes]
    source: str
    gzipped: bool = False


def validate_csv_files(
    files: Iterable[CsvFile],
    *,
    source: str,
    delimiter: Delimiter = ",",
    schema: Schema | None = None,
    target: str | None = None,
    problem_type: ProblemType | None = None,
    min_rows: int = DEFAULT_MIN_ROWS,
) -> CsvReport:
    """Check several CSVs as one data set, one file at a time (memory stays constant).

    Each file's header and rows are checked as :func:`validate_csv` checks them, and the first file with a
    problem raises ValidationFailed naming that file, its rows and values. The row minimum, the target's
    classes and the problem type apply to all files together; those problems start with ``source``. With
    ``schema`` None the first file's schema is inferred and the other files are held to it.
    """
    header: list[str] | None = None
    inferred = schema is None
    rows = 0
    target_values = _TargetValues()
    for file in files:
        file_header, target, scan = _scan_file(file, delimiter, schema, target)
        problems = scan.problems(0)
        if problems:
            raise ValidationFailed(_message(file.source, problems))
        if schema is None:
            schema = scan.inferred_schema()
        header = header or file_header
        rows += scan.rows
        target_values.merge(scan.target)
    if header is None or schema is None or target is None:
        raise ValidationFailed(f"{source}: lists no file to validate; upload labelled data to train on.")
    problems = []
    needed = max(min_rows, minimum_rows())
    if rows < needed:
        problems.append(
            f"its files have {rows} data row{'s' if rows != 1 else ''} together, and at least {needed} are "
            'needed to train and test a model (the minimum is "min_rows" in the dataset\'s dataset.json)'
        )
    return _report(
        source,
        problems,
        header=header,
        rows=rows,
        schema=schema,
        schema_inferred=inferred,
        target_column=target,
        target_values=target_values,
        problem_type=problem_type,
    )


def _scan_file(
    file: CsvFile, delimiter: Delimiter, schema: Schema | None, target: str | None
) -> tuple[list[str], str, _Scan]:
    """Read one file's header and rows once; returns the header, the target column and what the rows showed."""
    source = file.source
    # Spaces after a delimiter are skipped, as the preprocessing job reads the file (skipinitialspace).
    reader = csv.reader(
        text_lines(file.chunks, source, gzipped=file.gzipped), delimiter=delimiter, skipinitialspace=True
    )
    header = _read_header(reader, source)
    _check_delimiter(header, delimiter, source)
    _check_header(header, source)
    if schema is not None:
        _check_against_schema(header, schema, source)
    target_column = target if target is not None else default_target(header)
    _check_target_column(target_column, header, source)

    scan = _Scan(header, schema, header.index(target_column), first_row=reader.line_num + 1)
    try:
        scan.read(reader)
    except csv.Error as error:
        raise ValidationFailed(f"{source}: {scan.unreadable_row(reader.line_num, error)}.") from None
    return header, target_column, scan


def _report(
    source: str,
    problems: list[str],
    *,
    header: list[str],
    rows: int,
    schema: Schema,
    schema_inferred: bool,
    target_column: str,
    target_values: _TargetValues,
    problem_type: ProblemType | None,
    target_in_decimal_commas: bool = False,
) -> CsvReport:
    """Add what the target's values say to ``problems``; raise them all, or report the accepted data.

    A target already reported as numbers written with decimal commas is not judged as text as well.
    """
    stats = target_values.stats(target_column)
    effective_problem_type = problem_type
    if stats.values and not target_in_decimal_commas:
        effective_problem_type = problem_type or infer_problem_type(stats)
        problems.extend(_target_problems(target_column, stats, problem_type, target_values))
        if effective_problem_type is not None and effective_problem_type != "regression":
            problems.extend(_small_classes(target_column, target_values))
    if problems or effective_problem_type is None:
        raise ValidationFailed(_message(source, problems))
    return CsvReport(
        header=header,
        rows=rows,
        schema=schema,
        schema_inferred=schema_inferred,
        target=target_column,
        problem_type=effective_problem_type,
        target_stats=stats,
    )


def _read_header(reader: Reader, source: str) -> list[str]:
    try:
        for row in reader:
            if row:
                return row
    except csv.Error as error:
        reason = _too_long(1, reader.line_num, error) or f"the header row cannot be read as CSV ({error})"
        raise ValidationFailed(f"{source}: {reason}.") from None
    raise ValidationFailed(
        f"{source}: is empty; upload a CSV with a header row naming the columns and at least one data row."
    )


def _too_long(row: int, line_num: int, error: csv.Error) -> str | None:
    """The reason for csv's per-value limit error, naming the limit and the row; None for other errors."""
    if "field larger than field limit" not in str(error):
        return None
    limit = f"{csv.field_size_limit():,} characters, the most a value may hold"
    if line_num > row:
        return (
            f"row {row} has a quoted value that runs over {line_num - row + 1} lines to more than {limit}; "
            "check for a quote that is not closed"
        )
    return f"row {row} has a value longer than {limit}; leave long text out of the training data"


def _check_delimiter(header: list[str], delimiter: str, source: str) -> None:
    """A header read as one column that holds another delimiter is a file separated by that delimiter."""
    if len(header) != 1:
        return
    counts = {other: header[0].count(other) for other in DELIMITERS if other != delimiter}
    found = max(counts, key=lambda other: counts[other])
    if not counts[found]:
        return
    declare = (
        f'declare "delimiter": {json.dumps(found)} in the dataset\'s dataset.json'
        if found != ","
        else 'remove "delimiter" from the dataset\'s dataset.json (commas are the default)'
    )
    raise ValidationFailed(
        f"{source}: the header reads as one column ({_show(header[0])}) when split by {_delimiter_name(delimiter)}, "
        f"and its values look separated by {_delimiter_name(found)}; {declare}, or save the file separated by "
        f"{_delimiter_name(delimiter)}."
    )


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas (',')", ";": "semicolons (';')", "\t": "tabs", "|": "vertical bars ('|')"}[delimiter]


def _check_target_column(target: str, header: list[str], source: str) -> None:
    if target not in header:
        raise ValidationFailed(
            f"{source}: the target column '{target}' is not in the header ({_names(header)}); "
            'add it, or set "target" in the dataset\'s dataset.json to the column to predict.'
        )
    problems = []
    if len(header) < 2:
        problems.append(
            f"the file has no column besides the target '{target}'; a model needs at least one feature column "
            "to learn from, so add the columns that predict the target"
        )
    if target.startswith("-"):
        problems.append(
            f"the target column's name {_show(target)} starts with '-', which the training job would read as an "
            'option; rename the column (and the "target" in the dataset\'s dataset.json, if it names it)'
        )
    if problems:
        raise ValidationFailed(_message(source, problems))


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
    if all(is_number(name) for name in header):
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


@dataclass
class _Examples:
    """A count and the first few (row, text) examples of one kind of problem."""

    count: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, row: int, value: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append((row, value[: _SHOWN_VALUE_LENGTH + 1]))  # enough for _show to mark it cut

    def listed(self, *, quoted: bool = True) -> str:
        shown = ", ".join(
            f"row {row}{': ' + (_show(value) if quoted else value) if value else ''}" for row, value in self.examples
        )
        return shown + (", ..." if self.count > len(self.examples) else "")


class _TargetValues:
    """Distinct class labels (capped) with their row counts, and whether they are all numbers, all whole."""

    def __init__(self) -> None:
        self.values = 0
        self.distinct: dict[str, int] = {}
        """Rows per class label (see :func:`class_label`), for the first labels seen."""
        self.more_distinct = False
        self.all_numeric = True
        self.all_integer = True
        self.non_numeric_example: tuple[int, str] | None = None
        self.empty = _Examples()
        self._labels: dict[str, str | None] = {}
        """Target texts already judged, and their labels (None: missing)."""

    def add_batch(self, values: Sequence[str], rows: Sequence[int]) -> None:
        """Count a batch of target values (``rows`` their row numbers); each distinct text is judged once."""
        missing: set[str] = set()
        for raw, count in Counter(values).items():
            if raw in self._labels:
                label = self._labels[raw]
            else:
                label = class_label(raw)
                if len(self._labels) < _LABEL_CACHE_SIZE:
                    self._labels[raw] = label
            if label is None:
                missing.add(raw)
                continue
            self.values += count
            if label in self.distinct:
                self.distinct[label] += count
                continue
            if len(self.distinct) < MAX_TRACKED_TARGET_VALUES:
                self.distinct[label] = count
            else:
                self.more_distinct = True
            if not self.all_numeric:
                continue
            if not is_number(label):
                self.all_numeric = self.all_integer = False
                self.non_numeric_example = (rows[values.index(raw)], raw)
            elif self.all_integer and not float(label).is_integer():
                self.all_integer = False
        if missing:
            for position, raw in enumerate(values):
                if raw in missing:
                    self.empty.add(rows[position], "")

    def merge(self, other: _TargetValues) -> None:
        """Add another file's target values to these (the class counts of both, capped as one file's are)."""
        self.values += other.values
        for label, count in other.distinct.items():
            if label in self.distinct:
                self.distinct[label] += count
            elif len(self.distinct) < MAX_TRACKED_TARGET_VALUES:
                self.distinct[label] = count
            else:
                self.more_distinct = True
        self.more_distinct = self.more_distinct or other.more_distinct
        if self.all_numeric and not other.all_numeric:
            self.non_numeric_example = other.non_numeric_example
        self.all_numeric = self.all_numeric and other.all_numeric
        self.all_integer = self.all_integer and other.all_integer

    def stats(self, column: str) -> TargetStats:
        return TargetStats(
            column=column,
            values=self.values,
            distinct_values=list(self.distinct),
            more_distinct_values=self.more_distinct,
            all_numeric=self.all_numeric,
            all_integer=self.all_integer,
        )


def _all_numbers(values: Sequence[str]) -> bool:
    """Whether every value is a number as :func:`is_number` says, in one pass of C code for the common case."""
    try:
        numbers = list(map(float, values))
    except ValueError:
        return False
    text = "".join(values)
    return all(map(math.isfinite, numbers)) and text.isascii() and "_" not in text


def is_mostly_numeric(numbers: int, others: int) -> bool:
    """Whether a column holds numbers but for a few stray values: the one rule for inferring numeric columns.

    A few is at most :data:`STRAY_VALUES` values or :data:`STRAY_SHARE` of the column's values, whichever is
    more, and fewer than its numbers. Such a column is numeric, and its stray values are refused as a kept
    schema's numeric column refuses them, rather than silently making it categorical.
    """
    return numbers > others and others <= max(STRAY_VALUES, STRAY_SHARE * (numbers + others))


class _Scan:
    """The state of one pass over the data rows."""

    def __init__(self, header: list[str], schema: Schema | None, target_index: int, *, first_row: int) -> None:
        self.header = header
        self.width = len(header)
        self.rows = 0
        self.row_start = first_row
        """The line the row being read starts on."""
        self.target_index = target_index
        self.target = _TargetValues()
        self.wrong_width = _Examples()
        self.inferring = schema is None
        if schema is not None:
            # Checking: each declared numeric column must hold numbers.
            self.numeric = [i for i, name in enumerate(header) if schema.column_type(name) == "numeric"]
        else:
            # Inferring: every column may be numeric until its values say otherwise.
            self.numeric = list(range(self.width))
        self.not_numbers = {i: _Examples() for i in self.numeric}
        self.decimal_commas = {i: _Examples() for i in self.numeric}
        """Of the values that are not numbers, those written with a decimal comma."""
        self.present = [0] * self.width
        """Values (not missing) seen per column checked for numbers."""

    def read(self, reader: Reader) -> None:
        width = self.width
        batch: list[list[str]] = []
        starts: list[int] = []
        for row in reader:
            line_num = reader.line_num
            if row:
                self.rows += 1
                if len(row) != width:
                    self.wrong_width.add(self.row_start, _count(len(row), "field"))
                else:
                    batch.append(row)
                    starts.append(self.row_start)
                    if len(batch) == _BATCH_ROWS:
                        self._check_batch(batch, starts)
                        batch, starts = [], []
            self.row_start = line_num + 1
        if batch:
            self._check_batch(batch, starts)

    def unreadable_row(self, line_num: int, error: csv.Error) -> str:
        return _too_long(self.row_start, line_num, error) or (
            f"row {self.row_start} cannot be read as CSV ({error}); check for an unclosed quote"
        )

    def _check_batch(self, batch: list[list[str]], starts: list[int]) -> None:
        """Check rows column by column: a column of numbers (and empty values) is read whole by ``float`` and
        only a column with something else in it is looked at value by value."""
        columns = list(zip(*batch, strict=True))
        self.target.add_batch(columns[self.target_index], starts)
        for index in self.numeric:
            values = columns[index]
            if _all_numbers(values):
                self.present[index] += len(values)
            elif "" in values and _all_numbers(list(filter(None, values))):
                self.present[index] += len(values) - values.count("")
            else:
                self._check_values(index, values, starts)

    def _check_values(self, index: int, values: Sequence[str], starts: list[int]) -> None:
        self.present[index] += len(values) - sum(map(values.count, MISSING_VALUES))
        others = [
            position
            for position, value in enumerate(values)
            # A value starting with a letter is never a finite number (float() reads only inf and nan so).
            if value not in MISSING_VALUES and (value[:1].isalpha() or not is_number(value))
        ]
        bad = self.not_numbers[index]
        for position in others[: MAX_EXAMPLES - len(bad.examples)]:
            bad.examples.append((starts[position], values[position][: _SHOWN_VALUE_LENGTH + 1]))
        bad.count += len(others)
        commas = self.decimal_commas[index]
        for position in others:
            if "," in values[position] and is_decimal_comma_number(values[position]):
                commas.add(starts[position], values[position])

    def _numeric_columns(self) -> list[int]:
        if not self.inferring:
            return self.numeric
        return [
            index
            for index in self.numeric
            if self.present[index]
            and is_mostly_numeric(self.present[index] - self.not_numbers[index].count, self.not_numbers[index].count)
        ]

    def decimal_comma_columns(self) -> list[int]:
        """Columns that are numbers once their decimal commas are read as points (the rule numeric columns are
        inferred by): reported as numbers in the wrong notation, not as text or as a categorical column."""
        columns = []
        for index in self.numeric:
            commas, others = self.decimal_commas[index].count, self.not_numbers[index].count
            numbers = self.present[index] - others
            if commas and is_mostly_numeric(numbers + commas, others - commas):
                columns.append(index)
        return columns

    def inferred_schema(self) -> Schema:
        """Numeric where the values are numbers but for a few (refused) strays; categorical otherwise."""
        numeric = set(self._numeric_columns())
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
                f"{self.width} fields ({self.wrong_width.listed(quoted=False)}); check for missing or extra commas, "
                "values with commas that are not quoted, and unclosed quotes"
            )
        decimal_commas = self.decimal_comma_columns()
        for index in decimal_commas:
            found = self.decimal_commas[index]
            where = f"{_count(found.count, 'value')}: {found.listed()}"
            problems.append(_decimal_comma_problem(self.header[index], found.examples[0][1], where))
        for index in self._numeric_columns():
            bad = self.not_numbers[index]
            if not bad.count or index in decimal_commas:
                continue
            name = self.header[index]
            if self.inferring:
                numbers = self.present[index] - bad.count
                problems.append(
                    f"column '{name}' holds {_count(numbers, 'number')} but {_count(bad.count, 'value')} that "
                    f"{'are not numbers' if bad.count != 1 else 'is not a number'} ({bad.listed()}); correct or "
                    "empty them (an empty value is a missing one), or, if the column is categorical, declare "
                    f'"columns" in the dataset\'s dataset.json with \'{name}\' as "categorical"'
                )
            else:
                problems.append(
                    f"{_count(bad.count, 'value')} in numeric column '{name}' "
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


def _small_classes(column: str, values: _TargetValues) -> list[str]:
    """Classes too small for every split to hold one, which training, validation and test each need."""
    small = [(label, rows) for label, rows in values.distinct.items() if rows < MIN_ROWS_PER_CLASS]
    if not small:
        return []
    shown = ", ".join(f"{_show(label)} ({_count(rows, 'row')})" for label, rows in small[:MAX_EXAMPLES])
    more = ", ..." if len(small) > MAX_EXAMPLES else ""
    return [
        f"the target column '{column}' has {_count(len(small), 'class', 'classes')} with fewer than "
        f"{MIN_ROWS_PER_CLASS} rows ({shown}{more}); each class needs {MIN_ROWS_PER_CLASS} so the training, "
        "validation and test splits each get one: add rows of those classes, or remove them"
    ]


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
    example = values.non_numeric_example
    unreadable = (declared == "regression" and not stats.all_numeric) or (
        declared is None and infer_problem_type(stats) is None
    )
    if unreadable and example is not None and is_decimal_comma_number(example[1]):
        row, value = example
        return [_decimal_comma_problem(column, value, f"the first in row {row}")]
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


def is_decimal_comma_number(value: str) -> bool:
    """Whether a value is a number written with a decimal comma (``270122,51``, ``-0,5``, ``1.234,5``)."""
    return _DECIMAL_COMMA_NUMBER.fullmatch(value) is not None


def _decimal_comma_problem(column: str, example: str, where: str) -> str:
    """What to do about a column of numbers written with decimal commas, with an example as it should be."""
    value = example.strip()
    with_point = value.replace(".", "").replace(",", ".")
    return (
        f"column '{column}' holds numbers written with a decimal comma (e.g. {value}): write them with a decimal "
        f"point ({with_point}), for example by saving the file with '.' as its decimal separator ({where})"
    )


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


def _count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _do(number: int) -> str:
    return "do" if number != 1 else "does"
