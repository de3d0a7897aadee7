"""Local mode's saved state: what is saved comes back as the APIs answered it, and what must not be mixed in is not.

Each test writes state through the emulator's APIs, saves it to a state folder, empties the emulator (as a new
local mode starts) and restores the saved state, then asks the APIs again.
"""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto.moto_api._internal.models import moto_api_backend
from moto.sagemaker.models import sagemaker_backends

from driftline.local import dynamodb, model_monitor, persistence, restored_runs, scheduler, seams, stepfunctions
from driftline.local.clients import emulator_client
from driftline.local.console import Console
from driftline.local.settings import ACCOUNT_ID, LocalSettings

REGION = "us-east-1"
ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/runner"


@pytest.fixture
def settings(tmp_path: Path) -> LocalSettings:
    template = tmp_path / "template.yaml"
    template.write_text("Resources: {}\n")
    return LocalSettings(state_dir=tmp_path / "state", template=template)


@pytest.fixture(autouse=True)
def signing_key_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs with a key of its own, not the one in the user's configuration folder."""
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    return config


@pytest.fixture
def aws(endpoint_url: str) -> Iterator[Any]:
    """Clients of a freshly reset emulator; moto is put back as it was afterwards."""
    moto_api_backend.reset()
    try:
        yield lambda service: emulator_client(service, endpoint_url, REGION)
    finally:
        persistence.forget_savers()
        seams.restore()
        moto_api_backend.reset()


def _save_and_restore(settings: LocalSettings, local: persistence.LocalModeState | None = None) -> Any:
    persistence.save(settings, local or persistence.LocalModeState(), persistence.StateGuard())
    moto_api_backend.reset()
    saved, _ = persistence.examine(settings)
    assert saved is not None
    return persistence.restore(saved)


# -- each kind of state comes back ------------------------------------------------------------------------------


def test_objects_come_back_in_buckets_of_the_same_names_with_their_bodies_versions_and_metadata(
    settings: LocalSettings, aws: Any
) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket="driftline-databucket-a1b2c3")
    s3.put_bucket_versioning(Bucket="driftline-databucket-a1b2c3", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="driftline-databucket-a1b2c3", Key="data/credit/jan.csv", Body=b"a,b\n1,2\n")
    s3.put_object(
        Bucket="driftline-databucket-a1b2c3",
        Key="data/credit/jan.csv",
        Body=b"a,b\n3,4\n",
        ContentType="text/csv",
        Metadata={"uploaded-by": "analyst"},
    )
    s3.create_bucket(Bucket="driftline-artifactbucket-d4e5f6")
    s3.put_object(Bucket="driftline-artifactbucket-d4e5f6", Key="models/model.tar.gz", Body=bytes(range(256)) * 64)

    _save_and_restore(settings)

    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == [
        "driftline-artifactbucket-d4e5f6",
        "driftline-databucket-a1b2c3",
    ]
    latest = s3.get_object(Bucket="driftline-databucket-a1b2c3", Key="data/credit/jan.csv")
    assert latest["Body"].read() == b"a,b\n3,4\n"
    assert latest["ContentType"] == "text/csv"
    assert latest["Metadata"] == {"uploaded-by": "analyst"}
    versions = s3.list_object_versions(Bucket="driftline-databucket-a1b2c3")["Versions"]
    assert len(versions) == 2
    [oldest] = [version for version in versions if not version["IsLatest"]]
    first = s3.get_object(
        Bucket="driftline-databucket-a1b2c3", Key="data/credit/jan.csv", VersionId=oldest["VersionId"]
    )
    assert first["Body"].read() == b"a,b\n1,2\n"
    model = s3.get_object(Bucket="driftline-artifactbucket-d4e5f6", Key="models/model.tar.gz")
    assert model["Body"].read() == bytes(range(256)) * 64


def test_registered_model_versions_keep_their_approval_status_and_description(
    settings: LocalSettings, aws: Any
) -> None:
    sagemaker = aws("sagemaker")
    sagemaker.create_model_package_group(ModelPackageGroupName="driftline-credit")
    for _ in range(2):
        sagemaker.create_model_package(
            ModelPackageGroupName="driftline-credit", ModelApprovalStatus="PendingManualApproval"
        )
    first = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:model-package/driftline-credit/1"
    sagemaker.update_model_package(
        ModelPackageArn=first, ModelApprovalStatus="Approved", ApprovalDescription="Approved by ana@example.com"
    )

    _save_and_restore(settings)

    listed = sagemaker.list_model_packages(ModelPackageGroupName="driftline-credit")["ModelPackageSummaryList"]
    assert sorted((p["ModelPackageVersion"], p["ModelApprovalStatus"]) for p in listed) == [
        (1, "Approved"),
        (2, "PendingManualApproval"),
    ]
    assert sagemaker.describe_model_package(ModelPackageName=first)["ApprovalDescription"] == (
        "Approved by ana@example.com"
    )
    sagemaker.create_model_package(ModelPackageGroupName="driftline-credit")
    listed = sagemaker.list_model_packages(ModelPackageGroupName="driftline-credit")["ModelPackageSummaryList"]
    assert max(p["ModelPackageVersion"] for p in listed) == 3  # numbering goes on


def test_dynamodb_items_come_back(settings: LocalSettings, aws: Any) -> None:
    dynamodb = aws("dynamodb")
    dynamodb.create_table(
        TableName="approvals",
        KeySchema=[{"AttributeName": "approval_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "approval_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(
        TableName="approvals",
        Item={"approval_id": {"S": "d5644c70"}, "status": {"S": "PENDING"}, "expires_at": {"N": "1796623265"}},
    )

    _save_and_restore(settings)

    item = dynamodb.get_item(TableName="approvals", Key={"approval_id": {"S": "d5644c70"}})["Item"]
    assert item == {"approval_id": {"S": "d5644c70"}, "status": {"S": "PENDING"}, "expires_at": {"N": "1796623265"}}


def test_an_alarm_keeps_its_state_and_reason(settings: LocalSettings, aws: Any) -> None:
    cloudwatch = aws("cloudwatch")
    cloudwatch.put_metric_alarm(
        AlarmName="driftline-drift-credit",
        Namespace="Driftline/DataDrift",
        MetricName="feature_baseline_drift_income",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=0.1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cloudwatch.set_alarm_state(AlarmName="driftline-drift-credit", StateValue="ALARM", StateReason="income drifted")

    _save_and_restore(settings)

    [alarm] = cloudwatch.describe_alarms(AlarmNames=["driftline-drift-credit"])["MetricAlarms"]
    assert (alarm["StateValue"], alarm["StateReason"]) == ("ALARM", "income drifted")
    assert alarm["Threshold"] == 0.1


def test_secrets_topics_and_subscriptions_come_back(settings: LocalSettings, aws: Any) -> None:
    secrets, sns = aws("secretsmanager"), aws("sns")
    secrets.create_secret(Name="driftline-approval-links", SecretString="k3y-that-signs-the-links")
    topic = sns.create_topic(Name="driftline-notifications")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ml-team@example.com")

    _save_and_restore(settings)

    assert secrets.get_secret_value(SecretId="driftline-approval-links")["SecretString"] == "k3y-that-signs-the-links"
    [subscription] = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "ml-team@example.com")


def test_schedules_come_back_and_a_one_time_schedule_that_fired_does_not_fire_again(
    settings: LocalSettings, aws: Any
) -> None:
    aws("scheduler").create_schedule(
        Name="driftline-credit-drift-monitor",
        ScheduleExpression="at(2020-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:monitor", "RoleArn": ROLE, "Input": "{}"},
    )
    fired: list[str] = []
    before = scheduler.SchedulerTimer(REGION, 1.0, Console(quiet_sources=("scheduler",)), invoke=_record(fired))
    now = time.time()
    before.fire_due(now)
    assert len(fired) == 1

    _save_and_restore(settings, persistence.LocalModeState(due_times={"scheduler": before.due_times()}))

    assert aws("scheduler").get_schedule(Name="driftline-credit-drift-monitor")["ScheduleExpression"] == (
        "at(2020-01-01T00:00:00)"
    )
    restarted = scheduler.SchedulerTimer(REGION, 1.0, Console(quiet_sources=("scheduler",)), invoke=_record(fired))
    saved, _ = persistence.examine(settings)
    assert saved is not None
    restarted.resume_due_times(persistence.restore(saved).local.due_times["scheduler"])
    restarted.fire_due(now + 1)
    assert len(fired) == 1
    forgetful = scheduler.SchedulerTimer(REGION, 1.0, Console(quiet_sources=("scheduler",)), invoke=_record(fired))
    forgetful.fire_due(now + 1)
    assert len(fired) == 2  # without its due times the schedule would fire again at once


def _record(fired: list[str]) -> Any:
    return lambda arn, event, region: fired.append(arn)


def test_model_monitor_schedules_come_back_beside_their_sagemaker_backend(settings: LocalSettings, aws: Any) -> None:
    aws("sagemaker").list_endpoints()  # the backend the schedules sit beside
    backend = sagemaker_backends[ACCOUNT_ID][REGION]
    config = {"ScheduleConfig": {"ScheduleExpression": "cron(0 * ? * * *)"}, "MonitoringType": "DataQuality"}
    arn = model_monitor.schedule_arn(backend, "driftline-credit-drift-monitor")
    model_monitor.schedules(backend)["driftline-credit-drift-monitor"] = model_monitor.Schedule(
        name="driftline-credit-drift-monitor", arn=arn, config=config, endpoint_name="driftline-credit"
    )

    restored = _save_and_restore(
        settings, persistence.LocalModeState(monitoring_schedules=model_monitor.saved_schedules())
    )
    model_monitor.restore_schedules(restored.local.monitoring_schedules)

    found = model_monitor.schedules(sagemaker_backends[ACCOUNT_ID][REGION])["driftline-credit-drift-monitor"]
    assert (found.arn, found.config, found.endpoint_name) == (arn, config, "driftline-credit")


# -- runs ------------------------------------------------------------------------------------------------------

APPROVAL_MACHINE = {
    "StartAt": "Register",
    "States": {
        "Register": {
            "Type": "Pass",
            "Result": {"version": 1},
            "ResultPath": "$.registration",
            "Next": "RequestApproval",
        },
        "RequestApproval": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "QUEUE", "MessageBody": {"token.$": "$$.Task.Token", "input.$": "$"}},
            "TimeoutSeconds": 600,
            "ResultPath": "$.approval",
            "Next": "Approved",
        },
        "Approved": {"Type": "Succeed"},
    },
}


@pytest.fixture
def runs(aws: Any, endpoint_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Step Functions as local mode runs it (the interpreter calls the emulator it is served by)."""
    monkeypatch.setenv("MOTO_PORT", endpoint_url.rsplit(":", 1)[-1])
    stepfunctions.install()
    return aws


def _machine(aws: Any, definition: dict[str, Any]) -> str:
    queue = aws("sqs").create_queue(QueueName="approvals")["QueueUrl"]
    text = json.dumps(definition).replace('"QUEUE"', json.dumps(queue))
    return str(
        aws("stepfunctions").create_state_machine(name="pipeline", definition=text, roleArn=ROLE)["stateMachineArn"]
    )


def _history(aws: Any, arn: str) -> list[dict[str, Any]]:
    return list(aws("stepfunctions").get_execution_history(executionArn=arn, maxResults=1000)["events"])


def _wait_for(check: Any, timeout: float = 20) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s")


@pytest.mark.parametrize("state", ["RequestApproval", "RequestPromotion"])
def test_a_run_waiting_for_approval_waits_again_under_its_arn_and_its_token_from_before_resumes_it(
    settings: LocalSettings, runs: Any, state: str
) -> None:
    sfn, sqs = runs("stepfunctions"), runs("sqs")
    machine = _machine(runs, json.loads(json.dumps(APPROVAL_MACHINE).replace('"RequestApproval"', json.dumps(state))))
    arn = sfn.start_execution(stateMachineArn=machine, name="credit-1", input='{"dataset": "credit"}')["executionArn"]
    queue = sqs.get_queue_url(QueueName="approvals")["QueueUrl"]
    [message] = _wait_for(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages"))
    token = json.loads(message["Body"])["token"]
    sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    _wait_for(lambda: _history(runs, arn)[-1]["type"] == "TaskSubmitted")
    before = _history(runs, arn)

    restored = _save_and_restore(settings)
    resumed, aborted = persistence.settle_runs(restored)

    assert [execution.exec_arn for execution in resumed] == [arn] and aborted == []
    assert sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert _history(runs, arn) == before
    sfn.send_task_success(taskToken=token, output='{"decision": "approve"}')
    described = _wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d)
    assert described["status"] == "SUCCEEDED"
    assert json.loads(described["output"])["approval"] == {"decision": "approve"}
    after = _history(runs, arn)
    assert after[: len(before)] == before
    assert [event["id"] for event in after] == list(range(1, len(after) + 1))
    assert after[len(before)]["type"] == "TaskSucceeded"
    assert after[len(before)]["previousEventId"] == before[-1]["id"]
    entered = [e for e in after if e.get("stateEnteredEventDetails", {}).get("name") == state]
    assert len(entered) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0)  # its task was not sent again


def test_a_run_waiting_for_approval_times_out_when_its_time_ran_out_while_local_mode_was_stopped(
    settings: LocalSettings, runs: Any
) -> None:
    sfn = runs("stepfunctions")
    definition = json.loads(json.dumps(APPROVAL_MACHINE))
    definition["States"]["RequestApproval"]["TimeoutSeconds"] = 2
    machine = _machine(runs, definition)
    arn = sfn.start_execution(stateMachineArn=machine, name="credit-2", input="{}")["executionArn"]
    _wait_for(lambda: _history(runs, arn)[-1]["type"] == "TaskSubmitted")
    restored = _save_and_restore(settings)
    time.sleep(2)

    persistence.settle_runs(restored)

    described = _wait_for(lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, 10)
    assert described["status"] == "FAILED"
    assert described["error"] == "States.Timeout"


def test_a_run_that_was_running_anywhere_else_ends_aborted_saying_local_mode_stopped(
    settings: LocalSettings, runs: Any
) -> None:
    sfn = runs("stepfunctions")
    machine = _machine(
        runs,
        {
            "StartAt": "Train",
            "States": {"Train": {"Type": "Wait", "Seconds": 600, "Next": "Done"}, "Done": {"Type": "Succeed"}},
        },
    )
    arn = sfn.start_execution(stateMachineArn=machine, name="credit-3", input="{}")["executionArn"]
    _wait_for(lambda: _history(runs, arn)[-1]["type"] == "WaitStateEntered")
    finished = sfn.start_execution(
        stateMachineArn=_machine_named(runs, "quick", {"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}}),
        name="quick-1",
    )["executionArn"]
    _wait_for(lambda: sfn.describe_execution(executionArn=finished)["status"] == "SUCCEEDED")

    restored = _save_and_restore(settings)
    resumed, aborted = persistence.settle_runs(restored)

    assert resumed == [] and [execution.exec_arn for execution in aborted] == [arn]
    described = sfn.describe_execution(executionArn=arn)
    assert described["status"] == "ABORTED"
    assert described["error"] == restored_runs.STOPPED_ERROR
    assert "Local mode stopped while it was in state Train" in described["cause"]
    assert _history(runs, arn)[-1]["type"] == "ExecutionAborted"
    assert sfn.describe_execution(executionArn=finished)["status"] == "SUCCEEDED"
    listed = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert [(e["name"], e["status"]) for e in listed] == [("credit-3", "ABORTED")]


def _machine_named(aws: Any, name: str, definition: dict[str, Any]) -> str:
    return str(
        aws("stepfunctions").create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)[
            "stateMachineArn"
        ]
    )


# -- what is not restored ------------------------------------------------------------------------------------------


def test_no_saved_state_starts_empty_saying_so(settings: LocalSettings) -> None:
    saved, line = persistence.examine(settings)

    assert saved is None
    assert line == f"no saved state in {settings.state_dir}: starting empty"


def test_fresh_discards_the_saved_state_and_says_what_it_held(settings: LocalSettings, aws: Any) -> None:
    aws("s3").create_bucket(Bucket="driftline-databucket-a1b2c3")
    aws("s3").put_object(Bucket="driftline-databucket-a1b2c3", Key="data/x.csv", Body=b"a\n")
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    settings.fresh = True

    saved, line = persistence.examine(settings)

    assert saved is None
    assert line.startswith("--fresh: discarded the saved state of ")
    assert "(1 bucket / 1 object, 0 model versions, 0 endpoints, 0 runs, 0 waiting approvals): starting empty" in line
    assert not persistence.snapshot_path(settings.state_dir).exists()
    settings.fresh = False
    assert persistence.examine(settings)[0] is None


def test_a_state_saved_with_other_template_parameters_is_refused_naming_them_and_fresh(
    settings: LocalSettings, aws: Any
) -> None:
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    settings.parameters["DriftMonitor"] = "ModelMonitor"

    with pytest.raises(persistence.SavedStateRefused) as refused:
        persistence.examine(settings)

    message = str(refused.value)
    assert "with other template parameters: DriftMonitor was not set, now 'ModelMonitor'" in message
    assert "--fresh" in message
    assert persistence.snapshot_path(settings.state_dir).exists()  # kept: going back to the old parameters works


def test_a_state_saved_with_another_template_is_refused(settings: LocalSettings, aws: Any) -> None:
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    settings.template.write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")

    with pytest.raises(persistence.SavedStateRefused, match=r"with another template .*--fresh"):
        persistence.examine(settings)


def test_a_template_edited_while_local_mode_runs_does_not_pass_for_the_one_its_state_came_from(
    settings: LocalSettings, aws: Any
) -> None:
    started_with = persistence.fingerprint(settings)
    settings.template.write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard(), saved_with=started_with)

    with pytest.raises(persistence.SavedStateRefused, match=r"with another template"):
        persistence.examine(settings)


def test_a_state_saved_by_another_moto_version_is_refused(settings: LocalSettings, aws: Any) -> None:
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    path = persistence.snapshot_path(settings.state_dir)
    header, payload = path.read_bytes().split(b"\n", 1)
    written = json.loads(header)
    written["fingerprint"]["moto"] = "5.0.0"
    path.write_bytes(json.dumps(written).encode() + b"\n" + payload)

    with pytest.raises(persistence.SavedStateRefused, match=r"saved by moto 5\.0\.0 \(this local mode runs moto 5"):
        persistence.examine(settings)


def test_an_unreadable_state_is_refused_and_kept(settings: LocalSettings, aws: Any) -> None:
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    path = persistence.snapshot_path(settings.state_dir)
    header = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(header + b"\nnot a pickle")
    saved, _ = persistence.examine(settings)
    assert saved is not None

    with pytest.raises(persistence.SavedStateRefused, match=r"is unreadable .*start with --fresh"):
        persistence.restore(saved)

    path.write_bytes(b"\x00\x01garbage")
    with pytest.raises(persistence.SavedStateRefused, match=r"is unreadable .*start with --fresh"):
        persistence.examine(settings)
    assert path.read_bytes() == b"\x00\x01garbage"


class _RunsACommand:
    """What a hostile file holds: unpickling it runs a command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, ...]:
        return os.system, (self.command,)


def test_a_file_local_mode_did_not_sign_is_refused_before_anything_in_it_runs(
    settings: LocalSettings, aws: Any, tmp_path: Path
) -> None:
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    path = persistence.snapshot_path(settings.state_dir)
    header = json.loads(path.read_bytes().split(b"\n", 1)[0])
    ran = tmp_path / "ran"
    hostile = pickle.dumps(_RunsACommand(f"touch {ran}"))
    unsigned = {name: value for name, value in header.items() if name != "signature"}

    for forged in (header, unsigned, {**header, "signature": "0" * 64}):
        path.write_bytes(json.dumps(forged).encode() + b"\n" + hostile)
        saved, _ = persistence.examine(settings)  # its header matches this local mode
        assert saved is not None
        with pytest.raises(persistence.SavedStateRefused, match=r"is unreadable .*start with --fresh"):
            persistence.restore(saved)
        assert not ran.exists()


def test_a_state_another_user_saved_is_refused_and_the_key_is_the_users_alone(
    settings: LocalSettings, aws: Any, signing_key_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    key = persistence.signing_key_path()
    assert key.is_relative_to(signing_key_home) and not key.is_relative_to(settings.state_dir)
    assert key.stat().st_mode & 0o077 == 0
    saved, _ = persistence.examine(settings)
    assert saved is not None
    persistence.restore(saved)  # the user who saved it restores it

    monkeypatch.setenv("XDG_CONFIG_HOME", str(signing_key_home.parent / "another-user"))
    with pytest.raises(persistence.SavedStateRefused, match=r"no key here can check its signature.*--fresh"):
        persistence.restore(saved)
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())  # that user's own key
    monkeypatch.setenv("XDG_CONFIG_HOME", str(signing_key_home))
    with pytest.raises(persistence.SavedStateRefused, match=r"signature does not match this user's key.*--fresh"):
        persistence.restore(saved)


def test_a_save_that_fails_while_writing_leaves_the_last_saved_state(
    settings: LocalSettings, aws: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws("s3").create_bucket(Bucket="kept")
    persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())
    path = persistence.snapshot_path(settings.state_dir)
    kept = path.read_bytes()
    aws("s3").create_bucket(Bucket="lost")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(persistence.os, "fsync", disk_full)
    with pytest.raises(persistence.SaveFailed, match="No space left on device"):
        persistence.save(settings, persistence.LocalModeState(), persistence.StateGuard())

    assert path.read_bytes() == kept
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


# -- saving while requests write ------------------------------------------------------------------------------------

BATCH_ITEMS = 25
"""BatchWriteItem's most: moto writes them one after another, so a save between two would hold part of a request."""


def test_saves_taken_while_requests_write_restore_each_request_whole(
    settings: LocalSettings, aws: Any, tmp_path: Path
) -> None:
    guard = persistence.StateGuard()
    persistence.install_guard(guard)
    dynamodb.install()  # as local mode runs it
    aws("dynamodb").create_table(
        TableName="batches",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    stop = threading.Event()
    failures: list[BaseException] = []

    def write(writer: int) -> None:
        client, count = aws("dynamodb"), 0
        try:
            while not stop.is_set():
                items = [
                    {"PutRequest": {"Item": {"pk": {"S": f"{writer}-{count}-{part}"}}}} for part in range(BATCH_ITEMS)
                ]
                assert not client.batch_write_item(RequestItems={"batches": items})["UnprocessedItems"]
                count += 1
        except BaseException as error:  # the test reports it
            failures.append(error)

    writers = [threading.Thread(target=write, args=(number,)) for number in range(3)]
    for writer in writers:
        writer.start()
    payloads = []
    try:
        for _ in range(40):
            payload, _, _ = persistence.capture(persistence.LocalModeState(), guard, frozenset(), timeout=10)
            payloads.append(payload)
            time.sleep(0.01)
    finally:
        stop.set()
        for writer in writers:
            writer.join()
    assert failures == []

    sizes = set()
    for number, payload in enumerate(payloads):
        moto_api_backend.reset()
        path = tmp_path / f"save-{number}.pickle"
        persistence.write_atomically(path, {"fingerprint": {}}, payload)
        persistence.restore(persistence.SavedState(path, datetime.now(UTC), persistence.Summary()))
        keys = _all_keys(aws("dynamodb"), "batches")
        batches: dict[str, int] = {}
        for key in keys:
            batch = key.rsplit("-", 1)[0]
            batches[batch] = batches.get(batch, 0) + 1
        assert set(batches.values()) <= {BATCH_ITEMS}, f"save {number} holds part of a request"
        sizes.add(len(keys))
    assert len(sizes) > 3  # the saves were taken while the table grew


def _all_keys(dynamodb: Any, table: str) -> list[str]:
    keys: list[str] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        keys += [item["pk"]["S"] for item in page["Items"]]
    return keys


def test_a_save_waits_for_the_requests_being_answered_and_holds_back_those_arriving_meanwhile() -> None:
    guard = persistence.StateGuard()
    order: list[str] = []
    answering, finish = threading.Event(), threading.Event()

    def first() -> None:
        with guard.request():
            answering.set()
            finish.wait(5)
            order.append("first answered")

    def second() -> None:
        with guard.request():
            order.append("second answered")

    requests = [threading.Thread(target=first)]
    requests[0].start()
    answering.wait(5)
    saving = threading.Thread(target=_save_alone, args=(guard, order))
    saving.start()
    time.sleep(0.05)
    requests.append(threading.Thread(target=second))
    requests[1].start()
    time.sleep(0.05)
    assert order == []  # the save waits for the first request; the second waits for the save
    finish.set()
    for thread in [*requests, saving]:
        thread.join(5)
    assert order == ["first answered", "saved", "second answered"]


def test_a_request_waiting_on_a_request_of_its_own_never_deadlocks_with_a_save() -> None:
    guard = persistence.StateGuard(drain_seconds=0.1)
    order: list[str] = []
    answering, nested_answered = threading.Event(), threading.Event()

    def handler_request() -> None:
        """A request whose answer needs another request (a handler invoked synchronously calls AWS)."""
        with guard.request():
            answering.set()
            time.sleep(0.05)  # the save starts holding new requests back meanwhile
            nested = threading.Thread(target=nested_request)
            nested.start()
            assert nested_answered.wait(5)
            order.append("request answered")

    def nested_request() -> None:
        with guard.request():
            order.append("nested request answered")
            nested_answered.set()

    request = threading.Thread(target=handler_request)
    request.start()
    answering.wait(5)
    saving = threading.Thread(target=_save_alone, args=(guard, order))
    saving.start()
    request.join(5)
    saving.join(5)
    assert order == ["nested request answered", "request answered", "saved"]
    with pytest.raises(persistence.SaveFailed, match="busy"), guard.request(), guard.alone(0.1):
        pass


def _save_alone(guard: persistence.StateGuard, order: list[str]) -> None:
    with guard.alone(5):
        order.append("saved")


# -- when it saves --------------------------------------------------------------------------------------------------


def test_the_saver_saves_soon_after_a_moment_worth_keeping_and_periodically_only_after_requests() -> None:
    guard = persistence.StateGuard()
    saves: list[float] = []
    saver = persistence.Saver(lambda: saves.append(time.monotonic()), guard, settle_seconds=0.05, every_seconds=0.3)
    saver.start()
    try:
        time.sleep(0.7)
        assert saves == []  # nothing asked, no requests: nothing to save
        saver.soon()
        _wait_for(lambda: len(saves) == 1, 2)
        with guard.request():
            pass
        _wait_for(lambda: len(saves) == 2, 2)
        time.sleep(0.7)
        assert len(saves) == 2
    finally:
        saver.stop()


def test_a_run_starting_to_wait_for_approval_is_saved_soon_with_its_wait(settings: LocalSettings, runs: Any) -> None:
    guard = persistence.StateGuard()
    waiting_in_saves: list[int] = []

    def save() -> None:
        waiting_in_saves.append(persistence.capture(persistence.LocalModeState(), guard, WAITS)[1].waiting_approvals)

    saver = persistence.Saver(save, guard, settle_seconds=0.05, every_seconds=60)
    persistence.watch_for_moments(saver)
    saver.start()
    try:
        machine = _machine(runs, APPROVAL_MACHINE)
        runs("stepfunctions").start_execution(stateMachineArn=machine, name="credit-4", input="{}")
        _wait_for(lambda: waiting_in_saves, 10)
    finally:
        saver.stop()
    assert waiting_in_saves == [1]


WAITS = restored_runs.WAITS_FOR_A_PERSON


@pytest.mark.parametrize(
    ("entry", "worth"),
    [
        ({"DetailType": "Step Functions Execution Status Change", "Detail": '{"status": "SUCCEEDED"}'}, True),
        ({"DetailType": "Step Functions Execution Status Change", "Detail": '{"status": "ABORTED"}'}, True),
        ({"DetailType": "Step Functions Execution Status Change", "Detail": '{"status": "RUNNING"}'}, False),
        ({"DetailType": "SageMaker Model Package State Change", "Detail": "{}"}, True),
        ({"DetailType": "CloudWatch Alarm State Change", "Detail": "{}"}, False),
    ],
)
def test_runs_ending_and_approval_decisions_are_moments_worth_keeping(entry: dict[str, str], worth: bool) -> None:
    assert persistence.worth_keeping(entry) is worth


def test_the_restored_line_says_when_and_what(tmp_path: Path) -> None:
    saved = persistence.SavedState(
        tmp_path / "saved-state.pickle",
        datetime(2026, 5, 1, 8, 30, tzinfo=UTC) + timedelta(seconds=5),
        persistence.Summary(),
    )
    summary = persistence.Summary(buckets=4, objects=57, model_versions=2, endpoints=1, runs=3, waiting_approvals=1)

    line = persistence.restored_line(saved, summary)

    assert line == (
        "restored the saved state of 2026-05-01 08:30:05 UTC: 4 buckets / 57 objects, 2 model versions, 1 endpoint, "
        f"3 runs, 1 waiting approval ({tmp_path / 'saved-state.pickle'}; --fresh starts empty)"
    )
