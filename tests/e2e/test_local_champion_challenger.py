"""Local mode end to end: a second upload of a dataset is judged against the approved model on the same rows."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution

pytestmark = pytest.mark.e2e


def _run_for(cloud: LocalCloud, key: str, body: bytes) -> RunRecord:
    """Upload and follow the run; a run that waits for approval is approved through its emailed link."""
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    cloud.client("s3").put_object(Bucket=cloud.outputs["DataBucketName"], Key=key, Body=body)
    arn = wait_for_execution(sfn, machine, known=known)

    def approve() -> bool:
        link, _ = approval_links(cloud.settings.outbox, arn)
        decide_as_a_person(link, approver="reviewer@example.com", reason="")
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: approve})


def _baseline_written(cloud: LocalCloud, execution_name: str, timeout: float = 120) -> str:
    """The served model's baseline folder, once its baseline job has written both files."""
    bucket, prefix = cloud.outputs["ArtifactBucketName"], f"runs/{execution_name}/baseline/"
    deadline = time.time() + timeout
    while time.time() < deadline:
        listed = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        if {item["Key"].rsplit("/", 1)[-1] for item in listed} >= {"statistics.json", "constraints.json"}:
            return f"s3://{bucket}/{prefix}"
        time.sleep(0.5)
    raise TimeoutError(f"the baseline job wrote no baseline under s3://{bucket}/{prefix} in {timeout:.0f} s")


def _emails_of(cloud: LocalCloud, execution_arn: str) -> list[str]:
    return [
        text
        for text in (path.read_text(errors="replace") for path in sorted(cloud.settings.outbox.glob("*.eml")))
        if execution_arn in text
    ]


def test_a_second_upload_is_scored_beside_the_approved_model_on_its_test_rows_and_must_beat_it(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    first = _run_for(cloud, "data/rematch/first.csv", csv_path.read_bytes())
    assert first.status == "SUCCEEDED", first.cause
    approved = first.output["registration"]["model_package_arn"]
    # The deployment started the served model's baseline job; the next upload is compared with its baseline.
    baseline = _baseline_written(cloud, first.execution_arn.rsplit(":", 1)[-1])

    second = _run_for(cloud, "data/rematch/second.csv", csv_path.read_bytes())

    assert second.status == "SUCCEEDED", second.cause
    gate = second.output["gate"]
    bucket, _, key = gate["evaluation_uri"][len("s3://") :].partition("/")
    report = json.loads(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    incumbent = report["incumbent"]
    assert (incumbent["model_package_arn"], incumbent["scored"]) == (approved, True)
    assert incumbent["test_rows"] == report["driftline"]["test_rows"]
    # The same rows and seed train the same model: on the same test rows it scores the same, so it is no better.
    auc = report["binary_classification_metrics"]["auc"]["value"]
    assert gate["value"] == gate["incumbent_value"] == incumbent["binary_classification_metrics"]["auc"]["value"] == auc
    assert gate["passed"] is False
    # The first run's model serves on the dataset's endpoint (named like its group): the one compared with.
    endpoint, version = approved.rsplit("/", 2)[-2:]
    assert gate["reasons"][1].startswith(
        f"auc {auc:.6g} is no better than the model serving on {endpoint} (version {version}, {auc:.6g} "
    )
    assert "on the same test split" in gate["reasons"][1]
    assert "registration" not in second.output

    # The same rows as the served model's: compared with its baseline, nothing drifted.
    drift = report["data_drift"]
    assert (drift["compared"], drift["model_package_arn"], drift["baseline_uri"]) == (True, approved, baseline)
    assert drift["drifted_features"] == [] and drift["features"] == 30
    assert gate["data_drift"]["report_uri"] == gate["evaluation_uri"].rsplit("/", 1)[0] + "/data_drift.html"
    bucket, _, key = gate["data_drift"]["report_uri"][len("s3://") :].partition("/")
    assert b"No drift" in cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    rejected = [text for text in _emails_of(cloud, second.execution_arn) if "rejected by the quality gate" in text]
    assert len(rejected) == 1
    assert (
        f"Data drift:\n  Compared with the serving model's baseline ({approved}): no drift in 30 features"
        in (rejected[0])
    )
    # The first run had no served model yet: its approval email says so.
    approval = [text for text in _emails_of(cloud, first.execution_arn) if "waits for your approval" in text]
    assert "Not compared with the serving model's baseline: no model of this dataset is approved yet." in approval[0]
