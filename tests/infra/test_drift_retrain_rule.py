"""The drift rule: the ALARM state of this stack's drift alarms reaches StartRetrain, nothing else does."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from moto.events.models import EventPattern
from samtranslator.yaml_helper import intrinsics_multi_constructor

from tests.conftest import load_event

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _Loader(yaml.SafeLoader):
    """Reads short-form intrinsics (!Ref, !Sub) as their long-form dicts."""


_Loader.add_multi_constructor("!", intrinsics_multi_constructor)


@pytest.fixture(scope="module")
def function() -> dict[str, Any]:
    with TEMPLATE.open() as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_Loader)
    return cast(dict[str, Any], template["Resources"]["StartRetrainFunction"])


def _pattern(function: dict[str, Any], stack: str = "driftline") -> EventPattern:
    pattern = function["Properties"]["Events"]["DriftAlarm"]["Properties"]["Pattern"]
    rendered = json.dumps(pattern).replace(
        json.dumps({"Fn::Sub": "${AWS::StackName}-drift-"}), json.dumps(f"{stack}-drift-")
    )
    return EventPattern.load(rendered)


def _run_ended_pattern(function: dict[str, Any], stack: str = "driftline") -> EventPattern:
    pattern = function["Properties"]["Events"]["RunEnded"]["Properties"]["Pattern"]
    machine = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:${AWS::StackName}-pipeline"
    rendered = json.dumps(pattern).replace(
        json.dumps({"Fn::Sub": machine}),
        json.dumps(f"arn:aws:states:us-east-1:123456789012:stateMachine:{stack}-pipeline"),
    )
    return EventPattern.load(rendered)


def _matches(pattern: EventPattern, event: dict[str, Any]) -> bool:
    return bool(pattern.matches_event(cast(Any, event)))


def test_the_documented_alarm_event_of_a_stack_drift_alarm_matches(function: dict[str, Any]) -> None:
    assert _matches(_pattern(function), load_event("cloudwatch_alarm_drift_alarm"))


def test_an_ok_transition_does_not_match(function: dict[str, Any]) -> None:
    assert not _matches(_pattern(function), load_event("cloudwatch_alarm_drift_ok"))


def test_another_stacks_drift_alarm_and_other_alarms_do_not_match(function: dict[str, Any]) -> None:
    event = load_event("cloudwatch_alarm_drift_alarm")
    for name in ("driftline-prod-drift-credit", "driftline-undelivered-events", "other-drift-credit"):
        other = copy.deepcopy(event)
        other["detail"]["alarmName"] = name
        assert not _matches(_pattern(function), other), name
    assert _matches(
        _pattern(function, stack="driftline-prod"),
        {**event, "detail": {**event["detail"], "alarmName": "driftline-prod-drift-credit"}},
    )


def test_every_documented_end_of_the_stacks_pipeline_runs_matches_and_nothing_else(function: dict[str, Any]) -> None:
    """Step Functions sends a status change when a run starts and when it ends, whichever way it ends."""
    pattern = _run_ended_pattern(function)
    ended = load_event("stepfunctions_execution_failed")
    for status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
        assert _matches(pattern, {**ended, "detail": {**ended["detail"], "status": status}}), status
    assert not _matches(pattern, {**ended, "detail": {**ended["detail"], "status": "RUNNING"}})
    assert not _matches(_run_ended_pattern(function, stack="driftline-prod"), ended)


def test_the_retrain_may_list_and_start_runs_read_the_window_and_publish_but_nothing_wider(
    function: dict[str, Any],
) -> None:
    statements = [s for p in function["Properties"]["Policies"] for s in p.get("Statement", [])]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert {
        "states:ListExecutions",
        "states:DescribeExecution",
        "states:GetExecutionHistory",
        "cloudwatch:DescribeAlarms",
        "s3:ListBucket",
        "s3:GetObject",
    } <= actions
    assert all(s["Resource"] != "*" for s in statements)
    assert not any(a.endswith(":*") or a == "*" for a in actions)
    policies = {next(iter(p)) for p in function["Properties"]["Policies"] if "Statement" not in p}
    assert policies == {"StepFunctionsExecutionPolicy", "SNSPublishMessagePolicy"}
