"""Local mode end to end: a run's notification says what its SageMaker jobs cost, read with the Notify function's own
role from the jobs' descriptions and local mode's Price List API (the shipped snapshot's prices, labelled as such)."""

from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.emulator import LocalCloud
from driftline.local.runs import follow, wait_for_execution
from driftline_core import layout
from driftline_core.costs.prices import load_snapshot, usd_amount

pytestmark = pytest.mark.e2e


def test_a_runs_notification_states_what_its_jobs_cost_at_the_snapshots_prices(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "costly.csv"
    datasets.write_breast_cancer_csv(csv_path)
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.9999}  # the gate rejects: one email, three jobs
    s3.put_object(Bucket=bucket, Key="data/costly/dataset.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=bucket, Key="data/costly/costly.csv", Body=csv_path.read_bytes())
    arn = wait_for_execution(sfn, machine, known=set())
    record = follow(sfn, arn, show=lambda _: None, timeout=300)
    assert record.status == "SUCCEEDED"

    execution = arn.rsplit(":", 1)[-1]
    sagemaker = cloud.client("sagemaker")
    preprocess = sagemaker.describe_processing_job(ProcessingJobName=layout.job_name(execution, "preprocess"))
    train = sagemaker.describe_training_job(TrainingJobName=layout.job_name(execution, "train"))
    evaluate = sagemaker.describe_processing_job(ProcessingJobName=layout.job_name(execution, "evaluate"))
    snapshot = load_snapshot()
    hourly = snapshot.instance_hour("us-east-1", "processing", "ml.m5.large")
    training_hourly = snapshot.instance_hour("us-east-1", "training", "ml.m5.large")
    assert hourly is not None and training_hourly is not None
    seconds = [
        (job["ProcessingEndTime"] - job["ProcessingStartTime"]).total_seconds() for job in (preprocess, evaluate)
    ]
    expected = sum(seconds) * hourly.usd / 3600 + train["BillableTimeInSeconds"] * training_hourly.usd / 3600
    assert train["BillableTimeInSeconds"] >= 1

    [mail] = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in cloud.settings.outbox.glob("*.eml")
        if arn in path.read_text(errors="replace")
    ]
    body = mail.get_body()
    assert body is not None
    lines = body.get_content().splitlines()
    [cost] = [i for i, line in enumerate(lines) if line.startswith("Job cost:")]
    assert lines[cost] == (
        f"Job cost:        about {usd_amount(expected)} at on-demand prices of {snapshot.date} "
        "(Driftline's price snapshot)"
    )
    assert lines[cost + 1].strip().startswith("preprocess ") and "train " in lines[cost + 1]
    assert lines[cost + 2].startswith("Execution:")
