"""Local mode end to end with a dataset's own training script: ``"model": {"script": "logistic_regression"}``
trains the worked example in ``ml/models/``, and its model goes through evaluation, the quality gate, registration,
approval and deployment to an endpoint that answers as the built-in model's does."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution

pytestmark = pytest.mark.e2e

DATASET = "scripted"
TARGET = "diagnosis"


def _run(cloud: LocalCloud, config: dict[str, object], csv_path: Path) -> RunRecord:
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/dataset.json", Body=json.dumps(config).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.upload_file(str(csv_path), bucket, f"data/{DATASET}/{csv_path.name}")
    arn = wait_for_execution(sfn, machine, known=known)

    def approve() -> bool:
        link, _ = approval_links(cloud.settings.outbox, arn)
        decide_as_a_person(link, approver="reviewer@example.com")
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=600, on_enter={APPROVAL_STATE: approve})


def _read(cloud: LocalCloud, uri: str) -> bytes:
    bucket, _, key = uri[5:].partition("/")
    return bytes(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_a_dataset_s_own_training_script_trains_registers_deploys_and_serves(cloud: LocalCloud, tmp_path: Path) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {
        "target": TARGET,
        "metric": "accuracy",
        "threshold": 0.8,
        "model": {"script": "logistic_regression"},
        "hyperparameters": {"C": 0.5},
    }

    record = _run(cloud, config, csv_path)

    assert record.status == "SUCCEEDED", (record.error, record.cause)
    run_config = json.loads(_read(cloud, record.output["validation"]["config_uri"]))
    assert (run_config["model_script"], run_config["hyperparameters"]) == ("logistic_regression", {"C": "0.5"})
    # The model the script trained is the one evaluated, registered and served.
    with tarfile.open(fileobj=io.BytesIO(_read(cloud, record.output["training"]["outputs"]["model"]))) as archive:
        member = archive.extractfile("model_metadata.json")
        assert member is not None
        metadata = json.loads(member.read())
    assert (metadata["model_script"], metadata["estimator"]) == ("logistic_regression", "Pipeline")
    assert record.output["gate"]["passed"] and record.output["gate"]["value"] > 0.9
    endpoint = record.output["deployment"]["endpoint_name"]
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))[:5]
    body = "\n".join(",".join(value for name, value in row.items() if name != TARGET) for row in rows) + "\n"
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=body.encode()
    )
    answered = list(csv.reader(io.StringIO(answer["Body"].read().decode())))
    assert len(answered) == 5
    assert {line[0] for line in answered} <= {"benign", "malignant"}
    assert sum(line[0] == row[TARGET] for line, row in zip(answered, rows, strict=True)) >= 4
