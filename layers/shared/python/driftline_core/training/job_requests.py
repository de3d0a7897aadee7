"""The one home of the SageMaker job requests Driftline sends, and of reading a job's results back.

The builders are pure: they turn a run's identity, its resolved config and the previous steps' results
into the exact CreateProcessingJob / CreateTrainingJob request, so the request shapes are testable
without AWS and the ``ml/`` scripts find their inputs where the container contracts put them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from driftline_core import layout
from driftline_core.aws.instance_storage import has_instance_storage
from driftline_core.aws.times import iso_utc
from driftline_core.errors import DatasetConfigInvalid
from driftline_core.ingest.dataset_config import INSTANCE_COUNT_CEILING, MODEL_FRAMEWORKS, MODEL_SCRIPT_NAME
from driftline_core.ingest.hyperparameters import (
    XGBOOST_DEFAULT_ROUNDS,
    as_string,
    hyperparameter_problems,
    xgboost_metric_problem,
)
from driftline_core.ingest.model_images import parse_image_uri
from driftline_core.layout import ml_code_files_uri, ml_code_tarball_uri
from driftline_core.payloads import DataObject, DeploymentResult, JobResult
from driftline_core.settings import PreprocessSettings, Settings

PREPROCESS_STEP = "preprocess"
TRAIN_STEP = "train"
EVALUATE_STEP = "evaluate"
BASELINE_OUTPUT = "baseline"
MONITOR_OUTPUT = "monitor"
"""The output names ``ml/baseline.py`` and ``ml/monitor.py`` write under ``/opt/ml/processing/output/``."""
MONITOR_SHARDS = "shards"
"""Where a monitor job on several instances leaves each instance's summary (``ml/monitor.py`` writes
``<monitor output>/shards/statistics-<host>.json``), below the window's output, and the merge job's input."""
MERGE_ARGUMENTS = ["--mode", "merge"]

PROCESSING_INPUT_ROOT = "/opt/ml/processing/input"
PROCESSING_OUTPUT_ROOT = "/opt/ml/processing/output"
CODE_DIR = f"{PROCESSING_INPUT_ROOT}/code"

PREPROCESS_OUTPUTS = ("train", "validation", "test", "metadata")
XGBOOST_OUTPUT = "xgboost"
"""The preprocess output of an XGBoost run: ``train/`` (a file per instance) and ``validation/`` in the algorithm's
headerless CSV format, the training job's channels."""
XGBOOST_ALGORITHM = "xgboost"
XGBOOST_OBJECTIVES = {
    "binary_classification": "binary:logistic",
    "multiclass_classification": "multi:softprob",
    "regression": "reg:squarederror",
}
XGBOOST_DEFAULT_EVAL_METRICS = {
    "binary_classification": "logloss",
    "multiclass_classification": "mlogloss",
    "regression": "rmse",
}
TRANSFORM_OUTPUT = "transform"
"""The preprocess output of a run whose model is its own container: the held-out rows as uploaded, headerless, one
file per preprocessing instance, which the batch transform sends the container line by line."""
TRANSFORM_STEP = "transform"
CANDIDATE_MODEL_STEP = "candidate"
"""The SageMaker model made of a container run's image and artifact, which its batch transform runs."""
ANSWERS_INPUT = "answers"
"""The batch transform's output, the evaluation job's input in place of the model (``ml/evaluate.py``)."""
TRANSFORM_MAX_PAYLOAD_MB = 6
"""A batch of rows at most this large per request: the same as a real-time endpoint takes."""
METADATA_INPUT = "metadata"
PACKED_MODEL_FILE = "model.tar.gz"
"""What an XGBoost run's evaluation job writes to its ``model`` output: the booster with the metadata serving reads."""
EVALUATION_OUTPUT = "evaluation"
TRAINING_CHANNELS = {"train": "text/csv", "validation": "text/csv", "metadata": "application/json"}
"""Training channel name -> content type; each channel is the preprocess output of the same name."""
MODEL_OUTPUT = "model"
INCUMBENT_INPUT = "incumbent"
INCUMBENT_ARN_VARIABLE = "DRIFTLINE_INCUMBENT_MODEL_PACKAGE_ARN"
INCUMBENT_NOT_GIVEN_VARIABLE = "DRIFTLINE_INCUMBENT_NOT_GIVEN"
"""The names ``ml/evaluate.py`` reads: the approved model's input folder and environment variables."""
BASELINE_INPUT = "baseline"
TRAIN_INPUT = "train"
BASELINE_URI_VARIABLE = "DRIFTLINE_BASELINE_URI"
BASELINE_NOT_GIVEN_VARIABLE = "DRIFTLINE_BASELINE_NOT_GIVEN"
"""The approved model's drift baseline and the run's train split, which ``ml/evaluate.py`` compares with it."""
DATASET_VARIABLE = "DRIFTLINE_DATASET"
ENDPOINT_VARIABLE = "DRIFTLINE_ENDPOINT"
"""A drift job's dataset and endpoint, in its Environment: DescribeProcessingJob returns that, not the job's tags,
so the job's state-change handler reads them from there."""
ENVIRONMENT_VALUE_MAX = 256
"""CreateProcessingJob's limit on an environment value."""

TRIAL_STEP = "trial"
TRIAL_OUTPUT = "trial"
"""The analysis job's one output: ``trial.json`` and ``trial_report.html`` (``layout.trial_analysis_prefix``)."""
PROCESSING_ROOT = "/opt/ml/processing"
TRIAL_CAPTURE_DIR = f"{PROCESSING_ROOT}/capture"
TRIAL_LABELS_DIR = f"{PROCESSING_ROOT}/labels"
TRIAL_CONFIG_DIR = f"{PROCESSING_ROOT}/config"
"""Where ``ml/trial_analysis.py`` reads its inputs: ``capture/<VariantName>/``, ``labels/`` and ``config/``."""
MAX_PROCESSING_INPUTS = 10
"""CreateProcessingJob takes at most 10 ProcessingInputs."""
CAPTURE_FOLDER_FORMATS = ("%Y/%m/%d/%H/", "%Y/%m/%d/", "%Y/%m/", "%Y/", "")
"""SageMaker writes captures under ``<endpoint>/<variant>/yyyy/mm/dd/hh/``: hour, day, month and year folders, then
the variant's whole folder, each covering more of the trial with one input."""

TRAINING_PROGRAM = "train.py"
SCRIPT_TRAINING_PROGRAM = "train_script.py"
"""Runs a dataset's own training script, ``ml/models/<name>/train.py``, named by the ``model_script`` hyperparameter."""
VOLUME_SIZE_GB = 30


def build_preprocess_job_request(
    *,
    execution_name: str,
    dataset: str,
    data: DataObject,
    config_uri: str,
    run_config: Mapping[str, Any],
    settings: Settings,
    preprocessing: PreprocessSettings | None = None,
) -> dict[str, Any]:
    """CreateProcessingJob request that splits and encodes the uploaded file (``ml/preprocess.py``), on several
    instances when the data has many rows (``preprocessing_instances``).

    A processing input cannot pin an S3 version id, so the job reads the run's copy of the exact version
    Validate checked (``input_uri`` in the run config); the upload's key and version stay in the lineage.
    """
    _require(settings, "sagemaker_role_arn", "processing_image_uri", "ml_code_uri", "artifact_bucket")
    environment = _processing_environment(execution_name)
    version_id = run_config.get("data_version_id") or data.version_id
    if version_id:
        environment["DRIFTLINE_DATA_VERSION_ID"] = str(version_id)
    request = _processing_job_request(
        job_name=layout.job_name(execution_name, PREPROCESS_STEP),
        script="preprocess.py",
        inputs={
            "code": ml_code_files_uri(settings.ml_code_uri),
            "data": _pinned_input(run_config),
            "config": config_uri,
        },
        outputs={
            name: _processing_output_uri(settings, execution_name, PREPROCESS_STEP, name)
            for name in (
                *PREPROCESS_OUTPUTS,
                *([XGBOOST_OUTPUT] if trains_with_xgboost(run_config) else []),
                *([TRANSFORM_OUTPUT] if model_image(run_config) else []),
            )
        },
        environment=environment,
        tags=_tags(dataset, execution_name),
        settings=settings,
    )
    instances = preprocessing_instances(run_config, preprocessing or PreprocessSettings())
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = instances
    return request


def preprocessing_instances(run_config: Mapping[str, Any], settings: PreprocessSettings) -> int:
    """Instances the preprocessing job runs on: one per ``preprocess_rows_per_instance`` rows Validate counted, at
    most ``preprocess_max_instances``. Every instance is given all the data and encodes its share of the rows
    (``ml/preprocess.py``)."""
    rows = run_config.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        return 1
    return max(1, min(settings.preprocess_max_instances, -(-rows // settings.preprocess_rows_per_instance)))


def build_training_job_request(
    *,
    execution_name: str,
    dataset: str,
    run_config: Mapping[str, Any],
    preprocess: JobResult,
    settings: Settings,
    region: str,
    class_count: int | None = None,
) -> dict[str, Any]:
    """CreateTrainingJob request for the scikit-learn framework container running ``ml/train.py``, or, for a run
    trained by SageMaker's XGBoost algorithm, for that algorithm (``class_count``: the preprocessing metadata's
    number of classes, which XGBoost needs for a multiclass problem).

    ``region`` is the region the job runs in, passed as ``sagemaker_region`` as the SageMaker Python SDK
    always does: the training toolkit fetches ``sagemaker_submit_directory`` from S3 in that region.
    That download is the container's own network call, so training jobs cannot be network-isolated as the
    processing jobs are (their code arrives as an input); they run in the configured VPC instead.
    """
    if model_image(run_config):
        return _image_training_job_request(
            execution_name=execution_name,
            dataset=dataset,
            run_config=run_config,
            preprocess=preprocess,
            settings=settings,
        )
    if trains_with_xgboost(run_config):
        return _xgboost_training_job_request(
            execution_name=execution_name,
            dataset=dataset,
            run_config=run_config,
            preprocess=preprocess,
            settings=settings,
            class_count=class_count,
        )
    _require(settings, "sagemaker_role_arn", "training_image_uri", "ml_code_uri", "artifact_bucket")
    request = _training_job_request(
        execution_name,
        dataset,
        settings,
        image=training_image_uri(run_config, settings),
        hyperparameters=training_hyperparameters(
            run_config, code_tarball_uri=ml_code_tarball_uri(settings.ml_code_uri), region=region
        ),
        channels=_split_channels(preprocess),
        instances=1,
    )
    request["Environment"] = {"PYTHONUNBUFFERED": "1", "DRIFTLINE_EXECUTION_NAME": execution_name}
    return _with_encryption_and_vpc(request, settings)


def _training_job_request(
    execution_name: str,
    dataset: str,
    settings: Settings,
    *,
    image: str,
    hyperparameters: dict[str, str],
    channels: list[dict[str, Any]],
    instances: int,
) -> dict[str, Any]:
    """What every run's CreateTrainingJob request holds: the job's name, role, image, hyperparameters, channels,
    output under the run's prefix, instances, runtime limit and tags."""
    return {
        "TrainingJobName": layout.job_name(execution_name, TRAIN_STEP),
        "RoleArn": settings.sagemaker_role_arn,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": hyperparameters,
        "InputDataConfig": channels,
        "OutputDataConfig": {
            "S3OutputPath": layout.s3_uri(settings.artifact_bucket, layout.training_output_prefix(execution_name)),
        },
        "ResourceConfig": {
            "InstanceType": settings.training_instance_type,
            "InstanceCount": instances,
            "VolumeSizeInGB": VOLUME_SIZE_GB,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_job_runtime_seconds},
        "Tags": _tags(dataset, execution_name),
    }


def _instance_count(run_config: Mapping[str, Any]) -> int:
    """The run's training instances (``model.instance_count``), held to the ceiling Validate applied."""
    instances = run_config.get("instance_count", 1)
    if not isinstance(instances, int) or isinstance(instances, bool) or not 1 <= instances <= INSTANCE_COUNT_CEILING:
        raise DatasetConfigInvalid(
            f"The run config's instance_count {json.dumps(instances)} is not a whole number from 1 to "
            f"{INSTANCE_COUNT_CEILING}; correct model.instance_count in data/<dataset>/dataset.json."
        )
    return instances


def _with_encryption_and_vpc(request: dict[str, Any], settings: Settings) -> dict[str, Any]:
    if settings.kms_key_arn:
        request["OutputDataConfig"]["KmsKeyId"] = settings.kms_key_arn
        # Instance storage is encrypted by the instance itself, and CreateTrainingJob refuses a key for it.
        if not has_instance_storage(settings.training_instance_type):
            request["ResourceConfig"]["VolumeKmsKeyId"] = settings.kms_key_arn
    vpc_config = settings.job_vpc_config
    if vpc_config:
        request["VpcConfig"] = vpc_config
    return request


def model_framework(run_config: Mapping[str, Any]) -> str:
    """The framework container the run's script trains on (``"framework"`` in dataset.json): scikit-learn's or
    XGBoost's."""
    framework = run_config.get("model_framework") or "scikit-learn"
    if framework not in MODEL_FRAMEWORKS:
        raise DatasetConfigInvalid(
            f"The run config's model_framework {json.dumps(framework)} is not a container Driftline runs scripts on "
            f"({', '.join(MODEL_FRAMEWORKS)}); correct model.framework in data/<dataset>/dataset.json and upload the "
            "file again."
        )
    return str(framework)


def runs_on_xgboost_image(run_config: Mapping[str, Any]) -> bool:
    """Whether the run's model trains, is evaluated and is served on SageMaker's XGBoost image: the XGBoost
    algorithm's model, or a script's on the XGBoost framework container."""
    return trains_with_xgboost(run_config) or model_framework(run_config) == "xgboost"


def model_image(run_config: Mapping[str, Any]) -> str | None:
    """The dataset's own container image the run's model trains and serves in (``"image"`` in dataset.json), held to
    the URI rules Validate applied; None for every other model."""
    image = run_config.get("model_image")
    if image is None:
        return None
    try:
        return parse_image_uri(str(image)).uri
    except DatasetConfigInvalid as error:
        raise DatasetConfigInvalid(
            f"The run config's {error}; correct model.image in data/<dataset>/dataset.json and upload the file again."
        ) from None


def model_image_uri(run_config: Mapping[str, Any], settings: Settings) -> str:
    """The image the run's model is served on (and, but for PyTorch, trained on)."""
    image = model_image(run_config)
    if image is not None:
        return image
    if model_framework(run_config) == "pytorch":
        _require(settings, "pytorch_inference_image_uri")
        return settings.pytorch_inference_image_uri
    if runs_on_xgboost_image(run_config):
        _require(settings, "xgboost_image_uri")
        return settings.xgboost_image_uri
    return settings.training_image_uri


def training_image_uri(run_config: Mapping[str, Any], settings: Settings) -> str:
    """The image a script-mode run trains on: its model's image, but PyTorch's training image (in its GPU build on
    an instance type with GPUs) for a script on PyTorch, whose models are served by another image."""
    if model_framework(run_config) != "pytorch":
        return model_image_uri(run_config, settings)
    return pytorch_image_for(settings.training_instance_type, settings)


def evaluation_image_uri(run_config: Mapping[str, Any], settings: Settings) -> str | None:
    """The image that can load the run's model to score it: XGBoost's or PyTorch's training image (which holds the
    scientific stack ``ml/`` needs); None for the processing image."""
    if model_framework(run_config) == "pytorch" and model_image(run_config) is None:
        return pytorch_image_for(settings.processing_instance_type, settings)
    return model_image_uri(run_config, settings) if runs_on_xgboost_image(run_config) else None


def pytorch_image_for(instance_type: str, settings: Settings) -> str:
    """PyTorch's training image in the build for ``instance_type``: the GPU build's tag on GPU instances."""
    _require(settings, "pytorch_training_image_uri")
    image = settings.pytorch_training_image_uri
    return image.replace("-cpu-", "-gpu-") if has_gpus(instance_type) else image


def has_gpus(instance_type: str) -> bool:
    """Whether a SageMaker instance type has NVIDIA GPUs (the ``ml.g*`` and ``ml.p*`` families)."""
    return re.match(r"^ml\.[gp]\d", instance_type) is not None


def trains_with_xgboost(run_config: Mapping[str, Any]) -> bool:
    """Whether the run's model is trained by SageMaker's XGBoost algorithm (``"algorithm": "xgboost"``)."""
    algorithm = run_config.get("model_algorithm")
    if algorithm not in (None, XGBOOST_ALGORITHM):
        raise DatasetConfigInvalid(
            f"The run config's model_algorithm {json.dumps(algorithm)} is not one Driftline trains with; correct "
            '"model": {"algorithm": "xgboost"} in data/<dataset>/dataset.json and upload the file again.'
        )
    return algorithm == XGBOOST_ALGORITHM


def _xgboost_training_job_request(
    *,
    execution_name: str,
    dataset: str,
    run_config: Mapping[str, Any],
    preprocess: JobResult,
    settings: Settings,
    class_count: int | None,
) -> dict[str, Any]:
    """CreateTrainingJob request for SageMaker's XGBoost algorithm (no script): the headerless CSV splits, the train
    channel sharded over the instances by S3 key (one file each), validation replicated to every instance."""
    _require(settings, "sagemaker_role_arn", "xgboost_image_uri", "artifact_bucket")
    instances = _instance_count(run_config)
    shards = _job_output(preprocess, XGBOOST_OUTPUT).rstrip("/")
    channels = [
        {
            "ChannelName": channel,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": f"{shards}/{channel}/",
                    "S3DataDistributionType": distribution,
                }
            },
            "ContentType": "text/csv",
            "InputMode": "File",
        }
        for channel, distribution in (
            ("train", "ShardedByS3Key" if instances > 1 else "FullyReplicated"),
            ("validation", "FullyReplicated"),
        )
    ]
    request = _training_job_request(
        execution_name,
        dataset,
        settings,
        image=settings.xgboost_image_uri,
        hyperparameters=xgboost_hyperparameters(run_config, class_count),
        channels=channels,
        instances=instances,
    )
    return _with_encryption_and_vpc(request, settings)


def _image_training_job_request(
    *,
    execution_name: str,
    dataset: str,
    run_config: Mapping[str, Any],
    preprocess: JobResult,
    settings: Settings,
) -> dict[str, Any]:
    """CreateTrainingJob request for the dataset's own container: SageMaker's training contract (the channels under
    ``/opt/ml/input/data``, ``hyperparameters.json`` with the dataset's hyperparameters as strings, the model saved
    to ``/opt/ml/model``), on ``instance_count`` instances, without network access: the image holds what it needs.
    """
    _require(settings, "sagemaker_role_arn", "artifact_bucket")
    image = model_image(run_config)
    assert image is not None
    given = {str(name): _typed(value) for name, value in _declared_hyperparameters(run_config).items()}
    problems = hyperparameter_problems(given, model="image")
    if problems:
        raise DatasetConfigInvalid(
            f"The run config's hyperparameters are not ones SageMaker passes to a container: {'; '.join(problems)}. "
            "Correct them in data/<dataset>/dataset.json and upload the file again."
        )
    request = _training_job_request(
        execution_name,
        dataset,
        settings,
        image=image,
        hyperparameters={name: as_string(value) for name, value in given.items()},
        channels=_split_channels(preprocess),
        instances=_instance_count(run_config),
    )
    request["EnableNetworkIsolation"] = True
    return _with_encryption_and_vpc(request, settings)


def _split_channels(preprocess: JobResult) -> list[dict[str, Any]]:
    """The preprocessed splits and their metadata as training channels, every instance given all of them."""
    return [
        {
            "ChannelName": channel,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": _job_output(preprocess, channel),
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ContentType": content_type,
            "InputMode": "File",
        }
        for channel, content_type in TRAINING_CHANNELS.items()
    ]


def build_candidate_model_request(
    *, execution_name: str, dataset: str, run_config: Mapping[str, Any], training: JobResult, settings: Settings
) -> dict[str, Any]:
    """CreateModel request for a container run's trained model, which its batch transform runs on the held-out
    rows: the dataset's image with the training job's artifact, without network access."""
    _require(settings, "sagemaker_role_arn")
    image = model_image(run_config)
    if image is None:
        raise ValueError("only a model in its own container is answered by a batch transform")
    request: dict[str, Any] = {
        "ModelName": layout.job_name(execution_name, CANDIDATE_MODEL_STEP),
        "PrimaryContainer": {"Image": image, "ModelDataUrl": _job_output(training, MODEL_OUTPUT)},
        "ExecutionRoleArn": settings.sagemaker_role_arn,
        "EnableNetworkIsolation": True,
        "Tags": _tags(dataset, execution_name),
    }
    vpc_config = settings.job_vpc_config
    if vpc_config:
        request["VpcConfig"] = vpc_config
    return request


def build_transform_job_request(
    *, execution_name: str, dataset: str, preprocess: JobResult, settings: Settings
) -> dict[str, Any]:
    """CreateTransformJob request: the candidate model answers each held-out row (``text/csv``, a line each, as its
    endpoint would be sent them), the answers assembled a line per row, in the rows' order."""
    _require(settings, "artifact_bucket")
    request: dict[str, Any] = {
        "TransformJobName": layout.job_name(execution_name, TRANSFORM_STEP),
        "ModelName": layout.job_name(execution_name, CANDIDATE_MODEL_STEP),
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": TRANSFORM_MAX_PAYLOAD_MB,
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": _job_output(preprocess, TRANSFORM_OUTPUT)}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": {
            "S3OutputPath": transform_answers_uri(settings, execution_name),
            "Accept": "text/csv",
            "AssembleWith": "Line",
        },
        "TransformResources": {"InstanceType": settings.processing_instance_type, "InstanceCount": 1},
        "Tags": _tags(dataset, execution_name),
    }
    if settings.kms_key_arn:
        request["TransformOutput"]["KmsKeyId"] = settings.kms_key_arn
        if not has_instance_storage(settings.processing_instance_type):
            request["TransformResources"]["VolumeKmsKeyId"] = settings.kms_key_arn
    return request


def transform_answers_uri(settings: Settings, execution_name: str) -> str:
    """Where a container run's batch transform writes its answers, which its evaluation job reads."""
    return _processing_output_uri(settings, execution_name, TRANSFORM_STEP, ANSWERS_INPUT)


def xgboost_hyperparameters(run_config: Mapping[str, Any], class_count: int | None = None) -> dict[str, str]:
    """The algorithm's hyperparameters as plain strings (built-in algorithms read them as given, not JSON): the
    dataset's, checked against the catalogue, with the objective, classes and default rounds the pipeline sets."""
    given = _declared_hyperparameters(run_config)
    problems = hyperparameter_problems({str(name): _typed(value) for name, value in given.items()}, model="xgboost")
    if problems:
        raise DatasetConfigInvalid(
            f"The run config's hyperparameters are not ones XGBoost accepts: {'; '.join(problems)}. "
            "Correct them in data/<dataset>/dataset.json and upload the file again."
        )
    problem_type = str(run_config.get("problem_type") or "")
    if problem_type not in XGBOOST_OBJECTIVES:
        raise DatasetConfigInvalid(
            f"The run config has no problem type XGBoost can train ({problem_type or 'none'}); upload the file again "
            "so Validate writes a full config."
        )
    mismatch = xgboost_metric_problem({str(name): str(value) for name, value in given.items()}, problem_type)
    if mismatch:
        raise DatasetConfigInvalid(f"The run config's {mismatch}. Correct it in data/<dataset>/dataset.json.")
    values = {
        "num_round": str(XGBOOST_DEFAULT_ROUNDS),
        "eval_metric": XGBOOST_DEFAULT_EVAL_METRICS[problem_type],
        **{str(name): str(value) for name, value in given.items()},
        "objective": XGBOOST_OBJECTIVES[problem_type],
    }
    if problem_type == "multiclass_classification":
        if class_count is None or class_count < 2:
            raise ValueError(
                "XGBoost needs the number of classes (num_class), which the preprocessing metadata did not give"
            )
        values["num_class"] = str(class_count)
    return values


@dataclass(frozen=True)
class IncumbentForEvaluation:
    """The dataset's approved model, for the evaluation job to score on the candidate's test split."""

    model_package_arn: str
    model_uri: str | None
    """Its ``model.tar.gz``, given to the job as the ``incumbent`` input; None when the job cannot read it."""
    not_given: str | None = None
    """Why ``model_uri`` is None (a short clause the report carries to the quality gate)."""
    baseline_uri: str | None = None
    """Its drift baseline's folder (``statistics.json`` and ``constraints.json``); None when there is none yet."""
    baseline_not_given: str | None = None
    """Why ``baseline_uri`` is None (a short clause the report carries to the notifications)."""


def build_evaluation_job_request(
    *,
    execution_name: str,
    dataset: str,
    config_uri: str,
    preprocess: JobResult,
    training: JobResult,
    settings: Settings,
    incumbent: IncumbentForEvaluation | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """CreateProcessingJob request that scores the model on the held-out split (``ml/evaluate.py``).

    A model in the dataset's own container is not loaded by the job: its batch transform answered the held-out rows
    (``transform_answers_uri``), and the job scores those answers (input ``answers``) with the preprocessing metadata.

    A model trained by SageMaker's XGBoost algorithm is evaluated on SageMaker's XGBoost image (the framework
    container, which runs ``ml/`` as the scikit-learn one does and has XGBoost to load the model), with the
    preprocessing metadata as an input: the algorithm's ``model.tar.gz`` holds only the booster, so the job also
    writes the servable model (booster and metadata) as its ``model`` output, the one the run registers.

    With an approved model, the job also scores that model on the same split: its package ARN travels in the
    environment and its artifact, when the job can read it, as the ``incumbent`` input. When that model has a
    drift baseline, the job compares the run's train and test rows with it: the baseline and the train split
    are given as inputs only then (a processing input that does not exist fails the whole job).
    """
    _require(settings, "sagemaker_role_arn", "processing_image_uri", "ml_code_uri", "artifact_bucket")
    xgboost = trains_with_xgboost(run_config or {})
    # The model's own image, which can load it; the processing image for the built-in model and scikit-learn's.
    image_uri = evaluation_image_uri(run_config or {}, settings)
    inputs = {
        "code": ml_code_files_uri(settings.ml_code_uri),
        "model": _job_output(training, MODEL_OUTPUT),
        "test": _job_output(preprocess, "test"),
        "config": config_uri,
    }
    if model_image(run_config or {}) is not None:
        del inputs["model"]
        inputs[ANSWERS_INPUT] = transform_answers_uri(settings, execution_name)
        inputs[METADATA_INPUT] = _job_output(preprocess, METADATA_INPUT)
    outputs = {EVALUATION_OUTPUT: _processing_output_uri(settings, execution_name, EVALUATE_STEP, EVALUATION_OUTPUT)}
    if xgboost:
        inputs[METADATA_INPUT] = _job_output(preprocess, METADATA_INPUT)
        outputs[MODEL_OUTPUT] = _processing_output_uri(settings, execution_name, EVALUATE_STEP, MODEL_OUTPUT)
    environment = _processing_environment(execution_name)
    if incumbent is not None:
        environment[INCUMBENT_ARN_VARIABLE] = incumbent.model_package_arn
        if incumbent.model_uri:
            inputs[INCUMBENT_INPUT] = incumbent.model_uri
        else:
            why = incumbent.not_given or "its model artifact could not be given to the evaluation job"
            environment[INCUMBENT_NOT_GIVEN_VARIABLE] = why[:ENVIRONMENT_VALUE_MAX]
        if incumbent.baseline_uri:
            inputs[BASELINE_INPUT] = incumbent.baseline_uri
            inputs[TRAIN_INPUT] = _job_output(preprocess, TRAIN_INPUT)
            environment[BASELINE_URI_VARIABLE] = incumbent.baseline_uri
        else:
            why = incumbent.baseline_not_given or "its drift baseline could not be given to the evaluation job"
            environment[BASELINE_NOT_GIVEN_VARIABLE] = why[:ENVIRONMENT_VALUE_MAX]
    return _processing_job_request(
        job_name=layout.job_name(execution_name, EVALUATE_STEP),
        script="evaluate.py",
        inputs=inputs,
        outputs=outputs,
        environment=environment,
        tags=_tags(dataset, execution_name),
        settings=settings,
        image_uri=image_uri,
    )


def build_trial_analysis_job_request(
    *,
    execution_name: str,
    dataset: str,
    config_uri: str,
    deployment: DeploymentResult,
    holds_objects: Callable[[str], bool],
    settings: Settings,
) -> dict[str, Any]:
    """CreateProcessingJob request for the A/B trial's analysis (``ml/trial_analysis.py``).

    The job reads each variant's captures of the trial window, the dataset's labels and the run's config, and
    writes ``trial.json`` and ``trial_report.html``. The captures are given as the fewest capture folders that
    cover the window and fit SageMaker's 10 inputs (hours when few, else days, months, years, else each variant's
    whole folder; the job keeps only the records inside the window). SageMaker refuses an input whose S3 prefix
    holds no object, so a prefix ``holds_objects`` finds empty is left out: the job then decides
    ``not_enough_evidence`` and names what held no files.
    """
    _require(settings, "sagemaker_role_arn", "processing_image_uri", "ml_code_uri", "artifact_bucket", "data_bucket")
    trial = deployment.trial
    if trial is None:
        raise ValueError(
            f"the deployment of {deployment.model_package_arn} on {deployment.endpoint_name} is not an A/B trial "
            "(no trial in $.deployment), so there is no trial to analyse"
        )
    if not deployment.data_capture_uri:
        raise ValueError(
            f"endpoint {deployment.endpoint_name} captures no data (a serverless endpoint), so its A/B trial has "
            "no answers to analyse; run A/B trials on a provisioned endpoint"
        )
    start, end = trial_window(trial.started_at, trial.ends_at, trial.trial_minutes)
    variants = [trial.champion_variant, trial.challenger_variant]
    fixed_inputs = 3  # the code, the run config and the labels
    capture_uris = trial_capture_uris(
        deployment.data_capture_uri,
        deployment.endpoint_name,
        variants,
        start,
        end,
        per_variant=(MAX_PROCESSING_INPUTS - fixed_inputs) // len(variants),
    )
    labels_uri = layout.s3_uri(settings.data_bucket, layout.ground_truth_prefix(dataset))
    request = _processing_job_request(
        job_name=layout.job_name(execution_name, TRIAL_STEP),
        script="trial_analysis.py",
        inputs={"code": ml_code_files_uri(settings.ml_code_uri)},
        outputs={TRIAL_OUTPUT: layout.s3_uri(settings.artifact_bucket, layout.trial_analysis_prefix(execution_name))},
        environment=_processing_environment(execution_name),
        tags=_tags(dataset, execution_name),
        settings=settings,
    )
    inputs = request["ProcessingInputs"]
    inputs.append(_s3_prefix_input("config", config_uri, TRIAL_CONFIG_DIR))
    given = [("labels", labels_uri, TRIAL_LABELS_DIR)] + [
        (f"capture-{variant}-{index}", uri, f"{TRIAL_CAPTURE_DIR}/{variant}/{index}")
        for variant in variants
        for index, uri in enumerate(capture_uris[variant])
    ]
    inputs.extend(_s3_prefix_input(name, uri, local_path) for name, uri, local_path in given if holds_objects(uri))
    [output] = request["ProcessingOutputConfig"]["Outputs"]
    output["S3Output"]["LocalPath"] = PROCESSING_OUTPUT_ROOT
    arguments = {
        "--challenger-variant": trial.challenger_variant,
        "--champion-variant": trial.champion_variant,
        "--mode": trial.mode,
        "--significance": repr(trial.significance),
        "--min-labelled-rows": str(trial.min_labelled_rows),
        "--start-time": iso_utc(start),
        "--end-time": iso_utc(end),
        "--endpoint-name": deployment.endpoint_name,
        "--trial-name": deployment.endpoint_config_name,
    }
    # An empty argument is no value at all: the job's own default applies instead.
    request["AppSpecification"]["ContainerArguments"] = [
        text for name, value in arguments.items() if value for text in (name, value)
    ]
    return request


def trial_window(started_at: str, ends_at: str, trial_minutes: int) -> tuple[datetime, datetime]:
    """The trial's [start, end) in UTC; a bound not recorded is the other one moved by the trial's length."""
    length = timedelta(minutes=trial_minutes)
    start = _utc_time(started_at, "started_at")
    end = _utc_time(ends_at, "ends_at")
    if start is None:
        if end is None:
            raise ValueError(
                "the trial records neither when it started nor when it ends (started_at and ends_at in "
                "$.deployment.trial are empty), so no window of captured data can be analysed"
            )
        start = end - length
    elif end is None:
        end = start + length
    if end <= start:
        raise ValueError(
            f"the trial ends ({iso_utc(end)}) before it starts ({iso_utc(start)}); check $.deployment.trial"
        )
    return start, end


def trial_capture_uris(
    capture_uri: str, endpoint: str, variants: list[str], start: datetime, end: datetime, *, per_variant: int
) -> dict[str, list[str]]:
    """Each variant's capture folders covering [start, end): the finest level that needs at most ``per_variant``."""
    base = f"{capture_uri.rstrip('/')}/{endpoint}"
    for folder_format in CAPTURE_FOLDER_FORMATS:
        folders = _capture_folders(folder_format, start, end, per_variant)
        if folders is not None:
            return {variant: [f"{base}/{variant}/{folder}" for folder in folders] for variant in variants}
    raise AssertionError("the variant's whole folder always fits")  # pragma: no cover


def _capture_folders(folder_format: str, start: datetime, end: datetime, limit: int) -> list[str] | None:
    """The folders of one level the window touches, in order; None when there are more than ``limit``."""
    folders: list[str] = []
    for moment in _level_starts(folder_format, start, end):
        folder = moment.strftime(folder_format)
        if folders and folders[-1] == folder:
            continue
        folders.append(folder)
        if len(folders) > limit:
            return None
    return folders


def _level_starts(folder_format: str, start: datetime, end: datetime) -> Iterator[datetime]:
    """The start of each hour, day, month or year that [start, end) overlaps; one moment for the whole folder."""
    if not folder_format:
        yield start
        return
    if "%H" in folder_format:
        moment, step = start.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    elif "%d" in folder_format:
        moment, step = start.replace(hour=0, minute=0, second=0, microsecond=0), timedelta(days=1)
    else:
        moment = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        if "%m" not in folder_format:
            moment = moment.replace(month=1)
        # Whole months and years are not a fixed timedelta: step a day at a time (the folders deduplicate).
        step = timedelta(days=1)
    while moment < end:
        yield moment
        moment += step


def _utc_time(text: str, field: str) -> datetime | None:
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"the trial's {field} {text!r} is not an ISO 8601 time such as 2026-12-07T08:00:00Z; "
            "check $.deployment.trial"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _s3_prefix_input(name: str, uri: str, local_path: str) -> dict[str, Any]:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local_path,
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def build_baseline_job_request(
    *, job_name: str, execution_name: str, dataset: str, endpoint: str, output_uri: str, settings: Settings
) -> dict[str, Any]:
    """CreateProcessingJob request for the drift baseline (``ml/baseline.py``) of the model a run trained.

    It reads that run's train split and ``preprocessing.json`` (the preprocess job's outputs) and writes
    ``statistics.json`` and ``constraints.json`` to ``output_uri``.
    """
    _require(settings, "sagemaker_role_arn", "processing_image_uri", "ml_code_uri", "artifact_bucket")
    return _processing_job_request(
        job_name=job_name,
        script="baseline.py",
        inputs={
            "code": ml_code_files_uri(settings.ml_code_uri),
            "train": _processing_output_uri(settings, execution_name, PREPROCESS_STEP, "train"),
            "metadata": _processing_output_uri(settings, execution_name, PREPROCESS_STEP, "metadata"),
        },
        outputs={BASELINE_OUTPUT: output_uri},
        environment={**_processing_environment(execution_name), DATASET_VARIABLE: dataset, ENDPOINT_VARIABLE: endpoint},
        tags=[*_tags(dataset, execution_name), {"Key": "driftline:endpoint", "Value": endpoint}],
        settings=settings,
    )


def build_monitor_job_request(
    *,
    job_name: str,
    dataset: str,
    endpoint: str,
    schedule: str,
    baseline_uri: str,
    capture_uris: Mapping[str, str],
    output_uri: str,
    window_start: str,
    window_end: str,
    settings: Settings,
    instance_count: int = 1,
) -> dict[str, Any]:
    """CreateProcessingJob request for one monitoring window (``ml/monitor.py``).

    ``capture_uris`` maps each captured hour's path below the dataset's capture folder
    (``<endpoint>/<variant>/yyyy/mm/dd/hh/``) to its S3 prefix; each is downloaded to the same path under
    the job's capture folder, as Model Monitor lays a window out. The environment is Model Monitor's
    (endpoint, schedule, window), so the metrics carry the dimensions the drift alarm watches. The job stays
    network-isolated: it writes its metrics to ``cloudwatch_metrics.json`` and the StartMonitoring function
    publishes them when the job completes.

    With ``instance_count`` above one the window is split: each capture input is ``ShardedByS3Key`` (each
    instance downloads about 1/n of every hour's objects), each instance writes only its summary, and the
    job's one output is the window's ``shards/`` folder, which ``build_monitor_merge_job_request`` reads.
    """
    _require(settings, "sagemaker_role_arn", "processing_image_uri", "ml_code_uri", "artifact_bucket")
    sharded = instance_count > 1
    request = _processing_job_request(
        job_name=job_name,
        script="monitor.py",
        inputs={"code": ml_code_files_uri(settings.ml_code_uri), "baseline": baseline_uri},
        outputs={MONITOR_SHARDS: monitor_shards_uri(output_uri)} if sharded else {MONITOR_OUTPUT: output_uri},
        environment=_monitor_environment(dataset, endpoint, schedule, window_start, window_end),
        tags=_monitor_tags(dataset, endpoint),
        settings=settings,
    )
    if sharded:
        request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = instance_count
        [shards] = request["ProcessingOutputConfig"]["Outputs"]
        shards["S3Output"]["LocalPath"] = f"{PROCESSING_OUTPUT_ROOT}/{MONITOR_OUTPUT}/{MONITOR_SHARDS}"
    for index, (path, uri) in enumerate(sorted(capture_uris.items())):
        request["ProcessingInputs"].append(
            {
                "InputName": f"capture-{index}",
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"{PROCESSING_INPUT_ROOT}/capture/{path.strip('/')}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "ShardedByS3Key" if sharded else "FullyReplicated",
                },
            }
        )
    return request


def build_monitor_merge_job_request(
    *,
    job_name: str,
    dataset: str,
    endpoint: str,
    schedule: str,
    baseline_uri: str,
    shards_uri: str,
    output_uri: str,
    window_start: str,
    window_end: str,
    settings: Settings,
) -> dict[str, Any]:
    """CreateProcessingJob request that merges a sharded window's summaries (``ml/monitor.py --mode merge``).

    One instance reads every instance's summary under ``shards_uri`` and the baseline, and writes the window's
    usual outputs (``cloudwatch_metrics.json`` included) to ``output_uri``, with the monitor job's environment,
    so its metrics are the ones a single-instance job would have written.
    """
    _require(settings, "sagemaker_role_arn", "processing_image_uri", "ml_code_uri", "artifact_bucket")
    request = _processing_job_request(
        job_name=job_name,
        script="monitor.py",
        inputs={"code": ml_code_files_uri(settings.ml_code_uri), "baseline": baseline_uri, MONITOR_SHARDS: shards_uri},
        outputs={MONITOR_OUTPUT: output_uri},
        environment=_monitor_environment(dataset, endpoint, schedule, window_start, window_end),
        tags=_monitor_tags(dataset, endpoint),
        settings=settings,
    )
    request["AppSpecification"]["ContainerArguments"] = list(MERGE_ARGUMENTS)
    return request


def monitor_shards_uri(output_uri: str) -> str:
    """The ``shards/`` folder below a window's output, where a sharded monitor job's summaries go."""
    return f"{output_uri.rstrip('/')}/{MONITOR_SHARDS}/"


def _monitor_environment(
    dataset: str, endpoint: str, schedule: str, window_start: str, window_end: str
) -> dict[str, str]:
    return {
        "PYTHONUNBUFFERED": "1",
        DATASET_VARIABLE: dataset,
        ENDPOINT_VARIABLE: endpoint,
        "sagemaker_endpoint_name": endpoint,
        "sagemaker_monitoring_schedule_name": schedule,
        "start_time": window_start,
        "end_time": window_end,
    }


def _monitor_tags(dataset: str, endpoint: str) -> list[dict[str, str]]:
    return [{"Key": "driftline:dataset", "Value": dataset}, {"Key": "driftline:endpoint", "Value": endpoint}]


def training_hyperparameters(run_config: Mapping[str, Any], *, code_tarball_uri: str, region: str) -> dict[str, str]:
    """Hyperparameters for script mode, every value JSON-encoded as the SageMaker Python SDK does.

    The training toolkit JSON-decodes each value before passing it to ``train.py`` as ``--key value``,
    so encoding every value (``"200"`` becomes ``'"200"'``) hands the script back exactly the string
    the run config holds, whatever it looks like.
    """
    model_hyperparameters = _declared_hyperparameters(run_config)
    # Validate checked these against the training script's catalogue; a run config written any other way is
    # held to the same catalogue, so no name reaches the script's own arguments.
    script = run_config.get("model_script")
    if script is not None and not (isinstance(script, str) and re.fullmatch(MODEL_SCRIPT_NAME, script)):
        raise DatasetConfigInvalid(
            f"The run config's model_script {json.dumps(script)} is not a model folder's name; correct "
            '"model": {"script": ...} in data/<dataset>/dataset.json and upload the file again.'
        )
    problems = hyperparameter_problems(
        {str(name): _typed(value) for name, value in model_hyperparameters.items()},
        model="script" if script is not None else "builtin",
    )
    if problems:
        raise DatasetConfigInvalid(
            f"The run config's hyperparameters are not ones the training script accepts: {'; '.join(problems)}. "
            "Correct them in data/<dataset>/dataset.json and upload the file again."
        )
    values: dict[str, Any] = {str(name): value for name, value in model_hyperparameters.items()}
    for required in ("target", "problem_type"):
        if not run_config.get(required):
            raise DatasetConfigInvalid(
                f"The run config has no {required!r}; upload the file again so Validate writes a full config."
            )
        values[required] = run_config[required]
    if not region:
        raise ValueError("the training job needs the region it runs in (sagemaker_region); none was given")
    if script is not None:
        values["model_script"] = script
    values["sagemaker_program"] = SCRIPT_TRAINING_PROGRAM if script is not None else TRAINING_PROGRAM
    values["sagemaker_submit_directory"] = code_tarball_uri
    values["sagemaker_region"] = region
    return {key: json.dumps(value) for key, value in values.items()}


def _declared_hyperparameters(run_config: Mapping[str, Any]) -> Mapping[str, Any]:
    """The dataset's hyperparameters as the run config holds them (an object of strings)."""
    given = run_config.get("hyperparameters") or {}
    if not isinstance(given, Mapping):
        raise DatasetConfigInvalid(
            "The run config's 'hyperparameters' is not an object; write it as "
            '{"name": value, ...} in data/<dataset>/dataset.json.'
        )
    return given


def quota_exceeded_message(request: Mapping[str, Any], sagemaker_message: str) -> str:
    """What to do when SageMaker refuses a job for an account quota (``ResourceLimitExceeded``).

    SageMaker's message names the quota (``The account-level service limit 'ml.m5.large for training job
    usage' is 0 Instances, ...``); when it does not, the per-instance-type quota the job needs is named.
    """
    if "TrainingJobName" in request:
        kind, job_name, parameter = "training", request["TrainingJobName"], "TrainingInstanceType"
        instance_type = request.get("ResourceConfig", {}).get("InstanceType", "")
    else:
        kind, job_name, parameter = "processing", request.get("ProcessingJobName", ""), "ProcessingInstanceType"
        instance_type = request.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceType", "")
    named = _QUOTA_NAME.search(sagemaker_message)
    quota = named.group(1) if named else f"{instance_type} for {kind} job usage"
    return (
        f"SageMaker refused to start {kind} job {job_name} on {instance_type}: the account has reached its "
        f"'{quota}' quota (SageMaker: {sagemaker_message.strip() or 'ResourceLimitExceeded'}). Raise the quota "
        f"in the Service Quotas console (AWS services > Amazon SageMaker > '{quota}') or with `aws service-quotas "
        "request-service-quota-increase --service-code sagemaker --quota-code <code> --desired-value <instances>` "
        "(`aws service-quotas list-service-quotas --service-code sagemaker --query "
        f"\"Quotas[?QuotaName=='{quota}'].QuotaCode\"` prints the code), or deploy with another {parameter}; "
        "then upload the data again."
    )


_QUOTA_NAME = re.compile(r"service limit '([^']+)'")


def job_result_from_description(description: Mapping[str, Any]) -> JobResult:
    """Turn a DescribeProcessingJob, DescribeTrainingJob or DescribeTransformJob response into the step's output."""
    if "ProcessingJobName" in description:
        outputs = {
            output["OutputName"]: output["S3Output"]["S3Uri"]
            for output in description.get("ProcessingOutputConfig", {}).get("Outputs", [])
            if "S3Output" in output
        }
        return JobResult(
            job_name=description["ProcessingJobName"],
            job_type="processing",
            status=description["ProcessingJobStatus"],
            outputs=outputs,
        )
    if "TrainingJobName" in description:
        model_uri = description.get("ModelArtifacts", {}).get("S3ModelArtifacts")
        return JobResult(
            job_name=description["TrainingJobName"],
            job_type="training",
            status=description["TrainingJobStatus"],
            outputs={MODEL_OUTPUT: model_uri} if model_uri else {},
        )
    if "TransformJobName" in description:
        answers = description.get("TransformOutput", {}).get("S3OutputPath")
        return JobResult(
            job_name=description["TransformJobName"],
            job_type="transform",
            status=description["TransformJobStatus"],
            outputs={ANSWERS_INPUT: answers} if answers else {},
        )
    raise ValueError("not a DescribeProcessingJob, DescribeTrainingJob or DescribeTransformJob response: no job name")


def _processing_job_request(
    *,
    job_name: str,
    script: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    environment: Mapping[str, str],
    tags: list[dict[str, str]],
    settings: Settings,
    image_uri: str | None = None,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ProcessingJobName": job_name,
        "RoleArn": settings.sagemaker_role_arn,
        "AppSpecification": {
            "ImageUri": image_uri or settings.processing_image_uri,
            "ContainerEntrypoint": ["python3", f"{CODE_DIR}/{script}"],
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": settings.processing_instance_type,
                "VolumeSizeInGB": VOLUME_SIZE_GB,
            }
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": settings.max_job_runtime_seconds},
        "ProcessingInputs": [
            {
                "InputName": name,
                "S3Input": {
                    "S3Uri": uri,
                    "LocalPath": f"{PROCESSING_INPUT_ROOT}/{name}",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            }
            for name, uri in inputs.items()
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": name,
                    "S3Output": {
                        "S3Uri": uri,
                        "LocalPath": f"{PROCESSING_OUTPUT_ROOT}/{name}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for name, uri in outputs.items()
            ]
        },
        "Environment": dict(environment),
        "Tags": tags,
        # The scripts only read their inputs and write their outputs, which SageMaker moves: no network needed.
        "NetworkConfig": {"EnableNetworkIsolation": True},
    }
    if settings.kms_key_arn:
        # Instance storage is encrypted by the instance itself, and CreateProcessingJob refuses a key for it.
        if not has_instance_storage(settings.processing_instance_type):
            request["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] = settings.kms_key_arn
        request["ProcessingOutputConfig"]["KmsKeyId"] = settings.kms_key_arn
    vpc_config = settings.job_vpc_config
    if vpc_config:
        request["NetworkConfig"]["VpcConfig"] = vpc_config
    return request


def _processing_environment(execution_name: str) -> dict[str, str]:
    """Unbuffered output so the job's log lines reach CloudWatch as they happen."""
    return {"PYTHONUNBUFFERED": "1", "DRIFTLINE_EXECUTION_NAME": execution_name}


def _processing_output_uri(settings: Settings, execution_name: str, step: str, output_name: str) -> str:
    return layout.s3_uri(settings.artifact_bucket, layout.processing_output_prefix(execution_name, step, output_name))


def _job_output(result: JobResult, name: str) -> str:
    uri = result.outputs.get(name)
    if not uri:
        raise ValueError(
            f"The {result.job_type} job {result.job_name} reported no {name!r} output "
            f"(it reported: {', '.join(sorted(result.outputs)) or 'none'}); check that the job wrote it."
        )
    return uri


def _tags(dataset: str, execution_name: str) -> list[dict[str, str]]:
    return [
        {"Key": "driftline:dataset", "Value": dataset},
        {"Key": "driftline:execution", "Value": execution_name},
    ]


def _require(settings: Settings, *fields: str) -> None:
    missing = [field.upper() for field in fields if not getattr(settings, field)]
    if missing:
        raise ValueError(
            f"Driftline is missing its configuration: {', '.join(missing)} not set; "
            "deploy the stack again (sam deploy) so every function gets its environment."
        )


def _pinned_input(run_config: Mapping[str, Any]) -> str:
    input_uri = run_config.get("input_uri")
    if not input_uri:
        raise ValueError("the run config has no input_uri: Validate writes it when it accepts the upload")
    return str(input_uri)


def _typed(value: Any) -> Any:
    """A run config holds hyperparameters as the strings SageMaker passes; read back the value each was written from."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
