"""SageMaker job requests as the job steps build them from the sample events, for the tests that check them."""

from __future__ import annotations

from typing import Any

from driftline_core.payloads import EvaluateInput, TrainInput, WaitingStepInput
from driftline_core.settings import PreprocessSettings, Settings
from driftline_core.training.job_requests import (
    IncumbentForEvaluation,
    build_evaluation_job_request,
    build_preprocess_job_request,
    build_training_job_request,
)
from tests.conftest import load_event

ARTIFACTS = "driftline-artifacts-123456789012-us-east-1"
CODE_URI = f"s3://{ARTIFACTS}/code/3f9c2a7d51e0/"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
PYTORCH_TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.6.0-cpu-py312"
PYTORCH_INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"

RUN_CONFIG: dict[str, Any] = {
    "dataset": "credit",
    "target": "default",
    "problem_type": "binary_classification",
    "metric": "auc",
    "threshold": 0.7,
    "higher_is_better": True,
    "hyperparameters": {"max_iter": "200", "learning_rate": "0.05", "early_stopping": "auto", "max_depth": "null"},
    "data_uri": "s3://driftline-data-123456789012-us-east-1/data/credit/applications-2026-11.csv",
    "input_uri": "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-5e4f54c7bade/input/applications-2026-11.csv",
    "data_version_id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
}


def job_settings() -> Settings:
    """Settings as the template gives the job functions."""
    return Settings(
        data_bucket="driftline-data-123456789012-us-east-1",
        artifact_bucket=ARTIFACTS,
        sagemaker_role_arn="arn:aws:iam::123456789012:role/driftline-sagemaker-execution",
        ml_code_uri=CODE_URI,
        ml_code_version="3f9c2a7d51e0",
        training_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        processing_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        xgboost_image_uri=XGBOOST_IMAGE,
        pytorch_training_image_uri=PYTORCH_TRAINING_IMAGE,
        pytorch_inference_image_uri=PYTORCH_INFERENCE_IMAGE,
        training_instance_type="ml.m5.xlarge",
        processing_instance_type="ml.m5.large",
        max_job_runtime_seconds=1800,
    )


def preprocess_request(
    settings: Settings,
    step: WaitingStepInput | None = None,
    run_config: dict[str, Any] | None = None,
    preprocessing: PreprocessSettings | None = None,
) -> dict[str, Any]:
    step = step or WaitingStepInput.model_validate(load_event("preprocess"))
    return build_preprocess_job_request(
        execution_name=step.execution_name,
        dataset=step.dataset,
        data=step.data,
        config_uri=step.validation.config_uri,
        run_config=RUN_CONFIG if run_config is None else run_config,
        settings=settings,
        preprocessing=preprocessing,
    )


def training_request(
    settings: Settings,
    step: TrainInput | None = None,
    run_config: dict[str, Any] | None = None,
    class_count: int | None = None,
) -> dict[str, Any]:
    step = step or TrainInput.model_validate(load_event("train"))
    return build_training_job_request(
        execution_name=step.execution_name,
        dataset=step.dataset,
        run_config=RUN_CONFIG if run_config is None else run_config,
        preprocess=step.preprocess,
        settings=settings,
        region="eu-west-1",
        class_count=class_count,
    )


def evaluation_request(
    settings: Settings,
    step: EvaluateInput | None = None,
    incumbent: IncumbentForEvaluation | None = None,
    run_config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    step = step or EvaluateInput.model_validate(load_event("evaluate"))
    return build_evaluation_job_request(
        execution_name=step.execution_name,
        dataset=step.dataset,
        config_uri=step.validation.config_uri,
        preprocess=step.preprocess,
        training=step.training,
        settings=settings,
        incumbent=incumbent,
        run_config=run_config,
    )
