"""A run as ``driftline runs`` and ``driftline status`` show it: its history read as steps, why it is where it is,
which run a name means, and the table and durations."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from driftline.cli_errors import CommandError
from driftline.run_status import (
    find_run,
    format_seconds,
    list_runs,
    may_be_of_endpoint,
    run_reason,
    runs_table,
    status_lines,
    step_details,
    summarize,
)
from driftline.stepfunctions_history import Step, read_steps, step_changes

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-pipeline"
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"
FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:driftline-{}Function-A1B2C3D4E5F6"


class History:
    """Builds a run's history as GetExecutionHistory returns it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = [{"id": 1, "type": "ExecutionStarted", "timestamp": START}]

    def add(self, at: float, kind: str, **details: Any) -> History:
        event: dict[str, Any] = {"id": len(self.events) + 1, "type": kind, "timestamp": START + timedelta(seconds=at)}
        if kind.endswith(("StateEntered", "StateExited")):
            event["stateEnteredEventDetails" if kind.endswith("Entered") else "stateExitedEventDetails"] = details
        elif details:
            event[f"{kind[0].lower()}{kind[1:]}EventDetails"] = details
        self.events.append(event)
        return self

    def task(self, name: str, at: float, took: float, *, result: Any = None, submitted: Any = None) -> History:
        self.add(at, "TaskStateEntered", name=name, input="{}")
        resource = "invoke.waitForTaskToken" if submitted is not None else "invoke"
        parameters = json.dumps({"FunctionName": FUNCTION.format(name), "Payload": {}})
        self.add(
            at, "TaskScheduled", resourceType="lambda", resource=resource, region="us-east-1", parameters=parameters
        )
        if submitted is not None:
            self.add(
                at + 0.1,
                "TaskSubmitted",
                resourceType="lambda",
                resource=resource,
                output=json.dumps({"StatusCode": 200, "Payload": submitted}),
            )
        if result is not None:
            output = result if submitted is not None else {"StatusCode": 200, "Payload": result}
            self.add(at + took, "TaskSucceeded", resourceType="lambda", resource=resource, output=json.dumps(output))
            self.add(at + took, "TaskStateExited", name=name, output="{}")
        return self


def _described(status: str, *, name: str = "credit-0123456789ab", seconds: float = 30, **extra: Any) -> dict[str, Any]:
    described = {
        "executionArn": f"{MACHINE.replace('stateMachine', 'execution')}:{name}",
        "name": name,
        "status": status,
        "startDate": START,
        "input": json.dumps({"dataset": "credit", "data": {"uri": "s3://data/data/credit/a.csv", "version_id": "v1"}}),
    }
    if status != "RUNNING":
        described["stopDate"] = START + timedelta(seconds=seconds)
    described.update(extra)
    return described


GATE = {
    "passed": True,
    "metric": "auc",
    "value": 0.912345,
    "threshold": 0.7,
    "higher_is_better": True,
    "incumbent_model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/2",
    "incumbent_value": 0.88,
    "reasons": ["auc 0.912 beats the approved model's 0.88 by more than 0.01."],
}


def _waiting_history() -> History:
    history = History().task("Validate", 0, 0.5, result={"rows": 9})
    history.task(
        "Train",
        1,
        12,
        submitted={"job_name": "credit-0123456789ab-train", "job_arn": "arn:...:training-job/x"},
        result={"job_name": "credit-0123456789ab-train", "job_type": "training", "status": "Completed"},
    )
    history.task("QualityGate", 14, 0.1, result=GATE)
    history.task(
        "RequestApproval",
        15,
        0,
        submitted={"approval_id": "a1", "model_package_arn": PACKAGE, "expires_at": 1_900_000_000},
    )
    return history


def test_the_history_reads_as_steps_with_their_function_jobs_and_results() -> None:
    steps = read_steps(_waiting_history().events)

    assert [(s.name, s.state_type, s.function_name) for s in steps] == [
        ("Validate", "Task", "driftline-ValidateFunction-A1B2C3D4E5F6"),
        ("Train", "Task", "driftline-TrainFunction-A1B2C3D4E5F6"),
        ("QualityGate", "Task", "driftline-QualityGateFunction-A1B2C3D4E5F6"),
        ("RequestApproval", "Task", "driftline-RequestApprovalFunction-A1B2C3D4E5F6"),
    ]
    train, gate, approval = steps[1], steps[2], steps[3]
    assert train.job_names == ["credit-0123456789ab-train"]
    assert train.seconds(START) == 12.0
    assert gate.result == GATE  # the invoke's Payload, unwrapped
    assert approval.exited is None and approval.submitted["model_package_arn"] == PACKAGE


def test_a_failed_task_keeps_each_attempt_s_error_and_the_lambda_s_message() -> None:
    cause = json.dumps({"errorType": "TransientAwsError", "errorMessage": "SageMaker throttled", "stackTrace": []})
    history = History().add(0, "TaskStateEntered", name="Train")
    history.add(1, "TaskFailed", error="TransientAwsError", cause=cause)
    history.add(3, "TaskTimedOut", error="States.Timeout")

    (train,) = read_steps(history.events)

    assert [(f.error, f.cause) for f in train.failures] == [
        ("TransientAwsError", "SageMaker throttled"),
        ("States.Timeout", "the task timed out"),
    ]


def test_changes_between_two_reads_come_in_the_order_they_happened() -> None:
    history = History().task("Validate", 0, 0.5, result={})
    before = read_steps(history.events)
    history.add(1, "TaskStateEntered", name="Train").add(2, "TaskFailed", error="AlgorithmError", cause="exit code 1")

    changes = step_changes(before, read_steps(history.events))

    assert [(c.kind, c.step.name) for c in changes] == [("entered", "Train"), ("failed", "Train")]


def test_the_status_of_a_waiting_run_gives_the_gate_s_numbers_and_the_commands_that_decide_it() -> None:
    lines = status_lines(
        _described("RUNNING"),
        read_steps(_waiting_history().events),
        decide_flags="--local --state-dir /tmp/s",
        now=START + timedelta(seconds=75),
    )

    assert lines[0] == "Run credit-0123456789ab (credit): RUNNING, started 2026-12-01 09:00:00 UTC, 1 min 15 s so far"
    assert lines[1] == "  upload: s3://data/data/credit/a.csv (version v1)"
    assert "  09:00:01  Train                    12.0 s" in lines
    assert "      job credit-0123456789ab-train" in lines
    assert (
        "      passed: auc 0.9123, threshold 0.7 (higher is better); serving model "
        "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/2 scored 0.88"
    ) in lines
    assert "      auc 0.912 beats the approved model's 0.88 by more than 0.01." in lines
    assert "  09:00:15  RequestApproval          running for 1 min 00 s" in lines
    assert lines[-3:] == [
        f"Waiting for approval of {PACKAGE} until 2030-03-17 17:46 UTC:",
        "  approve: driftline approve credit-0123456789ab --local --state-dir /tmp/s",
        '  reject:  driftline reject credit-0123456789ab --local --state-dir /tmp/s --reason "..."',
    ]


def test_the_status_of_a_run_waiting_for_its_trial_winner_s_promotion_gives_the_commands_that_decide_it() -> None:
    history = History().task("Validate", 0, 0.5, result={"rows": 9})
    history.task("DecideTrial", 1, 0.1, result={"decision": "challenger"})
    history.task(
        "RequestPromotion",
        2,
        0,
        submitted={"approval_id": "p1", "model_package_arn": PACKAGE, "expires_at": 1_900_000_000},
    )

    lines = status_lines(_described("RUNNING"), read_steps(history.events), now=START + timedelta(seconds=75))

    assert lines[-3:] == [
        f"Waiting for the promotion of {PACKAGE}, the winner of its A/B trial, to all traffic until "
        "2030-03-17 17:46 UTC:",
        "  promote: driftline approve credit-0123456789ab",
        '  keep the serving model: driftline reject credit-0123456789ab --reason "..."',
    ]


@pytest.mark.parametrize(
    ("described", "reason"),
    [
        (
            _described(
                "SUCCEEDED",
                output=json.dumps({"deployment": {"endpoint_name": "driftline-credit", "action": "updated"}}),
            ),
            "deployed to driftline-credit (updated)",
        ),
        (
            _described(
                "SUCCEEDED",
                output=json.dumps(
                    {
                        "deployment": {"endpoint_name": "driftline-credit", "action": "concluded"},
                        "trial": {"decision": "not_enough_evidence", "winner": "champion"},
                    }
                ),
            ),
            "A/B trial on driftline-credit: not_enough_evidence, the serving model stays",
        ),
        (
            _described(
                "SUCCEEDED",
                output=json.dumps({"gate": dict(GATE, passed=False, reasons=["auc 0.52 is below the threshold 0.7."])}),
            ),
            "rejected by the quality gate: auc 0.52 is below the threshold 0.7.",
        ),
        (
            _described(
                "FAILED", error="ApprovalRejected", cause="Rejected by maria: recall too low. No endpoint was changed."
            ),
            "ApprovalRejected: Rejected by maria: recall too low. No endpoint was changed.",
        ),
        (
            _described("ABORTED", cause="driftline destroy is deleting the stack"),
            "stopped: driftline destroy is deleting the stack",
        ),
        (_described("TIMED_OUT"), "timed out"),
    ],
)
def test_why_an_ended_run_ended_in_one_line(described: dict[str, Any], reason: str) -> None:
    assert run_reason(described, []) == reason


def test_a_running_run_says_which_step_it_is_in_and_for_how_long() -> None:
    history = History().task("Validate", 0, 0.5, result={})
    history.task("Train", 1, 0, submitted={"job_name": "credit-0123456789ab-train"})

    reason = run_reason(_described("RUNNING"), read_steps(history.events), now=START + timedelta(seconds=31))

    assert reason == "in Train for 30.0 s (job credit-0123456789ab-train)"


def test_a_run_that_ended_in_a_fail_state_shows_that_state_as_ending_it() -> None:
    history = History().task("Validate", 0, 0.5, result={}).add(1, "FailStateEntered", name="RunFailed", input="{}")

    lines = status_lines(_described("FAILED", error="ValidationFailed", cause="bad file"), read_steps(history.events))

    assert "  09:00:01  RunFailed                ended the run" in lines
    assert lines[-1] == "Run ended FAILED: ValidationFailed: bad file"


class Executions:
    """A Step Functions client's answers for a pipeline's runs, newest last in ``names``."""

    def __init__(self, names: list[str], datasets: dict[str, str] | None = None) -> None:
        self.names = names
        self.datasets = datasets or {}

    def _arn(self, name: str) -> str:
        return f"{MACHINE.replace('stateMachine', 'execution')}:{name}"

    def list_executions(self, **request: Any) -> dict[str, Any]:
        assert request["stateMachineArn"] == MACHINE
        start = int(request.get("nextToken", 0))
        newest_first = list(reversed(self.names))
        page = newest_first[start : start + 2]
        answer: dict[str, Any] = {
            "executions": [
                {"name": n, "executionArn": self._arn(n), "startDate": START + timedelta(minutes=self.names.index(n))}
                for n in page
            ]
        }
        if start + 2 < len(newest_first):
            answer["nextToken"] = str(start + 2)
        return answer

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        name = executionArn.rsplit(":", 1)[-1]
        if name not in self.names or not executionArn.startswith(MACHINE.replace("stateMachine", "execution")):
            raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": "no"}}, "DescribeExecution")
        dataset = self.datasets.get(name, name.rsplit("-", 1)[0])
        return dict(_described("SUCCEEDED", name=name), input=json.dumps({"dataset": dataset}))


RUNS = ["credit-111111111111", "fraud-222222222222", "credit-333333333333"]


@pytest.mark.parametrize(
    "asked",
    ["fraud-222222222222", "fraud", "fraud-2", f"{MACHINE.replace('stateMachine', 'execution')}:fraud-222222222222"],
)
def test_a_run_is_found_by_its_name_its_arn_or_the_start_of_its_name(asked: str) -> None:
    assert find_run(Executions(RUNS), MACHINE, asked)["name"] == "fraud-222222222222"


def test_a_name_start_that_fits_several_runs_asks_for_more() -> None:
    with pytest.raises(
        CommandError,
        match=r"^'credit' matches 2 runs \(credit-333333333333, credit-111111111111\): give more of the name$",
    ):
        find_run(Executions(RUNS), MACHINE, "credit")


def test_an_unknown_run_lists_the_most_recent_ones() -> None:
    with pytest.raises(CommandError) as refused:
        find_run(Executions(RUNS), MACHINE, "loans")

    assert str(refused.value) == (
        "no run named 'loans' or starting so: the most recent are credit-333333333333, fraud-222222222222, "
        "credit-111111111111 (`driftline runs` lists them)"
    )


def test_an_unknown_run_in_an_empty_pipeline_says_how_runs_start() -> None:
    with pytest.raises(CommandError, match="the pipeline has no runs yet"):
        find_run(Executions([]), MACHINE, "credit-1")


def test_runs_of_a_dataset_are_found_by_its_input_even_when_its_name_was_rewritten_for_the_run_name() -> None:
    names = ["Credit-Data-2026-444444444444", "credit-555555555555", "Credit-Data-2026-666666666666"]
    executions = Executions(
        names,
        datasets={
            "Credit-Data-2026-444444444444": "Credit Data_2026!",
            "Credit-Data-2026-666666666666": "Credit Data_2026",
        },
    )

    runs = list_runs(executions, MACHINE, dataset="Credit Data_2026!")

    assert [run.name for run in runs] == ["Credit-Data-2026-444444444444"]


def test_the_runs_table_lines_up_its_columns_and_cuts_a_long_reason() -> None:
    runs = [
        summarize(
            _described("FAILED", name="credit-111111111111", seconds=200, error="ValidationFailed", cause="x" * 300), []
        ),
        summarize(_described("SUCCEEDED", name="fraud-2", seconds=4000), []),
    ]

    lines = runs_table(runs, reason_width=30)

    assert lines == [
        "NAME                 DATASET  STATUS     STARTED (UTC)        DURATION    REASON",
        "credit-111111111111  credit   FAILED     2026-12-01 09:00:00  3 min 20 s  ValidationFailed: xxxxxxxxx...",
        "fraud-2              credit   SUCCEEDED  2026-12-01 09:00:00  1 h 06 min  succeeded",
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.42, "0.4 s"), (59.94, "59.9 s"), (61, "1 min 01 s"), (7380, "2 h 03 min"), (100_000, "1 d 03 h")],
)
def test_durations_read_in_the_unit_that_fits(seconds: float, text: str) -> None:
    assert format_seconds(seconds) == text


def test_a_trials_decision_and_a_staging_tests_figures_show_under_their_steps() -> None:
    decided = Step(name="DecideTrial", state_type="Task", entered=datetime(2026, 12, 7, tzinfo=UTC))
    decided.result = {
        "decision": "challenger",
        "winner": "challenger",
        "reason": "The challenger is better: accuracy 0.96 against 0.90 (p = 0.003).",
        "report_uri": "s3://art/runs/x/trial/trial_report.html",
    }
    tested = Step(name="TestStaging", state_type="Task", entered=datetime(2026, 12, 7, tzinfo=UTC))
    tested.result = {
        "smoke": {"rows": 85, "mismatches": 0},
        "load": {"requests": 150, "p99_milliseconds": 12.5, "errors": 0},
    }
    assert step_details(decided) == [
        "trial decision challenger: The challenger is better: accuracy 0.96 against 0.90 (p = 0.003).",
        "report s3://art/runs/x/trial/trial_report.html",
    ]
    assert step_details(tested) == [
        "smoke test: 85 rows, 0 answered differently",
        "load test: 150 requests, p99 12.5 ms, 0 errors",
    ]


def test_a_run_name_may_be_of_an_endpoint_s_dataset_when_their_letters_start_alike() -> None:
    assert may_be_of_endpoint("credit-1a2b3c4d5e6f", "driftline-credit", "driftline")
    assert may_be_of_endpoint("Credit-Cards-1a2b3c4d5e6f", "driftline-credit-cards--0123456789", "driftline")
    assert may_be_of_endpoint("credit-eu-1a2b3c4d5e6f", "driftline-credit", "driftline")  # its input decides
    assert not may_be_of_endpoint("tumours-1a2b3c4d5e6f", "driftline-credit", "driftline")
