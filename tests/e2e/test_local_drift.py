"""Local mode end to end: a deployed model is monitored for drift and drift retrains it.

After a deployment the endpoint's schedule fires every scaled hour (a local minute): in-distribution traffic
leaves the drift alarm OK; traffic whose features are shifted makes the monitor count drifted features, the
alarm goes to ALARM and StartRetrain starts a retrain of the dataset on its labelled data.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person, wait_for_captures
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution

pytestmark = pytest.mark.e2e

DATASET = "watched"
ENDPOINT = f"driftline-{DATASET}"
ALARM = f"driftline-drift-{DATASET}"
SCHEDULE = f"{ENDPOINT}-drift-monitor"


def _upload(cloud: LocalCloud, name: str, body: bytes, *, approve: bool) -> RunRecord:
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.5}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/dataset.json", Body=json.dumps(config).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/{name}", Body=body)
    arn = wait_for_execution(sfn, machine, known=known)

    def decide() -> bool:
        approve_link, reject_link = approval_links(cloud.settings.outbox, arn)
        decide_as_a_person(approve_link if approve else reject_link, approver="reviewer@example.com", reason="hold")
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: decide})


def _send(cloud: LocalCloud, rows: list[str]) -> None:
    runtime = cloud.client("sagemaker-runtime")
    for start in range(0, len(rows), 50):
        runtime.invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="text/csv", Body="\n".join(rows[start : start + 50]).encode()
        )


def _wait_for(what: str, check: Callable[[], Any], timeout: float = 240.0) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1.0)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _alarm_state(cloud: LocalCloud) -> str:
    alarms = cloud.client("cloudwatch").describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    return str(alarms[0]["StateValue"]) if alarms else ""


def _reports(cloud: LocalCloud) -> list[str]:
    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=cloud.outputs["ArtifactBucketName"], Prefix=f"monitoring/{DATASET}/")
    return [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith("constraint_violations.json")]


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("watched") / "cancer.csv"
    datasets.write_breast_cancer_csv(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud, cancer_csv: bytes) -> RunRecord:
    record = _upload(cloud, "first.csv", cancer_csv, approve=True)
    assert record.status == "SUCCEEDED", record.cause
    return record


def _feature_rows(cancer_csv: bytes, scale: float = 1.0) -> list[str]:
    rows = [line.split(",")[:-1] for line in cancer_csv.decode().splitlines()[1:]]
    return [",".join(f"{float(value) * scale:g}" for value in row) for row in rows]


def test_a_deployment_schedules_the_monitor_with_the_models_baseline_and_puts_the_drift_alarm(
    cloud: LocalCloud, deployed: RunRecord
) -> None:
    schedule = cloud.client("scheduler").get_schedule(Name=SCHEDULE)
    target = json.loads(schedule["Target"]["Input"])
    assert target["model_package_arn"] == deployed.output["registration"]["model_package_arn"]
    baseline = target["baseline_uri"]
    bucket, _, prefix = baseline[5:].partition("/")
    s3 = cloud.client("s3")
    _wait_for(
        "the baseline",
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}constraints.json").get("KeyCount"),
        timeout=120,
    )
    assert _alarm_state(cloud) in {"INSUFFICIENT_DATA", "OK"}


def test_in_distribution_traffic_keeps_the_alarm_ok_and_shifted_traffic_starts_a_retrain(
    cloud: LocalCloud, deployed: RunRecord, cancer_csv: bytes
) -> None:
    capture_uri = deployed.output["deployment"]["data_capture_uri"]
    usual = _feature_rows(cancer_csv)
    _send(cloud, usual)
    wait_for_captures(cloud, capture_uri, ENDPOINT, len(usual))

    _wait_for("a monitoring report", lambda: _reports(cloud))
    _wait_for("the drift alarm to be OK", lambda: _alarm_state(cloud) == "OK")

    # Fresh labelled data the approver holds back: the drift retrain has something newer to train on.
    held = _upload(cloud, "fresh.csv", cancer_csv, approve=False)
    assert held.status in {"SUCCEEDED", "FAILED"}, held.cause
    sfn, machine = cloud.client("stepfunctions"), cloud.outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}

    shifted = _feature_rows(cancer_csv, scale=3.0)
    _send(cloud, shifted * 2)

    _wait_for("the drift alarm to go to ALARM", lambda: _alarm_state(cloud) == "ALARM")
    retrain = _wait_for(
        "a retrain run",
        lambda: [
            e["executionArn"]
            for e in sfn.list_executions(stateMachineArn=machine)["executions"]
            if e["executionArn"] not in known
        ],
        timeout=120,
    )
    started = json.loads(sfn.describe_execution(executionArn=retrain[0])["input"])
    assert started["trigger"]["source"] == "drift"
    assert started["dataset"] == DATASET
    sfn.stop_execution(executionArn=retrain[0])
