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
