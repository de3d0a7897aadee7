"""``driftline approve|reject``: what the command sends the registry for a run waiting on approval."""

from __future__ import annotations

import json
from typing import Any

import pytest

from driftline.approvals_cli import DecisionRefused, decide_run

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-pipeline"
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"
JAVA_LINE_TERMINATORS = "\n\r\u0085\u2028\u2029"


class WaitingRun:
    """A Step Functions client's answers for a run that registered PACKAGE and waits in RequestApproval."""

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        return {"status": "RUNNING", "name": executionArn.rsplit(":", 1)[-1]}

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        registered = {"registration": {"model_package_arn": PACKAGE}}
        return {
            "events": [
                {
                    "type": "TaskStateExited",
                    "stateExitedEventDetails": {"name": "Register", "output": json.dumps(registered)},
                },
                {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "RequestApproval"}},
            ]
        }


class Registry:
    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def describe_model_package(self, ModelPackageName: str) -> dict[str, Any]:
        return {"ModelApprovalStatus": "PendingManualApproval"}

    def update_model_package(self, **request: Any) -> None:
        self.updates.append(request)


def test_a_reason_typed_on_several_lines_reaches_the_registry_on_one_line() -> None:
    registry = Registry()

    decide_run(
        WaitingRun(),
        registry,
        machine_arn=MACHINE,
        run="credit-1",
        approve=False,
        by="sam",
        reason="recall too low\r\non fraud\u2028again",
        wait=0,
    )

    (update,) = registry.updates
    assert update["ModelApprovalStatus"] == "Rejected"
    assert update["ApprovalDescription"] == "Rejected by sam with driftline reject: recall too low / on fraud / again"
    assert not set(update["ApprovalDescription"]) & set(JAVA_LINE_TERMINATORS)


def test_a_reason_too_long_for_the_registry_is_refused_before_anything_is_sent() -> None:
    registry = Registry()

    with pytest.raises(DecisionRefused, match=r"too long .* at most 1024"):
        decide_run(
            WaitingRun(),
            registry,
            machine_arn=MACHINE,
            run="credit-1",
            approve=False,
            by="sam",
            reason="x" * 1100,
            wait=0,
        )

    assert registry.updates == []


class WaitingForPromotion(WaitingRun):
    """The same run, now waiting in RequestPromotion for its trial winner's promotion."""

    def get_execution_history(self, **_: Any) -> dict[str, Any]:
        events = super().get_execution_history()["events"]
        for name in ("AnalyseTrial", "DecideTrial", "RequestPromotion"):
            events.append({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}})
        return {"events": events}


def test_a_run_waiting_for_its_winner_s_promotion_is_told_apart_from_one_waiting_for_approval() -> None:
    from driftline.approvals_cli import waiting_decision

    assert waiting_decision(WaitingRun(), f"{MACHINE}:credit-1") == ("RequestApproval", PACKAGE)
    assert waiting_decision(WaitingForPromotion(), f"{MACHINE}:credit-1") == ("RequestPromotion", PACKAGE)
    # The registry is not where a promotion is decided: the model's status stays as it is.
    registry = Registry()
    with pytest.raises(DecisionRefused, match="waits for its trial winner's promotion"):
        decide_run(
            WaitingForPromotion(), registry, machine_arn=MACHINE, run="credit-1", approve=True, by="sam", reason=""
        )
    assert registry.updates == []


def test_a_promotion_reason_longer_than_the_page_takes_is_refused_before_anything_is_read_or_sent() -> None:
    from driftline.approvals_cli import decide_promotion

    class NoStack:
        """A stack whose every use fails the test: nothing may be read or sent."""

        outputs: dict[str, str] = {}

        def client(self, service: str) -> Any:
            raise AssertionError(f"{service} was called")

    with pytest.raises(DecisionRefused, match="--reason has 501 characters; the approval page keeps at most 500"):
        decide_promotion(NoStack(), package=PACKAGE, approve=False, by="sam", reason="r" * 501)  # type: ignore[arg-type]
