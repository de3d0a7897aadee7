"""Local mode end to end with SageMaker's XGBoost algorithm on two instances: ``"model": {"algorithm": "xgboost",
"instance_count": 2}`` shards the train split over two local instances that train one model together, the
evaluation job packs the booster with its metadata, and the registered model serves raw rows from an endpoint.

The stack here gives a preprocessing instance 1,500 rows, so the 3,000-row upload is preprocessed on two instances
as well: every later job reads the splits from the two instances' parts."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud
from tests.e2e.local_objects import answers_to_rows, read_object

pytestmark = pytest.mark.e2e

DATASET = "loans"
TARGET = "default"


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    return {"PreprocessRowsPerInstance": "1500", "PreprocessMaxInstances": "2"}


def test_xgboost_on_two_local_instances_trains_registers_deploys_and_serves(cloud: LocalCloud, tmp_path: Path) -> None:
    csv_path = tmp_path / "loans.csv"
    datasets.write_credit_csv(csv_path, 3000, seed=11)
    config = {
        "target": TARGET,
        "metric": "auc",
        "threshold": 0.7,
        "model": {"algorithm": "xgboost", "instance_count": 2},
        "hyperparameters": {"num_round": 40, "max_depth": 3, "eta": 0.1},
    }

    record = upload_and_follow(cloud, DATASET, csv_path, config=json.dumps(config).encode(), timeout=600)

    assert record.status == "SUCCEEDED", (record.error, record.cause)
    sagemaker = cloud.client("sagemaker")
    preprocessing = sagemaker.describe_processing_job(ProcessingJobName=record.output["preprocess"]["job_name"])
    assert preprocessing["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2
    metadata = json.loads(read_object(cloud, f"{record.output['preprocess']['outputs']['metadata']}preprocessing.json"))
    assert metadata["split_files"]["train"] == ["train-00000.csv", "train-00001.csv"]
    assert sum(metadata["rows"].values()) == 3000
    training = sagemaker.describe_training_job(TrainingJobName=record.output["training"]["job_name"])
    assert training["ResourceConfig"]["InstanceCount"] == 2
    assert "sagemaker-xgboost:3.0-5" in training["AlgorithmSpecification"]["TrainingImage"]
    # Each instance read its own shard; both took part in one distributed training.
    log = cloud.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=training["TrainingJobName"]
    )
    lines = [event["message"] for event in log["events"]]
    assert any(line.startswith("algo-2: ") for line in lines), lines[-20:]
    # The algorithm saved the booster alone; the run registered the evaluation's packed model.
    with tarfile.open(
        fileobj=io.BytesIO(read_object(cloud, training["ModelArtifacts"]["S3ModelArtifacts"]))
    ) as archive:
        assert archive.getnames() == ["xgboost-model"]
    package = sagemaker.describe_model_package(ModelPackageName=record.output["registration"]["model_package_arn"])
    container = package["InferenceSpecification"]["Containers"][0]
    assert "sagemaker-xgboost:3.0-5" in container["Image"]
    with tarfile.open(fileobj=io.BytesIO(read_object(cloud, container["ModelDataUrl"]))) as archive:
        assert sorted(archive.getnames()) == ["model_metadata.json", "xgboost-model"]
    assert record.output["gate"]["passed"] and record.output["gate"]["value"] > 0.7
    assert package["CustomerMetadataProperties"]["model_algorithm"] == "xgboost"

    endpoint = record.output["deployment"]["endpoint_name"]
    _, answered = answers_to_rows(cloud, endpoint, csv_path, TARGET, 5)
    assert len(answered) == 5
    assert {line[0] for line in answered} <= {"0", "1"}
    assert all(abs(float(line[1]) + float(line[2]) - 1) < 1e-6 for line in answered)
