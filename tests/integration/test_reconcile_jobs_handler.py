"""ReconcileJobs handler: a run whose SageMaker job ended resumes even when the job's event was lost or
its JobEvents invocation failed, and is never resumed twice.

DynamoDB and SageMaker run on moto. Step Functions is stubbed with botocore's Stubber, as in the JobEvents
tests: under plain moto, SendTaskSuccess/SendTaskFailure accept any token and record nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber
from pydantic import ValidationError

from driftline_core.payloads import JobResult
from tests.conftest import load_event
from tests.integration.pipeline_resources import (
    ARTIFACT_BUCKET,
    EXECUTION,
    PREPROCESS_JOB,
    TOKEN,
    TRAIN_JOB,
    put_waiting_token,
    set_moto_job_status,
    start_waiting_job,
    stored_token,
)

TRAINED_MODEL = f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/train/{TRAIN_JOB}/output/model.tar.gz"


@pytest.fixture
def reconcile(pipeline: None) -> ModuleType:
    from functions.reconcile_jobs import app

    return app


@pytest.fixture
def job_events(pipeline: None) -> ModuleType:
    from functions.job_events import app

    return app


@pytest.fixture
def stepfunctions(pipeline: None) -> Iterator[Stubber]:
    from driftline_core.aws.clients import get_client

    with Stubber(get_client("stepfunctions")) as stub:
        yield stub
        stub.assert_no_pending_responses()


def scheduled_event() -> dict[str, Any]:
    return load_event("scheduled_reconcile_jobs")


def training_result() -> str:
    return JobResult(
        job_name=TRAIN_JOB, job_type="training", status="Completed", outputs={"model": TRAINED_MODEL}
    ).model_dump_json()


def test_a_run_whose_job_event_handler_failed_resumes_on_the_next_reconcile(
    reconcile: ModuleType, job_events: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    from botocore.exceptions import ClientError

    start_waiting_job("train")
    stepfunctions.add_client_error(
        "send_task_success", service_error_code="ServiceUnavailable", service_message="Service unavailable"
    )
    with pytest.raises(ClientError):
        job_events.lambda_handler(load_event("sagemaker_training_job_completed"), lambda_context)
    stepfunctions.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": training_result()})

    report = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert report["outcomes"] == {"succeeded": 1}
    assert stored_token(TRAIN_JOB) is None


def test_a_run_whose_job_event_never_arrived_resumes_with_the_job_s_outputs(
    reconcile: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("preprocess")
    outputs = {
        name: f"s3://{ARTIFACT_BUCKET}/runs/{EXECUTION}/preprocess/{name}/"
        for name in ("train", "validation", "test", "metadata")
    }
    expected = JobResult(job_name=PREPROCESS_JOB, job_type="processing", status="Completed", outputs=outputs)
    stepfunctions.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": expected.model_dump_json()})

    report = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert report == {"checked": 1, "outcomes": {"succeeded": 1}, "failed_jobs": [], "stopped_early": False}
    assert stored_token(PREPROCESS_JOB) is None


def test_a_job_that_failed_without_its_event_fails_the_run_with_the_job_s_name(
    reconcile: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("preprocess")
    set_moto_job_status("preprocess", PREPROCESS_JOB, "Failed")
    stepfunctions.add_response(
        "send_task_failure",
        {},
        {
            "taskToken": TOKEN,
            "error": "SageMakerJobFailed",
            "cause": f"Processing job {PREPROCESS_JOB} Failed: SageMaker gave no reason; see the job's logs in "
            f"CloudWatch (/aws/sagemaker/ProcessingJobs, stream {PREPROCESS_JOB}/...)",
        },
    )

    report = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert report["outcomes"] == {"failed": 1}


@pytest.mark.parametrize("status", ["InProgress", "Stopping"])
def test_a_job_still_running_leaves_its_run_waiting(
    status: str, reconcile: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("train")
    set_moto_job_status("train", TRAIN_JOB, status)

    report = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert report["outcomes"] == {"still_running": 1}
    assert stored_token(TRAIN_JOB) is not None


def test_a_token_stored_before_its_job_was_created_is_left_for_the_step(
    reconcile: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    put_waiting_token(TRAIN_JOB, "train")

    report = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert report["outcomes"] == {"not_started": 1}
    assert stored_token(TRAIN_JOB) is not None


def test_a_late_event_after_the_reconciler_resumed_the_run_does_not_resume_it_again(
    reconcile: ModuleType, job_events: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("train")
    stepfunctions.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": training_result()})

    first = reconcile.lambda_handler(scheduled_event(), lambda_context)
    late_event = job_events.lambda_handler(load_event("sagemaker_training_job_completed"), lambda_context)
    second = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert first["outcomes"] == {"succeeded": 1}
    assert late_event == {"outcome": "not_ours"}
    assert second == {"checked": 0, "outcomes": {}, "failed_jobs": [], "stopped_early": False}


def test_a_run_that_already_moved_on_is_done_not_an_error(
    reconcile: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    start_waiting_job("train")
    stepfunctions.add_client_error(
        "send_task_success", service_error_code="TaskTimedOut", service_message="Provided task does not exist anymore"
    )

    report = reconcile.lambda_handler(scheduled_event(), lambda_context)

    assert report["outcomes"] == {"run_not_waiting": 1}
    assert stored_token(TRAIN_JOB) is None


def test_a_resume_that_fails_keeps_its_token_checks_the_other_jobs_and_fails_the_pass(
    reconcile: ModuleType, stepfunctions: Stubber, lambda_context: Any
) -> None:
    from driftline_core.errors import JobsNotReconciled

    start_waiting_job("preprocess")
    start_waiting_job("train")
    stepfunctions.add_client_error("send_task_success", service_error_code="AccessDeniedException")
    stepfunctions.add_response("send_task_success", {}, None)

    with pytest.raises(
        JobsNotReconciled, match=rf"could not check or resume 1 waiting job\(s\): {EXECUTION}-"
    ) as raised:
        reconcile.lambda_handler(scheduled_event(), lambda_context)

    kept = [job for job in (PREPROCESS_JOB, TRAIN_JOB) if stored_token(job) is not None]
    assert len(kept) == 1
    assert kept[0] in str(raised.value)
    assert "next scheduled pass tries again" in str(raised.value)


def test_the_scan_reads_every_page_and_stops_at_its_bound(pipeline: None) -> None:
    from driftline_core.resume import resume_finished_jobs
    from driftline_core.settings import get_settings

    for number in range(230):
        put_waiting_token(f"{EXECUTION}-never-started-{number}", "train")

    everything = resume_finished_jobs(settings=get_settings())
    bounded = resume_finished_jobs(settings=get_settings(), max_jobs=120)

    assert (everything.checked, everything.stopped_early) == (230, False)
    assert everything.outcomes == {"not_started": 230}
    assert (bounded.checked, bounded.stopped_early) == (120, True)


def test_a_pass_stops_before_its_invocation_runs_out_of_time(pipeline: None) -> None:
    from driftline_core.resume import resume_finished_jobs
    from driftline_core.settings import get_settings

    put_waiting_token(TRAIN_JOB, "train")

    report = resume_finished_jobs(settings=get_settings(), seconds_left=lambda: 4.0)

    assert (report.checked, report.stopped_early) == (0, True)


def test_a_token_put_back_after_a_failed_send_does_not_replace_a_retried_step_s_newer_token(pipeline: None) -> None:
    from driftline_core.aws.task_tokens import put_token, restore_token, take_token
    from driftline_core.settings import get_settings

    put_waiting_token(TRAIN_JOB, "train")
    taken = take_token(TRAIN_JOB, settings=get_settings())
    assert taken is not None
    put_token(TRAIN_JOB, "newer-token-of-the-retried-step", execution_id="e", step="train", settings=get_settings())

    restore_token(taken, settings=get_settings())

    item = stored_token(TRAIN_JOB)
    assert item is not None and item["task_token"]["S"] == "newer-token-of-the-retried-step"


def test_tokens_record_when_they_were_stored(pipeline: None) -> None:
    import time

    before = int(time.time())
    put_waiting_token(TRAIN_JOB, "train")

    item = stored_token(TRAIN_JOB)
    assert item is not None
    assert before <= int(item["stored_at"]["N"]) <= int(time.time())


def test_the_scheduled_event_file_has_the_documented_shape(aws_env: None) -> None:
    # The handler module may load here first: its Metrics take their namespace from the environment as it loads.
    from functions.reconcile_jobs.app import ScheduledEvent

    event = ScheduledEvent.model_validate(scheduled_event())

    assert (event.source, event.detail_type, event.detail) == ("aws.events", "Scheduled Event", {})
    assert event.resources[0].startswith("arn:aws:events:us-east-1:123456789012:rule/")


def test_an_event_that_is_not_the_schedule_is_refused(reconcile: ModuleType, lambda_context: Any) -> None:
    with pytest.raises(ValidationError):
        reconcile.lambda_handler(load_event("sagemaker_training_job_completed"), lambda_context)
