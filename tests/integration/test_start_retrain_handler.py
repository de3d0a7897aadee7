"""StartRetrain under moto: a drift alarm's ALARM state starts one retrain per episode, none while a run of the
dataset is in progress (the drift is held: ``test_held_drift``) or within the cooldown, and a notice instead of a
retrain when no labelled data is new."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from tests.conftest import FakeLambdaContext, load_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
DATA_BUCKET = "driftline-data-123456789012-us-east-1"
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"
CSV = b"age,income,default\n41,52000,0\n29,31000,1\n"
VIOLATIONS = {
    "violations": [
        {
            "feature_name": "income",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.4132 minus the Robust margin 0.0465 exceeds threshold: 0.1 "
            "(KS, Robust, 3000 baseline and 3000 current values)",
        },
        {"feature_name": "age", "constraint_check_type": "completeness_check", "description": "Data completeness ..."},
    ]
}


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    stepfunctions = boto3.client("stepfunctions")
    arn = stepfunctions.create_state_machine(
        name="driftline-pipeline", definition=PASS_DEFINITION, roleArn="arn:aws:iam::123456789012:role/pipeline"
    )["stateMachineArn"]
    s3 = boto3.client("s3")
    for bucket in (DATA_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    topic_arn = boto3.client("sns").create_topic(Name="driftline-notifications")["TopicArn"]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    for name, value in {
        "STATE_MACHINE_ARN": arn,
        "DATA_BUCKET": DATA_BUCKET,
        "ARTIFACT_BUCKET": ARTIFACT_BUCKET,
        "NOTIFICATION_TOPIC_ARN": topic_arn,
        "MODEL_PACKAGE_GROUP_PREFIX": "driftline",
        "DRIFT_RETRAIN_COOLDOWN_MINUTES": "60",
    }.items():
        monkeypatch.setenv(name, value)
    s3.put_object(
        Bucket=ARTIFACT_BUCKET,
        Key="monitoring/credit/2026/11/20/11/constraint_violations.json",
        Body=json.dumps(VIOLATIONS).encode(),
    )
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key="monitoring/credit/2026/11/20/11/drift_report.html", Body=b"<html/>")

    def notifications() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    return {"arn": arn, "notifications": notifications}


@pytest.fixture
def handler(stack: dict[str, Any]) -> Handler:
    from functions.start_retrain.app import lambda_handler

    return lambda_handler


def _upload(key: str = "data/credit/june.csv") -> str:
    return str(boto3.client("s3").put_object(Bucket=DATA_BUCKET, Key=key, Body=CSV)["VersionId"])


def _approve_model_trained_on(key: str, version: str) -> None:
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="driftline-credit")
    sagemaker.create_model_package(
        ModelPackageGroupName="driftline-credit",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/sklearn:1"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        CustomerMetadataProperties={"data_uri": f"s3://{DATA_BUCKET}/{key}", "data_version_id": version},
    )


def _alarm(state_time: str = "2026-11-20T11:05:12.486+0000", value: str = "ALARM") -> dict[str, Any]:
    event = copy.deepcopy(load_event("cloudwatch_alarm_drift_alarm"))
    event["detail"]["state"]["timestamp"] = state_time
    event["detail"]["state"]["value"] = value
    return event


def _executions(arn: str) -> list[dict[str, Any]]:
    client: Any = boto3.client("stepfunctions")
    return list(client.list_executions(stateMachineArn=arn)["executions"])


def _stop_all(arn: str) -> None:
    for execution in _executions(arn):
        boto3.client("stepfunctions").stop_execution(executionArn=execution["executionArn"])


def test_the_documented_alarm_event_starts_a_retrain_that_says_why(stack: dict[str, Any], handler: Handler) -> None:
    version = _upload("data/credit/may.csv")
    _approve_model_trained_on("data/credit/may.csv", version)
    newest = _upload("data/credit/june.csv")

    result = handler(_alarm(), FakeLambdaContext())

    assert result["started"] is True, result["reason"]
    assert "income (distance 0.4132 > 0.1)" in result["reason"]
    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    run_input = json.loads(described["input"])
    assert run_input["dataset"] == "credit"
    assert run_input["data"] == {
        "bucket": DATA_BUCKET,
        "key": "data/credit/june.csv",
        "version_id": newest,
        "uri": f"s3://{DATA_BUCKET}/data/credit/june.csv",
    }
    trigger = run_input["trigger"]
    assert trigger["source"] == "drift" and trigger["alarm_name"] == "driftline-drift-credit"
    assert trigger["drifted_features"] == [{"name": "income", "distance": 0.4132, "threshold": 0.1}]
    assert trigger["report_uri"] == f"s3://{ARTIFACT_BUCKET}/monitoring/credit/2026/11/20/11/drift_report.html"
    retrain = json.loads(
        boto3.client("s3")
        .get_object(Bucket=ARTIFACT_BUCKET, Key=trigger["retrain_uri"].split("/", 3)[3])["Body"]
        .read()
    )
    assert {(u["uri"].rsplit("/", 1)[1], u["new"]) for u in retrain["uploads"]} == {
        ("may.csv", False),
        ("june.csv", True),
    }


def test_one_drift_episode_starts_one_run_however_often_its_event_arrives(
    stack: dict[str, Any], handler: Handler
) -> None:
    _upload()
    first = handler(_alarm(), FakeLambdaContext())
    _stop_all(stack["arn"])  # even once that run ended, the same episode finds it
    again = handler(_alarm(), FakeLambdaContext())

    assert first["started"] is True
    assert again["started"] is False and again["execution_name"] == first["execution_name"]
    assert len(_executions(stack["arn"])) == 1


def test_no_retrain_starts_while_a_run_of_the_dataset_is_in_progress(stack: dict[str, Any], handler: Handler) -> None:
    _upload()
    stepfunctions = boto3.client("stepfunctions")
    stepfunctions.start_execution(
        stateMachineArn=stack["arn"], name="credit-0123456789ab", input=json.dumps({"dataset": "credit"})
    )
    stepfunctions.start_execution(  # another dataset whose name starts alike does not hold it back
        stateMachineArn=stack["arn"], name="credit-risk-0123456789ab", input=json.dumps({"dataset": "credit-risk"})
    )

    result = handler(_alarm(), FakeLambdaContext())

    assert result["started"] is False and result["held"] is True
    assert "run credit-0123456789ab of the dataset is in progress" in result["reason"]
    assert len(_executions(stack["arn"])) == 2


def test_a_second_episode_within_the_cooldown_starts_nothing_and_one_after_it_retrains(
    stack: dict[str, Any], handler: Handler
) -> None:
    from driftline_core.aws.events import AlarmStateChangeEvent
    from driftline_core.drift.retrain import retrain_on_drift
    from driftline_core.settings import get_settings

    _upload()
    assert handler(_alarm("2026-11-20T11:05:12.486+0000"), FakeLambdaContext())["started"] is True
    _stop_all(stack["arn"])

    flapped = handler(_alarm("2026-11-20T11:35:12.486+0000"), FakeLambdaContext())
    assert flapped["started"] is False and "within the cooldown of 60 minutes" in flapped["reason"]

    later = AlarmStateChangeEvent.model_validate(_alarm("2026-11-20T12:35:12.486+0000"))
    result = retrain_on_drift(later, get_settings(), now=datetime.now(UTC) + timedelta(minutes=61))
    assert result.started is True
    assert len(_executions(stack["arn"])) == 2


def test_drift_without_new_labelled_data_notifies_instead_of_retraining(
    stack: dict[str, Any], handler: Handler
) -> None:
    version = _upload("data/credit/june.csv")
    _approve_model_trained_on("data/credit/june.csv", version)

    result = handler(_alarm(), FakeLambdaContext())

    assert result["started"] is False and result["notified"] is True
    assert _executions(stack["arn"]) == []
    (message,) = stack["notifications"]()
    assert message["Subject"] == "Driftline: drift in credit, fresh labelled data needed"
    assert "no labelled data arrived under data/credit/" in message["Message"]
    assert "income (distance 0.4132 > 0.1)" in message["Message"]
    assert "upload freshly labelled rows as data/credit/<file>.csv" in message["Message"]


def test_a_redelivered_episode_sends_its_notice_once_even_without_a_cooldown(
    stack: dict[str, Any], handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    monkeypatch.setenv("DRIFT_RETRAIN_COOLDOWN_MINUTES", "0")
    reset_settings()
    version = _upload("data/credit/june.csv")
    _approve_model_trained_on("data/credit/june.csv", version)

    first = handler(_alarm(), FakeLambdaContext())
    again = handler(_alarm(), FakeLambdaContext())

    assert first["notified"] is True
    assert again["notified"] is False and "This drift episode was already handled" in again["reason"]
    assert len(stack["notifications"]()) == 1


def test_a_retrain_whose_start_failed_starts_when_the_episode_comes_again(
    stack: dict[str, Any], handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lambda retries a failed invocation: the episode's claim stands, and the retry starts its run, once."""
    from botocore.exceptions import ClientError

    from driftline_core.aws.clients import get_client

    _upload()
    client = get_client("stepfunctions")
    start = client.start_execution
    refused: list[str] = []

    def throttled_once(**kwargs: Any) -> Any:
        if not refused:
            refused.append(kwargs["name"])
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "StartExecution")
        return start(**kwargs)

    monkeypatch.setattr(client, "start_execution", throttled_once)
    with pytest.raises(ClientError):
        handler(_alarm(), FakeLambdaContext())
    assert _executions(stack["arn"]) == []

    retried = handler(_alarm(), FakeLambdaContext())
    again = handler(_alarm(), FakeLambdaContext())

    assert retried["started"] is True and retried["execution_name"] == refused[0]
    assert again["started"] is False and len(_executions(stack["arn"])) == 1


def test_the_window_leaves_out_uploads_older_than_retrain_window_days(stack: dict[str, Any]) -> None:
    from driftline_core.drift.retrain import labelled_uploads

    _upload("data/credit/june.csv")
    _upload("data/credit/notes.txt")
    _upload("data/credit-risk/june.csv")
    now = datetime.now(UTC)

    assert [u.key for u in labelled_uploads(DATA_BUCKET, "credit", now, None)] == ["data/credit/june.csv"]
    assert labelled_uploads(DATA_BUCKET, "credit", now + timedelta(days=8), 7) == []


def test_ok_transitions_and_other_stacks_alarms_start_nothing(stack: dict[str, Any], handler: Handler) -> None:
    _upload()
    other = _alarm()
    other["detail"]["alarmName"] = "otherstack-drift-credit"

    assert handler(_alarm(value="OK"), FakeLambdaContext())["started"] is False
    assert handler(other, FakeLambdaContext())["reason"].startswith("otherstack-drift-credit is not a drift alarm")
    assert _executions(stack["arn"]) == []
