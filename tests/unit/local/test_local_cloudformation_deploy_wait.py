"""Deploying locally waits as long as the stack moves, saying how far it is, and names what is stuck."""

from __future__ import annotations

from typing import Any

import pytest

from driftline.local import cloudformation
from driftline.local.cloudformation import StackDeployFailed, _wait_for_stack


class SlowStack:
    """CloudFormation's answers for a stack that completes one resource per poll."""

    def __init__(self, resources: list[str], stuck: bool = False) -> None:
        self.resources, self.stuck, self.polls = resources, stuck, 0

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        self.polls += 1
        done = not self.stuck and self.polls > len(self.resources)
        return {
            "Stacks": [{"StackName": StackName, "StackStatus": "CREATE_COMPLETE" if done else "CREATE_IN_PROGRESS"}]
        }

    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        created = 0 if self.stuck else self.polls
        return {
            "StackResources": [
                {
                    "LogicalResourceId": name,
                    "ResourceStatus": "CREATE_COMPLETE" if i < created else "CREATE_IN_PROGRESS",
                }
                for i, name in enumerate(self.resources)
            ]
        }


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cloudformation.time, "sleep", lambda _: None)
    monkeypatch.setattr(cloudformation, "PROGRESS_SECONDS", 0.0)


def test_a_deploy_that_keeps_moving_is_waited_for_however_long_it_takes_with_progress() -> None:
    stack = SlowStack([f"Resource{i}" for i in range(40)])
    said: list[str] = []
    result = _wait_for_stack(stack, "driftline", said.append, stalled_after=3600)
    assert result["StackStatus"] == "CREATE_COMPLETE"
    assert any("deploying driftline: 1 of 40 resources created" in line for line in said)
    assert any("waiting on Resource39" in line for line in said)


def test_a_deploy_that_stops_moving_fails_naming_the_resources_still_in_progress() -> None:
    with pytest.raises(StackDeployFailed, match="made no progress for 0 s; still in progress: MlCode, Pipeline"):
        _wait_for_stack(SlowStack(["MlCode", "Pipeline"], stuck=True), "driftline", lambda _: None, stalled_after=0)
