"""StartRun under moto with real objects: one execution per object version, the event's key confirmed
against S3 in every encoding it may arrive in, and a notification for uploads that cannot start a run."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import boto3
import pytest

from tests.conftest import load_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
DATA_BUCKET = "driftline-data-123456789012-us-east-1"
SAMPLE_KEY = "data/credit/applications-2026-11.csv"
CSV = b"age,income,default\n41,52000,0\n29,31000,1\n"


@pytest.fixture
def state_machine_arn(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    stepfunctions = boto3.client("stepfunctions")
    arn: str = stepfunctions.create_state_machine(
        name="driftline-pipeline",
        definition=PASS_DEFINITION,
        roleArn="arn:aws:iam::123456789012:role/driftline-pipeline",
    )["stateMachineArn"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DATA_BUCKET", DATA_BUCKET)
    return arn


@pytest.fixture
def notifications(state_machine_arn: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, str]]]:
    """The topic's messages, read through an SQS subscription: ``[{"Subject": ..., "Message": ...}]``."""
    topic_arn = boto3.client("sns").create_topic(Name="driftline-notifications")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="driftline-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic_arn)

    def received() -> list[dict[str, str]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return received


@pytest.fixture
def lambda_handler(state_machine_arn: str, notifications: Any) -> Handler:
    """Imported once the environment is set: Powertools reads its service and namespace at import."""
    from functions.start_run.app import lambda_handler

    return lambda_handler


def _executions(state_machine_arn: str) -> list[dict[str, Any]]:
    client: Any = boto3.client("stepfunctions")
    executions: list[dict[str, Any]] = client.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return executions


def _run_input(result: dict[str, Any]) -> dict[str, Any]:
    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    run_input: dict[str, Any] = json.loads(described["input"])
    return run_input


def _upload(key: str, body: bytes = CSV, event_key: str | None = None) -> dict[str, Any]:
    """Put a real object and return the "Object Created" event S3 sends for it, its key written as ``event_key``."""
    put = boto3.client("s3").put_object(Bucket=DATA_BUCKET, Key=key, Body=body)
    event = load_event("start_run")
    event["detail"]["object"].update(
        {
            "key": key if event_key is None else event_key,
            "size": len(body),
            "etag": put["ETag"].strip('"'),
            "version-id": put.get("VersionId"),
        }
    )
    if event["detail"]["object"]["version-id"] is None:  # an unversioned bucket's events carry no version
        del event["detail"]["object"]["version-id"]
    return event


def test_the_same_event_delivered_twice_starts_one_run(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    event = _upload(SAMPLE_KEY)
    first = lambda_handler(event, lambda_context)
    second = lambda_handler(event, lambda_context)

    executions = _executions(state_machine_arn)
    assert len(executions) == 1
    assert first["started"] is True
    assert first["execution_arn"] == executions[0]["executionArn"]
    assert second["started"] is False
    assert second["execution_arn"] == first["execution_arn"]
    assert "already started" in second["reason"]


def test_the_run_input_names_the_exact_object_version(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    event = _upload(SAMPLE_KEY)
    result = lambda_handler(event, lambda_context)

    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    assert described["name"] == result["execution_name"]
    assert result["execution_name"].startswith("credit-")
    assert json.loads(described["input"]) == {
        "dataset": "credit",
        "data": {
            "bucket": DATA_BUCKET,
            "key": SAMPLE_KEY,
            "version_id": event["detail"]["object"]["version-id"],
            "uri": f"s3://{DATA_BUCKET}/{SAMPLE_KEY}",
        },
        "trigger": {"source": "upload", "event_id": "17793124-05d4-b198-2fde-7ededc63b103"},
    }


def test_a_new_version_of_the_same_key_starts_a_second_run(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    first = lambda_handler(_upload(SAMPLE_KEY), lambda_context)
    second = lambda_handler(_upload(SAMPLE_KEY, body=CSV + b"35,47000,0\n"), lambda_context)

    assert first["started"] is True
    assert second["started"] is True
    assert second["execution_name"] != first["execution_name"]
    assert len(_executions(state_machine_arn)) == 2


LITERAL_KEYS = [
    "data/credit/june 2026.csv",
    "data/credit/a+b.csv",
    "data/credit/100%20.csv",
    "data/crédit/été 2026.csv",
    "data/credit/2026-11-23T09:30:00.csv",
]
ENCODINGS: dict[str, Callable[[str], str]] = {
    # S3's classic notifications: URL-encoded, a space as "+" (what Powertools' data class decodes).
    "url-encoded, space as plus": lambda key: quote_plus(key, safe="/"),
    # Reported for EventBridge: a space as "%20", "+" left as written.
    "url-encoded, space as %20": lambda key: quote(key, safe="/+:"),
    # Captured EventBridge events with ":" unencoded: the key as written.
    "as written": lambda key: key,
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("key", LITERAL_KEYS)
def test_a_run_starts_for_the_uploaded_key_however_the_event_encodes_it(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, key: str, encoding: str
) -> None:
    event = _upload(key, event_key=ENCODINGS[encoding](key))

    result = lambda_handler(event, lambda_context)

    assert result["started"] is True, result["reason"]
    data = _run_input(result)["data"]
    assert data["key"] == key
    assert data["version_id"] == event["detail"]["object"]["version-id"]
    boto3.client("s3").head_object(Bucket=DATA_BUCKET, Key=data["key"], VersionId=data["version_id"])


def test_a_key_with_a_literal_plus_is_not_taken_for_its_neighbour_with_a_space(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    spaced = _upload("data/credit/a b.csv", event_key="data/credit/a+b.csv")
    plus = _upload("data/credit/a+b.csv", body=CSV + b"35,47000,0\n", event_key="data/credit/a+b.csv")

    runs = [lambda_handler(spaced, lambda_context), lambda_handler(plus, lambda_context)]

    assert [_run_input(result)["data"]["key"] for result in runs] == ["data/credit/a b.csv", "data/credit/a+b.csv"]


def test_an_upload_that_cannot_be_found_starts_nothing_and_says_which_key(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, notifications: Any
) -> None:
    event = _upload("data/credit/june 2026.csv", event_key="data/credit/june+2026.csv")
    boto3.client("s3").delete_object(
        Bucket=DATA_BUCKET, Key="data/credit/june 2026.csv", VersionId=event["detail"]["object"]["version-id"]
    )

    result = lambda_handler(event, lambda_context)

    assert result["started"] is False
    assert result["notified"] is True
    assert _executions(state_machine_arn) == []
    [message] = notifications()
    assert message["Subject"] == "Driftline: credit upload started no run"
    assert "data/credit/june+2026.csv could not be found" in message["Message"]
    assert "'data/credit/june+2026.csv', 'data/credit/june 2026.csv'" in message["Message"]


@pytest.mark.parametrize("key", ["data/credit/JAN.CSV", "data/credit/jan.csv.gz", "data/credit/Jan.Csv.GZ"])
def test_csv_uploads_in_any_letter_case_and_gzipped_start_a_run_with_the_key_as_uploaded(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, key: str
) -> None:
    result = lambda_handler(_upload(key), lambda_context)

    assert result["started"] is True
    assert _run_input(result)["data"]["key"] == key


@pytest.mark.parametrize(
    ("key", "why"),
    [
        (
            "data/credit/notes.txt",
            "data/credit/notes.txt is not a CSV file; upload .csv or .csv.gz files under data/<dataset>/.",
        ),
        (
            "data/credit/2026/jan.csv",
            "data/credit/2026/jan.csv is in a nested folder; upload CSV files directly under data/<dataset>/ "
            "(for example data/credit/jan.csv).",
        ),
    ],
)
def test_an_upload_under_data_that_cannot_start_a_run_is_answered_with_why_and_what_to_do(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, notifications: Any, key: str, why: str
) -> None:
    result = lambda_handler(_upload(key, body=b"some notes\n"), lambda_context)

    assert result["started"] is False
    assert result["notified"] is True
    assert _executions(state_machine_arn) == []
    [message] = notifications()
    assert message["Subject"] == "Driftline: credit upload started no run"
    assert f"Why: {why}" in message["Message"]
    assert message["MessageAttributes"]["outcome"]["Value"] == "not-started"


@pytest.mark.parametrize("key", ["data/credit/dataset.json", "data/credit/", "incoming/credit/jan.csv"])
def test_dataset_configs_folder_markers_and_keys_outside_data_start_nothing_quietly(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, notifications: Any, key: str
) -> None:
    result = lambda_handler(_upload(key, body=b"" if key.endswith("/") else b"{}"), lambda_context)

    assert result["started"] is False
    assert result["notified"] is False
    assert _executions(state_machine_arn) == []
    assert notifications() == []


def test_a_dataset_name_sagemaker_rejects_still_starts_a_run(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    result = lambda_handler(_upload("data/Credit_Data 2026/jan.csv"), lambda_context)

    assert result["started"] is True
    assert result["dataset"] == "Credit_Data 2026"
    assert len(_executions(state_machine_arn)) == 1


def test_rewriting_a_key_in_an_unversioned_bucket_starts_a_new_run_but_a_redelivery_does_not(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    boto3.client("s3").put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    first_write = _upload(SAMPLE_KEY)
    first = lambda_handler(first_write, lambda_context)
    redelivered = lambda_handler(first_write, lambda_context)
    second_write = _upload(SAMPLE_KEY, body=CSV + b"35,47000,0\n")
    second_write["detail"]["object"]["sequencer"] = "00617F0829932A0012"
    second = lambda_handler(second_write, lambda_context)

    assert [first["started"], redelivered["started"], second["started"]] == [True, False, True]
    assert len(_executions(state_machine_arn)) == 2


def test_an_unversioned_upload_overwritten_before_its_event_arrives_leaves_the_run_to_the_newer_write(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, notifications: Any
) -> None:
    boto3.client("s3").put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Suspended"})
    first_write = _upload(SAMPLE_KEY)
    _upload(SAMPLE_KEY, body=CSV + b"35,47000,0\n")

    result = lambda_handler(first_write, lambda_context)

    assert result["started"] is False
    assert "newer write starts its own" in result["reason"]
    assert notifications() == []
