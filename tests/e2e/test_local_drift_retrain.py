"""Local mode end to end: a drift-started run trains on every upload of its labelled data window."""

from __future__ import annotations

import email
import email.policy
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links
from driftline.local.emulator import LocalCloud
from driftline.local.runs import follow
from driftline_core import layout
from driftline_core.payloads import DataObject, DriftedFeature, RunInput, RunTrigger

pytestmark = pytest.mark.e2e

DATASET = "credit-window"
ALARM = f"driftline-drift-{DATASET}"
DRIFTED = [DriftedFeature(name="income", distance=0.3412, threshold=0.1)]


def _upload_without_runs(cloud: LocalCloud, files: dict[str, bytes]) -> list[dict[str, object]]:
    """Put the window's uploads with the upload rule switched off, so only the drift run trains on them."""
    events = cloud.client("events")
    rules = [
        rule["Name"]
        for rule in events.list_rules()["Rules"]
        if "Object Created" in (rule.get("EventPattern") or "") and rule.get("State") == "ENABLED"
    ]
    s3 = cloud.client("s3")
    bucket = cloud.outputs["DataBucketName"]
    for rule in rules:
        events.disable_rule(Name=rule)
    try:
        listed: list[dict[str, object]] = []
        for name, body in files.items():
            key = f"data/{DATASET}/{name}"
            version = s3.put_object(Bucket=bucket, Key=key, Body=body)["VersionId"]
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=version)
            listed.append(
                {
                    "uri": layout.s3_uri(bucket, key),
                    "version_id": version,
                    "last_modified": head["LastModified"].isoformat(),
                    "size": len(body),
                    "new": True,
                }
            )
    finally:
        for rule in rules:
            events.enable_rule(Name=rule)
    return listed


def _approval_email(cloud: LocalCloud, execution_arn: str) -> str:
    for path in cloud.settings.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body()
        text = body.get_content() if body is not None else ""
        if execution_arn in text and "waits for your approval" in str(message["Subject"]):
            return str(text)
    raise AssertionError(f"no approval email for {execution_arn}")


def test_a_drift_started_run_trains_on_every_upload_of_its_window_and_its_email_says_why(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    files: dict[str, bytes] = {}
    for name, rows, seed in (("1-january.csv", 300, 1), ("2-february.csv", 200, 2), ("3-march.csv", 250, 3)):
        datasets.write_credit_csv(tmp_path / name, rows, seed=seed)
        body = (tmp_path / name).read_bytes()
        files[name + ".gz" if "february" in name else name] = gzip.compress(body) if "february" in name else body
    listed = _upload_without_runs(cloud, files)

    sfn = cloud.client("stepfunctions")
    artifacts = cloud.outputs["ArtifactBucketName"]
    name = layout.execution_name_for_object(DATASET, "drift", ALARM, datetime.now(UTC).isoformat())
    report = layout.s3_uri(artifacts, f"drift/{DATASET}/reports/drift_report.html")
    manifest = {
        "reason": "drift",
        "alarm_name": ALARM,
        "drifted_features": [feature.model_dump(mode="json") for feature in DRIFTED],
        "report_uri": report,
        "window_days": None,
        "uploads": listed,
    }
    retrain_key = f"{layout.run_prefix(name)}retrain.json"
    cloud.client("s3").put_object(Bucket=artifacts, Key=retrain_key, Body=json.dumps(manifest).encode())
    newest = listed[-1]
    newest_bucket, newest_key = layout.split_s3_uri(str(newest["uri"]))
    run_input = RunInput(
        dataset=DATASET,
        data=DataObject(
            bucket=newest_bucket, key=newest_key, version_id=str(newest["version_id"]), uri=str(newest["uri"])
        ),
        trigger=RunTrigger(
            source="drift",
            event_id="6b1f0c1e-8f7a-4a57-a9a5-3c7e8f1d2b40",
            reason=f"Retrained because drift alarm {ALARM} fired: income (distance 0.3412 > 0.1).",
            alarm_name=ALARM,
            drifted_features=DRIFTED,
            report_uri=report,
            retrain_uri=layout.s3_uri(artifacts, retrain_key),
        ),
    )
    arn = sfn.start_execution(
        stateMachineArn=cloud.outputs["PipelineStateMachineArn"],
        name=name,
        input=json.dumps(run_input.model_dump(mode="json")),
    )["executionArn"]

    record = follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: lambda: False})

    assert record.status == "RUNNING", record.cause
    s3 = cloud.client("s3")
    metadata_keys = [
        item["Key"]
        for item in s3.list_objects_v2(Bucket=artifacts, Prefix=layout.run_prefix(name))["Contents"]
        if item["Key"].endswith("/preprocessing.json")
    ]
    metadata = json.loads(s3.get_object(Bucket=artifacts, Key=metadata_keys[0])["Body"].read())
    assert metadata["source_files"] == [
        {"file": "0001-1-january.csv", "rows": 300},
        {"file": "0002-2-february.csv.gz", "rows": 200},
        {"file": "0003-3-march.csv", "rows": 250},
    ]
    assert sum(metadata["rows"].values()) == 750
    approval_links(cloud.settings.outbox, arn)  # the email has arrived
    message = _approval_email(cloud, arn)
    assert f"the drift monitor found the serving model's inputs drifting (alarm {ALARM})" in message
    assert "  income: distance 0.3412 (threshold 0.1000)" in message
    assert f"Drift report:    {report}" in message
    assert f"every upload of the labelled data window listed in s3://{artifacts}/{retrain_key}" in message
    group = f"{cloud.outputs['ModelPackageGroupPrefix']}-{DATASET}"
    sagemaker = cloud.client("sagemaker")
    package = sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"][0]
    lineage = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])[
        "CustomerMetadataProperties"
    ]
    assert (lineage["trigger"], lineage["drifted_features"], lineage["retrain_uri"]) == (
        "drift",
        "income=0.3412",
        f"s3://{artifacts}/{retrain_key}",
    )
