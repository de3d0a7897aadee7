"""Local mode end to end with a dataset's own container image: local mode runs no containers, so the run fails at
validation with that reason in the failure email, before anything is preprocessed or trained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud
from driftline.local.settings import ACCOUNT_ID
from tests.e2e.local_objects import emails_about

pytestmark = pytest.mark.e2e


def test_a_container_image_is_refused_at_validation_saying_local_mode_runs_no_containers(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    image = f"{ACCOUNT_ID}.dkr.ecr.{cloud.settings.region}.amazonaws.com/driftline/cancer-model:1.0"
    config = {"target": "diagnosis", "metric": "accuracy", "model": {"image": image}}

    record = upload_and_follow(cloud, "containered", csv_path, config=json.dumps(config).encode(), timeout=300)

    assert record.status == "FAILED"
    [mail] = [mail for mail in emails_about(cloud, record.execution_arn) if "failed" in mail.splitlines()[0]]
    flat = " ".join(mail.split())
    assert f"model.image '{image}' cannot be used: local mode runs no containers (it does not use Docker)" in flat
    history = cloud.client("stepfunctions").get_execution_history(executionArn=record.execution_arn)["events"]
    entered = {event["stateEnteredEventDetails"]["name"] for event in history if "stateEnteredEventDetails" in event}
    assert "Validate" in entered and "Preprocess" not in entered
    assert cloud.client("sagemaker").list_processing_jobs(NameContains="containered")["ProcessingJobSummaries"] == []
