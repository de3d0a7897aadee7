"""What the template gives the job functions, under moto: their environment, buckets and job-token table, the
run's config, and the jobs a step leaves waiting with its task token. Shared by the handler tests that need them."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from tests.conftest import REGION, load_event

DATA_BUCKET = "driftline-data-123456789012-us-east-1"
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"
TOKENS_TABLE = "driftline-job-tokens"
CODE_URI = f"s3://{ARTIFACT_BUCKET}/code/3f9c2a7d51e0/"
EXECUTION = "credit-5e4f54c7bade"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
TTL_SECONDS = 86_400
RUN_CONFIG = {
    "dataset": "credit",
    "target": "default",
    "problem_type": "binary_classification",
    "metric": "auc",
    "threshold": 0.7,
    "higher_is_better": True,
    "hyperparameters": {"max_iter": "200"},
    "data_uri": f"s3://{DATA_BUCKET}/data/credit/applications-2026-11.csv",
    "input_uri": f"s3://{ARTIFACT_BUCKET}/runs/credit-5e4f54c7bade/input/applications-2026-11.csv",
    "data_version_id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
    "rows": 1000,
    "seed": 42,
}


def create_pipeline_resources(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment and resources the template gives the job functions, with the run's config written."""
    from driftline_core.settings import reset_settings

    env = {
        "DATA_BUCKET": DATA_BUCKET,
        "ARTIFACT_BUCKET": ARTIFACT_BUCKET,
        "JOB_TOKENS_TABLE": TOKENS_TABLE,
        "SAGEMAKER_ROLE_ARN": "arn:aws:iam::123456789012:role/driftline-sagemaker-execution",
        "ML_CODE_URI": CODE_URI,
        "ML_CODE_VERSION": "3f9c2a7d51e0",
        "TRAINING_IMAGE_URI": SKLEARN_IMAGE,
        "PROCESSING_IMAGE_URI": SKLEARN_IMAGE,
        "XGBOOST_IMAGE_URI": XGBOOST_IMAGE,
        "TRAINING_INSTANCE_TYPE": "ml.m5.xlarge",
        "PROCESSING_INSTANCE_TYPE": "ml.m5.large",
        "MAX_JOB_RUNTIME_SECONDS": "1800",
        "JOB_TOKEN_TTL_SECONDS": str(TTL_SECONDS),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings()

    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (DATA_BUCKET, ARTIFACT_BUCKET):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{EXECUTION}/config.json", Body=json.dumps(RUN_CONFIG))
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.create_table(
        TableName=TOKENS_TABLE,
        KeySchema=[{"AttributeName": "job_name", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "job_name", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=TOKENS_TABLE,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
    )


def stored_token(job_name: str) -> dict[str, Any] | None:
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TOKENS_TABLE, Key={"job_name": {"S": job_name}}
    )
    return item.get("Item")


def set_moto_job_status(kind: str, job_name: str, status: str) -> None:
    """moto marks every job Completed at once; a real job is InProgress for minutes."""
    backend = sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]
    if kind == "train":
        backend.training_jobs[job_name].training_job_status = status
    else:
        backend.processing_jobs[job_name].processing_job_status = status


TRAIN_JOB = f"{EXECUTION}-train"
PREPROCESS_JOB = f"{EXECUTION}-preprocess"
TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAdriftlineTaskTokenForTests"
EXECUTION_ID = f"arn:aws:states:{REGION}:123456789012:execution:driftline-pipeline:{EXECUTION}"


def start_waiting_job(step: str) -> str:
    """Start a step's job in moto as the step's handler does, with TOKEN stored for it."""
    from driftline_core.payloads import EvaluateInput, TrainInput, WaitingStepInput
    from driftline_core.settings import get_settings
    from driftline_core.training.jobs import start_job

    event = load_event(step) | {"task_token": TOKEN}
    if step == "train":
        started = start_job("train", TrainInput.model_validate(event), get_settings())
    elif step == "evaluate":
        started = start_job("evaluate", EvaluateInput.model_validate(event), get_settings())
    else:
        started = start_job("preprocess", WaitingStepInput.model_validate(event), get_settings())
    return started.job_name


def put_waiting_token(job_name: str, step: str) -> None:
    from driftline_core.aws.task_tokens import put_token
    from driftline_core.settings import get_settings

    put_token(job_name, TOKEN, execution_id=EXECUTION_ID, step=step, settings=get_settings())
