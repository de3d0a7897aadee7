"""Local mode end to end with DriftMonitor=ModelMonitor: a deployment gets a Model Monitor data-quality
schedule on the model's baseline instead of Driftline's own schedule, its executions run the analyzer's
contract, and shifted traffic reaches the same drift alarm and the same drift retrain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import wait_for_captures
from driftline.local.emulator import LocalCloud
from tests.e2e.drift_steps import alarm_state, feature_rows, new_runs, runs, send, upload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.waits_on_schedules]

DATASET = "monitored"
ENDPOINT = f"driftline-{DATASET}"
ALARM = f"driftline-drift-{DATASET}"


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    return {"DriftMonitor": "ModelMonitor"}


def test_model_monitors_schedule_watches_the_endpoint_and_shifted_traffic_starts_a_drift_retrain(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    cancer_csv = csv_path.read_bytes()
    deployed = upload(cloud, DATASET, "first.csv", cancer_csv, approve=True)
    assert deployed.status == "SUCCEEDED", deployed.cause

    sagemaker = cloud.client("sagemaker")
    [schedule] = sagemaker.list_monitoring_schedules(EndpointName=ENDPOINT)["MonitoringScheduleSummaries"]
    assert schedule["MonitoringType"] == "DataQuality" and schedule["MonitoringScheduleStatus"] == "Scheduled"
    assert not [s for s in cloud.client("scheduler").list_schedules()["Schedules"] if s["Name"].startswith(ENDPOINT)]

    held = upload(cloud, DATASET, "fresh.csv", cancer_csv, approve=False)  # newer labelled data to retrain on
    assert held.status in {"SUCCEEDED", "FAILED"}, held.cause
    known = runs(cloud)
    shifted = feature_rows(cancer_csv, scale=3.0) * 2
    send(cloud, ENDPOINT, shifted)
    wait_for_captures(cloud, deployed.output["deployment"]["data_capture_uri"], ENDPOINT, len(shifted))

    wait_for("the drift alarm to go to ALARM", lambda: alarm_state(cloud, ALARM) == "ALARM", timeout=300)
    executions = sagemaker.list_monitoring_executions(MonitoringScheduleName=schedule["MonitoringScheduleName"])
    statuses = [e["MonitoringExecutionStatus"] for e in executions["MonitoringExecutionSummaries"]]
    assert any(status.startswith("Completed") for status in statuses)
    retrain = wait_for("a retrain run", lambda: new_runs(cloud, known), timeout=120)
    sfn = cloud.client("stepfunctions")
    started = json.loads(sfn.describe_execution(executionArn=retrain[0])["input"])
    assert started["trigger"]["source"] == "drift" and started["dataset"] == DATASET
    sfn.stop_execution(executionArn=retrain[0])
