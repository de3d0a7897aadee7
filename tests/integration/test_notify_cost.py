"""Notify under moto: the run's notification says what its SageMaker jobs cost, and nothing about the cost can stop it.

The run's three jobs are created as the job steps create them; SageMaker's answers about how long each ran (moto
records none) are set on the emulated jobs, as a finished job's description reports them. Prices come from local
mode's Price List API (``driftline.local.pricing``, the shipped snapshot's prices) or, when that does not answer, from
the snapshot itself.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.sagemaker.models import sagemaker_backends

from driftline.local import pricing
from driftline_core.costs import run_jobs
from driftline_core.costs.prices import load_snapshot
from tests.conftest import REGION, load_event
from tests.job_requests import evaluation_request, job_settings, preprocess_request, training_request

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
ACCOUNT = "123456789012"
STARTED = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PREPROCESS_SECONDS, TRAIN_BILLABLE_SECONDS, EVALUATE_SECONDS = 300, 600, 240
"""Preprocessing and evaluation run on one ml.m5.large, training on one ml.m5.xlarge (``job_settings``)."""


@pytest.fixture
def notify(queue_url: str) -> ModuleType:
    """The handler's module, imported in the function's environment (its metrics read their namespace then)."""
    from functions.notify import app

    return app


@pytest.fixture
def local_price_list(aws: None) -> Iterator[None]:
    pricing.install()
    try:
        yield
    finally:
        pricing.uninstall()


def _finished_jobs(*, training_instance: str = "ml.m5.xlarge") -> None:
    """The run's three jobs, created as its steps create them, having run for the test's known times."""
    settings = job_settings().model_copy(update={"training_instance_type": training_instance})
    sagemaker = boto3.client("sagemaker")
    sagemaker.create_processing_job(**preprocess_request(settings))
    sagemaker.create_training_job(**training_request(settings))
    sagemaker.create_processing_job(**evaluation_request(settings))
    backend = sagemaker_backends[ACCOUNT][REGION]
    for name, seconds in (("preprocess", PREPROCESS_SECONDS), ("evaluate", EVALUATE_SECONDS)):
        job: Any = backend.processing_jobs[f"credit-5e4f54c7bade-{name}"]
        job.processing_start_time = STARTED
        job.processing_end_time = STARTED + timedelta(seconds=seconds)
        job.processing_resources = {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 30}
        }
    training: Any = backend.training_jobs["credit-5e4f54c7bade-train"]
    training.billable_time_in_seconds = TRAIN_BILLABLE_SECONDS


def _received(queue_url: str) -> str:
    messages = boto3.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1
    message: str = json.loads(messages[0]["Body"])["Message"]
    return message


def _cost_lines(message: str) -> list[str]:
    lines = message.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job cost:"))
    assert lines[start + 2].startswith("Execution:"), "the cost sits just above the execution line"
    return lines[start : start + 2]


def test_a_registered_runs_notification_states_what_its_jobs_cost_at_the_prices_the_price_list_api_gives(
    notify: ModuleType, lambda_context: Any, queue_url: str, local_price_list: None
) -> None:
    _finished_jobs()

    notify.lambda_handler(load_event("notify_registered"), lambda_context)

    snapshot = load_snapshot()
    # $0.115 an hour for ml.m5.large, $0.23 for ml.m5.xlarge: us-east-1 in the snapshot the local API answers from
    expected = (300 * 0.115 + 600 * 0.23 + 240 * 0.115) / 3600
    assert round(expected, 4) == 0.0556
    assert _cost_lines(_received(queue_url)) == [
        f"Job cost:        about $0.06 at on-demand prices of {snapshot.date} (Driftline's price snapshot)",
        "                 preprocess 5 min on 1 ml.m5.large ($0.115 an hour), train 10 min on 1 ml.m5.xlarge "
        "($0.23 an hour), evaluate 4 min on 1 ml.m5.large ($0.115 an hour)",
    ]


def test_without_an_answer_from_the_price_list_api_the_snapshot_prices_the_jobs_and_says_so(
    notify: ModuleType, lambda_context: Any, queue_url: str
) -> None:
    _finished_jobs(training_instance="ml.m5.large")
    with Stubber(run_jobs.pricing_client(REGION)) as price_list:
        price_list.add_client_error("get_products", "AccessDeniedException", http_status_code=400)

        notify.lambda_handler(load_event("notify_failed"), lambda_context)

    date = load_snapshot().date
    assert _cost_lines(_received(queue_url)) == [
        f"Job cost:        about $0.04 at on-demand prices of {date} (Driftline's price snapshot: the Price List API "
        "did not answer (AccessDeniedException))",
        "                 preprocess 5 min, train 10 min, evaluate 4 min, each on 1 ml.m5.large at $0.115 an hour",
    ]


def test_a_run_without_jobs_is_notified_without_a_cost(notify: ModuleType, lambda_context: Any, queue_url: str) -> None:
    notify.lambda_handler(load_event("notify_failed"), lambda_context)

    assert "Job cost:" not in _received(queue_url)


def _logged(notify: ModuleType) -> Iterator[io.StringIO]:
    handler = notify.logger.registered_handler
    logs = io.StringIO()
    previous = handler.setStream(logs)
    try:
        yield logs
    finally:
        handler.setStream(previous)


@pytest.fixture
def notify_logs(notify: ModuleType) -> Iterator[io.StringIO]:
    yield from _logged(notify)


def test_a_cost_that_cannot_be_priced_leaves_the_notification_intact_and_logs_a_warning(
    notify: ModuleType, lambda_context: Any, queue_url: str, notify_logs: io.StringIO
) -> None:
    _finished_jobs(training_instance="ml.p3.2xlarge")  # a type the snapshot does not price
    with Stubber(run_jobs.pricing_client(REGION)) as price_list:
        price_list.add_client_error("get_products", "AccessDeniedException", http_status_code=400)

        result = notify.lambda_handler(load_event("notify_registered"), lambda_context)

    message = _received(queue_url)
    assert "Job cost:" not in message
    assert message.rstrip().splitlines()[-1].startswith("Execution:")
    assert result["subject"] == "Driftline: credit model registered, waiting for approval"
    [warning] = [json.loads(line) for line in notify_logs.getvalue().splitlines() if "job cost" in line]
    assert warning["level"] == "WARNING"
    assert warning["execution_name"] == "credit-5e4f54c7bade"
    assert warning["error"].startswith("PriceUnknown: no training price of ml.p3.2xlarge in us-east-1")


def test_jobs_sagemaker_will_not_describe_leave_the_notification_intact(
    notify: ModuleType, lambda_context: Any, queue_url: str, notify_logs: io.StringIO
) -> None:
    from driftline_core.aws.clients import get_client

    with Stubber(get_client("sagemaker")) as sagemaker:
        sagemaker.add_client_error("describe_processing_job", "AccessDeniedException", http_status_code=400)

        result = notify.lambda_handler(load_event("notify_registered"), lambda_context)

    assert result["error"] == ""
    assert "Job cost:" not in _received(queue_url)
    assert "AccessDeniedException" in notify_logs.getvalue()
