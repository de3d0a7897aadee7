"""What a run's SageMaker jobs cost, said in the notification that reports the run.

Each job of the run (named from the execution name, ``layout.job_name``) is described once: a training job's
``BillableTimeInSeconds`` and a processing job's ``ProcessingEndTime - ProcessingStartTime``, times its instance count,
times the hourly on-demand price of its instance type in the run's region. Prices come from the Price List API, or from
the shipped snapshot when it does not answer, and the text says which. Reading the cost never fails a notification.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config

from driftline_core import layout
from driftline_core.aws.clients import get_client
from driftline_core.aws.sagemaker import TRAINING, TRANSFORM, JobApi, describe_job
from driftline_core.costs.prices import (
    Component,
    Price,
    PriceSnapshot,
    instance_hour_prices,
    load_snapshot,
    price_list_region,
    prices_described,
    unit_amount,
    usd_amount,
)
from driftline_core.notifications.messages import send_notification
from driftline_core.payloads import NotificationResult, NotifyInput
from driftline_core.settings import Settings, forgotten_on_reset
from driftline_core.training.jobs import JOB_API_BY_STEP

logger = Logger(child=True)

PRICE_LIST_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})
"""A notification waits seconds, not its whole timeout, for a Price List API it cannot reach (a VPC without a NAT
gateway or an endpoint for it): then the snapshot prices the jobs."""
LABEL = "Job cost:".ljust(17)
"""Aligned with the other fields of a notification (``Execution:       ...``)."""


@dataclass(frozen=True)
class JobUsage:
    """What SageMaker bills one job for: instance seconds of one instance type."""

    step: str
    job_name: str
    component: Component
    instance_type: str
    instance_count: int
    billable_seconds: float


@dataclass(frozen=True)
class JobCost:
    usage: JobUsage
    price: Price
    """USD per instance-hour."""

    @property
    def usd(self) -> float:
        return self.usage.billable_seconds * self.usage.instance_count * self.price.usd / 3600


@dataclass(frozen=True)
class RunJobsCost:
    jobs: tuple[JobCost, ...]

    @property
    def usd(self) -> float:
        return sum(job.usd for job in self.jobs)


def job_usage(step: str, api: JobApi, description: Mapping[str, Any]) -> JobUsage | None:
    """A described job's billable use; None while it has none to report (not started, or instance groups)."""
    if api is TRANSFORM:
        # Batch transform is priced per instance-hour as real-time inference on the same instance type is.
        resources = description.get("TransformResources") or {}
        seconds = _seconds_between(description.get("TransformStartTime"), description.get("TransformEndTime"))
        name = description.get("TransformJobName")
        component: Component = "hosting"
    elif api is TRAINING:
        resources = description.get("ResourceConfig") or {}
        seconds = description.get("BillableTimeInSeconds")
        if seconds is None:
            seconds = _seconds_between(description.get("TrainingStartTime"), description.get("TrainingEndTime"))
        name = description.get("TrainingJobName")
        component = "training"
    else:
        resources = (description.get("ProcessingResources") or {}).get("ClusterConfig") or {}
        seconds = _seconds_between(description.get("ProcessingStartTime"), description.get("ProcessingEndTime"))
        name = description.get("ProcessingJobName")
        component = "processing"
    instance_type = resources.get("InstanceType")
    if seconds is None or not instance_type:
        return None
    return JobUsage(
        step=step,
        job_name=str(name),
        component=component,
        instance_type=str(instance_type),
        instance_count=int(resources.get("InstanceCount") or 1),
        billable_seconds=max(float(seconds), 0.0),
    )


def _seconds_between(start: Any, end: Any) -> float | None:
    if not isinstance(start, datetime) or not isinstance(end, datetime):
        return None
    return (end - start).total_seconds()


def run_job_usages(execution_name: str) -> list[JobUsage]:
    """The billable use of each of the run's jobs that has one (a run that failed early has fewer jobs)."""
    usages = []
    for step, api in JOB_API_BY_STEP.items():
        description = describe_job(api, layout.job_name(execution_name, step))
        usage = None if description is None else job_usage(step, api, description)
        if usage is not None:
            usages.append(usage)
    return usages


def price_jobs(usages: list[JobUsage], region: str, *, client: Any, snapshot: PriceSnapshot) -> RunJobsCost:
    """Each job's use at its instance type's hourly price in ``region`` (one lookup per instance type)."""
    uses: dict[str, set[Component]] = {}
    for usage in usages:
        uses.setdefault(usage.instance_type, set()).add(usage.component)
    prices = {
        instance_type: instance_hour_prices(region, instance_type, sorted(components), client=client, snapshot=snapshot)
        for instance_type, components in uses.items()
    }
    return RunJobsCost(tuple(JobCost(usage, prices[usage.instance_type][usage.component]) for usage in usages))


def job_cost_lines(cost: RunJobsCost) -> list[str]:
    """``Job cost: about $0.0027 at on-demand prices of 2026-12-07 (AWS Price List API)``, then each job's time."""
    hourly = {(job.usage.instance_type, job.price.usd) for job in cost.jobs}
    counts = {job.usage.instance_count for job in cost.jobs}
    if len(hourly) == 1 and len(counts) == 1:
        [(instance_type, usd)] = hourly
        times = ", ".join(f"{job.usage.step} {duration(job.usage.billable_seconds)}" for job in cost.jobs)
        jobs = f"{times}, each on {counts.pop()} {instance_type} at {unit_amount(usd)} an hour"
    else:
        jobs = ", ".join(
            f"{job.usage.step} {duration(job.usage.billable_seconds)} on {job.usage.instance_count} "
            f"{job.usage.instance_type} ({unit_amount(job.price.usd)} an hour)"
            for job in cost.jobs
        )
    described = prices_described(job.price for job in cost.jobs)
    return [f"{LABEL}about {usd_amount(cost.usd)} at {described}", f"{'':17}{jobs}"]


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@forgotten_on_reset
def pricing_client(region: str) -> Any:
    """A Price List API client for ``region``'s prices, with short timeouts (``PRICE_LIST_CONFIG``)."""
    return boto3.client("pricing", region_name=price_list_region(region), config=PRICE_LIST_CONFIG)


@forgotten_on_reset
def shipped_snapshot() -> PriceSnapshot:
    return load_snapshot()


def run_job_cost_lines(execution_name: str) -> list[str]:
    """What the run's jobs cost, as the notification's lines; none when it has no billed job or the cost cannot be
    read (logged as a warning: the notification goes out without it)."""
    try:
        usages = run_job_usages(execution_name)
        if not usages:
            return []
        region = str(get_client("sagemaker").meta.region_name)
        cost = price_jobs(usages, region, client=pricing_client(region), snapshot=shipped_snapshot())
        return job_cost_lines(cost)
    except Exception as error:  # any failure here leaves the cost out; the notification itself must go out
        logger.warning(
            "The run's job cost is left out of its notification",
            extra={"execution_name": execution_name, "error": f"{type(error).__name__}: {error}"},
        )
        return []


def send_notification_with_job_cost(notify: NotifyInput, settings: Settings) -> NotificationResult:
    """The run's notification, with what its jobs cost when that can be read (and without it when not)."""
    return send_notification(notify, settings, job_cost=run_job_cost_lines(notify.execution_name))
