"""The TestStaging handler against real local endpoints: models trained and evaluated by the real ``ml/`` scripts,
served by local mode's endpoint servers behind the emulator, reached through SageMaker Runtime's InvokeEndpoint.

The run's files are the real ones: ``test_features.csv`` from the preprocessing job and ``predictions.csv`` from the
evaluation job of the ``good`` model. The staging endpoint serves that model, or one trained to answer otherwise
(``flipped``), so the smoke test's verdict comes from what the endpoints actually answer.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftline_core.deployment.staging_tests import read_held_out_rows
from driftline_core.errors import StagingTestFailed, ValidationFailed
from driftline_core.ingest.csv_stream import MAX_ROW_BYTES
from driftline_core.layout import split_s3_uri
from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.serving_model import ML_DIR, endpoint_emulator

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

EVENT = load_event("test_staging")
BUCKET, _ = split_s3_uri(EVENT["preprocess"]["outputs"]["test"])
IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
GOOD, FLIPPED = "driftline-credit--staging-v3", "driftline-credit--staging-v4"
RATE, SECONDS = 20, 2
BAD_ROW = 3
"""The row of the ``refused`` run whose numeric feature holds text, which the endpoint refuses with a 400."""


@dataclass
class Cloud:
    url: str
    s3: Any
    features: str
    """The good run's ``test_features.csv``."""
    predictions: list[str]
    """The good model's evaluation, one answer line per held-out row."""


def _evaluate(root: Path) -> None:
    """The evaluation job on the model, as SageMaker runs it: it writes ``evaluation.json`` and ``predictions.csv``."""
    result = subprocess.run(
        [
            sys.executable,
            str(ML_DIR / "evaluate.py"),
            *("--model-dir", str(root / "model"), "--test-dir", str(root / "out" / "test")),
            *("--config-dir", str(root / "config"), "--output-dir", str(root / "evaluation")),
            *("--message-file", str(root / "evaluate-message"), "--incumbent-dir", str(root / "no-incumbent")),
        ],
        env={k: v for k, v in os.environ.items() if not k.startswith("SM_")} | {"OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def _serve(sagemaker_client: Any, endpoint: str, model_uri: str, code_uri: str) -> None:
    sagemaker_client.create_model(
        ModelName=endpoint,
        ExecutionRoleArn="arn:aws:iam::123456789012:role/sagemaker",
        PrimaryContainer={
            "Image": IMAGE,
            "ModelDataUrl": model_uri,
            "Environment": {
                "SAGEMAKER_PROGRAM": "serve.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"{code_uri}sourcedir.tar.gz",
            },
        },
    )
    sagemaker_client.create_endpoint_config(
        EndpointConfigName=endpoint,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": endpoint,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker_client.create_endpoint(EndpointName=endpoint, EndpointConfigName=endpoint)


def _wait_in_service(sagemaker_client: Any, endpoint: str) -> None:
    deadline = time.time() + 120
    while time.time() < deadline:
        status = sagemaker_client.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        if status != "Creating":
            assert status == "InService", sagemaker_client.describe_endpoint(EndpointName=endpoint)
            return
        time.sleep(0.1)
    raise AssertionError(f"{endpoint} stayed Creating")


def _put_run_files(s3: Any, prefix: str, features: str, predictions: str, preprocessing: str) -> None:
    s3.put_object(Bucket=BUCKET, Key=f"runs/{prefix}/preprocess/test/test_features.csv", Body=features.encode())
    s3.put_object(Bucket=BUCKET, Key=f"runs/{prefix}/preprocess/metadata/preprocessing.json", Body=preprocessing)
    s3.put_object(Bucket=BUCKET, Key=f"runs/{prefix}/evaluate/evaluation/predictions.csv", Body=predictions.encode())


def _with_refused_row(features: str) -> str:
    """The same rows, the ``BAD_ROW``-th with text where the first (numeric) feature belongs."""
    rows = list(csv.reader(io.StringIO(features)))
    rows[BAD_ROW][0] = "high"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    base = tmp_path_factory.mktemp("staging")
    with endpoint_emulator(base, BUCKET) as emulator:
        _evaluate(base / "good")
        s3, sagemaker_client = emulator.s3, emulator.client("sagemaker")
        for endpoint, model in ((GOOD, "good"), (FLIPPED, "flipped")):
            _serve(sagemaker_client, endpoint, emulator.models[model], emulator.code_uri)
        features = (base / "good" / "out" / "test" / "test_features.csv").read_text()
        predictions = (base / "good" / "evaluation" / "predictions.csv").read_text()
        preprocessing = (base / "good" / "out" / "metadata" / "preprocessing.json").read_text()
        _put_run_files(s3, "good", features, predictions, preprocessing)
        _put_run_files(s3, "refused", _with_refused_row(features), predictions, preprocessing)
        for endpoint in (GOOD, FLIPPED):
            _wait_in_service(sagemaker_client, endpoint)
        yield Cloud(url=emulator.url, s3=s3, features=features, predictions=predictions.splitlines())


@pytest.fixture
def handler(cloud: Cloud, aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Handler]:
    """The handler as the template configures it, its AWS calls going to the emulator serving the endpoints."""
    from driftline_core.aws.clients import reset_clients
    from driftline_core.settings import reset_settings

    monkeypatch.setenv("AWS_ENDPOINT_URL", cloud.url)
    monkeypatch.setenv("ARTIFACT_BUCKET", BUCKET)
    monkeypatch.setenv("STAGING_LOAD_TEST_REQUESTS_PER_SECOND", str(RATE))
    monkeypatch.setenv("STAGING_LOAD_TEST_SECONDS", str(SECONDS))
    reset_clients()
    reset_settings()
    from functions.test_staging import app

    yield app.lambda_handler
    reset_clients()
    reset_settings()


def staging_event(execution: str, endpoint: str, files: str = "good") -> dict[str, Any]:
    """The sample event for run ``execution`` testing on ``endpoint``, reading the run files put under ``files``."""
    event = json.loads(json.dumps(EVENT))
    event["execution_name"] = execution
    event["preprocess"]["outputs"]["test"] = f"s3://{BUCKET}/runs/{files}/preprocess/test/"
    event["preprocess"]["outputs"]["metadata"] = f"s3://{BUCKET}/runs/{files}/preprocess/metadata/"
    event["evaluation"]["outputs"]["evaluation"] = f"s3://{BUCKET}/runs/{files}/evaluate/evaluation/"
    event["staging"]["endpoint_name"] = endpoint
    event["staging"]["endpoint_arn"] = f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/{endpoint}"
    return event


def read_report(cloud: Cloud, execution: str) -> dict[str, Any]:
    body = cloud.s3.get_object(Bucket=BUCKET, Key=f"runs/{execution}/staging/staging_test.json")["Body"].read()
    report: dict[str, Any] = json.loads(body)
    return report


GENEROUS_P99_MILLISECONDS = 3_000


def test_a_candidate_answering_every_held_out_row_as_evaluated_passes_with_its_load_figures(
    cloud: Cloud, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    # A limit no local endpoint misses on a busy machine: this test is about the figures, not the speed.
    monkeypatch.setenv("STAGING_MAX_P99_MILLISECONDS", str(GENEROUS_P99_MILLISECONDS))
    reset_settings()

    result = handler(staging_event("credit-passes", GOOD), FakeLambdaContext())

    held_out = len(cloud.predictions)
    assert 30 <= held_out <= 60  # the 300-row demo-sized dataset's test split
    assert result["endpoint_name"] == GOOD
    assert result["smoke"] == {"rows": held_out, "mismatches": 0, "unanswered": 0, "passed": True, "examples": []}
    load = result["load"]
    assert (load["requests_per_second"], load["seconds"], load["errors"], load["passed"]) == (RATE, SECONDS, 0, True)
    assert RATE * SECONDS - 2 <= load["requests"] <= RATE * SECONDS
    assert 0 < load["p50_milliseconds"] <= load["p99_milliseconds"] <= load["max_p99_milliseconds"]
    assert load["max_p99_milliseconds"] == GENEROUS_P99_MILLISECONDS
    assert result["report_uri"] == f"s3://{BUCKET}/runs/credit-passes/staging/staging_test.json"

    report = read_report(cloud, "credit-passes")
    assert report["passed"] is True and report["failure"] is None
    assert report["smoke_test"]["rows"] == held_out and report["smoke_test"]["requests"] == 1
    assert report["load_test"]["requests"] == load["requests"] == report["load_test"]["answered"]
    assert report["load_test"]["p99_milliseconds"] == load["p99_milliseconds"]


def test_a_model_answering_differently_fails_naming_the_rows_it_got_wrong(cloud: Cloud, handler: Handler) -> None:
    with pytest.raises(StagingTestFailed) as raised:
        handler(staging_event("credit-flipped", FLIPPED), FakeLambdaContext())

    message = str(raised.value)
    counted = re.match(
        rf"Smoke test on endpoint {FLIPPED}: (\d+) of {len(cloud.predictions)} held-out rows answered differently "
        r"from the evaluation \(row (\d+): endpoint said '(\w+)', evaluation '(\w+)'",
        message,
    )
    assert counted is not None, message
    mismatches, row, said, evaluated = int(counted[1]), int(counted[2]), counted[3], counted[4]
    assert mismatches > 0 and said != evaluated
    assert cloud.predictions[row - 1].split(",")[0] == evaluated
    assert message.endswith(
        f"the candidate was not put up for approval. Every figure is in "
        f"s3://{BUCKET}/runs/credit-flipped/staging/staging_test.json."
    )

    report = read_report(cloud, "credit-flipped")
    assert report["passed"] is False and report["failure"] == message
    assert report["smoke_test"]["mismatches"] == mismatches == len(report["smoke_test"]["details"])
    assert report["load_test"]["passed"] is True  # it answers fast; it answers wrongly


def test_a_row_the_endpoint_refuses_is_counted_in_both_tests_with_the_endpoints_error(
    cloud: Cloud, handler: Handler
) -> None:
    with pytest.raises(StagingTestFailed) as raised:
        handler(staging_event("credit-refused", GOOD, files="refused"), FakeLambdaContext())

    report = read_report(cloud, "credit-refused")
    smoke, load = report["smoke_test"], report["load_test"]
    held_out = len(cloud.predictions)
    # One request carried every row, and the endpoint refused it for the one bad row.
    assert (smoke["requests"], smoke["unanswered"], smoke["mismatches"]) == (1, held_out, held_out)
    assert smoke["examples"] == [
        f"rows 1-{held_out} got no answer (ModelError: the model answered 400: row {BAD_ROW}: feature 'x1' is numeric "
        "but holds 'high'; send a number or leave the value empty when it is missing)"
    ]
    # The load test sends the rows in turn, one a request: the bad row's requests fail, the others answer.
    assert load["errors"] == sum(1 for n in range(load["requests"]) if n % held_out == BAD_ROW - 1) >= 1
    assert load["answered"] == load["requests"] - load["errors"]
    assert load["examples"][0] == (
        "ModelError: the model answered 400: row 1: feature 'x1' is numeric but holds 'high'; send a number or leave "
        "the value empty when it is missing"
    )
    message = str(raised.value)
    assert f"{held_out} of {held_out} held-out rows got no answer" in message
    assert f"Load test on endpoint {GOOD}: {load['errors']} of {load['requests']} requests at 20 requests/s" in message


def test_a_missing_endpoint_fails_every_request_with_sagemakers_answer(cloud: Cloud, handler: Handler) -> None:
    with pytest.raises(StagingTestFailed, match="held-out rows got no answer"):
        handler(staging_event("credit-missing", "driftline-credit--staging-v9"), FakeLambdaContext())

    report = read_report(cloud, "credit-missing")
    assert report["smoke_test"]["unanswered"] == len(cloud.predictions)
    assert report["smoke_test"]["examples"][0].endswith(
        "(ValidationError: Endpoint driftline-credit--staging-v9 of account 123456789012 not found.)"
    )
    assert report["load_test"]["errors"] == report["load_test"]["requests"] > 0


def test_a_p99_over_the_limit_fails_the_load_test_with_its_figures(
    cloud: Cloud, handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    monkeypatch.setenv("STAGING_MAX_P99_MILLISECONDS", "1")
    reset_settings()

    with pytest.raises(StagingTestFailed) as raised:
        handler(staging_event("credit-slow", GOOD), FakeLambdaContext())

    report = read_report(cloud, "credit-slow")
    load = report["load_test"]
    assert report["smoke_test"]["passed"] is True and load["errors"] == 0
    assert load["p99_milliseconds"] > 1
    assert str(raised.value).startswith(
        f"Load test on endpoint {GOOD}: p99 latency {load['p99_milliseconds']:g} ms at 20 requests/s for 2 s is over "
        "the 1 ms limit"
    )


def _put_held_out_files(features: bytes, predictions: bytes) -> tuple[str, str]:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="held-out")
    s3.put_object(Bucket="held-out", Key="test_features.csv", Body=features)
    s3.put_object(Bucket="held-out", Key="predictions.csv", Body=predictions)
    return "s3://held-out/test_features.csv", "s3://held-out/predictions.csv"


def test_held_out_rows_keep_quoted_line_breaks_and_pair_with_the_evaluations_answers(aws: None) -> None:
    features_uri, predictions_uri = _put_held_out_files(
        b'note,size\n"two\nlines",1\nplain,2\n', b'a,0.9,0.1\n"b,c",0.2,0.8\n'
    )
    rows = read_held_out_rows([features_uri], predictions_uri, limit=10)
    assert [(row.number, row.body, row.expected) for row in rows] == [
        (1, '"two\nlines",1', ("a", "0.9", "0.1")),
        (2, "plain,2", ("b,c", "0.2", "0.8")),
    ]


def test_a_held_out_row_too_long_to_send_is_refused_before_it_fills_the_memory(aws: None) -> None:
    features_uri, predictions_uri = _put_held_out_files(b"text\n" + b"x" * (MAX_ROW_BYTES + 1) + b"\n", b"a\n")
    with pytest.raises(ValidationFailed, match=r"test_features\.csv: row 2 is longer than 8 MiB"):
        read_held_out_rows([features_uri], predictions_uri, limit=10)


def test_held_out_rows_written_in_parts_by_several_instances_are_read_in_order(aws: None) -> None:
    features_uri, predictions_uri = _put_held_out_files(b"size,colour\n1,red\n", b"0.1\n0.2\n0.3\n")
    s3 = boto3.client("s3")
    s3.put_object(Bucket="held-out", Key="test_features-00001.csv", Body=b"size,colour\n2,blue\n3,\n")
    second = "s3://held-out/test_features-00001.csv"

    rows = read_held_out_rows([features_uri, second], predictions_uri, limit=10)

    assert [(row.number, row.body, row.expected) for row in rows] == [
        (1, "1,red", ("0.1",)),
        (2, "2,blue", ("0.2",)),
        (3, "3,", ("0.3",)),
    ]
    assert [row.body for row in read_held_out_rows([features_uri, second], predictions_uri, limit=2)] == [
        "1,red",
        "2,blue",
    ]
    s3.put_object(Bucket="held-out", Key="test_features-00002.csv", Body=b"colour,size\nblue,2\n")
    with pytest.raises(ValueError, match=r"test_features-00002\.csv has other columns than .*test_features\.csv"):
        read_held_out_rows([features_uri, "s3://held-out/test_features-00002.csv"], predictions_uri, limit=10)
