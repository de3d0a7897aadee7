"""The example a notification gives of what a client sends: the feature order and the first held-out row, read from
the run's preprocessing output, whether one instance wrote it or several wrote it in parts."""

from __future__ import annotations

import json

import boto3
import pytest

from driftline_core.notifications.serving_example import (
    TEST_FEATURES_FILE,
    held_out_feature_files,
    read_serving_example,
)
from driftline_core.payloads import JobResult

BUCKET = "run-files"


def _preprocess_result(split_files: dict[str, list[str]] | None, parts: dict[str, bytes]) -> JobResult:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    metadata = {"feature_columns": ["size", "colour"], **({"split_files": split_files} if split_files else {})}
    s3.put_object(Bucket=BUCKET, Key="run/metadata/preprocessing.json", Body=json.dumps(metadata).encode())
    for name, body in parts.items():
        s3.put_object(Bucket=BUCKET, Key=f"run/test/{name}", Body=body)
    return JobResult(
        job_name="run-preprocess",
        job_type="processing",
        status="Completed",
        outputs={"metadata": f"s3://{BUCKET}/run/metadata/", "test": f"s3://{BUCKET}/run/test/"},
    )


def test_one_instance_s_file_gives_the_example(aws: None) -> None:
    result = _preprocess_result(None, {TEST_FEATURES_FILE: b"colour,size\nred,1\n"})
    example = read_serving_example(result)
    assert example is not None
    assert (example.features, example.row) == (["size", "colour"], "1,red")


def test_the_first_part_gives_the_example_when_several_instances_wrote_the_held_out_rows(aws: None) -> None:
    listed = {"test_features": ["test_features-00001.csv", "test_features-00002.csv"]}
    result = _preprocess_result(
        listed, {"test_features-00001.csv": b"size,colour\n7,blue\n", "test_features-00002.csv": b"size,colour\n8,x\n"}
    )
    example = read_serving_example(result)
    assert example is not None and example.row == "7,blue"


@pytest.mark.parametrize(
    "listed",
    [
        None,
        {},
        {"test_features": []},
        {"test_features": "test_features-00000.csv"},
        {"test_features": ["../train/train.csv"]},
        {"test_features": ["test_features-00000.csv", "s3://elsewhere/x.csv"]},
        {"test_features": ["test_features-1.csv"]},
    ],
)
def test_a_missing_or_foreign_list_of_parts_falls_back_to_the_one_file(listed: object) -> None:
    assert held_out_feature_files({"split_files": listed}) == [TEST_FEATURES_FILE]


def test_listed_parts_are_followed_in_their_order() -> None:
    parts = ["test_features-00000.csv", "test_features-00002.csv"]
    assert held_out_feature_files({"split_files": {"test_features": parts}}) == parts
