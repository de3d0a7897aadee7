"""What a client sends a deployed model: its feature columns in the order the endpoint reads them, and one row.

Both come from the run's preprocessing output. ``preprocessing.json``'s ``feature_columns`` is the serving
contract's order: training copies it into the model's metadata, and the endpoint reads a CSV row's values in
that order. ``test_features.csv`` holds the test split's rows as uploaded, features only, under that header; its
first row is the example. Only the file's first bytes are read, so a wide or long split costs the same.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.s3io import read_json
from driftline_core.layout import PREPROCESSING_FILE, split_s3_uri
from driftline_core.payloads import JobResult

TEST_FEATURES_FILE = "test_features.csv"
"""In the preprocess job's ``test`` output: the test rows' feature values as uploaded, with a header."""
TEST_FEATURES_PART = re.compile(r"test_features-[0-9]{5}\.csv")
"""One preprocessing instance's part of them, when several instances preprocessed the run."""
SAMPLE_BYTES = 64 * 1024
"""How much of the test rows is read for one example row; a row longer than this gives no example."""


@dataclass(frozen=True)
class ServingExample:
    features: list[str]
    """The feature columns, in the order the endpoint reads a CSV row's values."""
    row: str | None
    """One row as a client sends it (``text/csv``, no header, no target, no line break); None when unreadable."""


def read_serving_example(preprocess: JobResult | None) -> ServingExample | None:
    """The run's feature order and first test row; None when the run's preprocessing output cannot be read.

    An email must go out whatever S3 answers, so a read that fails only leaves the example out.
    """
    metadata = (preprocess.outputs.get("metadata") if preprocess else None) or ""
    if not metadata:
        return None
    try:
        document = read_json(f"{metadata.rstrip('/')}/{PREPROCESSING_FILE}")
    except (ClientError, BotoCoreError, ValueError):
        return None
    columns = document.get("feature_columns") if isinstance(document, dict) else None
    if not isinstance(columns, list) or not columns:
        return None
    features = [str(name) for name in columns]
    test = (preprocess.outputs.get("test") if preprocess else None) or ""
    files = held_out_feature_files(document)
    return ServingExample(features, _first_row(f"{test.rstrip('/')}/{files[0]}", features) if test else None)


def held_out_feature_files(preprocessing: Any) -> list[str]:
    """The files of the preprocess job's ``test`` output holding the test rows as uploaded, in their rows' order.

    Several preprocessing instances each write a part, which ``preprocessing.json`` lists (``split_files``); one
    instance writes ``test_features.csv``. A list naming anything else is not followed.
    """
    listed = preprocessing.get("split_files") if isinstance(preprocessing, dict) else None
    parts = listed.get("test_features") if isinstance(listed, dict) else None
    if (
        isinstance(parts, list)
        and parts
        and all(
            isinstance(name, str) and (name == TEST_FEATURES_FILE or TEST_FEATURES_PART.fullmatch(name))
            for name in parts
        )
    ):
        return [str(name) for name in parts]
    return [TEST_FEATURES_FILE]


def _first_row(uri: str, features: list[str]) -> str | None:
    bucket, key = split_s3_uri(uri)
    try:
        response = get_client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{SAMPLE_BYTES - 1}")
        head = response["Body"].read()
    except (ClientError, BotoCoreError):
        return None
    return first_csv_row(head, features, complete=len(head) < SAMPLE_BYTES)


def first_csv_row(head: bytes, features: list[str], *, complete: bool) -> str | None:
    """The first data row of a CSV's first bytes, its values put in ``features``' order, written as CSV.

    ``complete`` says the bytes are the whole file; otherwise the row counts only when a line break ends it.
    """
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if not complete:
        text = text[: text.rfind("\n") + 1]  # a line the bytes cut off is not read
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
        values = next(reader)
    except (StopIteration, csv.Error):
        return None
    if len(values) != len(header) or any(name not in header for name in features):
        return None
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow([values[header.index(name)] for name in features])
    return out.getvalue().removesuffix("\r\n")  # the terminator given so that values holding one are quoted
