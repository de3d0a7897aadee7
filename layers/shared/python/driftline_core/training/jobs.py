"""Starting the pipeline's SageMaker jobs, and resuming the run that waits on one when it ends.

A job step stores its task token under the job's name and starts the job; the job's EventBridge
state-change event later hands the token back to Step Functions with the job's outputs or its failure
(``driftline_core.resume`` routes the event here). When that event is lost or its handler fails, the
scheduled reconciler finds the ended job by describing it and resumes the run the same way.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import (
    error_code,
    error_message,
    is_already_exists,
    is_not_found,
    transient_aws_errors,
)
from driftline_core.aws.sagemaker import PROCESSING, TERMINAL_STATUSES, TRAINING, TRANSFORM, JobApi, describe_job
from driftline_core.aws.task_tokens import (
    NOT_OURS,
    RESUMED_FAILURE,
    RESUMED_SUCCESS,
    STILL_RUNNING,
    hand_back,
    put_token,
    send_task_failure,
    send_task_success,
    take_token,
)
from driftline_core.errors import JOB_FAILED_ERROR, SageMakerJobFailed
from driftline_core.payloads import (
    EvaluateInput,
    JobResult,
    JobStarted,
    TrainInput,
    TrialAnalysisInput,
    WaitingStepInput,
)
from driftline_core.settings import Settings, get_preprocess_settings
from driftline_core.training.job_requests import (
    IncumbentForEvaluation,
    build_candidate_model_request,
    build_evaluation_job_request,
    build_preprocess_job_request,
    build_training_job_request,
    build_transform_job_request,
    build_trial_analysis_job_request,
    job_result_from_description,
    quota_exceeded_message,
    trains_with_xgboost,
)
from driftline_core.training.registry import ApprovedModel, find_model_to_beat, model_artifact_for_jobs

logger = Logger(child=True)

JobKind = Literal["preprocess", "train", "transform", "evaluate", "trial"]
"""Each job step, named as its job is (``layout.job_name(execution, step)``); "transform" is a container model's
batch transform of the held-out rows, "trial" the A/B trial's analysis."""

JOB_API_BY_STEP: dict[str, JobApi] = {
    "preprocess": PROCESSING,
    "train": TRAINING,
    "transform": TRANSFORM,
    "evaluate": PROCESSING,
    "trial": PROCESSING,
}


def start_job(kind: JobKind, step_input: WaitingStepInput, settings: Settings) -> JobStarted:
    """Store the step's task token and start its job; a retried step finds its job and does not start another.

    Job names come from the execution name, so a retry reaches the job the first attempt started. The
    token stored is the retry's own; when that job has already ended (its event came and went while
    the step was retrying), the run is resumed here.
    """
    api = JOB_API_BY_STEP[kind]
    with transient_aws_errors():
        run_config = s3io.read_json(step_input.validation.config_uri)
        request = _build_request(kind, step_input, run_config, settings)
        job_name: str = request[api.name_field]
        put_token(
            job_name,
            step_input.task_token,
            execution_id=step_input.execution_id,
            step=kind,
            settings=settings,
        )
        existing = describe_job(api, job_name)
        if existing is None and kind == "transform":
            _create_candidate_model(step_input, run_config, settings)
        if existing is None:
            try:
                created = getattr(get_client("sagemaker"), api.create)(**request)
            except ClientError as error:
                if not is_already_exists(error):
                    # No job will ever report back on this token: the step fails here, not at its timeout.
                    take_token(job_name, settings=settings)
                if error_code(error) == "ResourceLimitExceeded":
                    raise SageMakerJobFailed(quota_exceeded_message(request, error_message(error))) from error
                if not is_already_exists(error):
                    raise
                existing = describe_job(api, job_name)
                if existing is None:
                    raise
            else:
                logger.info("Started SageMaker job", extra={"job_name": job_name, "step": kind})
                return JobStarted(job_name=job_name, job_arn=created[api.arn_field])

        status = existing[api.status_field]
        logger.info(
            "SageMaker job already exists; not starting another",
            extra={"job_name": job_name, "step": kind, "job_status": status},
        )
        if status in TERMINAL_STATUSES:
            resume_job_step(api, job_name, status, existing, description=existing, settings=settings)
        return JobStarted(job_name=job_name, job_arn=existing[api.arn_field])


def resume_job_step(
    api: JobApi,
    job_name: str,
    status: str,
    details: Mapping[str, Any],
    *,
    description: Mapping[str, Any] | None,
    settings: Settings,
) -> str:
    """Hand an ended job's outputs or failure to the step waiting on it; what was done, for metrics."""
    stored = take_token(job_name, settings=settings)
    if stored is None:
        logger.info("No Driftline step waits on this job; ignoring it", extra={"job_name": job_name})
        return NOT_OURS
    log_keys = {"job_name": job_name, "job_status": status, "execution_id": stored.execution_id}

    def send() -> str:
        if status == "Completed":
            result = job_result_from_description(description or _describe_job_or_fail(api, job_name))
            send_task_success(stored, result.model_dump_json())
            logger.info("Resumed the run with the job's outputs", extra=log_keys)
            return RESUMED_SUCCESS
        send_task_failure(stored, JOB_FAILED_ERROR, failure_cause(api.label, job_name, status, details))
        logger.info("Resumed the run with the job's failure", extra=log_keys)
        return RESUMED_FAILURE

    return hand_back(stored, send, settings=settings, log_keys=log_keys)


def reconcile_job_step(api: JobApi, job_name: str, stored_at: int, settings: Settings) -> str | None:
    """Resume the run waiting on a job that ended without its event resuming it; None when no such job exists."""
    description = describe_job(api, job_name)
    if description is None:
        return None
    status = description[api.status_field]
    if status not in TERMINAL_STATUSES:
        return STILL_RUNNING
    logger.info(
        "Job ended without its run being resumed; resuming it now",
        extra={
            "job_name": job_name,
            "job_status": status,
            "waited_seconds": int(time.time()) - stored_at if stored_at else None,
        },
    )
    return resume_job_step(api, job_name, status, description, description=description, settings=settings)


def failure_cause(job_label: str, job_name: str, status: str, details: Mapping[str, Any]) -> str:
    """One readable sentence for the failure notification: which job, how it ended, and SageMaker's reason.

    A failed processing job's FailureReason is often only "AlgorithmError: See job logs"; its
    ExitMessage carries what the script said, so both are kept when both are there.
    """
    failure_reason = str(details.get("FailureReason") or "").strip()
    exit_message = str(details.get("ExitMessage") or "").strip()
    if failure_reason and exit_message and exit_message not in failure_reason:
        reason = f"{failure_reason} ({exit_message})"
    else:
        reason = failure_reason or exit_message
    if not reason:
        reason = (
            "SageMaker gave no reason; see the job's logs in CloudWatch "
            f"(/aws/sagemaker/{job_label}Jobs, stream {job_name}/...)"
        )
    return f"{job_label} job {job_name} {status}: {reason}"


def _build_request(
    kind: JobKind, step_input: WaitingStepInput, run_config: Mapping[str, Any], settings: Settings
) -> dict[str, Any]:
    execution_name, dataset = step_input.execution_name, step_input.dataset
    if kind == "preprocess":
        return build_preprocess_job_request(
            execution_name=execution_name,
            dataset=dataset,
            data=step_input.data,
            config_uri=step_input.validation.config_uri,
            run_config=run_config,
            settings=settings,
            preprocessing=get_preprocess_settings(),
        )
    if kind == "train":
        if not isinstance(step_input, TrainInput):
            raise TypeError("the train step needs the preprocess job's result in its input")
        return build_training_job_request(
            execution_name=execution_name,
            dataset=dataset,
            run_config=run_config,
            preprocess=step_input.preprocess,
            settings=settings,
            region=get_client("sagemaker").meta.region_name,
            class_count=_class_count(step_input.preprocess) if _needs_class_count(run_config) else None,
        )
    if kind == "trial":
        if not isinstance(step_input, TrialAnalysisInput):
            raise TypeError("the trial analysis step needs the trial's deployment in its input")
        return build_trial_analysis_job_request(
            execution_name=execution_name,
            dataset=dataset,
            config_uri=step_input.validation.config_uri,
            deployment=step_input.deployment,
            holds_objects=_prefix_holds_objects,
            settings=settings,
        )
    if not isinstance(step_input, EvaluateInput):
        raise TypeError("the evaluate step needs the preprocess and training jobs' results in its input")
    if kind == "transform":
        return build_transform_job_request(
            execution_name=execution_name, dataset=dataset, preprocess=step_input.preprocess, settings=settings
        )
    return build_evaluation_job_request(
        execution_name=execution_name,
        dataset=dataset,
        config_uri=step_input.validation.config_uri,
        preprocess=step_input.preprocess,
        training=step_input.training,
        settings=settings,
        incumbent=_incumbent_for_evaluation(dataset, settings),
        run_config=run_config,
    )


def _create_candidate_model(step_input: WaitingStepInput, run_config: Mapping[str, Any], settings: Settings) -> None:
    """The SageMaker model a container run's batch transform runs: its image with the training job's artifact. A
    retried step finds the model made already."""
    if not isinstance(step_input, EvaluateInput):
        raise TypeError("the transform step needs the preprocess and training jobs' results in its input")
    request = build_candidate_model_request(
        execution_name=step_input.execution_name,
        dataset=step_input.dataset,
        run_config=run_config,
        training=step_input.training,
        settings=settings,
    )
    try:
        get_client("sagemaker").create_model(**request)
    except ClientError as error:
        if not is_already_exists(error):
            raise


def _needs_class_count(run_config: Mapping[str, Any]) -> bool:
    """XGBoost is told a multiclass problem's number of classes (``num_class``); the other trainers read it."""
    return trains_with_xgboost(run_config) and run_config.get("problem_type") == "multiclass_classification"


def _class_count(preprocess: JobResult) -> int:
    """How many classes the preprocessing job found in the target (its ``preprocessing.json``)."""
    metadata_uri = preprocess.outputs.get("metadata", "").rstrip("/")
    document = s3io.read_json(f"{metadata_uri}/{layout.PREPROCESSING_FILE}") if metadata_uri else None
    labels = document.get("class_labels") if isinstance(document, dict) else None
    if not isinstance(labels, list) or len(labels) < 2:
        raise ValueError(
            f"The preprocessing job {preprocess.job_name} recorded no class labels in its metadata; XGBoost needs the "
            "number of classes of a multiclass problem. Upload the data again."
        )
    return len(labels)


def _incumbent_for_evaluation(dataset: str, settings: Settings) -> IncumbentForEvaluation | None:
    """The model the dataset's endpoint serves (``find_model_to_beat``), which the evaluation job scores on the
    candidate's test split too, and its drift baseline, which the job compares the run's rows with."""
    approved = find_model_to_beat(settings.model_package_group_prefix, dataset).model
    if approved is None:
        return None
    model_uri, not_given = model_artifact_for_jobs(approved, settings.artifact_bucket)
    baseline_uri, baseline_not_given = _baseline_for_evaluation(approved, settings.artifact_bucket)
    return IncumbentForEvaluation(approved.model_package_arn, model_uri, not_given, baseline_uri, baseline_not_given)


def _baseline_for_evaluation(approved: ApprovedModel, artifact_bucket: str) -> tuple[str | None, str | None]:
    """``(uri, None)`` when the model's drift baseline is written, else ``(None, why)``.

    FinishDeployment starts the baseline job over the train split of the run that trained the model, writing
    ``runs/<that run>/baseline/``; the package's lineage names that run. A baseline not written yet (the model
    was never deployed on a provisioned endpoint, or its baseline job is running or failed) is not given to the
    job, since a processing input that does not exist fails the whole job.
    """
    execution_name = (approved.execution_arn or "").rsplit(":", 1)[-1]
    if not execution_name:
        return None, "its model package records no training run (execution_arn), so it has no baseline to find"
    prefix = layout.baseline_prefix(execution_name)
    for name in layout.BASELINE_FILES:
        try:
            get_client("s3").head_object(Bucket=artifact_bucket, Key=prefix + name)
        except ClientError as error:
            if is_not_found(error):
                return None, (
                    "its drift baseline is not written yet (it was never deployed on a provisioned endpoint, or "
                    "its baseline job is still running or failed)"
                )
            raise
    return layout.s3_uri(artifact_bucket, prefix), None


def _prefix_holds_objects(uri: str) -> bool:
    return s3io.prefix_holds_objects(*layout.split_s3_uri(uri))


def _describe_job_or_fail(api: JobApi, job_name: str) -> dict[str, Any]:
    description = describe_job(api, job_name)
    if description is None:
        raise LookupError(f"{api.label} job {job_name} reported Completed but SageMaker has no such job")
    return description
