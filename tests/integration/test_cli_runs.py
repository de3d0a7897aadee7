"""``driftline runs`` and ``driftline status`` against a stack's pipeline (the real ASL under moto): what a person
sees of each run, and the one-line errors for runs that cannot be found."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftline.cli import main
from tests.integration.cli_pipeline import (
    ScriptedPipeline,
    deployed,
    gate,
    job,
    notified,
    package_arn,
    scripted_pipeline,
    waiting_for_approval,
)
from tests.statemachine.harness import raising

VALIDATION = {
    "config_uri": "s3://a/c.json",
    "schema_uri": "s3://a/s.json",
    "schema_source": "inferred",
    "rows": 9,
    "columns": 3,
    "release": {"staging": False, "ab_test": None},
    "transforms_test_rows": False,
}
APPROVAL = {
    "approval_id": "a1",
    "decision": "approved",
    "decided_by": "maria@example.com",
    "decided_at": "2026-12-01T10:00:00Z",
    "source": "link",
    "reason": "",
}


@pytest.fixture
def scripted(aws: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[ScriptedPipeline]:
    yield from scripted_pipeline(monkeypatch, tmp_path)


def _through_the_gate(pipeline: ScriptedPipeline, *, passed: bool, incumbent: bool = False) -> None:
    pipeline.behaviours.update(
        Validate=lambda _: VALIDATION,
        Preprocess=job("preprocess"),
        Train=job("train", "training"),
        Evaluate=job("evaluate"),
        QualityGate=lambda _: gate(passed, incumbent=incumbent),
        Register=lambda _: {
            "model_package_arn": package_arn(3),
            "model_package_group": "driftline-credit",
            "approval_status": "PendingManualApproval",
        },
    )


def _deployed_run(pipeline: ScriptedPipeline, name: str) -> str:
    _through_the_gate(pipeline, passed=True, incumbent=True)

    def approve(payload: dict[str, Any]) -> Any:
        from tests.integration.cli_pipeline import _answer_later

        _answer_later(payload["task_token"], APPROVAL)
        return {"approval_id": "a1", "model_package_arn": package_arn(3), "expires_at": 1_900_000_000}

    pipeline.behaviours.update(
        RequestApproval=approve,
        Deploy=deployed,
        FinishDeployment=lambda _: {"autoscaling": "none"},
        Notify=notified("The model serves on endpoint driftline-credit."),
    )
    arn = pipeline.start(name)
    assert pipeline.wait(arn)["status"] == "SUCCEEDED"
    return arn


@pytest.fixture
def runs(scripted: ScriptedPipeline) -> dict[str, str]:
    """Four runs of two datasets, oldest first: rejected by the gate, failed at Validate, deployed, waiting."""
    arns = {}
    _through_the_gate(scripted, passed=False)
    scripted.behaviours["Notify"] = notified(
        "The credit model was not registered: auc 0.52 is below the threshold 0.7."
    )
    arns["rejected"] = scripted.start("credit-111111111111")
    assert scripted.wait(arns["rejected"])["status"] == "SUCCEEDED"

    scripted.behaviours["Validate"] = raising("ValidationFailed", "data/fraud/a.csv: column 'amount' is not numeric")
    scripted.behaviours["Notify"] = notified(
        "Validation failed: data/fraud/a.csv: column 'amount' is not numeric.", error="ValidationFailed"
    )
    arns["failed"] = scripted.start("fraud-222222222222", dataset="fraud")
    assert scripted.wait(arns["failed"])["status"] == "FAILED"

    arns["deployed"] = _deployed_run(scripted, "credit-333333333333")

    _through_the_gate(scripted, passed=True)
    scripted.behaviours["RequestApproval"] = waiting_for_approval(3)
    arns["waiting"] = scripted.start("credit-444444444444")
    scripted.wait(arns["waiting"], until_state="RequestApproval")
    return arns


def test_runs_lists_the_newest_first_with_dataset_status_and_why(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "DATASET", "STATUS", "STARTED", "(UTC)", "DURATION", "REASON"]
    rows = [line.split(None, 2) for line in lines[1:]]
    assert [row[:2] for row in rows] == [
        ["credit-444444444444", "credit"],
        ["credit-333333333333", "credit"],
        ["fraud-222222222222", "fraud"],
        ["credit-111111111111", "credit"],
    ]
    waiting, deployed_row, failed, rejected = lines[1:]
    assert "RUNNING" in waiting and waiting.endswith("waiting for approval of driftline-credit version 3")
    assert "SUCCEEDED" in deployed_row and deployed_row.endswith("deployed to driftline-credit (created)")
    assert "FAILED" in failed
    assert failed.endswith("ValidationFailed: Validation failed: data/fraud/a.csv: column 'amount' is not numeric.")
    assert rejected.endswith("rejected by the quality gate: auc 0.52 is below the threshold 0.7.")


def test_runs_of_one_dataset_and_at_most_limit(runs: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--dataset", "credit", "--limit", "2"]) == 0

    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]]
    assert names == ["credit-444444444444", "credit-333333333333"]


def test_status_of_a_waiting_run_shows_each_step_the_gate_s_numbers_and_how_to_decide(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "credit-4444"]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("Run credit-444444444444 (credit): RUNNING, started ")
    steps = [line.split()[1] for line in lines if line.startswith("  ") and line[2:4].isdigit()]
    assert steps == [
        "Validate",
        "Preprocess",
        "Train",
        "IsOwnContainer",
        "Evaluate",
        "QualityGate",
        "GatePassed",
        "Register",
        "UseStaging",
        "SkipStaging",
        "RequestApproval",
    ]
    assert "job credit-444444444444-train" in out
    assert "passed: auc 0.91, threshold 0.7 (higher is better); no serving model compared" in out
    assert f"registered {package_arn(3)} (PendingManualApproval)" in out
    assert "RequestApproval" in lines[-4] and "running for" in lines[-4]
    assert lines[-3] == f"Waiting for approval of {package_arn(3)} until 2030-03-17 17:46 UTC:"
    assert lines[-2] == "  approve: driftline approve credit-444444444444"
    assert lines[-1] == '  reject:  driftline reject credit-444444444444 --reason "..."'


def test_status_of_a_deployed_run_names_the_serving_model_it_beat_and_the_endpoint(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", runs["deployed"]]) == 0

    out = capsys.readouterr().out
    assert f"serving model {package_arn(2)} scored 0.88" in out
    assert "approved by maria@example.com (link)" in out
    assert "endpoint driftline-credit created, serving driftline-credit-v3" in out
    assert out.splitlines()[-1] == "Run ended SUCCEEDED: deployed to driftline-credit (created)"


def test_status_of_a_failed_run_shows_the_step_s_failure_and_the_run_s_reason(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "fraud-"]) == 0

    out = capsys.readouterr().out
    assert "!! ValidationFailed: data/fraud/a.csv: column 'amount' is not numeric" in out
    assert "RunFailed                ended the run" in out
    assert out.splitlines()[-1] == (
        "Run ended FAILED: ValidationFailed: Validation failed: data/fraud/a.csv: column 'amount' is not numeric."
    )


def test_an_unknown_run_is_one_line_naming_the_most_recent_runs(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "nope"]) == 1

    assert capsys.readouterr().err == (
        "driftline: no run named 'nope' or starting so: the most recent are credit-444444444444, "
        "credit-333333333333, fraud-222222222222, credit-111111111111 (`driftline runs` lists them)\n"
    )


def test_a_prefix_of_several_runs_asks_for_more_of_the_name(
    runs: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "credit-"]) == 1

    assert capsys.readouterr().err.startswith("driftline: 'credit-' matches 3 runs (credit-444444444444, ")


def test_status_follow_prints_each_step_as_it_happens_and_exits_0_when_the_run_succeeds(
    scripted: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    _through_the_gate(scripted, passed=False)
    scripted.behaviours["Train"] = _slow(job("train", "training"))
    scripted.behaviours["Notify"] = notified(
        "The credit model was not registered: auc 0.52 is below the threshold 0.7."
    )
    scripted.start("credit-555555555555")

    assert main(["status", "credit-555555555555", "--follow", "--poll", "0.1"]) == 0

    out = capsys.readouterr().out
    assert "-> Evaluate" in out and "<- Evaluate (" in out
    assert "failed: auc 0.52, threshold 0.7 (higher is better); no serving model compared" in out
    assert (
        out.splitlines()[-1]
        == "Run ended SUCCEEDED: rejected by the quality gate: auc 0.52 is below the threshold 0.7."
    )


def test_status_follow_exits_non_zero_when_the_run_fails(
    scripted: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    _through_the_gate(scripted, passed=True)
    scripted.behaviours["Train"] = _slow(raising("AlgorithmError", "exit code 137. Out of memory"))
    scripted.behaviours["Notify"] = notified("Training failed: exit code 137. Out of memory.", error="AlgorithmError")
    scripted.start("credit-666666666666")

    assert main(["status", "credit-666666666666", "--follow", "--poll", "0.1"]) == 1

    out = capsys.readouterr().out
    assert "!! AlgorithmError: exit code 137. Out of memory" in out
    assert out.splitlines()[-1] == "Run ended FAILED: AlgorithmError: Training failed: exit code 137. Out of memory."


def _slow(behaviour: Any) -> Any:
    """The step takes a moment, so that following starts before the run ends."""

    def behave(payload: dict[str, Any]) -> Any:
        import time

        time.sleep(1.0)
        return behaviour(payload)

    return behave


def test_a_stack_that_does_not_exist_is_one_line_saying_what_to_pass(
    scripted: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["runs", "--stack-name", "driftlin"]) == 1

    assert capsys.readouterr().err == (
        "driftline: no stack driftlin in us-east-1: pass --stack-name with the name you deployed "
        "(samconfig.toml's stack_name) or --region; for local mode pass --local\n"
    )


def test_a_stack_without_the_pipeline_s_output_is_refused_as_not_driftline_s(
    scripted: ScriptedPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}}
    boto3.client("cloudformation").create_stack(StackName="website", TemplateBody=json.dumps(template))

    assert main(["status", "credit-1", "--stack-name", "website"]) == 1

    assert capsys.readouterr().err == (
        "driftline: stack website in us-east-1 has no PipelineStateMachineArn output (status CREATE_COMPLETE): it is "
        "not a Driftline stack, or its deploy has not finished; pass --stack-name with Driftline's stack\n"
    )
