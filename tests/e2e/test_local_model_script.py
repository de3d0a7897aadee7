"""Local mode end to end with a dataset's own training script: ``"model": {"script": "logistic_regression"}``
trains the worked example in ``ml/models/``, and its model goes through evaluation, the quality gate, registration,
approval and deployment to an endpoint that answers as the built-in model's does."""

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

DATASET = "scripted"
TARGET = "diagnosis"


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

    record = upload_and_follow(cloud, DATASET, csv_path, config=json.dumps(config).encode(), timeout=600)

    assert record.status == "SUCCEEDED", (record.error, record.cause)
    run_config = json.loads(read_object(cloud, record.output["validation"]["config_uri"]))
    assert (run_config["model_script"], run_config["hyperparameters"]) == ("logistic_regression", {"C": "0.5"})
    # The model the script trained is the one evaluated, registered and served.
    with tarfile.open(fileobj=io.BytesIO(read_object(cloud, record.output["training"]["outputs"]["model"]))) as archive:
        member = archive.extractfile("model_metadata.json")
        assert member is not None
        metadata = json.loads(member.read())
    assert (metadata["model_script"], metadata["estimator"]) == ("logistic_regression", "Pipeline")
    assert record.output["gate"]["passed"] and record.output["gate"]["value"] > 0.9
    endpoint = record.output["deployment"]["endpoint_name"]
    rows, answered = answers_to_rows(cloud, endpoint, csv_path, TARGET, 5)
    assert len(answered) == 5
    assert {line[0] for line in answered} <= {"benign", "malignant"}
    assert sum(line[0] == row[TARGET] for line, row in zip(answered, rows, strict=True)) >= 4


def test_a_script_on_xgboost_s_framework_container_trains_registers_and_serves_on_that_image(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {
        "target": TARGET,
        "metric": "auc",
        "threshold": 0.8,
        "model": {"script": "xgboost_trees", "framework": "xgboost"},
        "hyperparameters": {"max_depth": 3},
    }

    record = upload_and_follow(cloud, "boosted", csv_path, config=json.dumps(config).encode(), timeout=600)

    assert record.status == "SUCCEEDED", (record.error, record.cause)
    run_config = json.loads(read_object(cloud, record.output["validation"]["config_uri"]))
    assert (run_config["model_script"], run_config["model_framework"]) == ("xgboost_trees", "xgboost")
    sagemaker = cloud.client("sagemaker")
    training = sagemaker.describe_training_job(TrainingJobName=record.output["training"]["job_name"])
    # Script mode on the XGBoost image: the framework container runs the script, not the built-in algorithm.
    assert "sagemaker-xgboost:3.0-5" in training["AlgorithmSpecification"]["TrainingImage"]
    assert json.loads(training["HyperParameters"]["model_script"]) == "xgboost_trees"
    with tarfile.open(fileobj=io.BytesIO(read_object(cloud, record.output["training"]["outputs"]["model"]))) as archive:
        member = archive.extractfile("model_metadata.json")
        assert member is not None
        assert json.loads(member.read())["estimator"] == "XGBClassifier"
    evaluation = sagemaker.describe_processing_job(ProcessingJobName=record.output["evaluation"]["job_name"])
    assert "sagemaker-xgboost:3.0-5" in evaluation["AppSpecification"]["ImageUri"]
    package = sagemaker.describe_model_package(ModelPackageName=record.output["registration"]["model_package_arn"])
    assert "sagemaker-xgboost:3.0-5" in package["InferenceSpecification"]["Containers"][0]["Image"]
    assert package["CustomerMetadataProperties"]["model_framework"] == "xgboost"
    assert record.output["gate"]["passed"] and record.output["gate"]["value"] > 0.9
    endpoint = record.output["deployment"]["endpoint_name"]
    rows, answered = answers_to_rows(cloud, endpoint, csv_path, TARGET, 5)
    assert {line[0] for line in answered} <= {"benign", "malignant"}
    assert sum(line[0] == row[TARGET] for line, row in zip(answered, rows, strict=True)) >= 4


def test_a_script_on_pytorch_trains_on_its_training_image_and_serves_from_the_model_s_code_on_its_serving_image(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {
        "target": TARGET,
        "metric": "auc",
        "threshold": 0.8,
        "model": {"script": "torch_mlp", "framework": "pytorch"},
        "hyperparameters": {"epochs": 60, "hidden": 16},
    }

    record = upload_and_follow(cloud, "torched", csv_path, config=json.dumps(config).encode(), timeout=600)

    assert record.status == "SUCCEEDED", (record.error, record.cause)
    sagemaker = cloud.client("sagemaker")
    training = sagemaker.describe_training_job(TrainingJobName=record.output["training"]["job_name"])
    assert "/pytorch-training:2.6.0-cpu-py312" in training["AlgorithmSpecification"]["TrainingImage"]
    with tarfile.open(fileobj=io.BytesIO(read_object(cloud, record.output["training"]["outputs"]["model"]))) as archive:
        names = set(archive.getnames())
        member = archive.extractfile("model_metadata.json")
        assert member is not None
        metadata = json.loads(member.read())
    assert {"model.pt2", "code/serve.py", "code/driftline_ml/serving.py"} <= names
    assert (metadata["estimator"], metadata["model_format"]) == ("TabularMLP", "torch.export")
    evaluation = sagemaker.describe_processing_job(ProcessingJobName=record.output["evaluation"]["job_name"])
    assert "/pytorch-training:2.6.0-cpu-py312" in evaluation["AppSpecification"]["ImageUri"]
    package = sagemaker.describe_model_package(ModelPackageName=record.output["registration"]["model_package_arn"])
    container = package["InferenceSpecification"]["Containers"][0]
    # The serving image imports serve.py from the model's code/ folder: no code tarball to name.
    assert "/pytorch-inference:2.6.0-cpu-py312" in container["Image"]
    assert container["Environment"] == {"SAGEMAKER_PROGRAM": "serve.py"}
    assert record.output["gate"]["passed"] and record.output["gate"]["value"] > 0.9
    endpoint = record.output["deployment"]["endpoint_name"]
    rows, answered = answers_to_rows(cloud, endpoint, csv_path, TARGET, 5)
    assert {line[0] for line in answered} <= {"benign", "malignant"}
    assert sum(line[0] == row[TARGET] for line, row in zip(answered, rows, strict=True)) >= 4
    # A request the model cannot read is refused with its 4xx status, as the PyTorch image's handler answers.
    runtime = cloud.client("sagemaker-runtime")
    with pytest.raises(runtime.exceptions.ClientError) as refused:
        runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1,2,3")
    assert "400" in str(refused.value) and "values" in str(refused.value)
