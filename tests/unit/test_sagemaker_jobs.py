"""The SageMaker job requests: valid for the real API, and wired to where the ml/ scripts look."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from driftline_core import layout
from driftline_core.errors import DatasetConfigInvalid
from driftline_core.payloads import EvaluateInput, JobResult, TrainInput
from driftline_core.settings import PreprocessSettings, Settings
from driftline_core.training.job_requests import (
    IncumbentForEvaluation,
    build_candidate_model_request,
    build_transform_job_request,
    has_gpus,
    job_result_from_description,
    quota_exceeded_message,
)
from tests.conftest import load_event
from tests.job_requests import (
    ARTIFACTS,
    CODE_URI,
    PYTORCH_TRAINING_IMAGE,
    RUN_CONFIG,
    XGBOOST_IMAGE,
    evaluation_request,
    job_settings,
    preprocess_request,
    training_request,
)

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
"""SageMaker's pattern for processing and training job names."""


@pytest.fixture
def settings() -> Settings:
    return job_settings()


def assert_valid_for_api(operation: str, request: dict[str, Any]) -> None:
    """Check the request against botocore's SageMaker service model: the shapes AWS accepts."""
    model = botocore.session.get_session().get_service_model("sagemaker").operation_model(operation)
    assert model.input_shape is not None
    report = ParamValidator().validate(request, model.input_shape)
    assert not report.has_errors(), report.generate_report()


def inputs_by_name(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["InputName"]: item["S3Input"] for item in request["ProcessingInputs"]}


def outputs_by_name(request: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["OutputName"]: item["S3Output"] for item in request["ProcessingOutputConfig"]["Outputs"]}


def test_each_request_is_valid_for_the_sagemaker_api(settings: Settings) -> None:
    assert_valid_for_api("CreateProcessingJob", preprocess_request(settings))
    assert_valid_for_api("CreateTrainingJob", training_request(settings))
    assert_valid_for_api("CreateProcessingJob", evaluation_request(settings))


def test_job_names_come_from_the_execution_and_step(settings: Settings) -> None:
    assert preprocess_request(settings)["ProcessingJobName"] == "credit-5e4f54c7bade-preprocess"
    assert training_request(settings)["TrainingJobName"] == "credit-5e4f54c7bade-train"
    assert evaluation_request(settings)["ProcessingJobName"] == "credit-5e4f54c7bade-evaluate"


def test_job_names_stay_valid_for_the_longest_dataset_name(settings: Settings) -> None:
    dataset = "a" * 38 + "-z"
    execution = layout.execution_name_for_object(dataset, "bucket", f"data/{dataset}/x.csv", "v1")
    event = load_event("evaluate") | {"dataset": dataset, "execution_name": execution}
    step = EvaluateInput.model_validate(event)

    names = [
        preprocess_request(settings, step)["ProcessingJobName"],
        training_request(settings, step)["TrainingJobName"],
        evaluation_request(settings, step)["ProcessingJobName"],
    ]

    assert len(set(names)) == 3
    for name in names:
        assert len(name) <= 63
        assert JOB_NAME.match(name), name


def test_preprocess_job_reads_code_upload_and_config_where_the_script_expects(settings: Settings) -> None:
    request = preprocess_request(settings)

    inputs = inputs_by_name(request)
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]
    assert inputs["code"]["S3Uri"] == f"{CODE_URI}src/"
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert inputs["data"]["S3Uri"] == (
        "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-5e4f54c7bade/input/applications-2026-11.csv"
    )
    assert inputs["data"]["LocalPath"] == "/opt/ml/processing/input/data"
    assert inputs["config"]["S3Uri"] == f"s3://{ARTIFACTS}/runs/credit-5e4f54c7bade/config.json"
    assert inputs["config"]["LocalPath"] == "/opt/ml/processing/input/config"
    for s3_input in inputs.values():
        assert s3_input["S3DataType"] == "S3Prefix"
        assert s3_input["S3InputMode"] == "File"


def test_preprocess_job_writes_each_split_under_the_run_prefix(settings: Settings) -> None:
    outputs = outputs_by_name(preprocess_request(settings))

    assert set(outputs) == {"train", "validation", "test", "metadata"}
    for name, s3_output in outputs.items():
        assert s3_output["S3Uri"] == f"s3://{ARTIFACTS}/runs/credit-5e4f54c7bade/preprocess/{name}/"
        assert s3_output["LocalPath"] == f"/opt/ml/processing/output/{name}"


def test_preprocess_job_records_the_data_version_validate_checked(settings: Settings) -> None:
    request = preprocess_request(settings)

    assert request["Environment"]["DRIFTLINE_DATA_VERSION_ID"] == RUN_CONFIG["data_version_id"]


@pytest.mark.parametrize(
    ("rows", "per_instance", "most", "instances"),
    [
        (1_000, 2_000_000, 4, 1),
        (2_000_000, 2_000_000, 4, 1),
        (2_000_001, 2_000_000, 4, 2),
        (10_000_000, 2_000_000, 4, 4),
        (10_000_000, 2_000_000, 20, 5),
        (30, 10, 2, 2),
    ],
)
def test_preprocessing_runs_on_one_instance_per_share_of_the_rows_within_the_stack_s_limit(
    settings: Settings, rows: int, per_instance: int, most: int, instances: int
) -> None:
    preprocessing = PreprocessSettings(preprocess_rows_per_instance=per_instance, preprocess_max_instances=most)
    request = preprocess_request(settings, run_config={**RUN_CONFIG, "rows": rows}, preprocessing=preprocessing)

    assert request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == instances
    # Every instance is given all the data: each reads every row's target to decide the same split.
    assert {s3_input["S3DataDistributionType"] for s3_input in inputs_by_name(request).values()} == {"FullyReplicated"}
    assert_valid_for_api("CreateProcessingJob", request)


def test_processing_jobs_use_the_configured_image_role_instance_and_runtime(settings: Settings) -> None:
    for request in (preprocess_request(settings), evaluation_request(settings)):
        assert request["RoleArn"] == settings.sagemaker_role_arn
        assert request["AppSpecification"]["ImageUri"] == settings.processing_image_uri
        assert request["ProcessingResources"]["ClusterConfig"]["InstanceType"] == "ml.m5.large"
        assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
        assert request["Tags"] == [
            {"Key": "driftline:dataset", "Value": "credit"},
            {"Key": "driftline:execution", "Value": "credit-5e4f54c7bade"},
        ]


def test_training_hyperparameters_are_all_strings_encoded_as_the_sdk_does(settings: Settings) -> None:
    hyperparameters = training_request(settings)["HyperParameters"]

    assert all(isinstance(value, str) for value in hyperparameters.values())
    assert hyperparameters["sagemaker_program"] == '"train.py"'
    assert hyperparameters["sagemaker_submit_directory"] == f'"{CODE_URI}sourcedir.tar.gz"'
    decoded = {key: json.loads(value) for key, value in hyperparameters.items()}
    assert decoded == {
        "max_iter": "200",
        "learning_rate": "0.05",
        "early_stopping": "auto",
        "max_depth": "null",
        "target": "default",
        "problem_type": "binary_classification",
        "sagemaker_program": "train.py",
        "sagemaker_submit_directory": f"{CODE_URI}sourcedir.tar.gz",
        "sagemaker_region": "eu-west-1",
    }


def test_a_dataset_s_own_training_script_runs_through_train_script_with_its_hyperparameters_as_given(
    settings: Settings,
) -> None:
    config = RUN_CONFIG | {"model_script": "logistic_regression", "hyperparameters": {"C": "0.5", "max-depth": "x"}}

    request = training_request(settings, run_config=config)

    assert_valid_for_api("CreateTrainingJob", request)
    decoded = {key: json.loads(value) for key, value in request["HyperParameters"].items()}
    assert decoded == {
        "C": "0.5",
        "max-depth": "x",
        "target": "default",
        "problem_type": "binary_classification",
        "model_script": "logistic_regression",
        "sagemaker_program": "train_script.py",
        "sagemaker_submit_directory": f"{CODE_URI}sourcedir.tar.gz",
        "sagemaker_region": "eu-west-1",
    }


def test_a_script_on_xgboost_s_framework_container_trains_and_is_evaluated_on_the_xgboost_image(
    settings: Settings,
) -> None:
    config = RUN_CONFIG | {"model_script": "xgboost_trees", "model_framework": "xgboost"}

    training = training_request(settings, run_config=config)
    evaluation = evaluation_request(settings, run_config=config)

    assert_valid_for_api("CreateTrainingJob", training)
    assert training["AlgorithmSpecification"]["TrainingImage"] == XGBOOST_IMAGE
    # Script mode (a program to run), not the built-in algorithm.
    assert json.loads(training["HyperParameters"]["sagemaker_program"]) == "train_script.py"
    assert evaluation["AppSpecification"]["ImageUri"] == XGBOOST_IMAGE
    # The script saved its own model: evaluation has no booster to pack.
    assert set(outputs_by_name(evaluation)) == {"evaluation"}
    scikit = training_request(settings, run_config=config | {"model_framework": "scikit-learn"})
    assert scikit["AlgorithmSpecification"]["TrainingImage"] == settings.training_image_uri


def test_a_script_on_pytorch_trains_and_is_evaluated_on_pytorch_s_training_image_in_the_instance_s_build(
    settings: Settings,
) -> None:
    config = RUN_CONFIG | {"model_script": "torch_mlp", "model_framework": "pytorch"}

    training = training_request(settings, run_config=config)
    evaluation = evaluation_request(settings, run_config=config)

    assert_valid_for_api("CreateTrainingJob", training)
    assert_valid_for_api("CreateProcessingJob", evaluation)
    assert training["AlgorithmSpecification"]["TrainingImage"] == PYTORCH_TRAINING_IMAGE
    assert json.loads(training["HyperParameters"]["sagemaker_program"]) == "train_script.py"
    # The serving image has no training toolkit; the training image holds PyTorch and the scientific stack.
    assert evaluation["AppSpecification"]["ImageUri"] == PYTORCH_TRAINING_IMAGE
    on_gpus = training_request(
        settings.model_copy(update={"training_instance_type": "ml.g5.xlarge"}), run_config=config
    )
    assert on_gpus["AlgorithmSpecification"]["TrainingImage"] == PYTORCH_TRAINING_IMAGE.replace("-cpu-", "-gpu-")
    assert evaluation_request(
        settings.model_copy(update={"processing_instance_type": "ml.p3.2xlarge"}), run_config=config
    )["AppSpecification"]["ImageUri"].endswith("/pytorch-training:2.6.0-gpu-py312")


@pytest.mark.parametrize(
    ("instance_type", "gpus"),
    [
        ("ml.g5.xlarge", True),
        ("ml.p4d.24xlarge", True),
        ("ml.g4dn.xlarge", True),
        ("ml.m5.xlarge", False),
        ("ml.c5.2xlarge", False),
        ("ml.trn1.2xlarge", False),
        ("ml.inf2.xlarge", False),
    ],
)
def test_gpu_instance_types_are_the_g_and_p_families(instance_type: str, gpus: bool) -> None:
    assert has_gpus(instance_type) is gpus


def test_every_gpu_training_instance_type_botocore_knows_is_in_the_g_or_p_families() -> None:
    shape: Any = botocore.session.get_session().get_service_model("sagemaker").shape_for("TrainingInstanceType")
    with_gpus = [name for name in shape.enum if has_gpus(name)]
    assert with_gpus and all(name.split(".")[1][0] in "gp" for name in with_gpus)
    assert not [name for name in shape.enum if name.split(".")[1][0] in "gp" and not has_gpus(name)]


CONTAINER_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/driftline/credit-model@sha256:" + "c" * 64


def _container_step() -> EvaluateInput:
    event = load_event("evaluate")
    outputs = event["preprocess"]["outputs"]
    outputs["transform"] = outputs["test"].replace("/test/", "/transform/")
    return EvaluateInput.model_validate(event)


def test_a_dataset_s_own_container_trains_answers_its_held_out_rows_and_is_evaluated_in_requests_aws_accepts(
    settings: Settings,
) -> None:
    config = RUN_CONFIG | {"model_image": CONTAINER_IMAGE, "instance_count": 2, "hyperparameters": {"depth": 4}}
    step = _container_step()

    training = training_request(settings, step, run_config=config)
    model = build_candidate_model_request(
        execution_name=step.execution_name,
        dataset=step.dataset,
        run_config=config,
        training=step.training,
        settings=settings,
    )
    transform = build_transform_job_request(
        execution_name=step.execution_name, dataset=step.dataset, preprocess=step.preprocess, settings=settings
    )
    evaluation = evaluation_request(settings, step, run_config=config)

    assert_valid_for_api("CreateTrainingJob", training)
    assert_valid_for_api("CreateModel", model)
    assert_valid_for_api("CreateTransformJob", transform)
    assert_valid_for_api("CreateProcessingJob", evaluation)
    assert training["AlgorithmSpecification"]["TrainingImage"] == CONTAINER_IMAGE
    assert (training["ResourceConfig"]["InstanceCount"], training["HyperParameters"]) == (2, {"depth": "4"})
    assert model["PrimaryContainer"] == {"Image": CONTAINER_IMAGE, "ModelDataUrl": step.training.outputs["model"]}
    assert transform["ModelName"] == model["ModelName"] == f"{step.execution_name}-candidate"
    assert JOB_NAME.match(transform["TransformJobName"]) and JOB_NAME.match(model["ModelName"])
    answers = transform["TransformOutput"]["S3OutputPath"]
    inputs = inputs_by_name(evaluation)
    assert inputs["answers"]["S3Uri"] == answers and "model" not in inputs
    assert evaluation["AppSpecification"]["ImageUri"] == settings.processing_image_uri


def test_a_container_s_requests_carry_the_stack_s_key_and_network(settings: Settings) -> None:
    keyed = settings.model_copy(
        update={
            "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "vpc_subnet_ids": "subnet-0123456789abcdef0",
            "vpc_security_group_ids": "sg-0123456789abcdef0",
        }
    )
    config = RUN_CONFIG | {"model_image": CONTAINER_IMAGE}
    step = _container_step()
    model = build_candidate_model_request(
        execution_name=step.execution_name,
        dataset=step.dataset,
        run_config=config,
        training=step.training,
        settings=keyed,
    )
    transform = build_transform_job_request(
        execution_name=step.execution_name, dataset=step.dataset, preprocess=step.preprocess, settings=keyed
    )

    assert model["VpcConfig"]["Subnets"] == ["subnet-0123456789abcdef0"]
    assert transform["TransformOutput"]["KmsKeyId"] == keyed.kms_key_arn
    assert transform["TransformResources"]["VolumeKmsKeyId"] == keyed.kms_key_arn
    assert_valid_for_api("CreateModel", model)
    assert_valid_for_api("CreateTransformJob", transform)


def test_a_transform_description_becomes_where_its_answers_are() -> None:
    result = job_result_from_description(
        {
            "TransformJobName": "credit-5e4f54c7bade-transform",
            "TransformJobStatus": "Completed",
            "TransformOutput": {"S3OutputPath": "s3://artifacts/runs/credit-5e4f54c7bade/transform/answers/"},
        }
    )
    assert (result.job_type, result.outputs) == (
        "transform",
        {"answers": "s3://artifacts/runs/credit-5e4f54c7bade/transform/answers/"},
    )


def test_a_run_config_naming_another_framework_is_refused_before_any_job_starts(settings: Settings) -> None:
    with pytest.raises(DatasetConfigInvalid, match="is not a container Driftline runs scripts on"):
        training_request(settings, run_config=RUN_CONFIG | {"model_script": "x", "model_framework": "tensorflow"})


@pytest.mark.parametrize("script", ["../train", "", 7, "Logistic"])
def test_a_run_config_naming_no_model_folder_is_refused_before_any_job_starts(
    settings: Settings, script: object
) -> None:
    with pytest.raises(DatasetConfigInvalid, match="is not a model folder's name"):
        training_request(settings, run_config=RUN_CONFIG | {"model_script": script})


def test_training_channels_are_the_preprocess_outputs(settings: Settings) -> None:
    step = TrainInput.model_validate(load_event("train"))
    request = training_request(settings, step)

    channels = {channel["ChannelName"]: channel["DataSource"]["S3DataSource"] for channel in request["InputDataConfig"]}
    assert set(channels) == {"train", "validation", "metadata"}
    for name, source in channels.items():
        assert source["S3Uri"] == step.preprocess.outputs[name]
        assert source["S3DataType"] == "S3Prefix"


def test_training_job_writes_the_model_under_the_run_prefix(settings: Settings) -> None:
    request = training_request(settings)

    assert request["OutputDataConfig"] == {"S3OutputPath": f"s3://{ARTIFACTS}/runs/credit-5e4f54c7bade/train/"}
    assert request["AlgorithmSpecification"] == {
        "TrainingImage": settings.training_image_uri,
        "TrainingInputMode": "File",
    }
    assert request["ResourceConfig"]["InstanceType"] == "ml.m5.xlarge"
    assert request["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800}
    assert request["RoleArn"] == settings.sagemaker_role_arn


def test_a_hyperparameter_that_would_override_driftlines_is_refused(settings: Settings) -> None:
    for name in ("target", "sagemaker_program", "model-dir", "model_dir", "max_iters"):
        config = RUN_CONFIG | {"hyperparameters": {name: "other"}}
        with pytest.raises(DatasetConfigInvalid, match=name):
            training_request(settings, run_config=config)


def test_evaluation_job_reads_the_model_and_test_split_and_writes_the_report(settings: Settings) -> None:
    step = EvaluateInput.model_validate(load_event("evaluate"))
    request = evaluation_request(settings, step)

    inputs = inputs_by_name(request)
    assert request["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/evaluate.py",
    ]
    assert inputs["model"] == inputs["model"] | {
        "S3Uri": step.training.outputs["model"],
        "LocalPath": "/opt/ml/processing/input/model",
    }
    assert inputs["test"]["S3Uri"] == step.preprocess.outputs["test"]
    assert inputs["test"]["LocalPath"] == "/opt/ml/processing/input/test"
    assert inputs["config"]["LocalPath"] == "/opt/ml/processing/input/config"
    assert inputs["code"]["LocalPath"] == "/opt/ml/processing/input/code"
    assert outputs_by_name(request) == {
        "evaluation": {
            "S3Uri": f"s3://{ARTIFACTS}/runs/credit-5e4f54c7bade/evaluate/evaluation/",
            "LocalPath": "/opt/ml/processing/output/evaluation",
            "S3UploadMode": "EndOfJob",
        }
    }


APPROVED_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/4"
APPROVED_MODEL = f"s3://{ARTIFACTS}/runs/credit-0a1b2c3d4e5f/train/credit-0a1b2c3d4e5f-train/output/model.tar.gz"


def test_without_an_approved_model_the_evaluation_job_scores_the_candidate_alone(settings: Settings) -> None:
    request = evaluation_request(settings)

    assert set(inputs_by_name(request)) == {"code", "model", "test", "config"}
    assert not any(name.startswith("DRIFTLINE_INCUMBENT") for name in request["Environment"])


def test_the_evaluation_job_gets_the_approved_models_artifact_and_package(settings: Settings) -> None:
    request = evaluation_request(settings, incumbent=IncumbentForEvaluation(APPROVED_ARN, APPROVED_MODEL))

    assert_valid_for_api("CreateProcessingJob", request)
    assert inputs_by_name(request)["incumbent"] == {
        "S3Uri": APPROVED_MODEL,
        "LocalPath": "/opt/ml/processing/input/incumbent",
        "S3DataType": "S3Prefix",
        "S3InputMode": "File",
        "S3DataDistributionType": "FullyReplicated",
    }
    assert request["Environment"]["DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"] == APPROVED_ARN
    assert "DRIFTLINE_INCUMBENT_NOT_GIVEN" not in request["Environment"]


def test_an_approved_model_the_job_cannot_read_is_named_without_an_input_and_with_the_reason(
    settings: Settings,
) -> None:
    why = "its model artifact is outside this deployment's artifact bucket " + "x" * 300
    request = evaluation_request(settings, incumbent=IncumbentForEvaluation(APPROVED_ARN, None, why))

    assert_valid_for_api("CreateProcessingJob", request)
    assert "incumbent" not in inputs_by_name(request)
    assert request["Environment"]["DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"] == APPROVED_ARN
    assert request["Environment"]["DRIFTLINE_INCUMBENT_NOT_GIVEN"] == why[:256]


def test_the_evaluation_job_gets_the_serving_models_baseline_and_the_train_split_to_compare_with_it(
    settings: Settings,
) -> None:
    baseline = f"s3://{ARTIFACTS}/runs/credit-0a1b2c3d4e5f/baseline/"
    incumbent = IncumbentForEvaluation(APPROVED_ARN, APPROVED_MODEL, baseline_uri=baseline)
    request = evaluation_request(settings, incumbent=incumbent)

    assert_valid_for_api("CreateProcessingJob", request)
    inputs = inputs_by_name(request)
    assert set(inputs) == {"code", "model", "test", "config", "incumbent", "baseline", "train"}
    assert inputs["baseline"]["S3Uri"] == baseline
    assert inputs["baseline"]["LocalPath"] == "/opt/ml/processing/input/baseline"
    assert inputs["train"]["S3Uri"] == load_event("evaluate")["preprocess"]["outputs"]["train"]
    assert inputs["train"]["LocalPath"] == "/opt/ml/processing/input/train"
    assert request["Environment"]["DRIFTLINE_BASELINE_URI"] == baseline


def test_without_a_baseline_the_evaluation_job_gets_no_train_split_and_the_reason(settings: Settings) -> None:
    why = "its drift baseline is not written yet " + "x" * 300
    incumbent = IncumbentForEvaluation(APPROVED_ARN, APPROVED_MODEL, baseline_not_given=why)
    request = evaluation_request(settings, incumbent=incumbent)

    assert_valid_for_api("CreateProcessingJob", request)
    assert set(inputs_by_name(request)) == {"code", "model", "test", "config", "incumbent"}
    assert request["Environment"]["DRIFTLINE_BASELINE_NOT_GIVEN"] == why[:256]
    assert "DRIFTLINE_BASELINE_URI" not in request["Environment"]


def test_a_missing_previous_output_is_named(settings: Settings) -> None:
    step = TrainInput.model_validate(load_event("train"))
    step.preprocess.outputs.pop("metadata")

    with pytest.raises(ValueError, match="credit-5e4f54c7bade-preprocess reported no 'metadata' output"):
        training_request(settings, step)


def test_missing_deployment_settings_are_named(settings: Settings) -> None:
    incomplete = settings.model_copy(update={"sagemaker_role_arn": "", "processing_image_uri": ""})

    with pytest.raises(ValueError, match="SAGEMAKER_ROLE_ARN, PROCESSING_IMAGE_URI"):
        preprocess_request(incomplete)


def test_processing_description_becomes_output_uris_by_name() -> None:
    description = load_event("sagemaker_processing_job_failed")["detail"] | {"ProcessingJobStatus": "Completed"}

    result = job_result_from_description(description)

    assert result == JobResult(
        job_name="credit-5e4f54c7bade-preprocess",
        job_type="processing",
        status="Completed",
        outputs={
            name: f"s3://{ARTIFACTS}/runs/credit-5e4f54c7bade/preprocess/{name}/"
            for name in ("train", "validation", "test", "metadata")
        },
    )


def test_training_description_becomes_the_model_uri() -> None:
    description = load_event("sagemaker_training_job_completed")["detail"]

    result = job_result_from_description(description)

    assert result == JobResult(
        job_name="credit-5e4f54c7bade-train",
        job_type="training",
        status="Completed",
        outputs={
            "model": f"s3://{ARTIFACTS}/runs/credit-5e4f54c7bade/train/credit-5e4f54c7bade-train/output/model.tar.gz"
        },
    )


def test_a_description_of_something_else_is_refused() -> None:
    with pytest.raises(ValueError, match="no job name"):
        job_result_from_description({"EndpointName": "x"})


def test_training_jobs_name_their_region_as_the_sagemaker_sdk_does(settings: Settings) -> None:
    assert json.loads(training_request(settings)["HyperParameters"]["sagemaker_region"]) == "eu-west-1"


def test_a_training_quota_refusal_names_the_quota_and_how_to_raise_it(settings: Settings) -> None:
    sagemaker_says = (
        "The account-level service limit 'ml.m5.xlarge for training job usage' is 0 Instances, with current "
        "utilization of 0 Instances and a request delta of 1 Instances. Please use AWS Service Quotas to request "
        "an increase for this quota."
    )
    message = quota_exceeded_message(training_request(settings), sagemaker_says)

    assert message.startswith(
        "SageMaker refused to start training job credit-5e4f54c7bade-train on ml.m5.xlarge: the account has "
        "reached its 'ml.m5.xlarge for training job usage' quota"
    )
    assert "Service Quotas console" in message
    assert "aws service-quotas request-service-quota-increase --service-code sagemaker" in message
    assert "TrainingInstanceType" in message


def test_a_processing_quota_refusal_without_a_named_quota_names_the_instance_types_quota(settings: Settings) -> None:
    message = quota_exceeded_message(preprocess_request(settings), "Resource limit exceeded.")
    assert "reached its 'ml.m5.large for processing job usage' quota" in message
    assert "ProcessingInstanceType" in message


# ---------------------------------------------------------------- customer-managed key and VPC

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SUBNETS = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
SECURITY_GROUPS = ["sg-0123456789abcdef0"]


@pytest.fixture
def secured(settings: Settings) -> Settings:
    """Settings as the template writes them when KmsKeyArn and the VPC parameters are given."""
    return settings.model_copy(
        update={
            "kms_key_arn": KEY_ARN,
            "vpc_subnet_ids": ",".join(SUBNETS),
            "vpc_security_group_ids": ",".join(SECURITY_GROUPS),
        }
    )


def test_jobs_with_a_key_and_a_vpc_are_still_valid_for_the_sagemaker_api(secured: Settings) -> None:
    assert_valid_for_api("CreateProcessingJob", preprocess_request(secured))
    assert_valid_for_api("CreateTrainingJob", training_request(secured))
    assert_valid_for_api("CreateProcessingJob", evaluation_request(secured))


def test_processing_jobs_encrypt_volume_and_outputs_with_the_given_key(secured: Settings) -> None:
    for request in (preprocess_request(secured), evaluation_request(secured)):
        assert request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY_ARN
        assert request["ProcessingOutputConfig"]["KmsKeyId"] == KEY_ARN


def test_training_job_encrypts_volume_and_model_with_the_given_key(secured: Settings) -> None:
    request = training_request(secured)
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == KEY_ARN
    assert request["OutputDataConfig"]["KmsKeyId"] == KEY_ARN


@pytest.mark.parametrize("instance_type", ["ml.g5.xlarge", "ml.p5.48xlarge", "ml.r5d.large", "ml.g4dn.xlarge"])
def test_jobs_on_instance_storage_send_no_volume_key_and_still_encrypt_their_outputs(
    secured: Settings, instance_type: str
) -> None:
    """CreateTrainingJob and CreateProcessingJob refuse a VolumeKmsKeyId for an instance type with local storage."""
    on_instance_storage = secured.model_copy(
        update={"training_instance_type": instance_type, "processing_instance_type": instance_type}
    )
    training = training_request(on_instance_storage)
    assert "VolumeKmsKeyId" not in training["ResourceConfig"]
    assert training["OutputDataConfig"]["KmsKeyId"] == KEY_ARN
    assert_valid_for_api("CreateTrainingJob", training)
    for processing in (preprocess_request(on_instance_storage), evaluation_request(on_instance_storage)):
        assert "VolumeKmsKeyId" not in processing["ProcessingResources"]["ClusterConfig"]
        assert processing["ProcessingOutputConfig"]["KmsKeyId"] == KEY_ARN
        assert_valid_for_api("CreateProcessingJob", processing)


def test_each_job_decides_by_its_own_instance_type(secured: Settings) -> None:
    mixed = secured.model_copy(
        update={"training_instance_type": "ml.g5.xlarge", "processing_instance_type": "ml.m5.large"}
    )
    assert "VolumeKmsKeyId" not in training_request(mixed)["ResourceConfig"]
    assert preprocess_request(mixed)["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == KEY_ARN


def test_jobs_run_in_the_given_subnets_and_security_groups(secured: Settings) -> None:
    expected = {"Subnets": SUBNETS, "SecurityGroupIds": SECURITY_GROUPS}
    assert preprocess_request(secured)["NetworkConfig"]["VpcConfig"] == expected
    assert evaluation_request(secured)["NetworkConfig"]["VpcConfig"] == expected
    assert training_request(secured)["VpcConfig"] == expected


def test_processing_jobs_have_no_network_and_training_keeps_the_one_its_code_download_needs(
    settings: Settings,
) -> None:
    """Processing scripts get code and data as inputs; the training toolkit downloads its code from S3 itself."""
    assert preprocess_request(settings)["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert evaluation_request(settings)["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert training_request(settings).get("EnableNetworkIsolation", False) is False


def test_without_a_key_or_vpc_jobs_use_aws_managed_keys_and_no_vpc(settings: Settings) -> None:
    processing, training = preprocess_request(settings), training_request(settings)
    assert "VolumeKmsKeyId" not in processing["ProcessingResources"]["ClusterConfig"]
    assert "KmsKeyId" not in processing["ProcessingOutputConfig"]
    assert "VpcConfig" not in processing["NetworkConfig"]
    assert "VolumeKmsKeyId" not in training["ResourceConfig"]
    assert "KmsKeyId" not in training["OutputDataConfig"]
    assert "VpcConfig" not in training


def test_subnets_without_a_security_group_are_refused_naming_the_parameter(settings: Settings) -> None:
    lopsided = settings.model_copy(update={"vpc_subnet_ids": ",".join(SUBNETS)})
    with pytest.raises(ValueError, match="VpcSecurityGroupIds"):
        preprocess_request(lopsided)


XGBOOST_RUN_CONFIG: dict[str, Any] = {
    **RUN_CONFIG,
    "hyperparameters": {"max_depth": "4", "eta": "0.2", "num_round": "50"},
    "model_algorithm": "xgboost",
    "instance_count": 3,
}


def xgboost_train_step() -> TrainInput:
    event = load_event("train")
    outputs = event["preprocess"]["outputs"]
    event["preprocess"]["outputs"] = outputs | {"xgboost": outputs["train"].rsplit("/train", 1)[0] + "/xgboost"}
    return TrainInput.model_validate(event)


def test_xgboost_runs_get_valid_requests_on_sagemaker_s_xgboost_image(settings: Settings) -> None:
    training = training_request(settings, xgboost_train_step(), XGBOOST_RUN_CONFIG)
    evaluation = evaluation_request(settings, run_config=XGBOOST_RUN_CONFIG)

    assert_valid_for_api("CreateProcessingJob", preprocess_request(settings, run_config=XGBOOST_RUN_CONFIG))
    assert_valid_for_api("CreateTrainingJob", training)
    assert_valid_for_api("CreateProcessingJob", evaluation)
    assert training["AlgorithmSpecification"] == {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"}
    assert evaluation["AppSpecification"]["ImageUri"] == XGBOOST_IMAGE
    assert training["ResourceConfig"]["InstanceCount"] == 3


def test_the_xgboost_algorithm_reads_the_shards_one_file_per_instance_and_every_instance_the_validation_split(
    settings: Settings,
) -> None:
    step = xgboost_train_step()
    channels = {c["ChannelName"]: c for c in training_request(settings, step, XGBOOST_RUN_CONFIG)["InputDataConfig"]}
    shards = step.preprocess.outputs["xgboost"]

    assert set(channels) == {"train", "validation"}
    assert channels["train"]["DataSource"]["S3DataSource"]["S3Uri"] == f"{shards}/train/"
    assert channels["train"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "ShardedByS3Key"
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3Uri"] == f"{shards}/validation/"
    assert channels["validation"]["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert {channel["ContentType"] for channel in channels.values()} == {"text/csv"}
    one_instance = training_request(settings, step, XGBOOST_RUN_CONFIG | {"instance_count": 1})
    assert {c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in one_instance["InputDataConfig"]} == {
        "FullyReplicated"
    }


@pytest.mark.parametrize(
    ("problem_type", "class_count", "expected"),
    [
        ("binary_classification", None, {"objective": "binary:logistic", "eval_metric": "logloss"}),
        ("multiclass_classification", 4, {"objective": "multi:softprob", "eval_metric": "mlogloss", "num_class": "4"}),
        ("regression", None, {"objective": "reg:squarederror", "eval_metric": "rmse"}),
    ],
)
def test_xgboost_hyperparameters_are_plain_strings_with_the_objective_the_problem_needs(
    settings: Settings, problem_type: str, class_count: int | None, expected: dict[str, str]
) -> None:
    config = XGBOOST_RUN_CONFIG | {"problem_type": problem_type, "hyperparameters": {"max_depth": "4"}}
    hyperparameters = training_request(settings, xgboost_train_step(), config, class_count)["HyperParameters"]

    assert hyperparameters == {"max_depth": "4", "num_round": "100", **expected}
    assert not any(name.startswith("sagemaker_") for name in hyperparameters)


def test_an_xgboost_run_config_with_a_name_the_algorithm_refuses_fails_before_any_job_starts(
    settings: Settings,
) -> None:
    config = XGBOOST_RUN_CONFIG | {"hyperparameters": {"objective": "reg:tweedie", "max_detph": "3"}}

    with pytest.raises(DatasetConfigInvalid) as raised:
        training_request(settings, xgboost_train_step(), config)

    assert "'objective' is set by the pipeline" in str(raised.value)
    assert "did you mean 'max_depth'" in str(raised.value)


def test_an_xgboost_run_writes_the_shards_and_its_evaluation_packs_the_model(settings: Settings) -> None:
    preprocess = outputs_by_name(preprocess_request(settings, run_config=XGBOOST_RUN_CONFIG))
    evaluation = evaluation_request(settings, run_config=XGBOOST_RUN_CONFIG)
    step = EvaluateInput.model_validate(load_event("evaluate"))

    assert preprocess["xgboost"]["LocalPath"] == "/opt/ml/processing/output/xgboost"
    assert "xgboost" not in outputs_by_name(preprocess_request(settings))
    assert inputs_by_name(evaluation)["metadata"]["S3Uri"] == step.preprocess.outputs["metadata"]
    assert outputs_by_name(evaluation)["model"]["LocalPath"] == "/opt/ml/processing/output/model"
    assert "model" not in outputs_by_name(evaluation_request(settings))
