"""The router: each job or endpoint event, and each job the reconciler finds ended, to the stage that owns it.

Job steps (preprocess, train, evaluate) wait on their SageMaker job (``driftline_core.training.jobs``), a
deployment waits on its endpoint (``driftline_core.deployment.endpoint``); both store their task token under
the job's or the endpoint's name. The state-change event normally hands the token back; the scheduled
reconciler is the safety net for an event that never arrived or whose handler failed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger

from driftline_core.aws.error_codes import transient_aws_errors
from driftline_core.aws.sagemaker import ENDPOINT_EVENT, JOB_API_BY_EVENT, TERMINAL_STATUSES
from driftline_core.aws.task_tokens import NOT_OURS, STILL_RUNNING, waiting_jobs
from driftline_core.deployment.endpoint import DEPLOY_STEP, reconcile_endpoint, resume_from_endpoint_event
from driftline_core.payloads import ReconcileReport
from driftline_core.settings import Settings, get_settings
from driftline_core.training.jobs import JOB_API_BY_STEP, reconcile_job_step, resume_job_step

logger = Logger(child=True)

# What the reconciler found besides what a hand-back reports (``driftline_core.aws.task_tokens``).
NOT_STARTED = "not_started"
UNKNOWN_STEP = "unknown_step"

RECONCILE_MAX_JOBS = 1000
"""Waiting jobs one reconciler pass checks at most: each costs one Describe call."""
RECONCILE_TIME_MARGIN_SECONDS = 10.0
"""A pass stops checking jobs when its invocation has less time left than this."""


def resume_from_job_event(event_detail: Mapping[str, Any], detail_type: str) -> str:
    """Hand a finished job's or settled endpoint's outcome to the step waiting on it; what was done, for metrics.

    Events for jobs that are still running, and for jobs no Driftline step waits on, are ignored.
    """
    if detail_type == ENDPOINT_EVENT:
        return resume_from_endpoint_event(event_detail, settings=get_settings())
    api = JOB_API_BY_EVENT.get(detail_type)
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
    return resume_job_step(api, job_name, status, event_detail, description=None, settings=get_settings())


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
    with transient_aws_errors():
        if step == DEPLOY_STEP:
            return reconcile_endpoint(job_name, settings=settings)
        api = JOB_API_BY_STEP.get(step)
        if api is None:
            logger.warning("A stored token names no known step; leaving it", extra={"job_name": job_name, "step": step})
            return UNKNOWN_STEP
        return reconcile_job_step(api, job_name, stored_at, settings) or NOT_STARTED
