"""Every path through the pipeline's state machine, on the real ASL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.statemachine.harness import Pipeline, job_callback, raising

RUN_INPUT = {
    "dataset": "credit",
    "data": {
        "bucket": "data",
        "key": "data/credit/a.csv",
        "version_id": "v1",
        "uri": "s3://data/data/credit/a.csv",
    },
    "trigger": {"source": "upload"},
}
VALIDATION = {
    "config_uri": "s3://art/runs/x/config.json",
    "schema_uri": "s3://art/s.json",
    "schema_source": "inferred",
    "rows": 100,
    "columns": 5,
}
PREPROCESS = {
    "job_name": "x-preprocess",
    "job_type": "processing",
    "status": "Completed",
    "outputs": {"train": "s3://art/train/"},
}
TRAINING = {
    "job_name": "x-train",
    "job_type": "training",
    "status": "Completed",
    "outputs": {"model": "s3://art/model.tar.gz"},
}
EVALUATION = {
    "job_name": "x-evaluate",
    "job_type": "processing",
    "status": "Completed",
    "outputs": {"evaluation": "s3://art/eval/"},
}


def gate(passed: bool) -> dict[str, Any]:
    return {
        "passed": passed,
        "metric": "auc",
        "value": 0.8 if passed else 0.5,
        "threshold": 0.7,
        "higher_is_better": True,
        "incumbent_model_package_arn": None,
        "incumbent_value": None,
        "evaluation_uri": "s3://art/eval/evaluation.json",
        "reasons": ["auc 0.8 meets the threshold 0.7"] if passed else ["auc 0.5 is below the threshold 0.7"],
    }


def notify(payload: dict[str, Any]) -> dict[str, Any]:
    """The Notify contract: a Fail-state error name never starts with ``States.`` (those are reserved)."""
    if payload["outcome"] == "failed":
        error = payload["error"]["Error"]
        name = "JobTimedOut" if error == "States.Timeout" else error
        return {"subject": "failed", "message_id": "m", "error": name, "cause": f"readable: {error}"}
    return {"subject": payload["outcome"], "message_id": "m", "error": "", "cause": ""}


def happy(pipeline: Pipeline, **overrides: Any) -> None:
    pipeline.behaviours.update(
        {
            "Validate": lambda p: VALIDATION,
            "Preprocess": job_callback(PREPROCESS),
            "Train": job_callback(TRAINING),
            "Evaluate": job_callback(EVALUATION),
            "QualityGate": lambda p: gate(True),
            "Register": lambda p: {
                "model_package_arn": "arn:pkg/1",
                "model_package_group": "g",
                "approval_status": "PendingManualApproval",
            },
            "Notify": notify,
        }
    )
    pipeline.behaviours.update(overrides)


def test_happy_path_registers_and_notifies(pipeline: Pipeline) -> None:
    happy(pipeline)
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["registration"]["approval_status"] == "PendingManualApproval"
    assert output["training"]["outputs"]["model"] == "s3://art/model.tar.gz"
    assert pipeline.states_entered(result["executionArn"]) == [
        "Validate",
        "Preprocess",
        "Train",
        "Evaluate",
        "QualityGate",
        "GatePassed",
        "Register",
        "NotifyRegistered",
        "ModelRegistered",
    ]
    assert pipeline.calls["Notify"][0]["outcome"] == "registered"


def test_steps_receive_small_payloads_with_execution_identity(pipeline: Pipeline) -> None:
    happy(pipeline)
    pipeline.run(RUN_INPUT)
    train_payload = pipeline.calls["Train"][0]
    assert train_payload["execution_name"].startswith("run-")
    assert train_payload["preprocess"] == PREPROCESS
    assert train_payload["task_token"]
    register_payload = pipeline.calls["Register"][0]
    assert set(register_payload) >= {
        "validation",
        "preprocess",
        "training",
        "evaluation",
        "gate",
        "data",
        "dataset",
    }
    assert len(json.dumps(register_payload)) < 4000


def test_gate_failure_notifies_rejection_and_registers_nothing(pipeline: Pipeline) -> None:
    happy(pipeline, QualityGate=lambda p: gate(False))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "SUCCEEDED"
    assert "Register" not in pipeline.calls
    assert pipeline.calls["Notify"][0]["outcome"] == "rejected"
    assert pipeline.states_entered(result["executionArn"])[-2:] == ["NotifyRejected", "ModelRejected"]


@pytest.mark.parametrize(
    ("step", "behaviour", "error"),
    [
        (
            "Validate",
            raising("ValidationFailed", "a.csv: column 'income' has 3 values that are not numbers"),
            "ValidationFailed",
        ),
        (
            "Preprocess",
            job_callback(error="SageMakerJobFailed", cause="processing job x-preprocess Failed: AlgorithmError"),
            "SageMakerJobFailed",
        ),
        (
            "Train",
            job_callback(error="SageMakerJobFailed", cause="training job x-train Failed: AlgorithmError"),
            "SageMakerJobFailed",
        ),
        (
            "Evaluate",
            job_callback(error="SageMakerJobFailed", cause="processing job x-evaluate Failed"),
            "SageMakerJobFailed",
        ),
        (
            "QualityGate",
            raising("EvaluationReportInvalid", "evaluation.json has no auc"),
            "EvaluationReportInvalid",
        ),
        ("Register", raising("ClientError", "AccessDenied"), "ClientError"),
    ],
)
def test_each_failure_is_caught_notified_and_fails_with_a_reason(
    pipeline: Pipeline, step: str, behaviour: Any, error: str
) -> None:
    happy(pipeline, **{step: behaviour})
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == error
    assert result["cause"] == f"readable: {error}"
    failure = pipeline.calls["Notify"][-1]
    assert failure["outcome"] == "failed"
    assert failure["error"]["Error"] == error
    if step != "Register":
        assert "Register" not in pipeline.calls


def test_job_failure_cause_reaches_the_notification(pipeline: Pipeline) -> None:
    happy(
        pipeline,
        Train=job_callback(error="SageMakerJobFailed", cause="training job x-train Failed: out of memory"),
    )
    pipeline.run(RUN_INPUT)
    assert pipeline.calls["Notify"][-1]["error"]["Cause"] == "training job x-train Failed: out of memory"


def test_a_job_that_never_reports_back_times_out_into_the_failure_path(pipeline: Pipeline) -> None:
    happy(pipeline, Evaluate=lambda p: {"job_name": "x", "job_arn": "arn"})
    result = pipeline.run(RUN_INPUT, timeout=30)
    assert result["status"] == "FAILED"
    assert result["error"] == "JobTimedOut"
    assert pipeline.calls["Notify"][-1]["error"]["Error"] == "States.Timeout"


def test_a_failing_notification_still_fails_the_run_with_the_original_cause(pipeline: Pipeline) -> None:
    happy(
        pipeline,
        Validate=raising("ValidationFailed", "empty file"),
        Notify=raising("ClientError", "topic gone"),
    )
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == "NotificationFailed"
