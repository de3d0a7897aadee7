"""Static checks on the pipeline's ASL: wiring, error handling and payload discipline."""

from __future__ import annotations

import json
from typing import Any

from tests.statemachine.harness import STEPS as FUNCTION_STEPS
from tests.statemachine.harness import render_definition


def _definition() -> dict[str, Any]:
    return dict(json.loads(render_definition({step: f"arn:fn:{step}" for step in FUNCTION_STEPS})))


def _targets(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [catch["Next"] for catch in state.get("Catch", [])]
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    if "Default" in state:
        targets.append(state["Default"])
    return targets


def test_every_transition_names_an_existing_state_and_every_state_is_reachable() -> None:
    definition = _definition()
    states = definition["States"]
    reachable, frontier = set(), [definition["StartAt"]]
    while frontier:
        name = frontier.pop()
        assert name in states, f"transition to missing state {name}"
        if name not in reachable:
            reachable.add(name)
            frontier.extend(_targets(states[name]))
    assert reachable == set(states)


def test_every_task_retries_only_transient_errors_and_catches_everything() -> None:
    for name, state in _definition()["States"].items():
        if state["Type"] != "Task":
            continue
        retried = {error for retry in state["Retry"] for error in retry["ErrorEquals"]}
        assert "States.ALL" not in retried and "States.TaskFailed" not in retried, name
        assert retried <= {
            "Lambda.ServiceException",
            "Lambda.AWSLambdaException",
            "Lambda.SdkClientException",
            "Lambda.TooManyRequestsException",
            "TransientAwsError",
            "EndpointBusy",  # another deployment of the endpoint is still settling: waiting for it is the cure
        }, name
        assert any("States.ALL" in c["ErrorEquals"] for c in state["Catch"]), f"{name} has no catch-all"


def test_job_waits_use_task_tokens_with_a_timeout() -> None:
    states = _definition()["States"]
    for name in ("Preprocess", "Train", "TransformTestRows", "Evaluate", "RequestApproval", "Deploy"):
        assert states[name]["Resource"].endswith("lambda:invoke.waitForTaskToken")
        assert states[name]["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
        assert isinstance(states[name]["TimeoutSeconds"], int)


def test_failures_end_in_fail_states_that_carry_the_reason() -> None:
    states = _definition()["States"]
    assert states["RunFailed"]["Type"] == "Fail"
    assert states["RunFailed"]["CausePath"] == "$.notification.cause"
    assert {s["Type"] for s in states.values() if not _targets(s)} == {"Succeed", "Fail"}


def test_the_approval_wait_keeps_only_the_decision_and_routes_rejection_and_expiry_to_their_notifications() -> None:
    state = _definition()["States"]["RequestApproval"]
    assert set(state["ResultSelector"]) == {
        "approval_id.$",
        "decision.$",
        "decided_by.$",
        "decided_at.$",
        "source.$",
        "reason.$",
    }
    routes = {error: catch["Next"] for catch in state["Catch"] for error in catch["ErrorEquals"]}
    # Each route first removes the candidate's staging endpoint (if it has one), then says why.
    assert routes == {
        "ApprovalRejected": "RemoveStagingAfterRejection",
        "States.Timeout": "RemoveStagingAfterExpiry",
        "States.ALL": "CleanUpStaging",
    }
    states = _definition()["States"]
    assert states["RemoveStagingAfterRejection"]["Next"] == "NotifyApprovalRejected"
    assert states["RemoveStagingAfterExpiry"]["Next"] == "NotifyApprovalExpired"
    assert states["CleanUpStaging"]["Next"] == "NotifyFailure"
    assert state["TimeoutSeconds"] == 3  # the ApprovalTimeoutSeconds substitution


def test_the_state_held_drift_reads_as_a_deployment_writes_the_run_s_deployment_and_only_it_does() -> None:
    """A run's end releases held drift without a retrain when this state finished (``drift.release``)."""
    from driftline_core.drift.release import CONCLUDE_TRIAL_STATE, DEPLOY_STATE

    states = _definition()["States"]
    assert states[DEPLOY_STATE]["ResultPath"] == "$.deployment"
    writers = [name for name, state in states.items() if state.get("ResultPath") == "$.deployment"]
    assert writers == [DEPLOY_STATE, CONCLUDE_TRIAL_STATE]
