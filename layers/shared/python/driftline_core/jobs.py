"""Starting the pipeline's SageMaker jobs and resuming the waiting run when a job ends.

A job step stores its task token under the job's name and starts the job; the job's EventBridge
state-change event later hands the token back to Step Functions with the job's outputs or its failure.
When that event is lost or its handler fails, the scheduled reconciler finds the ended job by describing
it and resumes the run the same way.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from driftline_core import s3io
from driftline_core.clients import get_client
from driftline_core.errors import SageMakerJobFailed, TransientAwsError
from driftline_core.job_tokens import StoredTaskToken, put_token, restore_token, take_token, waiting_jobs
from driftline_core.layout import s3_uri
from driftline_core.models import EvaluateInput, JobStarted, TrainInput, WaitingStepInput
from driftline_core.registry import (
    ApprovedModel,
    find_approved_model_package,
    model_artifact_for_jobs,
    model_package_group_name,
)
from driftline_core.sagemaker_jobs import (
    IncumbentForEvaluation,
    build_evaluation_job_request,
    build_preprocess_job_request,
    build_training_job_request,
    job_result_from_description,
    quota_exceeded_message,
)
from driftline_core.settings import Settings, get_settings

logger = Logger(child=True)

JobKind = Literal["preprocess", "train", "evaluate"]

PROCESSING_EVENT = "SageMaker Processing Job State Change"
TRAINING_EVENT = "SageMaker Training Job State Change"
ENDPOINT_EVENT = "SageMaker Endpoint State Change"
DEPLOY_STEP = "deploy"
"""The step of a token stored under an endpoint's name: a deployment waiting for the endpoint to settle."""
JOB_FAILED_ERROR = "SageMakerJobFailed"
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})

# What resume_from_job_event did, for the handler's metrics and response.
RESUMED_SUCCESS = "succeeded"
RESUMED_FAILURE = "failed"
STILL_RUNNING = "still_running"
NOT_OURS = "not_ours"
RUN_NOT_WAITING = "run_not_waiting"
# What the reconciler found besides those.
NOT_STARTED = "not_started"
UNKNOWN_STEP = "unknown_step"

RECONCILE_MAX_JOBS = 1000
"""Waiting jobs one reconciler pass checks at most: each costs one Describe call."""
RECONCILE_TIME_MARGIN_SECONDS = 10.0
"""A pass stops checking jobs when its invocation has less time left than this."""

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "InternalFailure",
        "InternalServerError",
    }
)
_RUN_NOT_WAITING_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
"""Step Functions' answers when the step stopped waiting (timed out, execution stopped or already resumed)."""


@dataclass(frozen=True)
class _JobApi:
    """The SageMaker API names of one job type."""

    job_type: Literal["processing", "training"]
    label: str
    name_field: str
    arn_field: str
    status_field: str
    create: str
    describe: str


_PROCESSING = _JobApi(
    job_type="processing",
    label="Processing",
    name_field="ProcessingJobName",
    arn_field="ProcessingJobArn",
    status_field="ProcessingJobStatus",
    create="create_processing_job",
    describe="describe_processing_job",
)
_TRAINING = _JobApi(
    job_type="training",
    label="Training",
    name_field="TrainingJobName",
    arn_field="TrainingJobArn",
    status_field="TrainingJobStatus",
    create="create_training_job",
    describe="describe_training_job",
)
_API_BY_KIND: dict[str, _JobApi] = {"preprocess": _PROCESSING, "train": _TRAINING, "evaluate": _PROCESSING}
_API_BY_EVENT: dict[str, _JobApi] = {PROCESSING_EVENT: _PROCESSING, TRAINING_EVENT: _TRAINING}


def start_job(kind: JobKind, step_input: WaitingStepInput, settings: Settings) -> JobStarted:
    """Store the step's task token and start its job; a retried step finds its job and does not start another.

    Job names come from the execution name, so a retry reaches the job the first attempt started. The
    token stored is the retry's own; when that job has already ended (its event came and went while
    the step was retrying), the run is resumed here.
    """
    api = _API_BY_KIND[kind]
    with _transient_aws_errors():
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
        existing = _describe_job(api, job_name)
        if existing is None:
            try:
                created = getattr(get_client("sagemaker"), api.create)(**request)
            except ClientError as error:
                if not _already_exists(error):
                    # No job will ever report back on this token: the step fails here, not at its timeout.
                    take_token(job_name, settings=settings)
                if _error_code(error) == "ResourceLimitExceeded":
                    message = str(error.response.get("Error", {}).get("Message", ""))
                    raise SageMakerJobFailed(quota_exceeded_message(request, message)) from error
                if not _already_exists(error):
                    raise
                existing = _describe_job(api, job_name)
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
            _resume_waiting_step(api, job_name, status, existing, description=existing, settings=settings)
        return JobStarted(job_name=job_name, job_arn=existing[api.arn_field])


def resume_from_job_event(event_detail: Mapping[str, Any], detail_type: str) -> str:
    """Hand a finished job's outcome to the step waiting on it; returns what was done (for metrics).

    Events for jobs that are still running, and for jobs no Driftline step waits on, are ignored. An
    endpoint's state change resumes the deployment waiting on it (``driftline_core.deployment``).
    """
    if detail_type == ENDPOINT_EVENT:
        # Imported here: deployment builds on this module's token hand-back.
        from driftline_core.deployment import resume_from_endpoint_event

        return resume_from_endpoint_event(event_detail, settings=get_settings())
    api = _API_BY_EVENT.get(detail_type)
    if api is None:
        logger.info("Ignoring an event that is not a SageMaker job state change", extra={"detail_type": detail_type})
        return NOT_OURS
    job_name = event_detail.get(api.name_field)
    status = event_detail.get(api.status_field)
    if not job_name or not status:
        logger.warning("Ignoring a job state change without a job name or status", extra={"detail_type": detail_type})
        return NOT_OURS
    if status not in TERMINAL_STATUSES:
        logger.info("Job has not ended yet", extra={"job_name": job_name, "job_status": status})
        return STILL_RUNNING
    return _resume_waiting_step(api, job_name, status, event_detail, description=None, settings=get_settings())


class ReconcileReport(BaseModel):
    """What one reconciler pass found, by outcome (``succeeded``, ``failed``, ``still_running``, ...)."""

    checked: int = 0
    outcomes: dict[str, int] = {}
    failed_jobs: list[str] = []
    """Jobs whose check or resume raised; their tokens stay stored and the next pass tries again."""
    stopped_early: bool = False
    """True when the pass ran out of time or reached its limit before every waiting job was checked."""

    def raise_for_failures(self) -> None:
        if self.failed_jobs:
            names = ", ".join(self.failed_jobs[:10])
            more = f" and {len(self.failed_jobs) - 10} more" if len(self.failed_jobs) > 10 else ""
            raise JobsNotReconciled(
                f"could not check or resume {len(self.failed_jobs)} waiting job(s): {names}{more}. Their runs "
                "keep waiting and the next scheduled pass tries again; the reconciler's log has each error."
            )


class JobsNotReconciled(RuntimeError):
    """Some waiting jobs could not be checked or resumed in this pass."""


def resume_finished_jobs(
    *,
    settings: Settings,
    seconds_left: Callable[[], float] | None = None,
    max_jobs: int = RECONCILE_MAX_JOBS,
) -> ReconcileReport:
    """Resume every run that waits on a job SageMaker reports as ended, as the job's event would have.

    The safety net for a state-change event that never arrived or whose handler failed: each waiting job
    is described, and one that ended resumes its run through the same path as the event. Jobs still
    running, and tokens stored before their job was created, are left alone.
    """
    outcomes: Counter[str] = Counter()
    failed: list[str] = []
    checked = 0
    stopped_early = False
    for waiting in waiting_jobs(settings=settings, limit=max_jobs + 1):
        if checked >= max_jobs or (seconds_left is not None and seconds_left() < RECONCILE_TIME_MARGIN_SECONDS):
            stopped_early = True
            break
        checked += 1
        try:
            outcome = _reconcile_job(waiting.job_name, waiting.step, waiting.stored_at, settings)
        except Exception:
            logger.exception("Could not check or resume a waiting job", extra={"job_name": waiting.job_name})
            failed.append(waiting.job_name)
            continue
        outcomes[outcome] += 1
    report = ReconcileReport(checked=checked, outcomes=dict(outcomes), failed_jobs=failed, stopped_early=stopped_early)
    if stopped_early:
        logger.warning(
            "More waiting jobs than one pass checks; the next pass continues",
            extra={"checked": checked, "max_jobs": max_jobs},
        )
    return report


def _reconcile_job(job_name: str, step: str, stored_at: int, settings: Settings) -> str:
    if step == DEPLOY_STEP:
        from driftline_core.deployment import reconcile_endpoint

        with _transient_aws_errors():
            return reconcile_endpoint(job_name, settings=settings)
    api = _API_BY_KIND.get(step)
    if api is None:
        logger.warning("A stored token names no known step; leaving it", extra={"job_name": job_name, "step": step})
        return UNKNOWN_STEP
    with _transient_aws_errors():
        description = _describe_job(api, job_name)
        if description is None:
            return NOT_STARTED
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
        return _resume_waiting_step(api, job_name, status, description, description=description, settings=settings)


def _resume_waiting_step(
    api: _JobApi,
    job_name: str,
    status: str,
    details: Mapping[str, Any],
    *,
    description: Mapping[str, Any] | None,
    settings: Settings,
) -> str:
    stored = take_token(job_name, settings=settings)
    if stored is None:
        logger.info("No Driftline step waits on this job; ignoring it", extra={"job_name": job_name})
        return NOT_OURS
    log_keys = {"job_name": job_name, "job_status": status, "execution_id": stored.execution_id}

    def send() -> str:
        if status == "Completed":
            result = job_result_from_description(description or _describe_job_or_fail(api, job_name))
            _send_success(stored, result.model_dump_json())
            logger.info("Resumed the run with the job's outputs", extra=log_keys)
            return RESUMED_SUCCESS
        _send_failure(stored, failure_cause(api.label, job_name, status, details))
        logger.info("Resumed the run with the job's failure", extra=log_keys)
        return RESUMED_FAILURE

    return hand_back(stored, send, settings=settings, log_keys=log_keys)


def hand_back(
    stored: StoredTaskToken, send: Callable[[], str], *, settings: Settings, log_keys: Mapping[str, Any]
) -> str:
    """Run ``send`` (which calls SendTaskSuccess or SendTaskFailure with a taken token) and return its outcome.

    A run that no longer waits (timed out, stopped or already resumed) is ``run_not_waiting``; any other
    error puts the token back, so a retried event or the reconciler can still resume the run.
    """
    try:
        return send()
    except Exception as error:
        if isinstance(error, ClientError) and _error_code(error) in _RUN_NOT_WAITING_CODES:
            logger.warning(
                "The step no longer waits on this job (timed out, stopped or already resumed)",
                extra={**log_keys, "error_code": _error_code(error)},
            )
            return RUN_NOT_WAITING
        restore_token(stored, settings=settings)
        raise


def send_task_success(stored: StoredTaskToken, output: str) -> None:
    """Resume the waiting step with ``output`` (JSON) as its result."""
    _send_success(stored, output)


def send_task_failure(stored: StoredTaskToken, error: str, cause: str) -> None:
    """Fail the waiting step with a named error its Catch routes on and a readable cause."""
    get_client("stepfunctions").send_task_failure(taskToken=stored.task_token, error=error, cause=cause)


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
        )
    if not isinstance(step_input, EvaluateInput):
        raise TypeError("the evaluate step needs the preprocess and training jobs' results in its input")
    return build_evaluation_job_request(
        execution_name=execution_name,
        dataset=dataset,
        config_uri=step_input.validation.config_uri,
        preprocess=step_input.preprocess,
        training=step_input.training,
        settings=settings,
        incumbent=_incumbent_for_evaluation(dataset, settings),
    )


def _incumbent_for_evaluation(dataset: str, settings: Settings) -> IncumbentForEvaluation | None:
    """The dataset's approved model, which the evaluation job scores on the candidate's test split too, and its
    drift baseline, which the job compares the run's rows with."""
    approved = find_approved_model_package(model_package_group_name(settings.model_package_group_prefix, dataset))
    if approved is None:
        return None
    model_uri, not_given = model_artifact_for_jobs(approved, settings.artifact_bucket)
    baseline_uri, baseline_not_given = _baseline_for_evaluation(approved, settings.artifact_bucket)
    return IncumbentForEvaluation(approved.model_package_arn, model_uri, not_given, baseline_uri, baseline_not_given)


def _baseline_for_evaluation(approved: ApprovedModel, artifact_bucket: str) -> tuple[str | None, str | None]:
    """``(uri, None)`` when the approved model's drift baseline is written, else ``(None, why)``.

    FinishDeployment starts the baseline job over the train split of the run that trained the model, writing
    ``runs/<that run>/baseline/``; the package's lineage names that run. A baseline not written yet (the model
    was never deployed on a provisioned endpoint, or its baseline job is running or failed) is not given to the
    job, since a processing input that does not exist fails the whole job.
    """
    # Imported on use: monitoring builds on deployment, which builds on this module.
    from driftline_core.monitoring import BASELINE_FILES, baseline_prefix

    execution_name = (approved.execution_arn or "").rsplit(":", 1)[-1]
    if not execution_name:
        return None, "its model package records no training run (execution_arn), so it has no baseline to find"
    prefix = baseline_prefix(execution_name)
    for name in BASELINE_FILES:
        try:
            get_client("s3").head_object(Bucket=artifact_bucket, Key=prefix + name)
        except ClientError as error:
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if str(error.response.get("Error", {}).get("Code")) in {"404", "NoSuchKey", "NotFound"} or status == 404:
                return None, (
                    "its drift baseline is not written yet (it was never deployed on a provisioned endpoint, or "
                    "its baseline job is still running or failed)"
                )
            raise
    return s3_uri(artifact_bucket, prefix), None


def _describe_job(api: _JobApi, job_name: str) -> dict[str, Any] | None:
    """The job's description, or None when no job has that name."""
    try:
        description: dict[str, Any] = getattr(get_client("sagemaker"), api.describe)(**{api.name_field: job_name})
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", "")).lower()
        if _error_code(error) == "ResourceNotFound" or (
            _error_code(error) == "ValidationException" and ("not find" in message or "not found" in message)
        ):
            return None
        raise
    return description


def _describe_job_or_fail(api: _JobApi, job_name: str) -> dict[str, Any]:
    description = _describe_job(api, job_name)
    if description is None:
        raise LookupError(f"{api.label} job {job_name} reported Completed but SageMaker has no such job")
    return description


def _send_success(stored: StoredTaskToken, output: str) -> None:
    get_client("stepfunctions").send_task_success(taskToken=stored.task_token, output=output)


def _send_failure(stored: StoredTaskToken, cause: str) -> None:
    get_client("stepfunctions").send_task_failure(taskToken=stored.task_token, error=JOB_FAILED_ERROR, cause=cause)


def _already_exists(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    code = _error_code(error)
    return code in {"ResourceInUse", "ResourceInUseException"} or (
        code == "ValidationException" and "already exists" in message
    )


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


@contextmanager
def _transient_aws_errors() -> Iterator[None]:
    """Throttling that outlasted boto3's retries becomes TransientAwsError, which the state retries."""
    try:
        yield
    except ClientError as error:
        code = _error_code(error)
        if code not in _THROTTLING_CODES:
            raise
        operation = error.operation_name or "an AWS call"
        raise TransientAwsError(
            f"AWS is throttling Driftline ({code} on {operation}); the pipeline retries this step."
        ) from error


transient_aws_errors = _transient_aws_errors
"""Public name for the steps outside this module that start SageMaker work (deployment)."""


def aws_error_code(error: ClientError) -> str:
    """The ``Error.Code`` of an AWS error response."""
    return _error_code(error)
