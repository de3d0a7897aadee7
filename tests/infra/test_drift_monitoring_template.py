"""The drift monitor in the template: its parameters, the scheduler's narrow role, FinishDeployment's scheduler
rights, one namespace for published metrics and alarms, and the rule that brings this stack's drift jobs back."""

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
def template() -> dict[str, Any]:
    with TEMPLATE.open() as handle:
        return cast(dict[str, Any], yaml.load(handle, Loader=_Loader))


def _statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    properties = resource["Properties"]
    if "Policies" in properties and resource["Type"] == "AWS::IAM::Role":
        return [s for p in properties["Policies"] for s in p["PolicyDocument"]["Statement"]]
    return [s for p in properties["Policies"] for s in p.get("Statement", [])]


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_monitor_runs_hourly_over_the_previous_hour_by_default(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["MonitoringScheduleExpression"]["Default"] == "rate(1 hour)"
    assert parameters["MonitoringWindowMinutes"]["Default"] == 60
    environment = template["Resources"]["FinishDeploymentFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["MONITORING_SCHEDULE_EXPRESSION"] == {"Ref": "MonitoringScheduleExpression"}
    monitor = template["Resources"]["StartMonitoringFunction"]["Properties"]["Environment"]["Variables"]
    assert monitor["MONITORING_WINDOW_MINUTES"] == {"Ref": "MonitoringWindowMinutes"}


def test_the_scheduler_role_is_trusted_by_the_scheduler_of_this_account_and_may_only_invoke_start_monitoring(
    template: dict[str, Any],
) -> None:
    role = template["Resources"]["MonitoringSchedulerRole"]
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    [statement] = _statements(role)
    assert _actions(statement) == ["lambda:InvokeFunction"]
    assert statement["Resource"] == {"Fn::GetAtt": ["StartMonitoringFunction", "Arn"]}


def test_finish_deployment_may_create_and_update_only_this_stacks_schedules_and_drift_alarms(
    template: dict[str, Any],
) -> None:
    statements = _statements(template["Resources"]["FinishDeploymentFunction"])
    by_sid = {s["Sid"]: s for s in statements}
    scheduling = by_sid["ScheduleDriftMonitors"]
    assert _actions(scheduling) == ["scheduler:CreateSchedule", "scheduler:UpdateSchedule"]
    schedules = "arn:${AWS::Partition}:scheduler:${AWS::Region}:${AWS::AccountId}:schedule/default/${AWS::StackName}-*"
    assert scheduling["Resource"] == {"Fn::Sub": schedules}
    assert by_sid["DriftAlarms"]["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:${AWS::StackName}-drift-*"
    }
    assert all(s["Resource"] != "*" for s in statements)


def test_metrics_are_published_in_the_namespace_the_drift_alarms_watch(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    alarms = resources["FinishDeploymentFunction"]["Properties"]["Environment"]["Variables"]["DRIFT_METRICS_NAMESPACE"]
    monitor = resources["StartMonitoringFunction"]
    published = monitor["Properties"]["Environment"]["Variables"]["DRIFT_METRICS_NAMESPACE"]
    [allowed] = [s for s in _statements(monitor) if "cloudwatch:PutMetricData" in _actions(s)]
    assert alarms == published == allowed["Condition"]["StringEquals"]["cloudwatch:namespace"]


def test_the_sagemaker_role_may_read_captured_data_and_write_drift_reports(template: dict[str, Any]) -> None:
    by_sid = {s["Sid"]: s for s in _statements(template["Resources"]["SageMakerExecutionRole"])}
    assert by_sid["ReadCapturedData"]["Resource"] == {"Fn::Sub": "${ArtifactBucket.Arn}/capture/*"}
    assert by_sid["WriteDriftReports"]["Resource"] == {"Fn::Sub": "${ArtifactBucket.Arn}/monitoring/*"}
    assert "capture/*" in by_sid["ListArtifacts"]["Condition"]["StringLike"]["s3:prefix"]


def _job_pattern(template: dict[str, Any], stack: str = "driftline") -> EventPattern:
    pattern = template["Resources"]["StartMonitoringFunction"]["Properties"]["Events"]["DriftJobEnded"]["Properties"][
        "Pattern"
    ]
    rendered = json.dumps(pattern).replace(json.dumps({"Fn::Sub": "${AWS::StackName}-"}), json.dumps(f"{stack}-"))
    return EventPattern.load(rendered)


def _job_event(name: str, status: str) -> Any:
    event = copy.deepcopy(load_event("sagemaker_processing_job_failed"))
    event["detail"]["ProcessingJobName"] = name
    event["detail"]["ProcessingJobStatus"] = status
    return event


def test_this_stacks_ended_drift_jobs_reach_start_monitoring_and_running_or_other_stacks_jobs_do_not(
    template: dict[str, Any],
) -> None:
    pattern = _job_pattern(template)
    for status in ("Completed", "Failed", "Stopped"):
        assert pattern.matches_event(_job_event("driftline-credit-monitor-202611231500", status))
    assert pattern.matches_event(_job_event("driftline-credit-baseline-v3", "Failed"))
    assert not pattern.matches_event(_job_event("driftline-credit-monitor-202611231500", "InProgress"))
    assert not pattern.matches_event(_job_event("other-credit-monitor-202611231500", "Failed"))


def test_a_windows_instances_are_sized_by_template_parameters_start_monitoring_reads(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["MonitorBytesPerInstance"]["Default"] == 10 * 1024**3
    assert parameters["MonitorMaxInstances"]["MaxValue"] == 100  # CreateProcessingJob's InstanceCount limit
    monitor = template["Resources"]["StartMonitoringFunction"]["Properties"]["Environment"]["Variables"]
    assert monitor["MONITOR_BYTES_PER_INSTANCE"] == {"Ref": "MonitorBytesPerInstance"}
    assert monitor["MONITOR_MAX_INSTANCES"] == {"Ref": "MonitorMaxInstances"}


def test_the_sagemaker_role_may_read_back_only_the_shard_summaries_of_the_drift_reports(
    template: dict[str, Any],
) -> None:
    statements = _statements(template["Resources"]["SageMakerExecutionRole"])
    reads = [s for s in statements if "s3:GetObject" in _actions(s) and "monitoring" in json.dumps(s["Resource"])]
    assert [s["Resource"] for s in reads] == [{"Fn::Sub": "${ArtifactBucket.Arn}/monitoring/*/shards/*"}]
    [listing] = [s for s in statements if s["Sid"] == "ListArtifacts"]
    assert "monitoring/*/shards/*" in listing["Condition"]["StringLike"]["s3:prefix"]
