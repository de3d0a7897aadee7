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
MONITOR = build_monitor_job_request(
    job_name="stack-credit-monitor-202612061200",
    dataset="credit",
    endpoint="stack-credit",
    schedule="stack-credit-drift-monitor",
    baseline_uri="s3://artifacts/runs/credit-5e4f54c7bade/baseline/",
    capture_uris={"hour-0": "s3://artifacts/capture/credit/stack-credit/AllTraffic/2026/12/06/11/"},
    output_uri="s3://artifacts/monitoring/credit/stack-credit/stack-credit-drift-monitor/2026/12/06/12/",
    window_start="2026-12-06T11:00:00Z",
    window_end="2026-12-06T12:00:00Z",
    settings=job_settings(),
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


def test_a_job_started_before_the_variables_existed_is_still_named_by_its_tags() -> None:
    older = {"Tags": [{"Key": "driftline:dataset", "Value": "credit"}, {"Key": "driftline:endpoint", "Value": "e"}]}

    assert drift_job_subject(older) == ("credit", "e")
