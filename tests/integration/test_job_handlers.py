"""Preprocess, Train and Evaluate handlers under moto: each starts its job once and keeps the task token."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID

from driftline_core.payloads import EvaluateInput, TrainInput, WaitingStepInput
from tests.conftest import REGION, load_event
from tests.integration.pipeline_resources import (
    ARTIFACT_BUCKET,
    CODE_URI,
    EXECUTION,
    RUN_CONFIG,
    SKLEARN_IMAGE,
    TTL_SECONDS,
    XGBOOST_IMAGE,
    set_moto_job_status,
    stored_token,
)
from tests.integration.serving_endpoint import serve_on_endpoint


@pytest.fixture
def handlers(pipeline: None) -> dict[str, ModuleType]:
    """Handler modules, imported once the environment exists (Powertools reads it when they load)."""
    from functions.evaluate import app as evaluate_app
    from functions.preprocess import app as preprocess_app
    from functions.train import app as train_app

    return {"preprocess": preprocess_app, "train": train_app, "evaluate": evaluate_app}


@pytest.fixture
def sent_requests() -> Iterator[dict[str, list[dict[str, Any]]]]:
    """The exact Create*Job parameters sent (moto keeps only some of them), by operation name."""
    from driftline_core.aws.clients import get_client

    sent: dict[str, list[dict[str, Any]]] = {"CreateProcessingJob": [], "CreateTrainingJob": []}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name in sent:
            sent[model.name].append(json.loads(json.dumps(params)))

    events = get_client("sagemaker").meta.events
    events.register("provide-client-params.sagemaker.*", record)
    yield sent
    events.unregister("provide-client-params.sagemaker.*", record)


def test_each_job_event_file_parses_into_its_step_model() -> None:
    assert WaitingStepInput.model_validate(load_event("preprocess")).task_token
    assert TrainInput.model_validate(load_event("train")).preprocess.job_type == "processing"
    assert EvaluateInput.model_validate(load_event("evaluate")).training.job_type == "training"


def test_preprocess_starts_the_processing_job_and_stores_the_token(
    handlers: dict[str, ModuleType], sent_requests: dict[str, list[dict[str, Any]]], lambda_context: Any
) -> None:
    event = load_event("preprocess")

    result = handlers["preprocess"].lambda_handler(event, lambda_context)

    job_name = f"{EXECUTION}-preprocess"
    assert result == {
        "job_name": job_name,
        "job_arn": f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:processing-job/{job_name}",
    }
    job = boto3.client("sagemaker", region_name=REGION).describe_processing_job(ProcessingJobName=job_name)
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in job["ProcessingInputs"]}
    assert inputs == {
        "code": f"{CODE_URI}src/",
        "data": f"s3://{ARTIFACT_BUCKET}/runs/credit-5e4f54c7bade/input/applications-2026-11.csv",
        "config": f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/config.json",
    }
    outputs = {item["OutputName"] for item in job["ProcessingOutputConfig"]["Outputs"]}
    assert outputs == {"train", "validation", "test", "metadata"}
    assert job["RoleArn"] == "arn:aws:iam::123456789012:role/driftline-sagemaker-execution"
    [request] = sent_requests["CreateProcessingJob"]
    assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"
    assert request["Environment"]["DRIFTLINE_DATA_VERSION_ID"] == RUN_CONFIG["data_version_id"]

    item = stored_token(job_name)
    assert item is not None
    assert item["task_token"]["S"] == event["task_token"]
    assert item["execution_id"]["S"] == event["execution_id"]
    assert item["step"]["S"] == "preprocess"
    assert abs(int(item["expires_at"]["N"]) - (time.time() + TTL_SECONDS)) < 60


def test_train_starts_the_training_job_on_the_preprocess_outputs(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    event = load_event("train")

    result = handlers["train"].lambda_handler(event, lambda_context)

    job_name = f"{EXECUTION}-train"
    assert result["job_name"] == job_name
    job = boto3.client("sagemaker", region_name=REGION).describe_training_job(TrainingJobName=job_name)
    channels = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"]["S3Uri"] for channel in job["InputDataConfig"]
    }
    assert channels == {name: event["preprocess"]["outputs"][name] for name in ("train", "validation", "metadata")}
    assert job["HyperParameters"] == {
        "max_iter": '"200"',
        "target": '"default"',
        "problem_type": '"binary_classification"',
        "sagemaker_program": '"train.py"',
        "sagemaker_submit_directory": f'"{CODE_URI}sourcedir.tar.gz"',
        "sagemaker_region": f'"{REGION}"',
    }
    assert job["OutputDataConfig"]["S3OutputPath"] == f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/train/"
    assert job["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    item = stored_token(job_name)
    assert item is not None
    assert item["task_token"]["S"] == event["task_token"]
    assert item["step"]["S"] == "train"


def test_train_tells_xgboost_the_number_of_classes_the_preprocessing_job_found(
    handlers: dict[str, ModuleType], sent_requests: dict[str, list[dict[str, Any]]], lambda_context: Any
) -> None:
    event = load_event("train")
    preprocess = event["preprocess"]["outputs"]
    event["preprocess"]["outputs"] = preprocess | {"xgboost": preprocess["train"].replace("/train/", "/xgboost/")}
    s3 = boto3.client("s3", region_name=REGION)
    config = RUN_CONFIG | {
        "problem_type": "multiclass_classification",
        "model_algorithm": "xgboost",
        "hyperparameters": {},
    }
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{EXECUTION}/config.json", Body=json.dumps(config))
    metadata_key = preprocess["metadata"].split("/", 3)[3] + "preprocessing.json"
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=metadata_key, Body=json.dumps({"class_labels": ["a", "b", "c"]}))

    handlers["train"].lambda_handler(event, lambda_context)

    [request] = sent_requests["CreateTrainingJob"]
    assert request["AlgorithmSpecification"]["TrainingImage"] == XGBOOST_IMAGE
    assert (request["HyperParameters"]["objective"], request["HyperParameters"]["num_class"]) == ("multi:softprob", "3")


MODEL_IMAGE = f"{DEFAULT_ACCOUNT_ID}.dkr.ecr.{REGION}.amazonaws.com/driftline/credit-model:1.0"


def _container_run(event: dict[str, Any]) -> dict[str, Any]:
    """The run as a dataset's own container trains it: its config names the image, preprocessing wrote the
    headerless held-out rows."""
    s3 = boto3.client("s3", region_name=REGION)
    config = RUN_CONFIG | {"model_image": MODEL_IMAGE, "hyperparameters": {"depth": "4"}}
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{EXECUTION}/config.json", Body=json.dumps(config))
    outputs = event["preprocess"]["outputs"]
    outputs["transform"] = outputs["test"].replace("/test/", "/transform/")
    return event


def test_train_runs_a_dataset_s_own_container_on_the_splits_without_network_access(
    handlers: dict[str, ModuleType], sent_requests: dict[str, list[dict[str, Any]]], lambda_context: Any
) -> None:
    handlers["train"].lambda_handler(_container_run(load_event("train")), lambda_context)

    [request] = sent_requests["CreateTrainingJob"]
    assert request["AlgorithmSpecification"] == {"TrainingImage": MODEL_IMAGE, "TrainingInputMode": "File"}
    assert request["HyperParameters"] == {"depth": "4"}
    assert request["EnableNetworkIsolation"] is True
    assert {channel["ChannelName"] for channel in request["InputDataConfig"]} == {"train", "validation", "metadata"}


def test_the_transform_step_makes_the_candidate_model_and_starts_its_batch_transform_of_the_held_out_rows(
    pipeline: None, lambda_context: Any
) -> None:
    from functions.transform_test_rows import app

    event = _container_run(load_event("evaluate"))

    result = app.lambda_handler(event, lambda_context)

    job_name = f"{EXECUTION}-transform"
    assert result["job_name"] == job_name
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    model = sagemaker.describe_model(ModelName=f"{EXECUTION}-candidate")
    assert model["PrimaryContainer"]["Image"] == MODEL_IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == event["training"]["outputs"]["model"]
    job = sagemaker.describe_transform_job(TransformJobName=job_name)
    assert job["ModelName"] == f"{EXECUTION}-candidate"
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == event["preprocess"]["outputs"]["transform"]
    assert (job["TransformInput"]["SplitType"], job["TransformOutput"]["AssembleWith"]) == ("Line", "Line")
    item = stored_token(job_name)
    assert item is not None and item["step"]["S"] == "transform"
    # A retried step finds the model and the job it made, and starts neither again.
    assert app.lambda_handler(event, lambda_context)["job_name"] == job_name


def test_evaluate_scores_a_container_s_answers_instead_of_loading_its_model(
    handlers: dict[str, ModuleType], sent_requests: dict[str, list[dict[str, Any]]], lambda_context: Any
) -> None:
    handlers["evaluate"].lambda_handler(_container_run(load_event("evaluate")), lambda_context)

    [request] = sent_requests["CreateProcessingJob"]
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in request["ProcessingInputs"]}
    assert "model" not in inputs
    assert inputs["answers"] == f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/transform/answers/"
    assert inputs["metadata"].endswith("/preprocess/metadata/")


def test_evaluate_starts_the_evaluation_job_on_the_model_and_test_split(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    event = load_event("evaluate")

    result = handlers["evaluate"].lambda_handler(event, lambda_context)

    job_name = f"{EXECUTION}-evaluate"
    assert result["job_name"] == job_name
    job = boto3.client("sagemaker", region_name=REGION).describe_processing_job(ProcessingJobName=job_name)
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in job["ProcessingInputs"]}
    assert inputs["model"] == event["training"]["outputs"]["model"]
    assert inputs["test"] == event["preprocess"]["outputs"]["test"]
    assert job["AppSpecification"]["ContainerEntrypoint"][-1] == "/opt/ml/processing/input/code/evaluate.py"
    item = stored_token(job_name)
    assert item is not None
    assert item["step"]["S"] == "evaluate"


def approve_model(model_data_url: str, trained_by: str | None = None) -> str:
    """An Approved package in the dataset's group whose container serves ``model_data_url``; ``trained_by`` is
    the execution ARN its lineage records, as Register writes it."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName="driftline-credit")
    lineage: dict[str, Any] = {"CustomerMetadataProperties": {"execution_arn": trained_by}} if trained_by else {}
    arn: str = sagemaker.create_model_package(
        ModelPackageGroupName="driftline-credit",
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [{"Image": SKLEARN_IMAGE, "ModelDataUrl": model_data_url}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **lineage,
    )["ModelPackageArn"]
    return arn


SERVING_RUN = "credit-0a1b2c3d4e5f"
SERVING_RUN_ARN = f"arn:aws:states:{REGION}:123456789012:execution:driftline-pipeline:{SERVING_RUN}"
SERVING_MODEL_KEY = f"runs/{SERVING_RUN}/train/{SERVING_RUN}-train/output/model.tar.gz"


def test_evaluate_gives_the_job_the_serving_models_baseline_and_the_runs_train_split_to_compare(
    handlers: dict[str, ModuleType], lambda_context: Any, sent_requests: dict[str, list[dict[str, Any]]]
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=SERVING_MODEL_KEY, Body=b"model")
    for name in ("statistics.json", "constraints.json"):
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{SERVING_RUN}/baseline/{name}", Body=b"{}")
    approve_model(f"s3://{ARTIFACT_BUCKET}/{SERVING_MODEL_KEY}", trained_by=SERVING_RUN_ARN)

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    baseline = f"s3://{ARTIFACT_BUCKET}/runs/{SERVING_RUN}/baseline/"
    assert inputs["baseline"] == environment["DRIFTLINE_BASELINE_URI"] == baseline
    assert inputs["train"] == load_event("evaluate")["preprocess"]["outputs"]["train"]
    assert "DRIFTLINE_BASELINE_NOT_GIVEN" not in environment


@pytest.mark.parametrize(
    ("trained_by", "written", "why"),
    [
        (SERVING_RUN_ARN, (), "its drift baseline is not written yet"),
        (SERVING_RUN_ARN, ("statistics.json",), "its drift baseline is not written yet"),
        (None, ("statistics.json", "constraints.json"), "its model package records no training run"),
    ],
    ids=["never deployed", "baseline job still writing", "no lineage"],
)
def test_evaluate_gives_no_baseline_or_train_split_when_the_serving_model_has_no_baseline_and_says_why(
    handlers: dict[str, ModuleType],
    lambda_context: Any,
    sent_requests: dict[str, list[dict[str, Any]]],
    trained_by: str | None,
    written: tuple[str, ...],
    why: str,
) -> None:
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=SERVING_MODEL_KEY, Body=b"model")
    for name in written:
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{SERVING_RUN}/baseline/{name}", Body=b"{}")
    approve_model(f"s3://{ARTIFACT_BUCKET}/{SERVING_MODEL_KEY}", trained_by=trained_by)

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    assert "incumbent" in inputs
    assert "baseline" not in inputs and "train" not in inputs
    assert "DRIFTLINE_BASELINE_URI" not in environment
    assert environment["DRIFTLINE_BASELINE_NOT_GIVEN"].startswith(why)


def evaluation_job_inputs_and_environment(
    handlers: dict[str, ModuleType], lambda_context: Any, sent: dict[str, list[dict[str, Any]]]
) -> tuple[dict[str, str], dict[str, str]]:
    handlers["evaluate"].lambda_handler(load_event("evaluate"), lambda_context)
    request = sent["CreateProcessingJob"][-1]
    inputs = {item["InputName"]: item["S3Input"]["S3Uri"] for item in request["ProcessingInputs"]}
    return inputs, request["Environment"]


def test_evaluate_gives_the_job_the_approved_models_artifact_to_score_on_the_same_split(
    handlers: dict[str, ModuleType], lambda_context: Any, sent_requests: dict[str, list[dict[str, Any]]]
) -> None:
    key = "runs/credit-0a1b2c3d4e5f/train/credit-0a1b2c3d4e5f-train/output/model.tar.gz"
    boto3.client("s3", region_name=REGION).put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=b"model")
    approved = approve_model(f"s3://{ARTIFACT_BUCKET}/{key}")

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    assert inputs["incumbent"] == f"s3://{ARTIFACT_BUCKET}/{key}"
    assert environment["DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"] == approved


def trained_and_approved(run: str, *, baseline: bool = True) -> str:
    """An Approved package whose model (and, with ``baseline``, drift baseline) the run wrote to the bucket."""
    s3 = boto3.client("s3", region_name=REGION)
    key = f"runs/{run}/train/{run}-train/output/model.tar.gz"
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=key, Body=b"model")
    for name in ("statistics.json", "constraints.json") if baseline else ():
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{run}/baseline/{name}", Body=b"{}")
    run_arn = f"arn:aws:states:{REGION}:123456789012:execution:driftline-pipeline:{run}"
    return approve_model(f"s3://{ARTIFACT_BUCKET}/{key}", trained_by=run_arn)


def test_evaluate_scores_the_model_the_endpoint_serves_not_a_newer_approved_one_that_does_not_serve(
    handlers: dict[str, ModuleType], lambda_context: Any, sent_requests: dict[str, list[dict[str, Any]]]
) -> None:
    serving = trained_and_approved("credit-1111")
    serve_on_endpoint(serving)
    trained_and_approved("credit-2222")  # version 2: Approved, but its deployment rolled back

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    assert environment["DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"] == serving
    assert inputs["incumbent"] == f"s3://{ARTIFACT_BUCKET}/runs/credit-1111/train/credit-1111-train/output/model.tar.gz"
    assert (
        inputs["baseline"]
        == environment["DRIFTLINE_BASELINE_URI"]
        == f"s3://{ARTIFACT_BUCKET}/runs/credit-1111/baseline/"
    )


def test_evaluate_scores_the_newest_approved_model_when_the_dataset_has_no_endpoint(
    handlers: dict[str, ModuleType], lambda_context: Any, sent_requests: dict[str, list[dict[str, Any]]]
) -> None:
    trained_and_approved("credit-1111")
    newest = trained_and_approved("credit-2222")

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    assert environment["DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"] == newest
    assert inputs["incumbent"] == f"s3://{ARTIFACT_BUCKET}/runs/credit-2222/train/credit-2222-train/output/model.tar.gz"
    assert inputs["baseline"] == f"s3://{ARTIFACT_BUCKET}/runs/credit-2222/baseline/"


def test_evaluate_scores_no_model_when_what_the_endpoint_serves_cannot_be_read(
    handlers: dict[str, ModuleType], lambda_context: Any, sent_requests: dict[str, list[dict[str, Any]]]
) -> None:
    model = serve_on_endpoint(trained_and_approved("credit-1111"))
    boto3.client("sagemaker", region_name=REGION).delete_model(ModelName=model)

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    assert "incumbent" not in inputs and "baseline" not in inputs
    assert "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN" not in environment


@pytest.mark.parametrize(
    ("model_data_url", "why"),
    [
        (
            "s3://driftline-artifacts-of-an-earlier-deployment/runs/credit-1/train/job/output/model.tar.gz",
            "its model artifact is outside this deployment's artifact bucket",
        ),
        (
            f"s3://{ARTIFACT_BUCKET}/runs/credit-1/train/job/output/model.tar.gz",
            "its model artifact no longer exists in the artifact bucket",
        ),
    ],
    ids=["another bucket", "deleted"],
)
def test_evaluate_names_an_approved_model_whose_artifact_the_job_could_not_read_without_failing_the_job(
    handlers: dict[str, ModuleType],
    lambda_context: Any,
    sent_requests: dict[str, list[dict[str, Any]]],
    model_data_url: str,
    why: str,
) -> None:
    approved = approve_model(model_data_url)

    inputs, environment = evaluation_job_inputs_and_environment(handlers, lambda_context, sent_requests)

    assert "incumbent" not in inputs
    assert environment["DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"] == approved
    assert environment["DRIFTLINE_INCUMBENT_NOT_GIVEN"].startswith(why)


@pytest.mark.parametrize("step", ["preprocess", "train", "evaluate"])
def test_a_retried_step_finds_its_running_job_and_keeps_the_new_token(
    step: str,
    handlers: dict[str, ModuleType],
    sent_requests: dict[str, list[dict[str, Any]]],
    lambda_context: Any,
) -> None:
    first = load_event(step)
    handlers[step].lambda_handler(first, lambda_context)
    job_name = f"{EXECUTION}-{step}"
    set_moto_job_status(step, job_name, "InProgress")
    retry = first | {"task_token": "token-of-the-retried-attempt"}

    again = handlers[step].lambda_handler(retry, lambda_context)

    assert again["job_name"] == job_name
    created = sent_requests["CreateTrainingJob" if step == "train" else "CreateProcessingJob"]
    assert len(created) == 1
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    if step == "train":
        names = [job["TrainingJobName"] for job in sagemaker.list_training_jobs()["TrainingJobSummaries"]]
    else:
        names = [job["ProcessingJobName"] for job in sagemaker.list_processing_jobs()["ProcessingJobSummaries"]]
    assert names == [job_name]
    item = stored_token(job_name)
    assert item is not None
    assert item["task_token"]["S"] == "token-of-the-retried-attempt"


def test_a_retried_step_whose_job_already_ended_resumes_the_run(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    from driftline_core.aws.clients import get_client

    event = load_event("preprocess")
    handlers["preprocess"].lambda_handler(event, lambda_context)
    job_name = f"{EXECUTION}-preprocess"
    retry = event | {"task_token": "token-of-the-retried-attempt"}
    stepfunctions = get_client("stepfunctions")

    with Stubber(stepfunctions) as stub:
        stub.add_response(
            "send_task_success",
            {},
            {"taskToken": "token-of-the-retried-attempt", "output": _ANY_JSON},
        )
        handlers["preprocess"].lambda_handler(retry, lambda_context)
        stub.assert_no_pending_responses()

    assert stored_token(job_name) is None


def test_throttling_becomes_a_transient_error_the_state_machine_retries(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    from driftline_core.aws.clients import get_client
    from driftline_core.errors import TransientAwsError

    with Stubber(get_client("sagemaker")) as stub:
        stub.add_client_error(
            "describe_training_job",
            service_error_code="ValidationException",
            service_message="Requested resource not found.",
        )
        stub.add_client_error(
            "create_training_job", service_error_code="ThrottlingException", service_message="Rate exceeded"
        )
        with pytest.raises(TransientAwsError, match="ThrottlingException on CreateTrainingJob"):
            handlers["train"].lambda_handler(load_event("train"), lambda_context)


@pytest.mark.parametrize("code", ["RequestTimeout", "InternalError", "SlowDown", "ServiceUnavailable"])
def test_an_s3_hiccup_reading_the_run_config_is_retried_as_in_validate(
    code: str, handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    """The same S3 answers Validate retries make a job step retry too, not fail the run."""
    from driftline_core.aws.clients import get_client
    from driftline_core.errors import TransientAwsError

    with Stubber(get_client("s3")) as stub:
        stub.add_client_error("get_object", service_error_code=code, service_message="try again", http_status_code=500)
        with pytest.raises(TransientAwsError, match=f"{code} on GetObject"):
            handlers["train"].lambda_handler(load_event("train"), lambda_context)


def test_a_job_created_by_a_concurrent_attempt_is_returned_not_failed(
    handlers: dict[str, ModuleType], lambda_context: Any
) -> None:
    from driftline_core.aws.clients import get_client

    job_name = f"{EXECUTION}-train"
    arn = f"arn:aws:sagemaker:{REGION}:{DEFAULT_ACCOUNT_ID}:training-job/{job_name}"
    with Stubber(get_client("sagemaker")) as stub:
        stub.add_client_error(
            "describe_training_job",
            service_error_code="ValidationException",
            service_message="Requested resource not found.",
        )
        stub.add_client_error(
            "create_training_job",
            service_error_code="ResourceInUse",
            service_message="Training job names must be unique within an AWS account and region, "
            "and a training job with this name already exists",
        )
        stub.add_response("describe_training_job", _training_description(job_name, arn, "InProgress"))

        result = handlers["train"].lambda_handler(load_event("train"), lambda_context)

    assert result == {"job_name": job_name, "job_arn": arn}
    assert stored_token(job_name) is not None


def test_the_task_token_never_reaches_the_logs(
    handlers: dict[str, ModuleType], lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("evaluate")
    log_handler = handlers["evaluate"].logger.registered_handler
    logs = io.StringIO()
    previous_stream = log_handler.setStream(logs)
    try:
        handlers["evaluate"].lambda_handler(event, lambda_context)
    finally:
        log_handler.setStream(previous_stream)

    written = logs.getvalue() + capsys.readouterr().out
    assert "credit-5e4f54c7bade-evaluate" in written
    assert event["task_token"] not in written


class _AnyJson:
    """Matches any string holding a JSON document (the task output is checked in the job events tests)."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, str):
            return False
        json.loads(other)
        return True

    def __repr__(self) -> str:
        return "<any JSON string>"


_ANY_JSON = _AnyJson()


def _training_description(job_name: str, arn: str, status: str) -> dict[str, Any]:
    return {
        "TrainingJobName": job_name,
        "TrainingJobArn": arn,
        "TrainingJobStatus": status,
        "SecondaryStatus": "Training",
        "AlgorithmSpecification": {"TrainingInputMode": "File"},
        "ResourceConfig": {"InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 1800},
        "CreationTime": "2026-11-23T09:40:00Z",
        "ModelArtifacts": {"S3ModelArtifacts": ""},
    }
