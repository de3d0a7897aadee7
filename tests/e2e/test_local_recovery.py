"""Local mode end to end: a run whose SageMaker job ended still resumes when the job's event is lost or
its JobEvents invocation fails, because the scheduled reconciler finds the ended job."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from driftline import datasets
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud

pytestmark = [pytest.mark.e2e, pytest.mark.waits_on_schedules]


def _log_lines(cloud: LocalCloud, function_logical_id: str) -> list[str]:
    logs = cloud.client("logs")
    group = f"/aws/lambda/{cloud.stack.resources[function_logical_id]}" if cloud.stack else ""
    try:
        events = logs.filter_log_events(logGroupName=group)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [event["message"] for event in events]


def _resumed_by_reconciler(cloud: LocalCloud, execution_name: str) -> int:
    return sum(
        "resuming it now" in line and execution_name in line for line in _log_lines(cloud, "ReconcileJobsFunction")
    )


def test_a_run_whose_job_events_handler_fails_still_registers_a_model(cloud: LocalCloud, tmp_path: Path) -> None:
    assert cloud.stack is not None
    lambdas = cloud.client("lambda")
    job_events = cloud.stack.resources["JobEventsFunction"]
    environment = lambdas.get_function_configuration(FunctionName=job_events)["Environment"]["Variables"]
    original = {name: str(value) for name, value in environment.items()}
    broken = original | {"JOB_TOKENS_TABLE": "no-such-table"}
    lambdas.update_function_configuration(FunctionName=job_events, Environment={"Variables": broken})
    csv_path = tmp_path / "breast_cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)

    try:
        record = upload_and_follow(cloud, "recovery-handler-fails", csv_path, timeout=300)
    finally:
        lambdas.update_function_configuration(FunctionName=job_events, Environment={"Variables": original})

    assert record.status == "SUCCEEDED", record.cause
    assert record.output["registration"]["model_package_arn"]
    # The function's role may use only its own table: the misconfigured name is refused, as IAM refuses it on AWS.
    assert any(
        "AccessDeniedException" in line and "dynamodb:DeleteItem" in line and "table/no-such-table" in line
        for line in _log_lines(cloud, "JobEventsFunction")
    )
    execution_name = record.execution_arn.rsplit(":", 1)[-1]
    assert _resumed_by_reconciler(cloud, execution_name) == 3


def test_a_run_whose_job_events_are_never_delivered_still_registers_a_model(cloud: LocalCloud, tmp_path: Path) -> None:
    assert cloud.stack is not None
    events = cloud.client("events")
    rule = cloud.stack.resources["JobEventsFunctionSageMakerJobStateChanged"]
    events.disable_rule(Name=rule)
    csv_path = tmp_path / "breast_cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    try:
        record = upload_and_follow(cloud, "recovery-events-lost", csv_path, timeout=300)
    finally:
        events.enable_rule(Name=rule)

    assert record.status == "SUCCEEDED", record.cause
    execution_name = record.execution_arn.rsplit(":", 1)[-1]
    assert _resumed_by_reconciler(cloud, execution_name) == 3


def test_an_upload_whose_start_run_keeps_failing_is_kept_in_the_undelivered_events_queue(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    """Lambda retries a failed asynchronous invocation twice, then hands its record to the on-failure
    destination: the upload is not lost, it waits in the alarmed queue with the event that carried it."""
    assert cloud.stack is not None
    lambdas = cloud.client("lambda")
    start_run = cloud.stack.resources["StartRunFunction"]
    variables = lambdas.get_function_configuration(FunctionName=start_run)["Environment"]["Variables"]
    original = {name: str(value) for name, value in variables.items()}
    broken = original | {"STATE_MACHINE_ARN": "not-a-state-machine"}
    lambdas.update_function_configuration(FunctionName=start_run, Environment={"Variables": broken})
    sqs = cloud.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=cloud.stack.resources["UndeliveredEventsQueue"].rsplit("/", 1)[-1])[
        "QueueUrl"
    ]
    csv_path = tmp_path / "lost.csv"
    datasets.write_breast_cancer_csv(csv_path)
    key = "data/undelivered/lost.csv"
    try:
        cloud.client("s3").put_object(Bucket=cloud.outputs["DataBucketName"], Key=key, Body=csv_path.read_bytes())
        records: list[dict[str, Any]] = []
        deadline = time.time() + 60
        while not records and time.time() < deadline:
            for message in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get(
                "Messages", []
            ):
                record = json.loads(message["Body"])
                if record.get("requestContext", {}).get("functionArn", "").endswith(f"function:{start_run}:$LATEST"):
                    records.append(record)
    finally:
        lambdas.update_function_configuration(FunctionName=start_run, Environment={"Variables": original})

    assert records, "the failed invocation never reached the on-failure destination"
    (record,) = records
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"].endswith(f"function:{start_run}:$LATEST")
    assert record["requestPayload"]["detail"]["object"]["key"] == key
    assert record["responseContext"]["functionError"] == "Unhandled"
