"""DriftMonitor in the template: the choice and what it says, the Model Monitor image per region, the narrow rights
each choice adds, and the rule that brings this stack's Model Monitor executions to StartMonitoring."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.events.models import EventPattern

from driftline import model_monitor_image
from driftline.local.iam_policies import action_matches
from tests.conftest import load_event
from tests.infra.transformed_template import TEMPLATE, load_template
from tests.sagemaker_actions import model_monitor_actions


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


def _conditional_statements(function: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements a function gets only with DriftMonitor=ModelMonitor."""
    found = []
    for policy in function["Properties"]["Policies"]:
        if "Fn::If" in policy:
            condition, chosen, otherwise = policy["Fn::If"]
            assert condition == "UseModelMonitor"
            assert otherwise == {"Ref": "AWS::NoValue"}
            found += chosen["Statement"]
    return found


def _actions(statement: dict[str, Any]) -> set[str]:
    action = statement["Action"]
    return {action} if isinstance(action, str) else set(action)


def test_driftline_is_the_default_monitor_and_the_choice_says_model_monitor_is_closed_to_new_customers(
    template: dict[str, Any],
) -> None:
    parameter = template["Parameters"]["DriftMonitor"]
    assert parameter["Default"] == "Driftline"
    assert parameter["AllowedValues"] == ["Driftline", "ModelMonitor"]
    assert "closed to new customers" in parameter["Description"]
    assert template["Conditions"]["UseModelMonitor"] == {"Fn::Equals": [{"Ref": "DriftMonitor"}, "ModelMonitor"]}
    for function in ("FinishDeploymentFunction", "StartMonitoringFunction"):
        variables = template["Resources"][function]["Properties"]["Environment"]["Variables"]
        assert variables["DRIFT_MONITOR"] == {"Ref": "DriftMonitor"}


def test_finish_deployment_gets_the_regions_model_monitor_image_only_when_model_monitor_is_chosen(
    template: dict[str, Any],
) -> None:
    variables = template["Resources"]["FinishDeploymentFunction"]["Properties"]["Environment"]["Variables"]
    condition, image, otherwise = variables["MODEL_MONITOR_IMAGE_URI"]["Fn::If"]
    assert (condition, otherwise) == ("UseModelMonitor", "")
    uri, names = image["Fn::Sub"]
    assert uri.endswith(f"/{model_monitor_image.REPOSITORY}")
    assert names["Registry"] == {"Fn::FindInMap": ["ModelMonitorImageRegistry", {"Ref": "AWS::Region"}, "Account"]}
    assert template["Mappings"]["ModelMonitorImageRegistry"]["us-east-1"] == {"Account": "156813124566"}


def test_the_model_monitor_image_mapping_matches_the_sagemaker_sdk() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    registries = model_monitor_image.commercial_registries(model_monitor_image.sdk_image_config())

    assert model_monitor_image.regenerate(text, registries) == text


def test_model_monitor_rights_are_this_stacks_schedules_and_definitions_and_only_with_model_monitor(
    template: dict[str, Any],
) -> None:
    stack_arn = "arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:"
    finish = {s["Sid"]: s for s in _conditional_statements(template["Resources"]["FinishDeploymentFunction"])}
    assert _actions(finish["ModelMonitorSchedules"]) == {
        "sagemaker:CreateMonitoringSchedule",
        "sagemaker:UpdateMonitoringSchedule",
        "sagemaker:DescribeMonitoringSchedule",
        "sagemaker:AddTags",
    }
    assert finish["ModelMonitorSchedules"]["Resource"] == {
        "Fn::Sub": f"{stack_arn}monitoring-schedule/${{AWS::StackName}}-*"
    }
    assert finish["ModelMonitorJobDefinitions"]["Resource"] == {
        "Fn::Sub": f"{stack_arn}data-quality-job-definition/${{AWS::StackName}}-*"
    }
    monitor = {s["Sid"]: s for s in _conditional_statements(template["Resources"]["StartMonitoringFunction"])}
    assert _actions(monitor["RemoveModelMonitorsOfDeletedEndpoints"]) == {
        "sagemaker:DescribeMonitoringSchedule",
        "sagemaker:DeleteMonitoringSchedule",
    }
    statements = [*finish.values(), *monitor.values()]
    assert all("*" not in json.dumps(s["Resource"]).replace("${AWS::StackName}-*", "") for s in statements)
    # The job definition passes the SageMaker role: only to SageMaker, as for every job.
    [pass_role] = [
        s
        for p in template["Resources"]["FinishDeploymentFunction"]["Properties"]["Policies"]
        for s in p.get("Statement", [])
        if s["Action"] == "iam:PassRole" and s["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
    ]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}


_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "us-east-1", "AWS::AccountId": "123456789012"}


def _filled(value: Any, stack: str) -> Any:
    """A rule's pattern with its ``!Sub`` strings filled in for a stack in us-east-1 of account 123456789012."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        text = value["Fn::Sub"]
        for name, filled in {**_PSEUDO, "AWS::StackName": stack}.items():
            text = text.replace("${" + name + "}", filled)
        return text
    if isinstance(value, dict):
        return {key: _filled(item, stack) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, stack) for item in value]
    return value


def _execution_pattern(template: dict[str, Any], stack: str = "driftline") -> EventPattern:
    events = template["Resources"]["StartMonitoringFunction"]["Properties"]["Events"]
    pattern = events["ModelMonitorExecutionEnded"]["Properties"]["Pattern"]
    return EventPattern.load(json.dumps(_filled(pattern, stack)))


def _driftline_pattern(template: dict[str, Any], stack: str = "driftline") -> EventPattern:
    pattern = template["Resources"]["StartMonitoringFunction"]["Properties"]["Events"]["DriftJobEnded"]["Properties"][
        "Pattern"
    ]
    rendered = json.dumps(pattern).replace(json.dumps({"Fn::Sub": "${AWS::StackName}-"}), json.dumps(f"{stack}-"))
    return EventPattern.load(rendered)


def test_this_stacks_ended_model_monitor_executions_reach_start_monitoring_once(template: dict[str, Any]) -> None:
    executions, own_jobs = _execution_pattern(template), _driftline_pattern(template)
    sample: Any = load_event("sagemaker_model_monitor_execution_completed")
    for status in ("Completed", "Failed", "Stopped"):
        event: Any = copy.deepcopy(sample)
        event["detail"]["ProcessingJobStatus"] = status
        assert executions.matches_event(event)
        assert not own_jobs.matches_event(event)
    running: Any = copy.deepcopy(sample)
    running["detail"]["ProcessingJobStatus"] = "InProgress"
    assert not executions.matches_event(running)
    schedule = "monitoring-schedule/driftline-credit-drift-monitor"
    for elsewhere in (
        "arn:aws:sagemaker:us-east-1:123456789012:monitoring-schedule/other-credit-drift-monitor",
        f"arn:aws:sagemaker:us-east-1:210987654321:{schedule}",
        f"arn:aws:sagemaker:eu-west-1:123456789012:{schedule}",
    ):
        other: Any = copy.deepcopy(sample)
        other["detail"]["MonitoringScheduleArn"] = elsewhere
        assert not executions.matches_event(other), elsewhere
    # Recognised by the schedule's ARN SageMaker gives the job, not by what its environment says.
    unscheduled: Any = copy.deepcopy(sample)
    del unscheduled["detail"]["MonitoringScheduleArn"]
    assert not executions.matches_event(unscheduled)


def test_driftlines_own_monitor_jobs_do_not_also_match_the_model_monitor_rule(template: dict[str, Any]) -> None:
    event: Any = copy.deepcopy(load_event("sagemaker_processing_job_failed"))
    event["detail"]["ProcessingJobName"] = "driftline-credit-monitor-202611231500"
    event["detail"]["Environment"] = {"sagemaker_monitoring_schedule_name": "driftline-credit-drift-monitor"}

    assert _driftline_pattern(template).matches_event(event)
    assert not _execution_pattern(template).matches_event(event)


def _model_monitor_actions() -> list[str]:
    return sorted(f"sagemaker:{name}" for name in model_monitor_actions())


def _unconditional_model_monitor_grants(value: Any, where: str) -> Iterator[str]:
    """Where an Allow statement grants a Model Monitor action outside ``!If [UseModelMonitor, ...]``'s first
    branch."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _unconditional_model_monitor_grants(item, f"{where}[{index}]")
        return
    if not isinstance(value, dict):
        return
    if "Fn::If" in value and value["Fn::If"][0] == "UseModelMonitor":
        yield from _unconditional_model_monitor_grants(value["Fn::If"][2], f"{where}/else")
        return
    if value.get("Effect") == "Allow" and "Action" in value:
        actions = value["Action"] if isinstance(value["Action"], list) else [value["Action"]]
        granted = [a for a in _model_monitor_actions() if any(action_matches(str(p), a) for p in actions)]
        if granted:
            yield f"{where} ({value.get('Sid')}): {', '.join(granted)}"
    for key, item in value.items():
        yield from _unconditional_model_monitor_grants(item, f"{where}/{key}")


def test_no_role_may_call_model_monitor_unless_the_stack_uses_it(template: dict[str, Any]) -> None:
    assert "sagemaker:ListMonitoringExecutions" in _model_monitor_actions()
    granted = [
        found
        for name, resource in template["Resources"].items()
        for found in _unconditional_model_monitor_grants(resource.get("Properties", {}), name)
    ]
    assert granted == []
    # ... and with it, the functions that set it up and clean it up may.
    for function in ("FinishDeploymentFunction", "StartMonitoringFunction"):
        assert [
            statement
            for statement in _conditional_statements(template["Resources"][function])
            if any("MonitoringSchedule" in action for action in _actions(statement))
        ]
