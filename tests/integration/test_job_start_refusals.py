"""Job steps when SageMaker refuses to start a job: the run fails saying what to do about it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from tests.conftest import load_event

QUOTA_MESSAGE = (
    "The account-level service limit 'ml.m5.xlarge for training job usage' is 0 Instances, with current "
    "utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request an "
    "increase for this quota. If AWS Service Quotas is not available, contact AWS support to request an increase "
    "for this quota."
)


@pytest.fixture
def train(pipeline: None) -> ModuleType:
    from functions.train import app

    return app


def test_a_training_job_refused_for_a_quota_fails_the_run_naming_the_quota_and_how_to_raise_it(
    train: ModuleType, lambda_context: Any
) -> None:
    from driftline_core.aws.clients import get_client
    from driftline_core.errors import SageMakerJobFailed

    with Stubber(get_client("sagemaker")) as stub:
        stub.add_client_error(
            "describe_training_job",
            service_error_code="ValidationException",
            service_message="Requested resource not found.",
        )
        stub.add_client_error(
            "create_training_job", service_error_code="ResourceLimitExceeded", service_message=QUOTA_MESSAGE
        )
        with pytest.raises(SageMakerJobFailed) as refused:
            train.lambda_handler(load_event("train"), lambda_context)

    message = str(refused.value)
    assert "reached its 'ml.m5.xlarge for training job usage' quota" in message
    assert "Service Quotas console" in message
    assert "aws service-quotas request-service-quota-increase" in message


def test_a_refused_job_leaves_no_task_token_waiting(train: ModuleType, lambda_context: Any) -> None:
    from driftline_core.aws.clients import get_client
    from driftline_core.aws.task_tokens import waiting_jobs
    from driftline_core.errors import SageMakerJobFailed
    from driftline_core.settings import get_settings

    with Stubber(get_client("sagemaker")) as stub:
        stub.add_client_error(
            "describe_training_job",
            service_error_code="ValidationException",
            service_message="Requested resource not found.",
        )
        stub.add_client_error(
            "create_training_job", service_error_code="ResourceLimitExceeded", service_message=QUOTA_MESSAGE
        )
        with pytest.raises(SageMakerJobFailed):
            train.lambda_handler(load_event("train"), lambda_context)

    assert list(waiting_jobs(settings=get_settings(), limit=10)) == []
