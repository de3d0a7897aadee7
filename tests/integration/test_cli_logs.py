"""``driftline logs``: a run's lines from its functions' and jobs' log groups (CloudWatch Logs under moto), found
from the run's history and kept to that run."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftline.cli import main
from tests.integration.cli_pipeline import ScriptedPipeline, gate, job, notified, scripted_pipeline

VALIDATION = {
    "config_uri": "s3://a/c.json",
    "schema_uri": "s3://a/s.json",
    "schema_source": "inferred",
    "rows": 9,
    "columns": 3,
    "release": {"staging": False, "ab_test": None},
    "transforms_test_rows": False,
}
RUN = "credit-333333333333"
OTHER_RUN = "credit-999999999999"
EXECUTION_ARN = f"arn:aws:states:us-east-1:123456789012:execution:driftline-pipeline:{RUN}"


@pytest.fixture
def scripted(aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ScriptedPipeline]:
    yield from scripted_pipeline(monkeypatch, tmp_path)


@pytest.fixture
def rejected_run(scripted: ScriptedPipeline) -> ScriptedPipeline:
    """A run that trained a model the gate rejected, and another run beside it."""
    scripted.behaviours.update(
        Validate=lambda _: VALIDATION,
        Preprocess=job("preprocess"),
        Train=job("train", "training"),
        Evaluate=job("evaluate"),
        QualityGate=lambda _: gate(False),
        Notify=notified("The credit model was not registered: auc 0.52 is below the threshold 0.7."),
    )
    for name in (OTHER_RUN, RUN):
        assert scripted.wait(scripted.start(name))["status"] == "SUCCEEDED"
    return scripted


def _powertools(message: str, **keys: Any) -> str:
    return json.dumps({"level": "INFO", "message": message, "service": "driftline", **keys})


def _put(group: str, stream: str, lines: list[tuple[int, str]]) -> None:
    logs = boto3.client("logs")
    if not logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]:
        logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": stamp, "message": message} for stamp, message in lines],
    )


def _write_logs(pipeline: ScriptedPipeline) -> None:
    """What the functions and jobs of both runs logged, as Lambda, Powertools and SageMaker write it."""
    now = int(time.time() * 1000)
    other_arn = EXECUTION_ARN.replace(RUN, OTHER_RUN)
    validate = f"/aws/lambda/{pipeline.function_names['Validate']}"
    _put(
        validate,
        "2026/12/07/[$LATEST]aaaa",
        [
            (now - 900, "START RequestId: 1 Version: $LATEST"),
            (now - 890, _powertools("Upload accepted", correlation_id=other_arn)),
            (now - 800, _powertools("Upload accepted", correlation_id=EXECUTION_ARN, rows=9)),
            (
                now - 799,
                json.dumps(
                    {"_aws": {"CloudWatchMetrics": []}, "RowsValidated": [9.0], "correlation_id": EXECUTION_ARN}
                ),
            ),
            (now - 798, "REPORT RequestId: 1 Duration: 99.62 ms"),
        ],
    )
    _put(
        f"/aws/lambda/{pipeline.function_names['Train']}",
        "2026/12/07/[$LATEST]bbbb",
        [
            (
                now - 700,
                json.dumps(
                    {
                        "level": "ERROR",
                        "message": "Throttled, retrying",
                        "correlation_id": EXECUTION_ARN,
                        "exception": "Traceback (most recent call last):\nClientError: ThrottlingException",
                    }
                ),
            ),
            (now - 650, _powertools("Started SageMaker job", correlation_id=EXECUTION_ARN)),
        ],
    )
    _put(
        "/aws/sagemaker/TrainingJobs",
        f"{RUN}-train/algo-1-1796000000",
        [(now - 600, "Training on 399 rows"), (now - 590, "validation:auc=0.52")],
    )
    _put("/aws/sagemaker/TrainingJobs", f"{OTHER_RUN}-train/algo-1-1796000000", [(now - 595, "another run's job")])
    _put(
        "/aws/lambda/driftline-JobEventsFunction-Q9W8E7R6T5Y4",
        "2026/12/07/[$LATEST]cccc",
        [
            (
                now - 580,
                _powertools(
                    "Resumed the run with the job's outputs", job_name=f"{RUN}-train", execution_id=EXECUTION_ARN
                ),
            ),
            (now - 570, _powertools("Resumed the run with the job's outputs", execution_id=other_arn)),
            (
                now - 560,
                _powertools(
                    "Drift monitoring set up",
                    baseline_job_name="driftline-credit-baseline-v3",
                    execution_id=EXECUTION_ARN,
                ),
            ),
        ],
    )
    _put(
        "/aws/sagemaker/ProcessingJobs",
        "driftline-credit-baseline-v3/algo-1-1796000001",
        [(now - 500, "Baseline of 399 rows and 30 features written")],
    )


def test_logs_of_a_run_are_its_functions_and_jobs_lines_in_time_order(
    rejected_run: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_logs(rejected_run)

    assert main(["logs", RUN]) == 0

    lines = [re.sub(r"^\d\d:\d\d:\d\d\.\d{3} ", "", line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [
        "[Validate] INFO    Upload accepted",
        "[Train] ERROR   Throttled, retrying",
        "    Traceback (most recent call last):",
        "    ClientError: ThrottlingException",
        "[Train] INFO    Started SageMaker job",
        "[train job] Training on 399 rows",
        "[train job] validation:auc=0.52",
        "[JobEvents] INFO    Resumed the run with the job's outputs",
        "[JobEvents] INFO    Drift monitoring set up",
        "[driftline-credit-baseline-v3] Baseline of 399 rows and 30 features written",
    ]


def test_logs_of_one_step_are_its_function_s_and_its_job_s(
    rejected_run: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_logs(rejected_run)

    assert main(["logs", "credit-3333", "--step", "train"]) == 0

    out = capsys.readouterr().out
    assert "[Train] INFO    Started SageMaker job" in out
    assert "[train job] validation:auc=0.52" in out
    assert "[Validate]" not in out and "[JobEvents]" not in out and "another run" not in out


def test_a_step_the_run_did_not_take_is_refused_with_the_steps_it_took(
    rejected_run: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", RUN, "Deploy"]) == 1

    assert capsys.readouterr().err == (
        "driftline: the run has no step 'Deploy'; its steps: Validate, Preprocess, Train, IsOwnContainer, Evaluate, "
        "QualityGate, GatePassed, NotifyRejected, ModelRejected\n"
    )


def test_a_run_with_nothing_logged_yet_says_so(
    rejected_run: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", RUN]) == 0

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"driftline: no log lines of run {RUN} yet\n"


def test_the_requests_ask_cloudwatch_logs_for_the_run_s_name_and_the_job_s_streams(
    rejected_run: ScriptedPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """moto ignores filter patterns it cannot read; on AWS the pattern does the filtering, so it must name the run."""
    from moto.logs.responses import LogsResponse

    _write_logs(rejected_run)
    asked: list[dict[str, Any]] = []
    filter_log_events = LogsResponse.filter_log_events

    def recorded(self: LogsResponse) -> Any:
        asked.append(json.loads(self.body))
        return filter_log_events(self)

    monkeypatch.setattr(LogsResponse, "filter_log_events", recorded)

    assert main(["logs", RUN]) == 0

    function_requests = [request for request in asked if request["logGroupName"].startswith("/aws/lambda/")]
    assert function_requests and all(request["filterPattern"] == f'"{RUN}"' for request in function_requests)
    assert all("startTime" in request and "endTime" in request for request in function_requests)
    (training,) = [request for request in asked if request["logGroupName"] == "/aws/sagemaker/TrainingJobs"]
    assert training["logStreamNames"] == [f"{RUN}-train/algo-1-1796000000"]
