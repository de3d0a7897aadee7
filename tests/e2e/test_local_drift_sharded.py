"""Local mode end to end with a window larger than one monitoring instance's share: the monitor job runs on
two instances, each given part of the capture, a merge job joins their summaries, and shifted traffic still
reaches the drift alarm and starts a drift retrain."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from driftline import datasets
from driftline.local.demo import wait_for_captures
from driftline.local.emulator import LocalCloud
from tests.e2e.drift_steps import alarm_state, feature_rows, new_runs, runs, send, upload, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.waits_on_schedules]

DATASET = "busy"
ENDPOINT = f"driftline-{DATASET}"
ALARM = f"driftline-drift-{DATASET}"


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    return {"MonitorBytesPerInstance": "1", "MonitorMaxInstances": "2"}  # every window over one's share


def _jobs(cloud: LocalCloud, status: str) -> list[dict[str, Any]]:
    sagemaker = cloud.client("sagemaker")
    # Every page: on a busy machine more windows than one page holds (10) have run by the time the alarm fires.
    pages = sagemaker.get_paginator("list_processing_jobs").paginate(
        NameContains=f"{ENDPOINT}-monitor-", StatusEquals=status
    )
    names = [job["ProcessingJobName"] for page in pages for job in page["ProcessingJobSummaries"]]
    return [sagemaker.describe_processing_job(ProcessingJobName=name) for name in names]


def _merged_window(cloud: LocalCloud) -> dict[str, Any] | None:
    """A completed merge job whose window's monitor job completed on two instances."""
    completed = {str(job["ProcessingJobName"]): job for job in _jobs(cloud, "Completed")}
    for name, job in completed.items():
        sharded = completed.get(name.removesuffix("-merge"))
        if (
            name.endswith("-merge")
            and sharded
            and sharded["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
        ):
            return job
    return None


def _output_uri(job: dict[str, Any]) -> str:
    return str(job["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]).rstrip("/")


def _read_json(cloud: LocalCloud, uri: str) -> dict[str, Any]:
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_window_over_one_instances_share_runs_on_two_and_its_merge_reaches_the_drift_alarm(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    cancer_csv = csv_path.read_bytes()
    deployed = upload(cloud, DATASET, "first.csv", cancer_csv, approve=True)
    assert deployed.status == "SUCCEEDED", deployed.cause
    held = upload(cloud, DATASET, "fresh.csv", cancer_csv, approve=False)  # newer labelled data to retrain on
    assert held.status in {"SUCCEEDED", "FAILED"}, held.cause
    known = runs(cloud)

    shifted = feature_rows(cancer_csv, scale=3.0) * 2
    halves = (shifted[: len(shifted) // 2], shifted[len(shifted) // 2 :])
    for sent, half in enumerate(halves, start=1):
        send(cloud, ENDPOINT, half)  # two flushes of the capture: two files to share between instances
        captured = sum(len(earlier) for earlier in halves[:sent])
        wait_for_captures(cloud, deployed.output["deployment"]["data_capture_uri"], ENDPOINT, captured)

    wait_for("the drift alarm to go to ALARM", lambda: alarm_state(cloud, ALARM) == "ALARM", timeout=300)
    # A window that fired between the two flushes saw one file and ran on one instance; a later one sees both.
    merge = wait_for("a window run on two instances and merged", lambda: _merged_window(cloud), timeout=240)
    violations = _read_json(cloud, f"{_output_uri(merge)}/constraint_violations.json")["violations"]
    assert violations, "the merged window of shifted traffic holds no drift violation"
    retrain = wait_for("a retrain run", lambda: new_runs(cloud, known), timeout=120)
    sfn = cloud.client("stepfunctions")
    started = json.loads(sfn.describe_execution(executionArn=retrain[0])["input"])
    assert started["trigger"]["source"] == "drift" and started["dataset"] == DATASET
    sfn.stop_execution(executionArn=retrain[0])
