"""The streaming CSV check (pure: the file is given as byte lines, as S3 streams it)."""

from __future__ import annotations

import gzip
import io
import random
import tracemalloc
from collections.abc import Iterator

import pytest

from driftline_core.errors import ValidationFailed
from driftline_core.ingest.csv_validation import CsvReport, validate_csv
from driftline_core.ingest.dataset_config import ColumnSpec, Schema
from driftline_core.payloads import ProblemType

SOURCE = "data/credit/upload.csv"


def lines_of(data: bytes | str) -> list[bytes]:
    """Split like botocore's ``iter_lines(keepends=True)`` does."""
    raw = data.encode() if isinstance(data, str) else data
    return raw.splitlines(keepends=True)


def credit_csv(rows: int = 30, *, income: list[str] | None = None) -> str:
    """A small, valid binary-classification file; ``income`` overrides the income values row by row."""
    lines = ["age,income,home,default"]
    for i in range(rows):
        value = income[i] if income and i < len(income) else f"{20000 + 1000 * i}.5"
        lines.append(f"{20 + i},{value},{['own', 'rent', 'mortgage'][i % 3]},{i % 2}")
    return "\n".join(lines) + "\n"


def check(
    data: bytes | str,
    *,
    schema: Schema | None = None,
    target: str | None = None,
    problem_type: ProblemType | None = None,
    min_rows: int = 20,
) -> CsvReport:
    return validate_csv(
        lines_of(data),
        source=SOURCE,
        schema=schema,
        target=target,
        problem_type=problem_type,
        min_rows=min_rows,
    )


def failure(data: bytes | str, **options: object) -> str:
    with pytest.raises(ValidationFailed) as caught:
        check(data, **options)  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith(f"{SOURCE}: ")
    return message


CREDIT_SCHEMA = Schema(
    columns=[
        ColumnSpec(name="age", type="numeric"),
        ColumnSpec(name="income", type="numeric"),
        ColumnSpec(name="home", type="categorical"),
        ColumnSpec(name="default", type="numeric"),
    ]
)


# --- accepted files ------------------------------------------------------------------------------------


def test_a_valid_file_is_accepted_and_its_schema_inferred() -> None:
    report = check(credit_csv())
    assert report.header == ["age", "income", "home", "default"]
    assert report.rows == 30
    assert report.schema_inferred
    assert report.schema == CREDIT_SCHEMA
    assert report.target == "default"
    assert report.problem_type == "binary_classification"
    assert report.target_stats.distinct_values == ["0", "1"]
    assert report.target_stats.values == 30


def test_the_default_target_is_a_column_named_label_before_the_last_column() -> None:
    data = "label,x\n" + "".join(f"{i % 3},{i}\n" for i in range(25))
    report = check(data)
    assert report.target == "label"
    assert report.problem_type == "multiclass_classification"


def test_a_regression_target_is_inferred_from_continuous_values() -> None:
    data = "x,price\n" + "".join(f"{i},{i * 1.37:.2f}\n" for i in range(25))
    assert check(data).problem_type == "regression"


def test_a_given_problem_type_is_kept() -> None:
    assert check(credit_csv(), problem_type="multiclass_classification").problem_type == ("multiclass_classification")


def test_blank_lines_crlf_and_a_byte_order_mark_are_accepted() -> None:
    data = ("\ufeff" + credit_csv().replace("\n", "\r\n") + "\r\n\r\n").encode()
    report = check(data)
    assert report.header[0] == "age"
    assert report.rows == 30


def test_quoted_fields_with_commas_and_newlines_are_one_value() -> None:
    data = credit_csv().replace("own,", '"own, outright\nsince 2001",', 1)
    report = check(data)
    assert report.rows == 30
    assert report.schema.column_type("home") == "categorical"


def test_missing_values_are_allowed_in_numeric_columns() -> None:
    income = ["", "NA", "NaN", "null", "N/A"]
    report = check(credit_csv(income=income), schema=CREDIT_SCHEMA)
    assert report.rows == 30
    assert check(credit_csv(income=income)).schema.column_type("income") == "numeric"


def test_a_column_of_mostly_text_is_inferred_categorical() -> None:
    report = check(credit_csv(income=["low", "mid", "high"] * 10 + ["1000"]))
    assert report.schema.column_type("income") == "categorical"


def test_a_column_without_any_value_is_inferred_categorical() -> None:
    data = "notes,x,y\n" + "".join(f",{i},{i % 2}\n" for i in range(25))
    assert check(data).schema.column_type("notes") == "categorical"


def test_a_given_schema_is_returned_and_its_categorical_columns_take_any_value() -> None:
    schema = Schema(
        columns=[
            ColumnSpec(name="age", type="categorical"),
            ColumnSpec(name="income", type="categorical"),
            ColumnSpec(name="home", type="categorical"),
            ColumnSpec(name="default", type="categorical"),
        ]
    )
    report = check(credit_csv(income=["lots"]), schema=schema)
    assert report.schema == schema
    assert not report.schema_inferred


def test_columns_may_come_in_any_order() -> None:
    reordered = "\n".join(",".join(reversed(line.split(","))) for line in credit_csv().splitlines())
    assert check(reordered, schema=CREDIT_SCHEMA).rows == 30


# --- not a CSV -----------------------------------------------------------------------------------------


def test_an_empty_object_is_reported() -> None:
    assert failure(b"") == (
        f"{SOURCE}: is empty; upload a CSV with a header row naming the columns and at least one data row."
    )
    assert "is empty" in failure(b"\n\r\n\n")


def test_a_gzip_file_renamed_csv_is_not_a_csv() -> None:
    message = failure(gzip.compress(credit_csv().encode()))
    assert message.startswith(f"{SOURCE}: is not a UTF-8 CSV file (it looks like a gzip-compressed file)")


def test_a_parquet_file_renamed_csv_is_not_a_csv() -> None:
    parquet_like = b"PAR1\x15\x04\x15\x10\x15\x14L\x15\x02\x15\x00\x12\x00\x00\x08\x1c\n\x00\x00\x00"
    assert "is not a UTF-8 CSV file (it looks like a Parquet file)" in failure(parquet_like)


def test_an_excel_workbook_renamed_csv_is_not_a_csv() -> None:
    assert "Excel .xlsx workbook" in failure(b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00")


def test_binary_data_without_a_known_signature_is_not_a_csv() -> None:
    noise = bytes(random.Random(7).randrange(256) for _ in range(4096))
    assert "is not a UTF-8 CSV file" in failure(b"a,b\n" + noise)


def test_a_latin1_file_is_reported_with_the_row() -> None:
    data = credit_csv().replace("rent", "r\u00e9nt", 1).encode("latin-1")
    message = failure(data)
    assert "is not a UTF-8 CSV file (row 3 has the byte 0xe9" in message
    assert "save the file as CSV UTF-8" in message


# --- header and schema ---------------------------------------------------------------------------------


def test_empty_and_duplicate_column_names_are_reported() -> None:
    message = failure("age,,income,age,default\n1,2,3,4,0\n")
    assert message.startswith(f"{SOURCE}: 2 problems\n")
    assert "no name for column 2" in message
    assert "the header names 'age' more than once" in message


def test_a_file_without_a_header_row_is_reported() -> None:
    assert "holds numbers, not column names" in failure("1,2,3\n4,5,6\n")


def test_missing_and_unexpected_columns_are_both_named() -> None:
    data = credit_csv().replace("age,income,home,default", "age,salary,home,default,region")
    message = failure(data, schema=CREDIT_SCHEMA)
    assert "missing 'income'" in message
    assert "unexpected 'salary', 'region'" in message
    assert "Expected: 'age', 'income', 'home', 'default'" in message


def test_a_target_that_is_not_in_the_header_is_reported() -> None:
    message = failure(credit_csv(), target="defaulted")
    assert "the target column 'defaulted' is not in the header ('age', 'income', 'home', 'default')" in message


# --- rows ----------------------------------------------------------------------------------------------


def test_rows_with_the_wrong_number_of_fields_are_reported_with_their_rows() -> None:
    lines = credit_csv().splitlines()
    lines[3] += ",extra"
    lines[7] = "31,45000"
    message = failure("\n".join(lines) + "\n")
    assert "2 rows do not have the header's 4 fields (row 4: 5 fields, row 8: 2 fields)" in message


def test_non_numeric_values_are_reported_with_column_rows_and_values() -> None:
    message = failure(credit_csv(income=["100", "200", "abc", "1,5", "300", "n.a."]), schema=CREDIT_SCHEMA)
    # "1,5" unquoted splits the row; that row is reported for its fields instead.
    assert "2 values in numeric column 'income' are not numbers (row 4: 'abc', row 7: 'n.a.')" in message
    assert "1 row does not have the header's 4 fields (row 5: 5 fields)" in message


def test_at_most_five_examples_are_quoted_and_all_are_counted() -> None:
    bad = ["x1", "x2", "x3", "x4", "x5", "x6", "x7"]
    message = failure(credit_csv(income=bad), schema=CREDIT_SCHEMA)
    assert message == (
        f"{SOURCE}: 7 values in numeric column 'income' are not numbers "
        "(row 2: 'x1', row 3: 'x2', row 4: 'x3', row 5: 'x4', row 6: 'x5', ...); correct or empty them, "
        'or declare the column "categorical" in the dataset\'s dataset.json.'
    )


def test_infinite_numbers_and_digit_separators_are_not_numbers() -> None:
    message = failure(credit_csv(income=["inf", "1_000", "\u0661\u0662"]), schema=CREDIT_SCHEMA)
    assert "3 values in numeric column 'income'" in message
    assert "'inf'" in message and "'1_000'" in message


def test_spaces_after_a_comma_are_skipped_as_the_jobs_read_the_file() -> None:
    data = credit_csv().replace(",", ", ").replace(", 21000.5,", ",  ,")
    report = check(data, schema=CREDIT_SCHEMA)
    assert report.header == ["age", "income", "home", "default"]
    assert report.target_stats.distinct_values == ["0", "1"]


def test_an_unclosed_quote_is_reported() -> None:
    data = credit_csv().replace("own", '"own', 1)
    message = failure(data, min_rows=1)
    assert "row" in message
    assert "unclosed quote" in message


# --- target --------------------------------------------------------------------------------------------


def test_empty_target_values_are_reported() -> None:
    lines = credit_csv().splitlines()
    lines[2] = lines[2].rsplit(",", 1)[0] + ","
    lines[5] = lines[5].rsplit(",", 1)[0] + ",NA"
    message = failure("\n".join(lines) + "\n")
    assert "the target column 'default' is empty in 2 rows (row 3, row 6)" in message


def test_a_target_with_one_class_is_reported() -> None:
    data = credit_csv().replace(",1\n", ",0\n")
    assert "the target column 'default' has the same value ('0') in every row" in failure(data)


def test_a_binary_problem_with_three_classes_is_reported() -> None:
    data = "x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(30))
    message = failure(data, problem_type="binary_classification")
    assert "problem type is binary_classification but the target column 'y' has 3 distinct values" in message
    assert "('0', '1', '2')" in message


def test_a_regression_problem_with_text_targets_is_reported() -> None:
    data = "x,y\n" + "".join(f"{i},{'high' if i % 2 else 'low'}\n" for i in range(30))
    message = failure(data, problem_type="regression")
    assert "problem type is regression but the target column 'y' has values that are not numbers" in message
    assert "(row 2: 'low')" in message


def test_a_target_with_many_text_labels_asks_for_a_problem_type() -> None:
    data = "x,customer\n" + "".join(f"{i},c{i}\n" for i in range(30))
    message = failure(data)
    assert "more than 20 distinct values that are not numbers" in message
    assert 'declare "problem_type"' in message


def test_too_few_rows_are_reported() -> None:
    message = failure(credit_csv(rows=6))
    assert "it has 6 data rows, and at least 20 are needed" in message
    assert check(credit_csv(rows=6), min_rows=6).rows == 6


def test_a_header_only_file_is_reported() -> None:
    assert "it has 0 data rows" in failure("age,income,home,default\n")


def test_several_problems_are_reported_together_one_per_line() -> None:
    lines = credit_csv(income=["abc"]).splitlines()
    lines[9] = "1,2"
    message = failure("\n".join(lines) + "\n", schema=CREDIT_SCHEMA)
    first, *rest = message.splitlines()
    assert first == f"{SOURCE}: 2 problems"
    assert len(rest) == 2
    assert all(line.startswith("- ") for line in rest)


# --- scale ---------------------------------------------------------------------------------------------


def generated_rows(rows: int) -> Iterator[bytes]:
    yield b"age,income,home,score\n"
    for i in range(rows):
        yield b"%d,%d.25,%s,%d\n" % (18 + i % 70, 1000 + i, b"own" if i % 3 else b"rent", i % 2)


def test_a_million_rows_are_checked_in_one_streaming_pass() -> None:
    report = validate_csv(generated_rows(1_000_000), source=SOURCE)
    assert report.rows == 1_000_000
    assert report.problem_type == "binary_classification"
    assert report.schema.column_type("income") == "numeric"


def test_memory_does_not_grow_with_the_number_of_rows() -> None:
    def peak(rows: int) -> int:
        tracemalloc.start()
        validate_csv(generated_rows(rows), source=SOURCE)
        _, highest = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return highest

    small, large = peak(2_000), peak(50_000)
    assert large < small * 2 + 64 * 1024


def test_many_distinct_target_values_are_capped() -> None:
    data = io.BytesIO(b"x,y\n" + b"".join(b"%d,%d.5\n" % (i, i) for i in range(5000)))
    report = validate_csv(data, source=SOURCE)
    assert report.problem_type == "regression"
    assert len(report.target_stats.distinct_values) == 100
    assert report.target_stats.more_distinct_values


# --- reading: chunks, long lines, gzip -----------------------------------------------------------------


def chunked(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    """``data`` in chunks of the given sizes, repeated, as a stream delivers it."""
    position, index = 0, 0
    while position < len(data):
        size = sizes[index % len(sizes)]
        yield data[position : position + size]
        position, index = position + size, index + 1


def test_lines_are_read_whole_however_the_stream_cuts_them() -> None:
    data = ("\ufeff" + credit_csv().replace("own,", '"own, outright\r\nsince 2001",', 1)).replace("\n", "\r\n").encode()
    whole = validate_csv([data], source=SOURCE)
    for sizes in ([1], [2, 3], [7], [64, 1, 5]):
        report = validate_csv(chunked(data, sizes), source=SOURCE)
        assert (report.rows, report.schema, report.target_stats) == (whole.rows, whole.schema, whole.target_stats)


def test_old_mac_line_endings_are_rows() -> None:
    report = validate_csv(chunked(credit_csv().replace("\n", "\r").encode(), [5]), source=SOURCE)
    assert report.rows == 30


def test_rows_are_numbered_from_the_line_they_start_on() -> None:
    lines = credit_csv().splitlines()
    lines[1] = lines[1].replace("own", '"own\nfor\nyears"')  # row 2 spans lines 2 to 4
    lines[2] = "x" + lines[2][2:]
    lines[5] = "a,b"
    message = failure("\n".join(lines) + "\n", schema=CREDIT_SCHEMA)
    assert "(row 5: 'x')" in message
    assert "(row 8: 2 fields)" in message


def test_a_value_longer_than_the_limit_names_the_limit_and_its_row() -> None:
    long_value = "z" * 200_000
    data = credit_csv().replace("own", long_value, 1)
    message = failure(data)
    assert message == (
        f"{SOURCE}: row 2 has a value longer than 131,072 characters, the most a value may hold; leave long "
        "text out of the training data."
    )


def test_a_quote_left_open_is_named_with_the_row_it_opens_on() -> None:
    rows = credit_csv(rows=10_000)
    data = rows.replace("own", '"own', 1)
    message = failure(data)
    assert message.startswith(f"{SOURCE}: row 2 has a quoted value that runs over ")
    assert "more than 131,072 characters, the most a value may hold; check for a quote that is not closed." in message


def test_a_line_far_longer_than_a_row_may_be_is_refused_before_it_is_read_whole() -> None:
    size = 30 * 1024 * 1024

    def one_huge_line() -> Iterator[bytes]:
        yield b"a,b,y\n1,"
        piece = b"x" * (1024 * 1024)
        for _ in range(size // len(piece)):
            yield piece
        yield b",0\n"

    tracemalloc.start()
    with pytest.raises(ValidationFailed) as caught:
        validate_csv(one_huge_line(), source=SOURCE)
    _, highest = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert str(caught.value).startswith(f"{SOURCE}: row 2 is longer than 8 MiB without a line break")
    assert "a value may hold at most 131,072 characters" in str(caught.value)
    assert highest < size // 2


def test_a_gzip_compressed_file_is_checked_like_the_plain_one() -> None:
    plain = credit_csv(income=["abc"]).encode()
    assert failure(plain, schema=CREDIT_SCHEMA) == failure_gzipped(gzip.compress(plain), schema=CREDIT_SCHEMA)
    report = validate_csv(chunked(gzip.compress(credit_csv().encode()), [100]), source=SOURCE, gzipped=True)
    assert (report.rows, report.schema) == (30, CREDIT_SCHEMA)


def test_concatenated_gzip_members_are_one_file() -> None:
    text = credit_csv().encode()
    middle = text.index(b"\n", len(text) // 2) + 1
    data = gzip.compress(text[:middle]) + gzip.compress(text[middle:]) + b"\x00" * 8
    assert validate_csv([data], source=SOURCE, gzipped=True).rows == 30


def test_a_damaged_gzip_file_is_reported_as_such() -> None:
    compressed = gzip.compress(credit_csv(rows=500).encode())
    damaged = compressed[:40] + bytes(b ^ 0xFF for b in compressed[40:80]) + compressed[80:]
    assert "is named .csv.gz but is not a valid gzip file (its compressed data is damaged" in failure_gzipped(damaged)
    truncated = failure_gzipped(compressed[: len(compressed) // 2])
    assert "not a valid gzip file (it ends before its compressed data does, so the upload was cut short)" in truncated
    not_gzip = failure_gzipped(credit_csv().encode())
    assert "is named .csv.gz but is not a valid gzip file (it does not start like gzip data)" in not_gzip
    assert "is empty" in failure_gzipped(b"")


def test_a_small_gzip_that_expands_enormously_is_refused_in_bounded_memory() -> None:
    bomb = gzip.compress(b"a,b,y\n1," + b"0" * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    tracemalloc.start()
    message = failure_gzipped(bomb)
    _, highest = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert "row 2 is longer than 8 MiB" in message
    assert highest < 40 * 1024 * 1024


def failure_gzipped(data: bytes, **options: object) -> str:
    with pytest.raises(ValidationFailed) as caught:
        validate_csv([data], source=SOURCE, gzipped=True, **options)  # type: ignore[arg-type]
    return str(caught.value)


# --- one rule for numbers, one for labels --------------------------------------------------------------


def test_a_stray_value_in_a_numeric_column_of_the_first_file_is_reported_with_its_row() -> None:
    message = failure(credit_csv(income=["100", "200", "300", "inf"]))
    assert message == (
        f"{SOURCE}: column 'income' holds 29 numbers but 1 value that is not a number (row 5: 'inf'); correct "
        'or empty them (an empty value is a missing one), or, if the column is categorical, declare "columns" '
        "in the dataset's dataset.json with 'income' as \"categorical\"."
    )


def test_a_value_refused_by_a_kept_schema_is_refused_in_the_first_file_too() -> None:
    for stray in ["inf", "-Infinity", "1_000", "n.a.", "12 %"]:
        data = credit_csv(income=[stray])
        assert f"(row 2: '{stray}')" in failure(data, schema=CREDIT_SCHEMA)
        assert f"(row 2: '{stray}')" in failure(data)


def test_a_large_file_with_a_few_stray_values_in_a_column_is_reported_not_made_categorical() -> None:
    income = [str(i) for i in range(1000)]
    for row in (10, 500, 900):
        income[row] = "unknown"
    message = failure(credit_csv(rows=1000, income=income))
    assert "column 'income' holds 997 numbers but 3 values that are not numbers (row 12: 'unknown'" in message


def test_a_binary_target_written_as_0_1_and_1_point_0_is_two_classes_named_0_and_1() -> None:
    data = "x,y\n" + "".join(f"{i},{['0', '1', '1.0', ' 01'][i % 4]}\n" for i in range(40))
    report = check(data)
    assert report.problem_type == "binary_classification"
    assert report.target_stats.distinct_values == ["0", "1"]
    assert check(data, problem_type="binary_classification").problem_type == "binary_classification"


def test_classes_too_small_for_every_split_are_reported() -> None:
    data = "x,y\n" + "".join(f"{i},{'a' if i < 25 else 'b' if i < 27 else 'c'}\n" for i in range(30))
    message = failure(data)
    assert "the target column 'y' has 1 class with fewer than 3 rows ('b' (2 rows))" in message
    assert "so the training, validation and test splits each get one" in message


def test_a_minimum_below_what_the_split_needs_is_raised_to_it() -> None:
    data = "x,y\n" + "".join(f"{i},{i * 1.5}\n" for i in range(3))
    assert "it has 3 data rows, and at least 4 are needed" in failure(data, min_rows=1)
    assert check(data + "3,4.5\n", min_rows=1).rows == 4


# --- delimiters, features, target names ----------------------------------------------------------------


def test_a_semicolon_separated_file_is_recognised_and_the_fix_named() -> None:
    message = failure(credit_csv().replace(",", ";"))
    assert message == (
        f"{SOURCE}: the header reads as one column ('age;income;home;default') when split by commas (','), and "
        'its values look separated by semicolons (\';\'); declare "delimiter": ";" in the dataset\'s '
        "dataset.json, or save the file separated by commas (',')."
    )
    assert 'declare "delimiter": "\\t"' in failure(credit_csv().replace(",", "\t"))


def test_a_declared_delimiter_reads_the_file() -> None:
    for delimiter in (";", "\t", "|"):
        report = validate_csv(lines_of(credit_csv().replace(",", delimiter)), source=SOURCE, delimiter=delimiter)
        assert (report.rows, report.schema) == (30, CREDIT_SCHEMA)
    message = failure_with(credit_csv(), delimiter=";")
    assert 'remove "delimiter" from the dataset\'s dataset.json (commas are the default)' in message


def failure_with(data: str, **options: object) -> str:
    with pytest.raises(ValidationFailed) as caught:
        validate_csv(lines_of(data), source=SOURCE, **options)  # type: ignore[arg-type]
    return str(caught.value)


def test_a_file_with_no_feature_column_is_refused() -> None:
    data = "default\n" + "".join(f"{i % 2}\n" for i in range(30))
    assert failure(data) == (
        f"{SOURCE}: the file has no column besides the target 'default'; a model needs at least one feature "
        "column to learn from, so add the columns that predict the target."
    )


def test_a_target_named_like_an_option_is_refused() -> None:
    data = credit_csv().replace(",default", ",-x")
    message = failure(data)
    assert "the target column's name '-x' starts with '-', which the training job would read as an option" in message


@pytest.mark.parametrize("odd", ["1e400", "-1e400", "1_000", "\u0661", "inf", "Infinity", "0x10", "1.2.3", "\u00bd"])
def test_a_value_float_reads_but_that_is_not_a_finite_ascii_number_is_caught_among_numbers(odd: str) -> None:
    income = [str(i) for i in range(3000)]
    income[2500] = odd
    message = failure(credit_csv(rows=3000, income=income), schema=CREDIT_SCHEMA)
    assert f"1 value in numeric column 'income' is not a number (row 2502: '{odd}')" in message


def test_numbers_written_in_every_way_pandas_reads_are_numbers() -> None:
    written = ["1e5", "1 ", "-0.5e-3", "1e-400", "+7", ".5", "5.", "0012", "1E+2", "", "NA"]
    income = written * 300
    assert check(credit_csv(rows=len(income), income=income), schema=CREDIT_SCHEMA).rows == len(income)
    assert check(credit_csv(rows=len(income), income=income)).schema.column_type("income") == "numeric"


# --- numbers written with a decimal comma --------------------------------------------------------------


def decimal_comma_csv(rows: int = 30) -> str:
    """A house-price file as a spreadsheet set to a decimal comma saves it: ';' between values, ',' in numbers."""
    lines = ["area;rooms;district;price"]
    for i in range(rows):
        lines.append(f"{48 + i},5;{i % 4 + 1};{['north', 'south'][i % 2]};{270122 + 997 * i},51")
    return "\n".join(lines) + "\n"


def test_numbers_written_with_a_decimal_comma_are_named_so_with_the_fix() -> None:
    message = failure_with(decimal_comma_csv(), delimiter=";")

    assert message.startswith(f"{SOURCE}: 2 problems\n")
    assert (
        "- column 'price' holds numbers written with a decimal comma (e.g. 270122,51): write them with a decimal "
        "point (270122.51), for example by saving the file with '.' as its decimal separator (30 values: "
        "row 2: '270122,51', row 3: '271119,51', row 4: '272116,51', row 5: '273113,51', row 6: '274110,51', ...)."
    ) in message
    assert "- column 'area' holds numbers written with a decimal comma (e.g. 48,5)" in message
    assert "problem_type" not in message


def test_a_regression_target_with_decimal_commas_is_not_sent_to_a_classification() -> None:
    message = failure_with(decimal_comma_csv(), delimiter=";", problem_type="regression")

    assert "column 'price' holds numbers written with a decimal comma (e.g. 270122,51)" in message
    assert "classification" not in message


def test_a_kept_schema_s_numeric_column_names_decimal_commas_and_its_text_target_too() -> None:
    schema = Schema(
        columns=[
            ColumnSpec(name="area", type="numeric"),
            ColumnSpec(name="rooms", type="numeric"),
            ColumnSpec(name="district", type="categorical"),
            ColumnSpec(name="price", type="categorical"),
        ]
    )
    message = failure_with(decimal_comma_csv(), delimiter=";", schema=schema, problem_type="regression")

    assert (
        "column 'area' holds numbers written with a decimal comma (e.g. 48,5): write them with a decimal point (48.5)"
        in message
    )
    assert "in numeric column 'area' are not numbers" not in message
    assert "column 'price' holds numbers written with a decimal comma (e.g. 270122,51)" in message
    assert "(the first in row 2)" in message


def test_dots_between_thousands_are_left_out_of_the_fix_and_quoted_values_are_read_too() -> None:
    income = ['"1.234,5"'] + [f'"{20000 + i},25"' for i in range(29)]

    message = failure(credit_csv(income=income))

    assert (
        "column 'income' holds numbers written with a decimal comma (e.g. 1.234,5): "
        "write them with a decimal point (1234.5)" in message
    )


def test_a_text_column_with_a_few_decimal_comma_values_stays_categorical() -> None:
    homes = "\n".join(
        line.replace(",own,", ',"1,5",', 1) if row == 4 else line for row, line in enumerate(credit_csv().splitlines())
    )

    report = check(homes + "\n")

    assert report.schema.column_type("home") == "categorical"
