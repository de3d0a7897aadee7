"""Every path through the pipeline's state machine, on the real ASL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftline_core.payloads import ApprovalRequestInput, PromotionRequestInput, TrialDeployment
from tests.statemachine.harness import Pipeline, StepError, job_callback, raising

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
    "release": {"staging": False, "ab_test": None},
    "transforms_test_rows": False,
}
STAGED = {**VALIDATION, "release": {"staging": True, "ab_test": None}}
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
        "data_drift": DATA_DRIFT,
    }


DATA_DRIFT = {
    "compared": True,
    "model_package_arn": "arn:pkg/0",
    "baseline_uri": "s3://art/runs/x0/baseline/",
    "report_uri": "s3://art/eval/data_drift.html",
    "rows_compared": 2550,
    "features": 12,
    "drifted_count": 1,
    "drifted_features": [{"name": "income", "distance": 0.31, "threshold": 0.1, "margin": 0.05}],
}


APPROVAL = {
    "approval_id": "0f1e2d3c",
    "decision": "approved",
    "decided_by": "maria@example.com",
    "decided_at": "2026-11-23T10:20:31Z",
    "source": "link",
    "reason": "",
}
DEPLOYMENT = {
    "endpoint_name": "driftline-credit",
    "endpoint_arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-credit",
    "endpoint_config_name": "driftline-credit-v1",
    "model_name": "driftline-credit-v1",
    "model_package_arn": "arn:pkg/1",
    "action": "created",
    "endpoint_type": "Provisioned",
    "previous_endpoint_config_name": None,
    "data_capture_uri": "s3://art/capture/credit",
    "alarms": ["driftline-credit-invocation-5xx-errors"],
}
APPROVAL_ERRORS = {"approval_rejected": "ApprovalRejected", "approval_expired": "ApprovalExpired"}


def notify(payload: dict[str, Any]) -> dict[str, Any]:
    """The Notify contract: a Fail-state error name never starts with ``States.`` (those are reserved)."""
    if payload["outcome"] in APPROVAL_ERRORS:
        name = APPROVAL_ERRORS[payload["outcome"]]
        return {"subject": name, "message_id": "m", "error": name, "cause": f"readable: {payload['error']['Cause']}"}
    if payload["outcome"] == "failed":
        error = payload["error"]["Error"]
        name = "JobTimedOut" if error == "States.Timeout" else error
        return {"subject": "failed", "message_id": "m", "error": name, "cause": f"readable: {error}"}
    return {"subject": payload["outcome"], "message_id": "m", "error": "", "cause": ""}


STAGING = {
    **DEPLOYMENT,
    "endpoint_name": "driftline-credit--staging-v1",
    "endpoint_config_name": "driftline-credit--staging-v1",
    "data_capture_uri": None,
    "alarms": [],
}
STAGING_TEST = {
    "endpoint_name": "driftline-credit--staging-v1",
    "smoke": {"rows": 45, "mismatches": 0, "passed": True, "examples": []},
    "load": {
        "requests_per_second": 5.0,
        "seconds": 2,
        "requests": 10,
        "errors": 0,
        "p50_milliseconds": 4.1,
        "p99_milliseconds": 9.3,
        "max_p99_milliseconds": 1000.0,
        "passed": True,
    },
    "report_uri": "s3://art/runs/x/staging/staging_test.json",
}


def remove_staging(payload: dict[str, Any]) -> dict[str, Any]:
    """RemoveStaging's contract: nothing to do for a run without staging or without a registered candidate."""
    if not payload["staging"] or payload.get("registration") is None:
        return {"endpoint_name": None, "removed": []}
    return {"endpoint_name": "driftline-credit--staging-v1", "removed": ["endpoint driftline-credit--staging-v1"]}


def deploy_to(target_results: dict[str, dict[str, Any]]) -> Any:
    """Deploy, answering per target (production or staging) through the task token."""

    def behave(payload: dict[str, Any]) -> Any:
        return job_callback(target_results[payload.get("target", "production")])(payload)

    return behave


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
            "RequestApproval": job_callback(APPROVAL),
            "Deploy": job_callback(DEPLOYMENT),
            "FinishDeployment": lambda p: {"autoscaling": "1 to 2 instances"},
            "TestStaging": lambda p: STAGING_TEST,
            "RemoveStaging": remove_staging,
            "Notify": notify,
        }
    )
    pipeline.behaviours.update(overrides)


TRANSFORM = {
    "job_name": "x-transform",
    "job_type": "transform",
    "status": "Completed",
    "outputs": {"answers": "s3://art/runs/x/transform/answers/"},
}


def test_a_model_in_its_own_container_answers_the_held_out_rows_in_a_batch_transform_before_evaluation(
    pipeline: Pipeline,
) -> None:
    happy(
        pipeline,
        Validate=lambda p: {**VALIDATION, "transforms_test_rows": True},
        TransformTestRows=job_callback(TRANSFORM),
    )
    result = pipeline.run(RUN_INPUT)

    assert result["status"] == "SUCCEEDED", result
    entered = pipeline.states_entered(result["executionArn"])
    assert entered[:6] == ["Validate", "Preprocess", "Train", "IsOwnContainer", "TransformTestRows", "Evaluate"]
    assert json.loads(result["output"])["transform"] == TRANSFORM
    [transform_call] = pipeline.calls["TransformTestRows"]
    assert transform_call["training"] == TRAINING and transform_call["preprocess"] == PREPROCESS
    assert "task_token" in transform_call


def test_a_failed_batch_transform_is_notified_and_fails_the_run_before_evaluation(pipeline: Pipeline) -> None:
    cause = "Transform job x-transform Failed: ClientError: the container exited"
    happy(
        pipeline,
        Validate=lambda p: {**VALIDATION, "transforms_test_rows": True},
        TransformTestRows=job_callback(error="SageMakerJobFailed", cause=cause),
    )
    result = pipeline.run(RUN_INPUT)

    assert result["status"] == "FAILED"
    assert pipeline.calls["Notify"][-1]["error"]["Cause"] == cause
    assert "Evaluate" not in pipeline.states_entered(result["executionArn"])


def test_happy_path_registers_waits_for_approval_deploys_and_notifies_the_live_endpoint(pipeline: Pipeline) -> None:
    happy(pipeline)
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "SUCCEEDED"
    output = json.loads(result["output"])
    assert output["registration"]["approval_status"] == "PendingManualApproval"
    assert output["approval"] == APPROVAL
    assert output["deployment"] == DEPLOYMENT
    assert output["serving"] == {"autoscaling": "1 to 2 instances"}
    assert output["training"]["outputs"]["model"] == "s3://art/model.tar.gz"
    assert pipeline.states_entered(result["executionArn"]) == [
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
        "Deploy",
        "IsTrial",
        "FinishDeployment",
        "RemoveStagingAfterPromotion",
        "NotifyDeployed",
        "ModelDeployed",
    ]
    assert pipeline.calls["Notify"][0]["outcome"] == "deployed"
    request = pipeline.calls["RequestApproval"][0]
    assert set(request) >= {"task_token", "registration", "gate", "training", "validation", "data", "dataset"}
    # The gate's comparison with the serving model's baseline reaches the approver's email and the run's output.
    assert request["gate"]["data_drift"] == output["gate"]["data_drift"] == DATA_DRIFT
    deploy = pipeline.calls["Deploy"][0]
    assert set(deploy) >= {"task_token", "registration", "approval", "dataset", "execution_id"}
    assert deploy["task_token"] not in result["output"]
    assert pipeline.calls["FinishDeployment"][0]["deployment"] == DEPLOYMENT


def test_a_failed_deployment_is_notified_with_its_cause_and_fails_the_run(pipeline: Pipeline) -> None:
    cause = "Endpoint driftline-credit: update to driftline-credit-v2 failed, previous model still serving"
    happy(pipeline, Deploy=job_callback(error="DeploymentFailed", cause=cause))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentFailed"
    states = pipeline.states_entered(result["executionArn"])
    assert states[-4:] == ["Deploy", "CleanUpStaging", "NotifyFailure", "RunFailed"]
    assert pipeline.calls["Notify"][0]["outcome"] == "failed"
    assert "FinishDeployment" not in pipeline.calls


def test_an_endpoint_that_never_settles_times_out_into_the_failure_path(pipeline: Pipeline) -> None:
    happy(pipeline, Deploy=lambda p: {"endpoint_name": "e", "endpoint_config_name": "c", "action": "created"})
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert pipeline.calls["Notify"][0]["error"]["Error"] == "States.Timeout"


def test_a_busy_endpoint_is_retried_and_then_deployed(pipeline: Pipeline) -> None:
    attempts: list[int] = []
    deployed = job_callback(DEPLOYMENT)

    def busy_once(payload: dict[str, Any]) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise StepError("EndpointBusy", "Endpoint driftline-credit is Updating")
        return deployed(payload)

    happy(pipeline, Deploy=busy_once)
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "SUCCEEDED"
    assert len(attempts) == 2


def test_a_failed_autoscaling_setup_is_notified_as_a_failure(pipeline: Pipeline) -> None:
    happy(pipeline, FinishDeployment=raising("ClientError", "AccessDenied on RegisterScalableTarget"))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert pipeline.states_entered(result["executionArn"])[-4:] == [
        "FinishDeployment",
        "CleanUpStaging",
        "NotifyFailure",
        "RunFailed",
    ]


def test_the_task_token_the_approver_step_gets_is_not_carried_in_the_run_output(pipeline: Pipeline) -> None:
    happy(pipeline)
    result = pipeline.run(RUN_INPUT)
    token = pipeline.calls["RequestApproval"][0]["task_token"]
    assert token not in result["output"]
    assert token not in json.dumps(pipeline.calls["Notify"])


def test_a_rejection_notifies_who_rejected_and_why_and_fails_the_run_with_it(pipeline: Pipeline) -> None:
    cause = "credit model version 1 was rejected by sam at 2026-11-23T10:20:31Z: recall too low"
    happy(pipeline, RequestApproval=job_callback(error="ApprovalRejected", cause=cause))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == "ApprovalRejected"
    assert result["cause"] == f"readable: {cause}"
    rejection = pipeline.calls["Notify"][-1]
    assert rejection["outcome"] == "approval_rejected"
    assert rejection["error"] == {"Error": "ApprovalRejected", "Cause": cause}
    assert pipeline.states_entered(result["executionArn"])[-4:] == [
        "RequestApproval",
        "RemoveStagingAfterRejection",
        "NotifyApprovalRejected",
        "RunFailed",
    ]


def test_no_decision_before_the_approval_timeout_ends_the_run_as_expired(pipeline: Pipeline) -> None:
    happy(pipeline, RequestApproval=lambda p: {"approval_id": "a", "model_package_arn": "arn:pkg/1", "expires_at": 1})
    result = pipeline.run(RUN_INPUT, timeout=30)
    assert result["status"] == "FAILED"
    assert result["error"] == "ApprovalExpired"
    assert pipeline.calls["Notify"][-1]["outcome"] == "approval_expired"
    assert pipeline.calls["Notify"][-1]["error"]["Error"] == "States.Timeout"
    assert pipeline.states_entered(result["executionArn"])[-2:] == ["NotifyApprovalExpired", "RunFailed"]


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
        ("RequestApproval", raising("ClientError", "AccessDenied"), "ClientError"),
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
    if step not in ("Register", "RequestApproval"):
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


# Staging ----------------------------------------------------------------------------------------------


def test_with_staging_the_candidate_is_tested_on_its_staging_endpoint_before_approval_and_promoted_after(
    pipeline: Pipeline,
) -> None:
    happy(pipeline, Validate=lambda p: STAGED, Deploy=deploy_to({"staging": STAGING, "production": DEPLOYMENT}))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "SUCCEEDED"
    assert pipeline.states_entered(result["executionArn"])[6:] == [
        "GatePassed",
        "Register",
        "UseStaging",
        "DeployStaging",
        "TestStaging",
        "RequestApproval",
        "Deploy",
        "IsTrial",
        "FinishDeployment",
        "RemoveStagingAfterPromotion",
        "NotifyDeployed",
        "ModelDeployed",
    ]
    staging_deploy, production_deploy = pipeline.calls["Deploy"]
    assert staging_deploy["target"] == "staging" and "approval" not in staging_deploy
    # Approval promotes the same registered package to production.
    assert production_deploy["registration"] == staging_deploy["registration"]
    assert pipeline.calls["TestStaging"][0]["staging"] == STAGING
    assert pipeline.calls["TestStaging"][0]["evaluation"] == EVALUATION
    assert pipeline.calls["RequestApproval"][0]["staging_test"] == STAGING_TEST
    removal = pipeline.calls["RemoveStaging"][0]
    assert removal["keep_model"] is True and removal["staging"] is True
    output = json.loads(result["output"])
    assert output["staging_test"] == STAGING_TEST
    assert output["deployment"] == DEPLOYMENT


def test_without_staging_the_approval_request_says_there_was_no_staging_test(pipeline: Pipeline) -> None:
    happy(pipeline)
    pipeline.run(RUN_INPUT)
    request = pipeline.calls["RequestApproval"][0]
    assert request["staging_test"] == {}
    assert ApprovalRequestInput.model_validate(request).staging_test is None
    assert [call.get("target", "production") for call in pipeline.calls["Deploy"]] == ["production"]


def test_a_failed_staging_test_fails_the_run_before_anyone_is_asked_and_removes_the_staging_endpoint(
    pipeline: Pipeline,
) -> None:
    reason = "Smoke test on endpoint driftline-credit--staging-v1: 3 of 45 held-out rows answered differently"
    happy(
        pipeline,
        Validate=lambda p: STAGED,
        Deploy=deploy_to({"staging": STAGING}),
        TestStaging=raising("StagingTestFailed", reason),
    )
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == "StagingTestFailed"
    assert "RequestApproval" not in pipeline.calls
    assert pipeline.states_entered(result["executionArn"])[-4:] == [
        "TestStaging",
        "CleanUpStaging",
        "NotifyFailure",
        "RunFailed",
    ]
    assert pipeline.calls["RemoveStaging"][0]["keep_model"] is False
    failure = pipeline.calls["Notify"][-1]["error"]
    assert failure["Error"] == "StagingTestFailed" and reason in failure["Cause"]
    assert [call.get("target") for call in pipeline.calls["Deploy"]] == ["staging"]


def test_a_staging_endpoint_that_cannot_be_created_fails_the_run_with_the_reason(pipeline: Pipeline) -> None:
    cause = "Endpoint driftline-credit--staging-v1 is Failed after deploying it: the model did not load"
    happy(pipeline, Validate=lambda p: STAGED, Deploy=job_callback(error="DeploymentFailed", cause=cause))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == "DeploymentFailed"
    assert pipeline.calls["Notify"][-1]["error"]["Cause"] == cause
    assert "TestStaging" not in pipeline.calls and "RequestApproval" not in pipeline.calls
    assert pipeline.states_entered(result["executionArn"])[-4:] == [
        "DeployStaging",
        "CleanUpStaging",
        "NotifyFailure",
        "RunFailed",
    ]


@pytest.mark.parametrize(
    ("decision", "removal_state", "outcome"),
    [
        (
            job_callback(error="ApprovalRejected", cause="rejected by sam"),
            "RemoveStagingAfterRejection",
            "approval_rejected",
        ),
        (
            lambda p: {"approval_id": "a", "model_package_arn": "arn:pkg/1", "expires_at": 1},
            "RemoveStagingAfterExpiry",
            "approval_expired",
        ),
    ],
)
def test_a_rejected_or_expired_candidate_loses_its_staging_endpoint_and_production_is_never_touched(
    pipeline: Pipeline, decision: Any, removal_state: str, outcome: str
) -> None:
    happy(pipeline, Validate=lambda p: STAGED, Deploy=deploy_to({"staging": STAGING}), RequestApproval=decision)
    result = pipeline.run(RUN_INPUT, timeout=30)
    assert result["status"] == "FAILED"
    assert removal_state in pipeline.states_entered(result["executionArn"])
    assert pipeline.calls["RemoveStaging"][0]["keep_model"] is False
    assert pipeline.calls["Notify"][-1]["outcome"] == outcome
    assert [call.get("target") for call in pipeline.calls["Deploy"]] == ["staging"]


def test_a_staging_removal_that_fails_does_not_hide_why_the_run_ended(pipeline: Pipeline) -> None:
    happy(
        pipeline,
        Validate=lambda p: STAGED,
        Deploy=deploy_to({"staging": STAGING}),
        RequestApproval=job_callback(error="ApprovalRejected", cause="rejected by sam"),
        RemoveStaging=raising("ClientError", "AccessDenied on DeleteEndpoint"),
    )
    result = pipeline.run(RUN_INPUT)
    assert result["error"] == "ApprovalRejected"
    assert pipeline.calls["Notify"][-1]["outcome"] == "approval_rejected"


# A/B trials -----------------------------------------------------------------------------------------------


def trial(mode: str) -> dict[str, Any]:
    return {
        "mode": mode,
        "champion_variant": "AllTraffic",
        "challenger_variant": "Challenger-v2",
        "champion_endpoint_config_name": "driftline-credit-v1",
        "champion_model_name": "driftline-credit-v1",
        "champion_model_package_arn": "arn:pkg/1",
        "challenger_model_name": "driftline-credit-v2",
        "challenger_model_package_arn": "arn:pkg/2",
        "challenger_share": 0.2,
        "trial_minutes": 60,
        "min_labelled_rows": 100,
        "significance": 0.05,
        "started_at": "2026-11-23T09:00:00Z",
        # Already past: the Wait state ends at once.
        "ends_at": "2026-11-23T10:00:00Z",
    }


def trial_plan(mode: str, promotion: str = "automatic") -> dict[str, Any]:
    plan = {"mode": mode, "challenger_share": 0.2, "trial_minutes": 60, "min_labelled_rows": 100}
    return {
        **VALIDATION,
        "release": {"staging": False, "ab_test": {**plan, "significance": 0.05, "promotion": promotion}},
    }


def decision(winner: str) -> dict[str, Any]:
    return {
        "decision": "challenger" if winner == "challenger" else "champion",
        "winner": winner,
        "reason": f"the {winner} keeps or takes the endpoint",
        "metric": "accuracy",
        "champion_value": 0.80,
        "challenger_value": 0.86,
        "champion_rows": 800,
        "challenger_rows": 200,
        "p_value": 0.01,
        "test": "two-proportion z-test",
        "trial_uri": "s3://art/runs/x/trial/trial.json",
        "report_uri": "s3://art/runs/x/trial/trial_report.html",
    }


ANALYSIS = {
    "job_name": "x-trial",
    "job_type": "processing",
    "status": "Completed",
    "outputs": {"output": "s3://art/runs/x/trial/"},
}


def trial_deploys(mode: str, winner: str) -> Any:
    """Deploy per target: the trial starts, the winner takes the traffic, then serves alone."""
    started = {
        **DEPLOYMENT,
        "endpoint_config_name": "driftline-credit--trial-v2",
        "action": "trial",
        "trial": trial(mode),
    }
    concluded_config = "driftline-credit-v2" if winner == "challenger" else "driftline-credit-v1"
    concluded = {**DEPLOYMENT, "endpoint_config_name": concluded_config, "action": "concluded", "trial": trial(mode)}
    return deploy_to({"production": started, "shift": started, "conclude": concluded})


def run_trial(
    pipeline: Pipeline, mode: str, *, decided: str, serves: str, promotion: str = "automatic", **overrides: Any
) -> dict[str, Any]:
    """A run whose approved model is tried against the serving one: the analysis names ``decided``, and the
    endpoint's conclusion serves ``serves``."""
    happy(
        pipeline,
        Validate=lambda p: trial_plan(mode, promotion),
        Deploy=trial_deploys(mode, serves),
        AnalyseTrial=job_callback(ANALYSIS),
        DecideTrial=lambda p: decision(decided),
        **overrides,
    )
    return pipeline.run(RUN_INPUT)


def test_a_split_trial_waits_analyses_shifts_traffic_to_a_winning_challenger_then_serves_it_alone_when_automatic(
    pipeline: Pipeline,
) -> None:
    result = run_trial(pipeline, "split", decided="challenger", serves="challenger")
    assert result["status"] == "SUCCEEDED", result
    states = pipeline.states_entered(result["executionArn"])
    assert states[states.index("Deploy") :] == [
        "Deploy",
        "IsTrial",
        "NotifyTrialStarted",
        "WaitForTrialEnd",
        "AnalyseTrial",
        "DecideTrial",
        "AskToPromote",
        "IsSplitTrial",
        "ShiftTrafficToWinner",
        "ConcludeTrial",
        "ChallengerWon",
        "FinishDeployment",
        "RemoveStagingAfterPromotion",
        "NotifyDeployed",
        "ModelDeployed",
    ]
    production, shift, conclude = pipeline.calls["Deploy"]
    assert production["release"]["ab_test"]["mode"] == "split"
    assert (shift["target"], shift["winner"], conclude["target"], conclude["winner"]) == (
        "shift",
        "challenger",
        "conclude",
        "challenger",
    )
    assert shift["trial"] == trial("split")
    assert pipeline.calls["AnalyseTrial"][0]["deployment"]["trial"] == trial("split")
    assert pipeline.calls["DecideTrial"][0]["trial_analysis"] == ANALYSIS
    assert [call["outcome"] for call in pipeline.calls["Notify"]] == ["trial_started", "deployed"]
    output = json.loads(result["output"])
    assert output["trial"] == decision("challenger")
    assert output["deployment"]["action"] == "concluded"
    # Autoscaling and the drift monitor follow the winning challenger.
    assert pipeline.calls["FinishDeployment"][0]["deployment"]["endpoint_config_name"] == "driftline-credit-v2"


def test_a_shadow_trial_the_champion_keeps_ends_without_a_weight_shift_and_leaves_the_monitor_alone(
    pipeline: Pipeline,
) -> None:
    result = run_trial(pipeline, "shadow", decided="champion", serves="champion")
    assert result["status"] == "SUCCEEDED", result
    states = pipeline.states_entered(result["executionArn"])
    assert "ShiftTrafficToWinner" not in states and "FinishDeployment" not in states
    assert states[-4:] == ["ChallengerWon", "RemoveStagingAfterPromotion", "NotifyDeployed", "ModelDeployed"]
    assert [call.get("target", "production") for call in pipeline.calls["Deploy"]] == ["production", "conclude"]
    assert pipeline.calls["Deploy"][-1]["winner"] == "champion"


def test_a_trial_whose_analysis_fails_gives_the_endpoint_back_to_the_champion_and_fails_the_run(
    pipeline: Pipeline,
) -> None:
    happy(
        pipeline,
        Validate=lambda p: trial_plan("split"),
        Deploy=trial_deploys("split", "champion"),
        AnalyseTrial=job_callback(error="SageMakerJobFailed", cause="processing job x-trial Failed: no labels"),
    )
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert result["error"] == "SageMakerJobFailed"
    assert pipeline.states_entered(result["executionArn"])[-5:] == [
        "AnalyseTrial",
        "EndTrialAfterFailure",
        "CleanUpStaging",
        "NotifyFailure",
        "RunFailed",
    ]
    rollback = pipeline.calls["Deploy"][-1]
    assert (rollback["target"], rollback["winner"]) == ("conclude", "champion")
    assert "DecideTrial" not in pipeline.calls


def test_a_challenger_that_cannot_join_the_endpoint_fails_the_run_and_no_trial_is_waited_for(
    pipeline: Pipeline,
) -> None:
    cause = "The challenger (driftline-credit-v2) could not join endpoint driftline-credit for its A/B trial"
    happy(pipeline, Validate=lambda p: trial_plan("split"), Deploy=job_callback(error="DeploymentFailed", cause=cause))
    result = pipeline.run(RUN_INPUT)
    assert result["status"] == "FAILED"
    assert pipeline.calls["Notify"][-1]["error"]["Cause"] == cause
    assert "AnalyseTrial" not in pipeline.calls


PROMOTION = {**APPROVAL, "approval_id": "promotion-of-2", "decided_by": "carol@example.com", "reason": "clear win"}


def ask(model: Any, promotion: Any) -> Any:
    """RequestApproval's behaviour per question: a model's approval, or a trial winner's promotion."""

    def behave(payload: dict[str, Any]) -> Any:
        return (promotion if payload.get("request") == "promotion" else model)(payload)

    return behave


def test_a_winning_challenger_waits_for_its_promotion_then_takes_all_traffic_once_approved(
    pipeline: Pipeline,
) -> None:
    result = run_trial(
        pipeline,
        "split",
        decided="challenger",
        serves="challenger",
        promotion="approval",
        RequestApproval=ask(job_callback(APPROVAL), job_callback(PROMOTION)),
    )
    assert result["status"] == "SUCCEEDED", result
    states = pipeline.states_entered(result["executionArn"])
    assert states[states.index("DecideTrial") :][:6] == [
        "DecideTrial",
        "AskToPromote",
        "RequestPromotion",
        "IsSplitTrial",
        "ShiftTrafficToWinner",
        "ConcludeTrial",
    ]
    request = PromotionRequestInput.model_validate(pipeline.calls["RequestApproval"][1])
    assert (request.trial.winner, request.deployment.trial) == ("challenger", TrialDeployment(**trial("split")))
    assert request.registration.model_package_arn == "arn:pkg/1"
    assert [call["winner"] for call in pipeline.calls["Deploy"][1:]] == ["challenger", "challenger"]
    output = json.loads(result["output"])
    assert output["promotion"] == PROMOTION
    assert pipeline.calls["Notify"][-1]["run"]["promotion"] == PROMOTION
    assert "FinishDeployment" in states


@pytest.mark.parametrize("answer", ["rejected", "expired"])
def test_a_winning_challenger_whose_promotion_is_rejected_or_expires_leaves_the_endpoint_to_the_champion(
    pipeline: Pipeline, answer: str
) -> None:
    cause = "The promotion of credit model version 2 was rejected by carol at 2026-12-07T10:00:00Z: not now"
    promotion = (
        job_callback(error="ApprovalRejected", cause=cause)
        if answer == "rejected"
        else (lambda p: {"approval_id": "p", "model_package_arn": "arn:pkg/2", "expires_at": 1})
    )
    result = run_trial(
        pipeline,
        "split",
        decided="challenger",
        serves="champion",
        promotion="approval",
        RequestApproval=ask(job_callback(APPROVAL), promotion),
    )
    assert result["status"] == "SUCCEEDED", result
    states = pipeline.states_entered(result["executionArn"])
    assert states[states.index("RequestPromotion") :] == [
        "RequestPromotion",
        "KeepChampion",
        "IsSplitTrial",
        "ShiftTrafficToWinner",
        "ConcludeTrial",
        "ChallengerWon",
        "RemoveStagingAfterPromotion",
        "NotifyDeployed",
        "ModelDeployed",
    ]
    # The champion takes the traffic back and serves alone; the monitor and autoscaling stay as they were.
    assert [(call["target"], call["winner"]) for call in pipeline.calls["Deploy"][1:]] == [
        ("shift", "champion"),
        ("conclude", "champion"),
    ]
    output = json.loads(result["output"])
    assert (output["trial"]["decision"], output["trial"]["winner"]) == ("challenger", "champion")
    error = output["promotion_error"]
    assert error["Error"] == ("ApprovalRejected" if answer == "rejected" else "States.Timeout")
    if answer == "rejected":
        assert error["Cause"] == cause
    assert "promotion" not in output


def test_a_champion_that_keeps_its_endpoint_asks_nobody_even_when_promotions_need_approval(pipeline: Pipeline) -> None:
    result = run_trial(pipeline, "shadow", decided="champion", serves="champion", promotion="approval")
    assert result["status"] == "SUCCEEDED", result
    assert "RequestPromotion" not in pipeline.states_entered(result["executionArn"])
    assert len(pipeline.calls["RequestApproval"]) == 1


def test_a_promotion_request_that_fails_gives_the_endpoint_back_to_the_champion_and_fails_the_run(
    pipeline: Pipeline,
) -> None:
    result = run_trial(
        pipeline,
        "split",
        decided="challenger",
        serves="champion",
        promotion="approval",
        RequestApproval=ask(job_callback(APPROVAL), raising("ClientError", "AccessDenied")),
    )
    assert result["status"] == "FAILED"
    assert pipeline.states_entered(result["executionArn"])[-5:] == [
        "RequestPromotion",
        "EndTrialAfterFailure",
        "CleanUpStaging",
        "NotifyFailure",
        "RunFailed",
    ]
    assert (pipeline.calls["Deploy"][-1]["target"], pipeline.calls["Deploy"][-1]["winner"]) == ("conclude", "champion")
