"""Local mode end to end: drift found while a run waits for its approver is held, and the run's rejection retrains.

The drift alarm goes to ALARM while an upload's run of the dataset waits for approval: StartRetrain holds the drift.
The approver rejects the run through its email's link; the run's end ("Step Functions Execution Status Change",
sent by local mode as Step Functions sends it) reaches StartRetrain through the stack's rule, with every call made
under the function's own role, and the held drift starts the retrain then.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import follow, wait_for_execution
from driftline_core import layout
from tests.e2e.drift_steps import wait_for

pytestmark = pytest.mark.e2e

DATASET = "held"


def _held_drift(cloud: LocalCloud) -> dict[str, object] | None:
    s3 = cloud.client("s3")
    try:
        body = s3.get_object(Bucket=cloud.outputs["ArtifactBucketName"], Key=layout.held_drift_key(DATASET))["Body"]
    except s3.exceptions.NoSuchKey:
        return None
    return dict(json.loads(body.read()))


def _drift_runs(cloud: LocalCloud) -> list[dict[str, object]]:
    sfn = cloud.client("stepfunctions")
    listed = sfn.list_executions(stateMachineArn=cloud.outputs["PipelineStateMachineArn"])["executions"]
    described = [sfn.describe_execution(executionArn=e["executionArn"]) for e in listed]
    return [d for d in described if json.loads(d["input"]).get("trigger", {}).get("source") == "drift"]


def test_drift_found_while_a_run_awaits_approval_retrains_when_the_approver_rejects_the_run(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    s3, sfn, cloudwatch = cloud.client("s3"), cloud.client("stepfunctions"), cloud.client("cloudwatch")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.5}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/dataset.json", Body=json.dumps(config).encode())
    datasets.write_breast_cancer_csv(tmp_path / "cancer.csv")
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/fresh.csv", Body=(tmp_path / "cancer.csv").read_bytes())
    run = wait_for_execution(sfn, machine, known=known)
    waiting = follow(sfn, run, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: lambda: False})
    assert waiting.status == "RUNNING", waiting.cause

    # The dataset's drift alarm goes to ALARM (CloudWatch sends the state change) while the run waits.
    alarm = layout.drift_alarm_name(cloud.outputs["ModelPackageGroupPrefix"], DATASET)
    cloudwatch.put_metric_alarm(
        AlarmName=alarm,
        Namespace="Driftline/DataDrift/e2e",
        MetricName="drifted_features",
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="ignore",
    )
    cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="Threshold Crossed: 3 features")
    held = wait_for("the drift to be held", lambda: _held_drift(cloud), timeout=60)
    assert held["status"] == "held" and held["waiting_for"] == [run.rsplit(":", 1)[1]]
    assert _drift_runs(cloud) == []

    _, reject = approval_links(cloud.settings.outbox, run)
    decide_as_a_person(reject, approver="reviewer@example.com", reason="labels look wrong")

    (retrain,) = wait_for("the held drift's retrain", lambda: _drift_runs(cloud), timeout=120)
    trigger = json.loads(str(retrain["input"]))["trigger"]
    assert trigger["alarm_name"] == alarm
    assert f"held until run {run.rsplit(':', 1)[1]} ended FAILED (ApprovalRejected)" in trigger["reason"]
    released = wait_for("the held drift's release", lambda: (_held_drift(cloud) or {}).get("status") == "released")
    assert released
    sfn.stop_execution(executionArn=str(retrain["executionArn"]))
