"""JobEvents handler: SageMaker job state changes resume the waiting step with the job's result or failure.

DynamoDB and SageMaker run on moto. Step Functions is stubbed with botocore's Stubber: under plain moto,
SendTaskSuccess/SendTaskFailure accept any token and record nothing, so only a stub can show what the
handler sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from driftline_core.payloads import JobResult
from tests.conftest import REGION, load_event
from tests.integration.pipeline_resources import (
    ARTIFACT_BUCKET,
    EXECUTION,
    PREPROCESS_JOB,
    RUN_CONFIG,
    TOKEN,
    TRAIN_JOB,
    put_waiting_token,
    start_waiting_job,
    stored_token,
)


@pytest.fixture
def app(pipeline: None) -> ModuleType:
    from functions.job_events import app as job_events_app

    return job_events_app


@pytest.fixture
def stepfunctions() -> Iterator[Stubber]:
    from driftline_core.aws.clients import get_client

    with Stubber(get_client("stepfunctions")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def training_event(status: str, **detail: Any) -> dict[str, Any]:
    event = load_event("sagemaker_training_job_completed")
    event["detail"] |= {"TrainingJobStatus": status, **detail}
    return event


def processing_event(status: str, **detail: Any) -> dict[str, Any]:
    event = load_event("sagemaker_processing_job_failed")
    event["detail"] |= {"ProcessingJobStatus": status, **detail}
    return event


def test_a_completed_training_job_resumes_the_run_with_the_model_uri(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    assert start_waiting_job("train") == TRAIN_JOB
    expected = JobResult(
        job_name=TRAIN_JOB,
        job_type="training",
        status="Completed",
        outputs={"model": f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/train/{TRAIN_JOB}/output/model.tar.gz"},
    )
    stepfunctions.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": expected.model_dump_json()})

    result = app.lambda_handler(load_event("sagemaker_training_job_completed"), lambda_context)

    assert result == {"outcome": "succeeded"}
    assert stored_token(TRAIN_JOB) is None


def test_a_completed_transform_job_resumes_the_run_with_where_the_container_s_answers_are(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    """The event as SageMaker documents a transform job's state change (``events/``), for a container run's job."""
    from functions.transform_test_rows import app as transform_app

    image = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/driftline/credit-model:1.0"
    config = json.dumps(RUN_CONFIG | {"model_image": image})
    boto3.client("s3", region_name=REGION).put_object(
        Bucket=ARTIFACT_BUCKET, Key=f"runs/{EXECUTION}/config.json", Body=config
    )
    event = load_event("evaluate") | {"task_token": TOKEN}
    outputs = event["preprocess"]["outputs"]
    outputs["transform"] = outputs["test"].replace("/test/", "/transform/")
    job_name = transform_app.lambda_handler(event, lambda_context)["job_name"]
    expected = JobResult(
        job_name=job_name,
        job_type="transform",
        status="Completed",
        outputs={"answers": f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/transform/answers/"},
    )
    stepfunctions.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": expected.model_dump_json()})
    state_change = load_event("sagemaker_transform_job_completed")
    assert state_change["detail"]["TransformJobName"] == job_name

    result = app.lambda_handler(state_change, lambda_context)

    assert result == {"outcome": "succeeded"}
    assert stored_token(job_name) is None


def test_a_completed_processing_job_resumes_the_run_with_its_outputs_by_name(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("preprocess")
    outputs = {
        name: f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/preprocess/{name}/"
        for name in ("train", "validation", "test", "metadata")
    }
    expected = JobResult(job_name=PREPROCESS_JOB, job_type="processing", status="Completed", outputs=outputs)
    stepfunctions.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": expected.model_dump_json()})

    result = app.lambda_handler(processing_event("Completed"), lambda_context)

    assert result == {"outcome": "succeeded"}
    assert stored_token(PREPROCESS_JOB) is None


def test_a_failed_processing_job_fails_the_step_with_sagemakers_reason(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    put_waiting_token(PREPROCESS_JOB, "preprocess")
    stepfunctions.add_response(
        "send_task_failure",
        {},
        {
            "taskToken": TOKEN,
            "error": "SageMakerJobFailed",
            "cause": f"Processing job {PREPROCESS_JOB} Failed: AlgorithmError: See job logs for more "
            "information (preprocess: target column 'default' has only one class in the uploaded file; "
            "upload rows of every class)",
        },
    )

    result = app.lambda_handler(load_event("sagemaker_processing_job_failed"), lambda_context)

    assert result == {"outcome": "failed"}
    assert stored_token(PREPROCESS_JOB) is None


def test_a_stopped_training_job_without_a_reason_points_to_its_logs(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    put_waiting_token(TRAIN_JOB, "train")
    stepfunctions.add_response(
        "send_task_failure",
        {},
        {
            "taskToken": TOKEN,
            "error": "SageMakerJobFailed",
            "cause": f"Training job {TRAIN_JOB} Stopped: SageMaker gave no reason; see the job's logs in "
            f"CloudWatch (/aws/sagemaker/TrainingJobs, stream {TRAIN_JOB}/...)",
        },
    )

    result = app.lambda_handler(training_event("Stopped"), lambda_context)

    assert result == {"outcome": "failed"}


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_a_job_that_has_not_ended_leaves_the_run_waiting(
    status: str, app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    put_waiting_token(TRAIN_JOB, "train")

    result = app.lambda_handler(training_event(status), lambda_context)

    assert result == {"outcome": "still_running"}
    assert stored_token(TRAIN_JOB) is not None


def test_a_job_driftline_did_not_start_is_ignored(app: ModuleType, stepfunctions: Stubber, lambda_context: Any) -> None:
    event = training_event("Completed", TrainingJobName="someone-elses-job")

    result = app.lambda_handler(event, lambda_context)

    assert result == {"outcome": "not_ours"}


def test_a_duplicate_event_resumes_the_run_once(app: ModuleType, stepfunctions: Stubber, lambda_context: Any) -> None:
    put_waiting_token(PREPROCESS_JOB, "preprocess")
    stepfunctions.add_response("send_task_failure", {}, None)
    event = load_event("sagemaker_processing_job_failed")

    first = app.lambda_handler(event, lambda_context)
    second = app.lambda_handler(event, lambda_context)

    assert (first, second) == ({"outcome": "failed"}, {"outcome": "not_ours"})


def test_a_step_that_stopped_waiting_is_not_an_error(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("train")
    stepfunctions.add_client_error(
        "send_task_success",
        service_error_code="TaskTimedOut",
        service_message="Task Timed Out: 'Provided task does not exist anymore'",
    )

    result = app.lambda_handler(load_event("sagemaker_training_job_completed"), lambda_context)

    assert result == {"outcome": "run_not_waiting"}
    assert stored_token(TRAIN_JOB) is None


def test_a_send_that_fails_keeps_the_token_for_the_events_retry(
    app: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    from botocore.exceptions import ClientError

    start_waiting_job("train")
    stepfunctions.add_client_error(
        "send_task_success", service_error_code="ThrottlingException", service_message="Rate exceeded"
    )

    with pytest.raises(ClientError, match="ThrottlingException"):
        app.lambda_handler(load_event("sagemaker_training_job_completed"), lambda_context)

    item = stored_token(TRAIN_JOB)
    assert item is not None
    assert item["task_token"]["S"] == TOKEN


def test_the_sagemaker_event_files_have_the_documented_shape(aws_env: None) -> None:
    # The handler module may load here first: its Metrics take their namespace from the environment as it loads.
    from functions.job_events.app import SageMakerJobStateChange

    training = SageMakerJobStateChange.model_validate(load_event("sagemaker_training_job_completed"))
    processing = SageMakerJobStateChange.model_validate(load_event("sagemaker_processing_job_failed"))

    assert training.source == processing.source == "aws.sagemaker"
    assert training.detail_type == "SageMaker Training Job State Change"
    assert training.detail["TrainingJobStatus"] == "Completed"
    assert training.resources == [training.detail["TrainingJobArn"]]
    assert processing.detail_type == "SageMaker Processing Job State Change"
    assert processing.detail["ProcessingJobStatus"] == "Failed"
    assert processing.resources == [processing.detail["ProcessingJobArn"]]
