"""Step Functions in local mode, under moto: every status change of a run reaches EventBridge as "Step Functions
Execution Status Change", with the shape the Step Functions developer guide documents, however the run ends."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from driftline.local import seams, stepfunctions
from tests.conftest import load_event

ROLE = "arn:aws:iam::123456789012:role/runs"


@pytest.fixture
def status_changes(aws: None) -> Iterator[Any]:
    """Local Step Functions, and the status changes a rule on ``aws.states`` sends to a queue (moto delivers to SQS)."""
    stepfunctions.install()
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="status-changes")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    pattern = {"source": ["aws.states"], "detail-type": ["Step Functions Execution Status Change"]}
    events.put_rule(Name="runs", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="runs", Targets=[{"Id": "queue", "Arn": queue_arn}])

    def received(count: int, timeout: float = 10) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.time() + timeout
        while len(found) < count and time.time() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            found += [json.loads(message["Body"]) for message in messages]
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if len(found) < count:
                time.sleep(0.05)
        return found

    try:
        yield received
    finally:
        seams.restore()


def _machine(name: str, states: dict[str, Any], **top: Any) -> str:
    definition = {"StartAt": next(iter(states)), "States": states, **top}
    created = boto3.client("stepfunctions").create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=ROLE
    )
    return str(created["stateMachineArn"])


def _run(machine: str, name: str, run_input: dict[str, Any]) -> str:
    started = boto3.client("stepfunctions").start_execution(
        stateMachineArn=machine, name=name, input=json.dumps(run_input)
    )
    return str(started["executionArn"])


def test_a_failed_run_sends_its_start_and_its_end_as_step_functions_documents_them(status_changes: Any) -> None:
    machine = _machine("fails", {"Rejected": {"Type": "Fail", "Error": "ApprovalRejected", "Cause": "not this one"}})
    run = _run(machine, "credit-5e4f54c7bade", {"dataset": "credit"})

    started, ended = status_changes(2)

    documented = load_event("stepfunctions_execution_failed")
    for event in (started, ended):
        assert (event["source"], event["detail-type"], event["resources"]) == (
            "aws.states",
            "Step Functions Execution Status Change",
            [run],
        )
        assert set(event["detail"]) == set(documented["detail"])
        assert event["detail"]["executionArn"] == run and event["detail"]["stateMachineArn"] == machine
        assert json.loads(event["detail"]["input"]) == {"dataset": "credit"}
    assert (started["detail"]["status"], started["detail"]["stopDate"]) == ("RUNNING", None)
    detail = ended["detail"]
    assert (detail["status"], detail["error"], detail["cause"]) == ("FAILED", "ApprovalRejected", "not this one")
    assert detail["startDate"] <= detail["stopDate"] and detail["output"] is None
    assert detail["redriveStatus"] == "REDRIVABLE"


def test_a_succeeded_run_sends_its_output(status_changes: Any) -> None:
    machine = _machine("passes", {"Done": {"Type": "Pass", "Result": {"deployed": True}, "End": True}})
    _run(machine, "credit-0123456789ab", {"dataset": "credit"})

    ended = status_changes(2)[-1]["detail"]

    assert ended["status"] == "SUCCEEDED"
    assert json.loads(ended["output"]) == {"deployed": True} and ended["outputDetails"] == {"included": True}


def test_a_stopped_run_sends_aborted_at_once_and_once(status_changes: Any) -> None:
    sqs = boto3.client("sqs")
    tokens = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    wait = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": tokens, "MessageBody": {"token.$": "$$.Task.Token"}},
        "TimeoutSeconds": 2,
        "End": True,
    }
    run = _run(_machine("waits", {"Wait": wait}), "credit-aac94d3f8f5c", {"dataset": "credit"})
    assert status_changes(1)[0]["detail"]["status"] == "RUNNING"
    deadline = time.time() + 10
    while not sqs.receive_message(QueueUrl=tokens).get("Messages") and time.time() < deadline:
        time.sleep(0.05)  # the run waits on its task token

    boto3.client("stepfunctions").stop_execution(executionArn=run, error="Stopped", cause="no longer needed")

    (ended,) = status_changes(1, timeout=2)
    assert ended["detail"]["status"] == "ABORTED" and ended["detail"]["stopDate"] is not None
    assert status_changes(1, timeout=3) == []  # the wait's own end, later, sends nothing more


def test_a_run_past_its_timeout_sends_timed_out(status_changes: Any) -> None:
    machine = _machine("slow", {"Sleep": {"Type": "Wait", "Seconds": 30, "End": True}}, TimeoutSeconds=1)
    _run(machine, "credit-5e4f54c7bad0", {"dataset": "credit"})

    statuses = [event["detail"]["status"] for event in status_changes(2, timeout=10)]

    assert statuses == ["RUNNING", "TIMED_OUT"]
