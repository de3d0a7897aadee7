"""Drift found while a run of the dataset is in progress is held, not lost: the run's end decides it, once.

The real state machine runs in moto's interpreter with scripted steps (``tests/statemachine/harness.py``), local
mode's Step Functions sends each run's status changes, and the stack's RunEnded rule (``template.yaml``) hands the
ends it matches to a queue, from which they reach StartRetrain as EventBridge would deliver them. For each way the
run can end without a new serving model, the held drift then starts the retrain (or the fresh-labelled-data notice)
exactly once; a run that deployed its model releases it without a retrain.
"""

from __future__ import annotations

import copy
import functools
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from samtranslator.yaml_helper import intrinsics_multi_constructor

from tests.conftest import FakeLambdaContext, load_event
from tests.statemachine.harness import ASL_PATH, STEPS, SUBSTITUTIONS, StepError, job_callback, raising
from tests.statemachine.test_pipeline_paths import (
    ANALYSIS,
    APPROVAL,
    DEPLOYMENT,
    decision,
    gate,
    happy,
    trial_deploys,
    trial_plan,
)

REGION = "us-east-1"
ACCOUNT = "123456789012"
DATA_BUCKET = "driftline-data-123456789012-us-east-1"
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"
ALARM = "driftline-drift-credit"
BLOCKING_RUN = "credit-5e4f54c7bade"
CSV = b"age,income,default\n41,52000,0\n29,31000,1\n"
VIOLATIONS = {
    "violations": [
        {
            "feature_name": "income",
            "constraint_check_type": "baseline_drift_check",
            "description": "Baseline drift distance: 0.4132 exceeds threshold: 0.1",
        }
    ]
}
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class _Loader(yaml.SafeLoader):
    """Reads short-form intrinsics (!Ref, !Sub) as their long-form dicts."""


_Loader.add_multi_constructor("!", intrinsics_multi_constructor)


def _run_ended_pattern() -> str:
    """The template's RunEnded rule pattern for a stack named driftline."""
    with TEMPLATE.open() as handle:
        template = yaml.load(handle, Loader=_Loader)
    pattern = template["Resources"]["StartRetrainFunction"]["Properties"]["Events"]["RunEnded"]["Properties"]["Pattern"]
    text = json.dumps(pattern)
    sub = json.dumps(pattern["detail"]["stateMachineArn"][0])
    return text.replace(sub, json.dumps(f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:driftline-pipeline"))


@dataclass
class Stack:
    sfn: Any
    machine: str
    behaviours: dict[str, Callable[[dict[str, Any]], Any]]
    tokens: dict[str, str] = field(default_factory=dict)
    ended: Callable[[str], dict[str, Any]] = lambda arn: {}
    notifications: Callable[[], list[dict[str, Any]]] = list

    def start(self, name: str = BLOCKING_RUN, *, wait_for_approver: bool = True) -> str:
        """Start an upload run of the dataset and, unless told otherwise, wait until it waits for its approver."""
        run_input = {
            "dataset": "credit",
            "data": {
                "bucket": DATA_BUCKET,
                "key": "data/credit/june.csv",
                "version_id": None,
                "uri": f"s3://{DATA_BUCKET}/data/credit/june.csv",
            },
            "trigger": {"source": "upload", "event_id": "17793124-05d4-b198-2fde-7ededc63b103"},
        }
        started = self.sfn.start_execution(stateMachineArn=self.machine, name=name, input=json.dumps(run_input))
        if wait_for_approver:
            _wait_for(lambda: name in self.tokens, f"run {name} to wait for its approver")
        return str(started["executionArn"])

    def runs(self, source: str | None = None) -> list[dict[str, Any]]:
        listed = self.sfn.list_executions(stateMachineArn=self.machine)["executions"]
        if source is None:
            return list(listed)
        described = [self.sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]
        return [d for d in described if json.loads(d["input"]).get("trigger", {}).get("source") == source]


def _wait_for(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def approval_timeout() -> int:
    """Seconds a run waits for its approver; long enough for a test to decide, unless a test lets it expire."""
    return 60


@pytest.fixture
def stack(aws: None, monkeypatch: pytest.MonkeyPatch, approval_timeout: int) -> Iterator[Stack]:
    from moto.awslambda.models import LambdaFunction

    from driftline.local import seams, stepfunctions

    stepfunctions.install()
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(e, c):\n    return e\n")
    lam = boto3.client("lambda")
    arns = {
        step: lam.create_function(
            FunctionName=f"driftline-{step}",
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
        for step in STEPS
    }
    sfn = boto3.client("stepfunctions")
    values = dict(SUBSTITUTIONS, ApprovalTimeoutSeconds=str(approval_timeout))
    values.update({f"{step}FunctionArn": arn for step, arn in arns.items()})
    definition = re.sub(r"\$\{(\w+)\}", lambda match: values[match.group(1)], ASL_PATH.read_text())
    machine = sfn.create_state_machine(name="driftline-pipeline", definition=definition, roleArn=role)
    state = Stack(sfn=sfn, machine=machine["stateMachineArn"], behaviours={})

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        step = self.function_name.removeprefix("driftline-")
        payload = json.loads(event) if isinstance(event, str) else event
        try:
            return json.dumps(state.behaviours[step](payload)), False, ""
        except StepError as error:
            return json.dumps({"errorType": error.error_type, "errorMessage": str(error)}), True, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)

    def waits_for_approver(payload: dict[str, Any]) -> Any:
        state.tokens[payload["execution_name"]] = payload["task_token"]
        return {"approval_id": "a", "model_package_arn": "arn:pkg/1", "expires_at": 1}

    happy(state, RequestApproval=waits_for_approver)  # type: ignore[arg-type]

    sqs = boto3.client("sqs")
    ends_url = sqs.create_queue(QueueName="run-ends")["QueueUrl"]
    ends_arn = sqs.get_queue_attributes(QueueUrl=ends_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    events.put_rule(Name="driftline-RunEnded", EventPattern=_run_ended_pattern())
    events.put_targets(Rule="driftline-RunEnded", Targets=[{"Id": "retrain", "Arn": ends_arn}])
    received: list[dict[str, Any]] = []

    def ended(execution_arn: str) -> dict[str, Any]:
        def arrived() -> dict[str, Any] | None:
            for message in sqs.receive_message(QueueUrl=ends_url, MaxNumberOfMessages=10).get("Messages", []):
                received.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=ends_url, ReceiptHandle=message["ReceiptHandle"])
            return next((e for e in received if e["detail"]["executionArn"] == execution_arn), None)

        event = _wait_for(arrived, f"the end of {execution_arn}")
        return {"account": ACCOUNT, **event}  # moto's queue delivery leaves out the account

    state.ended = ended

    s3 = boto3.client("s3")
    for bucket in (DATA_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(
        Bucket=ARTIFACT_BUCKET,
        Key="monitoring/credit/2026/11/20/11/constraint_violations.json",
        Body=json.dumps(VIOLATIONS).encode(),
    )
    topic = boto3.client("sns").create_topic(Name="driftline-notifications")["TopicArn"]
    notes_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    notes_arn = sqs.get_queue_attributes(QueueUrl=notes_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=notes_arn)

    def notifications() -> list[dict[str, Any]]:
        messages = sqs.receive_message(QueueUrl=notes_url, MaxNumberOfMessages=10).get("Messages", [])
        return [json.loads(m["Body"]) for m in messages]

    state.notifications = notifications
    for name, value in {
        "STATE_MACHINE_ARN": state.machine,
        "DATA_BUCKET": DATA_BUCKET,
        "ARTIFACT_BUCKET": ARTIFACT_BUCKET,
        "NOTIFICATION_TOPIC_ARN": topic,
        "MODEL_PACKAGE_GROUP_PREFIX": "driftline",
        "DRIFT_RETRAIN_COOLDOWN_MINUTES": "60",
    }.items():
        monkeypatch.setenv(name, value)
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=ALARM,
        MetricName="drifted_features",
        Namespace="Driftline/DataDrift/driftline",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    boto3.client("cloudwatch").set_alarm_state(AlarmName=ALARM, StateValue="ALARM", StateReason="drift")
    try:
        yield state
    finally:
        for run in sfn.list_executions(stateMachineArn=state.machine, statusFilter="RUNNING")["executions"]:
            _wait_for(functools.partial(_stopped, sfn, run["executionArn"]), f"{run['name']} to stop")
        seams.restore()


def _stopped(sfn: Any, arn: str) -> bool:
    """Stop a run; False while moto's interpreter has not yet set a just-started run up to be stopped."""
    try:
        sfn.stop_execution(executionArn=arn)
    except AttributeError:
        return False
    return True


@pytest.fixture
def handler(stack: Stack) -> Handler:
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


def _held(handler: Handler, state_time: str = "2026-11-20T11:05:12.486+0000") -> dict[str, Any]:
    """The drift alarm goes to ALARM while the blocking run waits: StartRetrain holds it."""
    event = copy.deepcopy(load_event("cloudwatch_alarm_drift_alarm"))
    event["detail"]["state"]["timestamp"] = state_time
    result = handler(event, FakeLambdaContext())
    assert result["held"] is True and result["started"] is False, result["reason"]
    assert "of the dataset is in progress" in result["reason"]
    assert BLOCKING_RUN in _held_record()["waiting_for"]
    return result


def _held_record() -> dict[str, Any]:
    body = boto3.client("s3").get_object(Bucket=ARTIFACT_BUCKET, Key="drift/credit/held-drift.json")["Body"]
    return dict(json.loads(body.read()))


def _decide(stack: Stack, run: str, *, error: str | None = None, cause: str = "") -> None:
    token = stack.tokens[run]
    if error:
        stack.sfn.send_task_failure(taskToken=token, error=error, cause=cause)
    else:
        stack.sfn.send_task_success(taskToken=token, output=json.dumps(APPROVAL))


def _end(stack: Stack, ending: str) -> str:
    """End the blocking run, which waits for its approver, in one of the ways a run ends without a new model."""
    arn = next(r["executionArn"] for r in stack.runs() if r["name"] == BLOCKING_RUN)
    if ending == "rejected":
        _decide(stack, BLOCKING_RUN, error="ApprovalRejected", cause="credit model version 4 is rejected by sam")
    elif ending == "failed":
        _decide(stack, BLOCKING_RUN)  # approved, and then its deployment fails: the old model keeps serving
    elif ending == "stopped":
        stack.sfn.stop_execution(executionArn=arn, error="Stopped", cause="no longer needed")
    # "expired": nobody decides before the approval timeout (3 s in the harness)
    return arn


ENDINGS = {
    "rejected": ("FAILED", "ApprovalRejected"),
    "expired": ("FAILED", "ApprovalExpired"),
    "failed": ("FAILED", "DeploymentFailed"),
    "stopped": ("ABORTED", None),
}


@pytest.mark.parametrize(
    ("ending", "approval_timeout"), [(ending, 3 if ending == "expired" else 60) for ending in sorted(ENDINGS)]
)
def test_drift_held_for_a_run_that_ends_without_a_new_model_starts_the_retrain_once_when_it_ends(
    stack: Stack, handler: Handler, ending: str
) -> None:
    stack.behaviours["Deploy"] = job_callback(error="DeploymentFailed", cause="update failed, old model serving")
    _upload()
    stack.start()
    _held(handler)
    assert stack.runs("drift") == []
    assert _held_record()["status"] == "held" and _held_record()["waiting_for"] == [BLOCKING_RUN]

    ended = stack.ended(_end(stack, ending))

    status, error = ENDINGS[ending]
    assert (ended["detail"]["status"], ended["detail"]["error"]) == (status, error)
    result = handler(ended, FakeLambdaContext())
    assert result["started"] is True, result["reason"]
    (retrain,) = stack.runs("drift")
    trigger = json.loads(retrain["input"])["trigger"]
    assert trigger["alarm_name"] == ALARM and trigger["event_id"] == load_event("cloudwatch_alarm_drift_alarm")["id"]
    assert f"held until run {BLOCKING_RUN} ended {status}" in trigger["reason"]
    assert (error or status) in trigger["reason"]
    record = _held_record()
    assert (record["status"], record["released_by"]) == ("released", BLOCKING_RUN)

    again = handler(ended, FakeLambdaContext())  # EventBridge may deliver an event more than once

    assert again["started"] is False and "no drift was held" in again["reason"]
    assert len(stack.runs("drift")) == 1


def test_drift_held_for_a_run_the_quality_gate_rejects_starts_the_retrain_when_it_ends(
    stack: Stack, handler: Handler
) -> None:
    """A run still training when the drift comes, whose candidate then fails the gate, ends SUCCEEDED."""
    gate_reached = threading.Event()
    decide = threading.Event()

    def rejecting_gate(payload: dict[str, Any]) -> Any:
        gate_reached.set()
        decide.wait(20)
        return gate(False)

    stack.behaviours["QualityGate"] = rejecting_gate
    _upload()
    arn = stack.start(wait_for_approver=False)
    _wait_for(gate_reached.is_set, "the quality gate")
    _held(handler)

    decide.set()
    ended = stack.ended(arn)

    assert ended["detail"]["status"] == "SUCCEEDED"
    result = handler(ended, FakeLambdaContext())
    assert result["started"] is True, result["reason"]
    assert len(stack.runs("drift")) == 1


@pytest.mark.parametrize("ending", ["rejected", "stopped"])
def test_drift_held_without_new_labelled_data_sends_the_fresh_data_email_once_when_the_run_ends(
    stack: Stack, handler: Handler, ending: str
) -> None:
    version = _upload("data/credit/june.csv")
    _approve_model_trained_on("data/credit/june.csv", version)
    stack.start()
    _held(handler)
    assert stack.notifications() == []

    ended = stack.ended(_end(stack, ending))
    result = handler(ended, FakeLambdaContext())
    handler(ended, FakeLambdaContext())

    assert result["started"] is False and result["notified"] is True, result["reason"]
    (message,) = stack.notifications()
    assert message["Subject"] == "Driftline: drift in credit, fresh labelled data needed"
    assert f"held until run {BLOCKING_RUN} ended" in message["Message"]
    assert stack.runs("drift") == []


def test_drift_held_for_a_run_that_deploys_its_model_starts_no_retrain(stack: Stack, handler: Handler) -> None:
    stack.behaviours["Deploy"] = job_callback(DEPLOYMENT)
    _upload()
    stack.start()
    _held(handler)

    _decide(stack, BLOCKING_RUN)
    ended = stack.ended(next(r["executionArn"] for r in stack.runs()))

    assert ended["detail"]["status"] == "SUCCEEDED"
    result = handler(ended, FakeLambdaContext())
    assert result["started"] is False and f"Run {BLOCKING_RUN} deployed a new model" in result["reason"]
    assert (_held_record()["status"], stack.runs("drift")) == ("released", [])
    # A later run of the dataset that is rejected finds nothing held.
    stack.start("credit-0123456789ab")
    later = stack.ended(_end_named(stack, "credit-0123456789ab"))
    assert handler(later, FakeLambdaContext())["started"] is False
    assert stack.runs("drift") == []


def _end_named(stack: Stack, name: str) -> str:
    _decide(stack, name, error="ApprovalRejected", cause="no")
    return next(r["executionArn"] for r in stack.runs() if r["name"] == name)


def test_a_run_that_deployed_and_then_failed_a_later_step_still_counts_as_deployed(
    stack: Stack, handler: Handler
) -> None:
    stack.behaviours["Deploy"] = job_callback(DEPLOYMENT)
    stack.behaviours["FinishDeployment"] = raising("ClientError", "AccessDenied on RegisterScalableTarget")
    _upload()
    stack.start()
    _held(handler)

    _decide(stack, BLOCKING_RUN)
    ended = stack.ended(next(r["executionArn"] for r in stack.runs()))

    assert ended["detail"]["status"] == "FAILED"
    result = handler(ended, FakeLambdaContext())
    assert result["started"] is False and "deployed a new model" in result["reason"]
    assert stack.runs("drift") == []


@pytest.mark.parametrize(("winner", "retrains"), [("champion", True), ("challenger", False)])
def test_drift_held_for_a_run_whose_ab_trial_the_champion_keeps_starts_the_retrain_and_a_won_trial_does_not(
    stack: Stack, handler: Handler, winner: str, retrains: bool
) -> None:
    stack.behaviours.update(
        {
            "Validate": lambda p: trial_plan("split"),
            "Deploy": trial_deploys("split", winner),
            "AnalyseTrial": job_callback(ANALYSIS),
            "DecideTrial": lambda p: decision(winner),
        }
    )
    _upload()
    stack.start()
    _held(handler)

    _decide(stack, BLOCKING_RUN)
    ended = stack.ended(next(r["executionArn"] for r in stack.runs()))

    assert ended["detail"]["status"] == "SUCCEEDED"
    result = handler(ended, FakeLambdaContext())
    # The challenger only joined the endpoint: the model the drift was measured on serves on unless it won.
    assert result["started"] is retrains, result["reason"]
    assert len(stack.runs("drift")) == (1 if retrains else 0)


def test_drift_held_for_two_runs_waits_for_both(stack: Stack, handler: Handler) -> None:
    _upload()
    stack.start()
    stack.start("credit-0123456789ab")
    _held(handler)
    assert set(_held_record()["waiting_for"]) == {BLOCKING_RUN, "credit-0123456789ab"}

    first = handler(stack.ended(_end(stack, "rejected")), FakeLambdaContext())

    assert first["held"] is True and "credit-0123456789ab" in first["reason"]
    assert stack.runs("drift") == []
    second = handler(stack.ended(_end_named(stack, "credit-0123456789ab")), FakeLambdaContext())
    assert second["started"] is True, second["reason"]
    assert len(stack.runs("drift")) == 1


def test_drift_that_passed_before_the_run_ended_starts_nothing(stack: Stack, handler: Handler) -> None:
    _upload()
    stack.start()
    _held(handler)
    boto3.client("cloudwatch").set_alarm_state(AlarmName=ALARM, StateValue="OK", StateReason="no drift")

    result = handler(stack.ended(_end(stack, "rejected")), FakeLambdaContext())

    assert result["started"] is False and f"Drift alarm {ALARM} is OK now" in result["reason"]
    assert _held_record()["status"] == "released" and stack.runs("drift") == []


def test_the_later_of_two_held_episodes_is_kept(stack: Stack, handler: Handler) -> None:
    _upload()
    stack.start()
    _held(handler, "2026-11-20T12:05:12.486+0000")
    _held(handler, "2026-11-20T11:05:12.486+0000")  # an older episode delivered late

    assert _held_record()["episode"] == "2026-11-20T12:05:12.486+0000"


def test_an_end_event_without_its_input_reads_the_run(stack: Stack, handler: Handler) -> None:
    """Step Functions leaves the input out of an event past EventBridge's size quota (inputDetails.included false)."""
    _upload()
    stack.start()
    _held(handler)
    ended = stack.ended(_end(stack, "rejected"))
    ended["detail"].update(input=None, inputDetails={"included": False})

    assert handler(ended, FakeLambdaContext())["started"] is True
