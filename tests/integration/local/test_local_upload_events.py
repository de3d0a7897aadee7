"""Uploads through local mode's EventBridge: S3's event, the template's rule, StartRun on what the rule delivered.

The emulated S3 sends its own "Object Created" events (keys as written); events S3 may send with the key
URL-encoded are put on the bus the way the emulated S3 puts its own. Either way the rule from
``template.yaml`` decides what reaches StartRun, and the real handler runs on exactly what arrived.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_plus

import boto3
import pytest
import yaml
from moto.events.models import events_backends
from samtranslator.yaml_helper import intrinsics_multi_constructor

from driftline.local import events, lambda_runtime, seams
from driftline.local.console import Console
from driftline.local.settings import ACCOUNT_ID
from tests.conftest import REGION, load_event

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
DATA_BUCKET = "driftline-data-123456789012-us-east-1"
START_RUN_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:driftline-StartRunFunction"
PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
CSV = b"age,income,default\n41,52000,0\n29,31000,1\n"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class _TemplateLoader(yaml.SafeLoader):
    """Reads short-form intrinsics (!Ref, !Sub) as their long-form dicts."""


_TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def _uploads_rule_pattern() -> str:
    template = yaml.load(TEMPLATE.read_text(), Loader=_TemplateLoader)
    rule = template["Resources"]["StartRunFunction"]["Properties"]["Events"]["DataUploaded"]["Properties"]
    return json.dumps(rule["Pattern"]).replace(json.dumps({"Ref": "DataBucket"}), json.dumps(DATA_BUCKET))


@pytest.fixture
def delivered(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What local mode's EventBridge hands StartRun, in order; the rule and bucket are the template's."""
    received: list[dict[str, Any]] = []

    def invoke_async(function_arn: str, event: Any, region: str) -> None:
        assert function_arn == START_RUN_ARN
        received.append(copy.deepcopy(event))

    monkeypatch.setattr(lambda_runtime, "invoke_async", invoke_async)
    events.install(Console(quiet_sources=("eventbridge",)), REGION)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=DATA_BUCKET)
    s3.put_bucket_versioning(Bucket=DATA_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_notification_configuration(
        Bucket=DATA_BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    eventbridge = boto3.client("events")
    eventbridge.put_rule(Name="driftline-DataUploaded", EventPattern=_uploads_rule_pattern())
    eventbridge.put_targets(Rule="driftline-DataUploaded", Targets=[{"Id": "StartRun", "Arn": START_RUN_ARN}])
    yield received
    seams.restore()


@pytest.fixture
def state_machine_arn(delivered: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> str:
    arn: str = boto3.client("stepfunctions").create_state_machine(
        name="driftline-pipeline", definition=PASS_DEFINITION, roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/pipeline"
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DATA_BUCKET", DATA_BUCKET)
    return arn


@pytest.fixture
def notifications(state_machine_arn: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[dict[str, Any]]]:
    topic_arn = boto3.client("sns").create_topic(Name="driftline-notifications")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="driftline-notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    monkeypatch.setenv("NOTIFICATION_TOPIC_ARN", topic_arn)

    def received() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(message["Body"]) for message in messages]

    return received


@pytest.fixture
def start_run(notifications: Any) -> Handler:
    from functions.start_run.app import lambda_handler

    return lambda_handler


def _put(key: str, body: bytes = CSV) -> dict[str, Any]:
    return dict(boto3.client("s3").put_object(Bucket=DATA_BUCKET, Key=key, Body=body))


def _put_on_bus_as_s3_does(event: dict[str, Any]) -> None:
    """The emulated S3 offers its events to every rule of every bus; so does this."""
    for bus in events_backends[ACCOUNT_ID][REGION].event_buses.values():
        for rule in bus.rules.values():
            rule.send_to_targets(cast(Any, event), transform_input=False)


def _run_key(result: dict[str, Any]) -> str:
    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    key: str = json.loads(described["input"])["data"]["key"]
    return key


KEYS = ["data/credit/june 2026.csv", "data/credit/a+b.csv", "data/credit/100%20.csv", "data/crédit/été.csv"]


@pytest.mark.parametrize("key", KEYS)
def test_an_upload_through_the_local_bus_starts_a_run_for_the_key_as_uploaded(
    delivered: list[dict[str, Any]], start_run: Handler, lambda_context: Any, key: str
) -> None:
    _put(key)

    [event] = delivered
    result = start_run(event, lambda_context)

    assert result["started"] is True, result["reason"]
    assert _run_key(result) == key


@pytest.mark.parametrize(
    "encode",
    [lambda key: quote_plus(key, safe="/"), lambda key: quote(key, safe="/+:")],
    ids=["space as plus", "space as %20"],
)
@pytest.mark.parametrize("key", KEYS)
def test_a_url_encoded_upload_event_on_the_local_bus_starts_a_run_for_the_key_as_uploaded(
    delivered: list[dict[str, Any]], start_run: Handler, lambda_context: Any, key: str, encode: Any
) -> None:
    put = _put(key)
    delivered.clear()
    event = load_event("start_run")
    event["detail"]["object"].update(
        {"key": encode(key), "size": len(CSV), "etag": put["ETag"].strip('"'), "version-id": put["VersionId"]}
    )

    _put_on_bus_as_s3_does(event)
    [arrived] = delivered
    result = start_run(arrived, lambda_context)

    assert arrived["detail"]["object"]["key"] == encode(key)
    assert result["started"] is True, result["reason"]
    assert _run_key(result) == key


def test_an_uppercase_csv_and_a_gzipped_csv_reach_start_run_and_start_runs(
    delivered: list[dict[str, Any]], start_run: Handler, lambda_context: Any
) -> None:
    _put("data/credit/JUNE.CSV")
    _put("data/credit/july.csv.gz", body=b"\x1f\x8b\x08\x00")

    results = [start_run(event, lambda_context) for event in delivered]

    assert [result["started"] for result in results] == [True, True]
    assert [_run_key(result) for result in results] == ["data/credit/JUNE.CSV", "data/credit/july.csv.gz"]


def test_a_text_file_reaches_start_run_and_the_topic_is_told_why_nothing_ran(
    delivered: list[dict[str, Any]], start_run: Handler, lambda_context: Any, notifications: Any
) -> None:
    _put("data/credit/notes.txt", body=b"remember to upload june\n")

    [event] = delivered
    result = start_run(event, lambda_context)

    assert result["started"] is False
    [message] = notifications()
    assert message["Subject"] == "Driftline: credit upload started no run"
    assert (
        "Why: data/credit/notes.txt is not a CSV file; upload .csv or .csv.gz files under data/<dataset>/."
        in message["Message"]
    )


def test_a_dataset_config_and_a_folder_marker_start_nothing_and_notify_no_one(
    delivered: list[dict[str, Any]], start_run: Handler, lambda_context: Any, notifications: Any
) -> None:
    _put("data/credit/dataset.json", body=b'{"target": "default"}')
    _put("data/credit/", body=b"")

    results = [start_run(event, lambda_context) for event in delivered]

    assert len(results) == 2
    assert [result["started"] for result in results] == [False, False]
    assert notifications() == []


def test_uploads_outside_data_never_reach_start_run(delivered: list[dict[str, Any]]) -> None:
    _put("incoming/credit/june.csv")
    _put("runs/credit-1/config.json", body=b"{}")

    assert delivered == []


def test_the_upload_event_carries_the_object_fields_as_s3_names_them(delivered: list[dict[str, Any]]) -> None:
    s3 = boto3.client("s3")
    first = s3.put_object(Bucket=DATA_BUCKET, Key="data/credit/june.csv", Body=CSV)
    s3.copy_object(
        Bucket=DATA_BUCKET,
        Key="data/credit/july.csv",
        CopySource={"Bucket": DATA_BUCKET, "Key": "data/credit/june.csv"},
    )

    put, copied = delivered
    obj = put["detail"]["object"]
    assert obj["etag"] == first["ETag"].strip('"') and "eTag" not in obj
    assert obj["size"] == len(CSV) and obj["version-id"] == first["VersionId"]
    assert put["detail"]["reason"] == "PutObject"
    assert copied["detail"]["reason"] == "CopyObject"
    assert int(copied["detail"]["object"]["sequencer"], 16) > int(obj["sequencer"], 16)
