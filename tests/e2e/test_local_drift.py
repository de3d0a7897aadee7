"""Local mode end to end: a deployed model is monitored for drift and drift retrains it.

After a deployment the endpoint's schedule fires every scaled hour (a local minute): in-distribution traffic
leaves the drift alarm OK; traffic whose features are shifted makes the monitor count drifted features, the
alarm goes to ALARM and StartRetrain starts a retrain of the dataset on its labelled data. With Driftline's monitor
(the template's default) nothing along the way asks SageMaker for a Model Monitor action.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from driftline import datasets
from driftline.local.demo import wait_for_captures
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord
from tests.e2e.drift_steps import alarm_state, feature_rows, new_runs, runs, send, upload, wait_for
from tests.sagemaker_actions import model_monitor_actions, sagemaker_actions

pytestmark = [pytest.mark.e2e, pytest.mark.waits_on_schedules]

DATASET = "watched"
ENDPOINT = f"driftline-{DATASET}"
ALARM = f"driftline-drift-{DATASET}"
SCHEDULE = f"{ENDPOINT}-drift-monitor"


def _reports(cloud: LocalCloud) -> list[str]:
    s3 = cloud.client("s3")
    listed = s3.list_objects_v2(Bucket=cloud.outputs["ArtifactBucketName"], Prefix=f"monitoring/{DATASET}/")
    return [item["Key"] for item in listed.get("Contents", []) if item["Key"].endswith("constraint_violations.json")]


@pytest.fixture(scope="module", autouse=True)
def sagemaker_asked() -> Iterator[list[str]]:
    """Every SageMaker action local mode is asked while this module's cloud runs, by functions, jobs or itself."""
    with sagemaker_actions() as asked:
        yield asked


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("watched") / "cancer.csv"
    datasets.write_breast_cancer_csv(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def deployed(cloud: LocalCloud, cancer_csv: bytes) -> RunRecord:
    record = upload(cloud, DATASET, "first.csv", cancer_csv, approve=True)
    assert record.status == "SUCCEEDED", record.cause
    return record


def test_a_deployment_schedules_the_monitor_with_the_models_baseline_and_puts_the_drift_alarm(
    cloud: LocalCloud, deployed: RunRecord
) -> None:
    schedule = cloud.client("scheduler").get_schedule(Name=SCHEDULE)
    target = json.loads(schedule["Target"]["Input"])
    assert target["model_package_arn"] == deployed.output["registration"]["model_package_arn"]
    baseline = target["baseline_uri"]
    bucket, _, prefix = baseline[5:].partition("/")
    s3 = cloud.client("s3")
    wait_for(
        "the baseline",
        lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}constraints.json").get("KeyCount"),
        timeout=120,
    )
    assert alarm_state(cloud, ALARM) in {"INSUFFICIENT_DATA", "OK"}


def test_in_distribution_traffic_keeps_the_alarm_ok_and_shifted_traffic_starts_a_retrain(
    cloud: LocalCloud, deployed: RunRecord, cancer_csv: bytes
) -> None:
    capture_uri = deployed.output["deployment"]["data_capture_uri"]
    usual = feature_rows(cancer_csv)
    send(cloud, ENDPOINT, usual)
    wait_for_captures(cloud, capture_uri, ENDPOINT, len(usual))

    wait_for("a monitoring report", lambda: _reports(cloud))
    wait_for("the drift alarm to be OK", lambda: alarm_state(cloud, ALARM) == "OK")

    # Fresh labelled data the approver holds back: the drift retrain has something newer to train on.
    held = upload(cloud, DATASET, "fresh.csv", cancer_csv, approve=False)
    assert held.status in {"SUCCEEDED", "FAILED"}, held.cause
    known = runs(cloud)

    send(cloud, ENDPOINT, feature_rows(cancer_csv, scale=3.0) * 2)

    wait_for("the drift alarm to go to ALARM", lambda: alarm_state(cloud, ALARM) == "ALARM")
    retrain = wait_for("a retrain run", lambda: new_runs(cloud, known), timeout=120)
    sfn = cloud.client("stepfunctions")
    started = json.loads(sfn.describe_execution(executionArn=retrain[0])["input"])
    assert started["trigger"]["source"] == "drift"
    assert started["dataset"] == DATASET
    sfn.stop_execution(executionArn=retrain[0])


def test_the_whole_loop_asks_sagemaker_for_no_model_monitor_action(
    deployed: RunRecord, sagemaker_asked: list[str]
) -> None:
    """Model Monitor is closed to new customers, whose calls to it may be refused."""
    assert {"CreateEndpoint", "CreateTrainingJob", "CreateProcessingJob", "DescribeProcessingJob"} <= set(
        sagemaker_asked
    )
    assert sorted(set(sagemaker_asked) & model_monitor_actions()) == []
