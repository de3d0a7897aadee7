"""Step Functions in local mode, under moto: a stopped run is ABORTED at once and its task token is closed,
as StopExecution and SendTaskSuccess behave on AWS."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from driftline.local import seams, stepfunctions
from driftline.local.console import Console


@pytest.fixture
def local_stepfunctions(aws: None) -> Iterator[None]:
    stepfunctions.install()
    try:
        yield
    finally:
        seams.restore()


def _waiting_run() -> tuple[Any, str, str]:
    """A run waiting on a task token (handed out through SQS), and that token."""
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="tokens")["QueueUrl"]
    sfn = boto3.client("stepfunctions")
    definition = {
        "StartAt": "Wait",
        "States": {
            "Wait": {
                "Type": "Task",
                "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": queue_url, "MessageBody": {"token.$": "$$.Task.Token"}},
                "TimeoutSeconds": 900,
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}],
                "Next": "Done",
            },
            "Done": {"Type": "Succeed"},
            "Failed": {"Type": "Fail", "Error": "Failed", "Cause": "the wait failed"},
        },
    }
    machine = sfn.create_state_machine(
        name="waits", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/waits"
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    deadline = time.time() + 10
    while time.time() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url).get("Messages", [])
        if messages:
            return sfn, run, str(json.loads(messages[0]["Body"])["token"])
        time.sleep(0.05)
    raise AssertionError("the run never handed out its task token")


def test_a_stopped_run_is_aborted_at_once_and_its_task_token_is_refused(local_stepfunctions: None) -> None:
    sfn, run, token = _waiting_run()

    sfn.stop_execution(executionArn=run, error="Stopped", cause="no longer needed")

    assert sfn.describe_execution(executionArn=run)["status"] == "ABORTED"
    for send in (
        lambda: sfn.send_task_success(taskToken=token, output="{}"),
        lambda: sfn.send_task_failure(taskToken=token, error="Rejected", cause="no"),
        lambda: sfn.send_task_heartbeat(taskToken=token),
    ):
        with pytest.raises(ClientError) as refused:
            send()
        assert refused.value.response["Error"]["Code"] == "TaskTimedOut"
    time.sleep(0.2)
    assert sfn.describe_execution(executionArn=run)["status"] == "ABORTED"  # nothing resumed it


def test_a_waiting_run_still_resumes_with_its_token(local_stepfunctions: None) -> None:
    sfn, run, token = _waiting_run()

    sfn.send_task_success(taskToken=token, output="{}")

    deadline = time.time() + 10
    while sfn.describe_execution(executionArn=run)["status"] == "RUNNING" and time.time() < deadline:
        time.sleep(0.05)
    assert sfn.describe_execution(executionArn=run)["status"] == "SUCCEEDED"
    with pytest.raises(ClientError) as refused:
        sfn.send_task_success(taskToken=token, output="{}")
    assert refused.value.response["Error"]["Code"] in {"TaskTimedOut", "InvalidToken"}


def test_a_run_s_end_is_one_terminal_line_with_the_state_it_failed_at_and_its_reason(
    local_stepfunctions: None,
) -> None:
    printed = io.StringIO()
    stepfunctions.report_outcomes(Console(printed))
    sfn, run, token = _waiting_run()

    sfn.send_task_failure(taskToken=token, error="ApprovalRejected", cause="rejected by sam")

    deadline = time.time() + 10
    while "[run]" not in printed.getvalue() and time.time() < deadline:
        time.sleep(0.05)
    lines = printed.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(f"[run] {run.rsplit(':', 1)[-1]}: FAILED at Wait (Failed): the wait failed")


def test_a_run_stopped_while_its_interpreter_is_still_starting_is_aborted(
    local_stepfunctions: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large definition takes its interpreter a moment to parse; a stop in that moment stops the run, as on AWS."""
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    parse = ExecutionWorker._get_evaluation_entrypoint

    def slow_parse(self: ExecutionWorker) -> Any:
        time.sleep(1.0)
        return parse(self)

    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_entrypoint", slow_parse)
    sfn = boto3.client("stepfunctions")
    definition = {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 30, "End": True}}}
    machine = sfn.create_state_machine(
        name="pauses", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/pauses"
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=machine)["executionArn"]

    sfn.stop_execution(executionArn=run)

    assert sfn.describe_execution(executionArn=run)["status"] == "ABORTED"
