"""A drift job's failure email names its dataset and endpoint from what DescribeProcessingJob returns on AWS."""

from __future__ import annotations

from typing import Any

import pytest

from driftline_core.drift.job_events import job_failed_notification
from driftline_core.drift.windows import drift_job_subject
from driftline_core.training.job_requests import build_baseline_job_request, build_monitor_job_request
from tests.job_requests import job_settings


def _described(request: dict[str, Any], status: str = "Failed") -> dict[str, Any]:
    """What DescribeProcessingJob answers for a job created with ``request``: its Environment, never its Tags."""
    return {
        "ProcessingJobName": request["ProcessingJobName"],
        "ProcessingJobStatus": status,
        "FailureReason": "AlgorithmError: the window's capture could not be read",
        "Environment": request["Environment"],
        "ProcessingOutputConfig": request["ProcessingOutputConfig"],
    }


BASELINE = build_baseline_job_request(
    job_name="stack-credit-baseline-v3",
    execution_name="credit-5e4f54c7bade",
    dataset="credit",
    endpoint="stack-credit",
    output_uri="s3://artifacts/runs/credit-5e4f54c7bade/baseline/",
    settings=job_settings(),
)
MONITOR_ARGUMENTS: dict[str, Any] = {
    "job_name": "stack-credit-monitor-202612061200",
    "dataset": "credit",
    "endpoint": "stack-credit",
    "schedule": "stack-credit-drift-monitor",
    "baseline_uri": "s3://artifacts/runs/credit-5e4f54c7bade/baseline/",
    "capture_uris": {"hour-0": "s3://artifacts/capture/credit/stack-credit/AllTraffic/2026/12/06/11/"},
    "window_start": "2026-12-06T11:00:00Z",
    "window_end": "2026-12-06T12:00:00Z",
    "settings": job_settings(),
}
MONITOR = build_monitor_job_request(
    **MONITOR_ARGUMENTS,
    output_uri="s3://artifacts/monitoring/credit/stack-credit/stack-credit-drift-monitor/2026/12/06/12/",
)


@pytest.mark.parametrize("request_", [BASELINE, MONITOR], ids=["baseline", "monitor"])
def test_a_drift_jobs_description_names_its_dataset_and_endpoint_without_tags(request_: dict[str, Any]) -> None:
    assert drift_job_subject(_described(request_)) == ("credit", "stack-credit")


def test_the_failure_email_names_the_dataset_and_endpoint_aws_describes() -> None:
    email = job_failed_notification(_described(MONITOR), "monitor")

    assert email.subject == "Driftline: credit drift monitoring failed"
    assert "of endpoint stack-credit (dataset credit)" in email.message
    assert "unknown" not in email.message
    assert email.attributes == {"outcome": "monitor_failed", "dataset": "credit"}


@pytest.mark.parametrize("sharded", [False, True], ids=["one instance", "sharded"])
@pytest.mark.parametrize("kept", [("sagemaker_endpoint_name",), ()], ids=["model monitor variables", "no environment"])
def test_a_monitor_job_without_driftlines_variables_is_named_by_the_window_output_it_writes(
    sharded: bool, kept: tuple[str, ...]
) -> None:
    """A monitor job an earlier version started has no DRIFTLINE_* variables, and DescribeProcessingJob returns no
    tags: the window's output folder still says which dataset and endpoint it is."""
    request = build_monitor_job_request(
        **{**MONITOR_ARGUMENTS, "endpoint": "stack-credit-risk", "dataset": "credit-risk"},
        output_uri="s3://artifacts/monitoring/credit-risk/stack-credit-risk/stack-credit-risk-drift-monitor/2026/12/06/12/",
        instance_count=3 if sharded else 1,
    )
    described = _described(request)
    described["Environment"] = {k: v for k, v in request["Environment"].items() if k in kept}

    email = job_failed_notification(described, "monitor")

    assert drift_job_subject(described) == ("credit-risk", "stack-credit-risk")
    assert "of endpoint stack-credit-risk (dataset credit-risk)" in email.message
    assert email.subject == "Driftline: credit-risk drift monitoring failed"


def test_tags_in_a_description_name_nothing() -> None:
    tagged = {"Tags": [{"Key": "driftline:dataset", "Value": "credit"}, {"Key": "driftline:endpoint", "Value": "e"}]}

    assert drift_job_subject(tagged) == ("unknown", "unknown")
