"""What a run's jobs cost, as its notification says it: billable time from each job's description, times its
instances, times the hourly price of its instance type; the lines sit just above the notification's execution line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber

from driftline_core.aws.sagemaker import PROCESSING, TRAINING
from driftline_core.costs.prices import PriceSnapshot
from driftline_core.costs.run_jobs import JobUsage, job_cost_lines, job_usage, price_jobs
from driftline_core.notifications.job_cost import with_job_cost
from driftline_core.notifications.publish import Notification
from tests.unit.test_cost_prices import instance_request, price_list_product, pricing_client

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SNAPSHOT = PriceSnapshot(
    date="2026-12-01",
    source="test prices",
    regions={
        "eu-west-1": {
            "sagemaker_instance_hour": {
                "training": {"ml.m5.xlarge": 0.256},
                "processing": {"ml.m5.large": 0.128},
                "hosting": {},
            },
            "unit": {},
        }
    },
)


def _processing(name: str, seconds: float, count: int = 1, instance_type: str = "ml.m5.large") -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "ProcessingResources": {"ClusterConfig": {"InstanceCount": count, "InstanceType": instance_type}},
        "ProcessingStartTime": START,
        "ProcessingEndTime": START + timedelta(seconds=seconds),
    }


def test_a_training_job_is_billed_its_billable_seconds_on_each_instance() -> None:
    description = {
        "TrainingJobName": "credit-5e4f54c7bade-train",
        "ResourceConfig": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2, "VolumeSizeInGB": 30},
        "BillableTimeInSeconds": 600,
        "TrainingStartTime": START,
        "TrainingEndTime": START + timedelta(seconds=700),  # the download counts; BillableTimeInSeconds says what
    }
    assert job_usage("train", TRAINING, description) == JobUsage(
        "train", "credit-5e4f54c7bade-train", "training", "ml.m5.xlarge", 2, 600.0
    )


def test_a_processing_job_is_billed_from_its_start_to_its_end() -> None:
    assert job_usage("evaluate", PROCESSING, _processing("credit-5e4f54c7bade-evaluate", 240.5, count=3)) == JobUsage(
        "evaluate", "credit-5e4f54c7bade-evaluate", "processing", "ml.m5.large", 3, 240.5
    )


def test_a_job_without_billable_time_yet_or_without_one_instance_type_is_not_priced() -> None:
    started_only = {**_processing("a", 10), "ProcessingEndTime": None}
    assert job_usage("preprocess", PROCESSING, started_only) is None
    groups = {"TrainingJobName": "t", "ResourceConfig": {"InstanceGroups": [{"InstanceType": "ml.m5.large"}]}}
    assert job_usage("train", TRAINING, {**groups, "BillableTimeInSeconds": 60}) is None


def _usages() -> list[JobUsage]:
    return [
        JobUsage("preprocess", "r-preprocess", "processing", "ml.m5.large", 1, 300),
        JobUsage("train", "r-train", "training", "ml.m5.xlarge", 1, 600),
        JobUsage("evaluate", "r-evaluate", "processing", "ml.m5.large", 2, 240),
    ]


def test_the_jobs_cost_their_instance_seconds_at_the_hourly_price_of_their_type() -> None:
    cost = price_jobs(_usages(), "eu-west-1", client=None, snapshot=SNAPSHOT)

    # 300 s x 1 x $0.128/h + 600 s x 1 x $0.256/h + 240 s x 2 x $0.128/h
    assert cost.usd == pytest.approx((300 * 0.128 + 600 * 0.256 + 480 * 0.128) / 3600)
    assert round(cost.usd, 4) == 0.0704
    assert job_cost_lines(cost) == [
        "Job cost:        about $0.07 at on-demand prices of 2026-12-01 (Driftline's price snapshot)",
        "                 preprocess 5 min on 1 ml.m5.large ($0.128 an hour), train 10 min on 1 ml.m5.xlarge "
        "($0.256 an hour), evaluate 4 min on 2 ml.m5.large ($0.128 an hour)",
    ]


def test_jobs_of_one_type_and_size_are_said_once_and_a_short_run_is_not_shown_as_free() -> None:
    usages = [
        JobUsage("preprocess", "r-preprocess", "processing", "ml.m5.large", 1, 31),
        JobUsage("evaluate", "r-evaluate", "processing", "ml.m5.large", 1, 29),
    ]
    cost = price_jobs(usages, "eu-west-1", client=None, snapshot=SNAPSHOT)

    assert job_cost_lines(cost) == [
        "Job cost:        about $0.0021 at on-demand prices of 2026-12-01 (Driftline's price snapshot)",
        "                 preprocess 31 s, evaluate 29 s, each on 1 ml.m5.large at $0.128 an hour",
    ]


def test_each_instance_type_is_looked_up_once_in_the_price_list() -> None:
    client = pricing_client()
    usages = [
        JobUsage("preprocess", "r-preprocess", "processing", "ml.m5.large", 1, 3600),
        JobUsage("train", "r-train", "training", "ml.m5.large", 1, 3600),
    ]
    with Stubber(client) as price_list:
        price_list.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [
                    price_list_product(
                        "EU-Processing:ml.m5.large", "0.1300000000", region="eu-west-1", instance="ml.m5.large"
                    ),
                    price_list_product(
                        "EU-Train:ml.m5.large", "0.1310000000", region="eu-west-1", instance="ml.m5.large"
                    ),
                ],
            },
            instance_request("eu-west-1", "ml.m5.large"),
        )
        cost = price_jobs(usages, "eu-west-1", client=client, snapshot=SNAPSHOT)
        price_list.assert_no_pending_responses()

    assert cost.usd == pytest.approx(0.13 + 0.131)
    assert (
        job_cost_lines(cost)[0] == "Job cost:        about $0.26 at on-demand prices of 2026-12-05 (AWS Price List API)"
    )


def _notification(message: str) -> Notification:
    return Notification(subject="s", message=message, attributes={}, error="", cause="c")


def test_the_cost_sits_just_above_the_execution_line_and_a_notification_without_one_is_unchanged() -> None:
    message = "The credit run failed.\n\nDataset:         credit\nExecution:       arn:aws:states:...:credit-1"
    lines = ["Job cost:        about $0.01 ...", "                 preprocess 31 s ..."]

    assert with_job_cost(_notification(message), lines).message.splitlines()[-3:] == [
        *lines,
        "Execution:       arn:aws:states:...:credit-1",
    ]
    assert with_job_cost(_notification(message), []) == _notification(message)
    assert with_job_cost(_notification("No execution here."), lines).message.splitlines() == [
        "No execution here.",
        *lines,
    ]
