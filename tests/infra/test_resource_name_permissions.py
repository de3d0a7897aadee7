"""Every name the functions build (``tests/resource_names.py``: short and longest stack names times short and longest
dataset names) is inside the IAM policy of each function that acts on it, and is seen by the EventBridge rules that
must see its events, as ``template.yaml`` writes them with the stack name filled in.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from moto.events.models import EventPattern

from driftline.local.iam_policies import action_matches, resource_matches
from driftline_core import layout
from tests.conftest import load_event
from tests.infra.transformed_template import load_template
from tests.resource_names import DATASETS, KINDS, LONGEST_STACK, STACKS, run_names

REGION = "us-east-1"
ACCOUNT = "123456789012"
_PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
_SAGEMAKER = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
_ALARM = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:"
_SCHEDULE = f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{layout.SCHEDULE_GROUP}/"


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_template()


# IAM ----------------------------------------------------------------------------------------------------------


def _statements(value: Any) -> Iterator[dict[str, Any]]:
    """Every statement of a function's ``Policies``, both branches of an ``!If`` included (a parameter picks one)."""
    if isinstance(value, dict):
        if "Statement" in value:
            yield from value["Statement"]
        else:
            for item in value.values():
                yield from _statements(item)
    elif isinstance(value, list):
        for item in value:
            yield from _statements(item)


def _function_statements(template: dict[str, Any], function: str) -> list[dict[str, Any]]:
    return list(_statements(template["Resources"][function]["Properties"].get("Policies", [])))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _sub(value: Any, stack: str) -> str | None:
    """A plain string, or a ``!Sub`` string with the stack and pseudo parameters filled in; None for anything that
    names another resource (``!GetAtt``, ``${ArtifactBucket.Arn}``)."""
    if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
        values = {**_PSEUDO, "AWS::StackName": stack}
        value = re.sub(r"\$\{([^}]+)\}", lambda match: values.get(match.group(1), match.group(0)), value["Fn::Sub"])
    return value if isinstance(value, str) and "${" not in value else None


def _matches(statement: dict[str, Any], action: str, arn: str, stack: str) -> bool:
    actions = _as_list(statement.get("Action", []))
    # Actions match case-insensitively, resources case-sensitively (local mode's IAM evaluation).
    if not any(action_matches(pattern, action) for pattern in actions):
        return False
    return any(
        pattern is not None and resource_matches(pattern, arn)
        for pattern in (_sub(resource, stack) for resource in _as_list(statement.get("Resource", [])))
    )


def iam_allows(statements: list[dict[str, Any]], action: str, arn: str, stack: str) -> bool:
    """An Allow statement grants the action on the ARN and no Deny statement refuses it."""
    allowed = any(s.get("Effect") == "Allow" and _matches(s, action, arn, stack) for s in statements)
    return allowed and not any(s.get("Effect") == "Deny" and _matches(s, action, arn, stack) for s in statements)


def _sagemaker(resource_type: str) -> str:
    # SageMaker writes names into its ARNs in lowercase.
    return f"{_SAGEMAKER}:{resource_type}/{{lower}}"


PERMISSIONS: dict[str, list[tuple[str, list[str], str]]] = {
    "model package group": [
        (
            "RegisterFunction",
            [
                "sagemaker:CreateModelPackageGroup",
                "sagemaker:DescribeModelPackageGroup",
                "sagemaker:CreateModelPackage",
            ],
            _sagemaker("model-package-group"),
        ),
        (
            "RegisterFunction",
            ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage"],
            f"{_SAGEMAKER}:model-package/{{lower}}/12",
        ),
        ("QualityGateFunction", ["sagemaker:DescribeModelPackageGroup"], _sagemaker("model-package-group")),
        ("ApprovalApiFunction", ["sagemaker:UpdateModelPackage"], f"{_SAGEMAKER}:model-package/{{lower}}/12"),
    ],
    "endpoint": [
        (
            "DeployFunction",
            [
                "sagemaker:CreateEndpoint",
                "sagemaker:UpdateEndpoint",
                "sagemaker:DescribeEndpoint",
                "sagemaker:DeleteEndpoint",
                "sagemaker:AddTags",
                # A split trial's winner takes all traffic by its weight.
                "sagemaker:UpdateEndpointWeightsAndCapacities",
            ],
            _sagemaker("endpoint"),
        ),
        (
            "FinishDeploymentFunction",
            ["sagemaker:DescribeEndpoint", "sagemaker:UpdateEndpointWeightsAndCapacities"],
            _sagemaker("endpoint"),
        ),
        ("JobEventsFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
        ("ReconcileJobsFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
        ("StartMonitoringFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
        # The model a candidate must beat is the one the dataset's endpoint serves.
        ("EvaluateFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
        ("QualityGateFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
    ],
    "model": [
        (
            "DeployFunction",
            ["sagemaker:CreateModel", "sagemaker:DescribeModel", "sagemaker:DeleteModel", "sagemaker:AddTags"],
            _sagemaker("model"),
        ),
        ("EvaluateFunction", ["sagemaker:DescribeModel"], _sagemaker("model")),
        ("QualityGateFunction", ["sagemaker:DescribeModel"], _sagemaker("model")),
    ],
    "endpoint config": [
        (
            "DeployFunction",
            [
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:DeleteEndpointConfig",
                "sagemaker:AddTags",
            ],
            _sagemaker("endpoint-config"),
        ),
        ("FinishDeploymentFunction", ["sagemaker:DescribeEndpointConfig"], _sagemaker("endpoint-config")),
        ("EvaluateFunction", ["sagemaker:DescribeEndpointConfig"], _sagemaker("endpoint-config")),
        ("QualityGateFunction", ["sagemaker:DescribeEndpointConfig"], _sagemaker("endpoint-config")),
    ],
    # A candidate's staging endpoint and its config (named alike); the model is the version's "model" name.
    "staging endpoint": [
        (
            "DeployFunction",
            ["sagemaker:CreateEndpoint", "sagemaker:DescribeEndpoint", "sagemaker:DeleteEndpoint", "sagemaker:AddTags"],
            _sagemaker("endpoint"),
        ),
        (
            "DeployFunction",
            ["sagemaker:CreateEndpointConfig", "sagemaker:DescribeEndpointConfig", "sagemaker:AddTags"],
            _sagemaker("endpoint-config"),
        ),
        ("TestStagingFunction", ["sagemaker:InvokeEndpoint"], _sagemaker("endpoint")),
        ("RemoveStagingFunction", ["sagemaker:DeleteEndpoint"], _sagemaker("endpoint")),
        ("RemoveStagingFunction", ["sagemaker:DeleteEndpointConfig"], _sagemaker("endpoint-config")),
        ("JobEventsFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
        ("ReconcileJobsFunction", ["sagemaker:DescribeEndpoint"], _sagemaker("endpoint")),
    ],
    # An A/B trial's config: created, served and later replaced by Deploy, which reads its tags (whose run it is).
    "trial config": [
        (
            "DeployFunction",
            [
                "sagemaker:CreateEndpointConfig",
                "sagemaker:DescribeEndpointConfig",
                "sagemaker:ListTags",
                "sagemaker:AddTags",
            ],
            _sagemaker("endpoint-config"),
        ),
    ],
    "rollback alarm": [
        ("DeployFunction", ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms"], f"{_ALARM}{{name}}"),
        # Deployment guardrails read an update's rollback alarms with the model's execution role.
        ("SageMakerExecutionRole", ["cloudwatch:DescribeAlarms"], f"{_ALARM}{{name}}"),
    ],
    "drift alarm": [
        ("FinishDeploymentFunction", ["cloudwatch:PutMetricAlarm", "cloudwatch:TagResource"], f"{_ALARM}{{name}}"),
        ("StartMonitoringFunction", ["cloudwatch:DeleteAlarms"], f"{_ALARM}{{name}}"),
        # Drift held for a run in progress is decided only while its alarm is still in ALARM.
        ("StartRetrainFunction", ["cloudwatch:DescribeAlarms"], f"{_ALARM}{{name}}"),
    ],
    "scheduler schedule": [
        (
            "FinishDeploymentFunction",
            ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"],
            f"{_SCHEDULE}{{name}}",
        ),
        ("StartMonitoringFunction", ["scheduler:DeleteSchedule"], f"{_SCHEDULE}{{name}}"),
    ],
    "monitoring schedule": [
        (
            "FinishDeploymentFunction",
            [
                "sagemaker:CreateMonitoringSchedule",
                "sagemaker:UpdateMonitoringSchedule",
                "sagemaker:DescribeMonitoringSchedule",
                "sagemaker:AddTags",
            ],
            _sagemaker("monitoring-schedule"),
        ),
        (
            "StartMonitoringFunction",
            ["sagemaker:DescribeMonitoringSchedule", "sagemaker:DeleteMonitoringSchedule"],
            _sagemaker("monitoring-schedule"),
        ),
    ],
    "job definition": [
        (
            "FinishDeploymentFunction",
            [
                "sagemaker:CreateDataQualityJobDefinition",
                "sagemaker:DeleteDataQualityJobDefinition",
                "sagemaker:AddTags",
            ],
            _sagemaker("data-quality-job-definition"),
        ),
        (
            "StartMonitoringFunction",
            ["sagemaker:DeleteDataQualityJobDefinition"],
            _sagemaker("data-quality-job-definition"),
        ),
    ],
    "baseline job": [
        (
            "FinishDeploymentFunction",
            ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:AddTags"],
            _sagemaker("processing-job"),
        ),
        # A failed baseline job is described (and notified) when its end comes back to StartMonitoring.
        ("StartMonitoringFunction", ["sagemaker:DescribeProcessingJob"], _sagemaker("processing-job")),
    ],
    "monitor job": [
        (
            "StartMonitoringFunction",
            ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:AddTags"],
            _sagemaker("processing-job"),
        ),
    ],
    "merge job": [
        (
            "StartMonitoringFunction",
            ["sagemaker:CreateProcessingJob", "sagemaker:DescribeProcessingJob", "sagemaker:AddTags"],
            _sagemaker("processing-job"),
        ),
    ],
}


def test_every_name_kind_has_its_permissions_listed() -> None:
    assert set(PERMISSIONS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(PERMISSIONS))
@pytest.mark.parametrize("stack", STACKS)
def test_every_name_is_inside_the_policy_of_each_function_that_acts_on_it(
    template: dict[str, Any], kind: str, stack: str
) -> None:
    statements = {function: _function_statements(template, function) for function, _, _ in PERMISSIONS[kind]}
    for dataset in DATASETS:
        for name in KINDS[kind].build(stack, dataset):
            for function, actions, arn_format in PERMISSIONS[kind]:
                arn = arn_format.format(name=name, lower=name.lower())
                for action in actions:
                    assert iam_allows(statements[function], action, arn, stack), (function, action, arn)


@pytest.mark.parametrize("stack", STACKS)
def test_target_tracking_alarms_of_every_endpoint_are_inside_finish_deployments_policy(
    template: dict[str, Any], stack: str
) -> None:
    statements = _function_statements(template, "FinishDeploymentFunction")
    for dataset in DATASETS:
        resource = layout.scaling_resource_id(layout.endpoint_name(stack, dataset))
        # Application Auto Scaling names them itself: TargetTracking-<resource id>-AlarmHigh-<uuid>.
        arn = f"{_ALARM}TargetTracking-{resource}-AlarmHigh-0b6a7d3e-4c2f-4d8e-9a1b-2c3d4e5f6a7b"
        for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"):
            assert iam_allows(statements, action, arn, stack), arn


@pytest.mark.parametrize("stack", [STACKS[1], LONGEST_STACK])
def test_a_container_run_s_model_and_transform_job_are_inside_the_policies_of_the_functions_that_act_on_them(
    template: dict[str, Any], stack: str
) -> None:
    transform = _function_statements(template, "TransformTestRowsFunction")
    describers = [_function_statements(template, name) for name in ("JobEventsFunction", "ReconcileJobsFunction")]
    for dataset in DATASETS:
        for execution in run_names(dataset):
            # SageMaker writes names in its ARNs in lowercase.
            model = f"{_SAGEMAKER}:model/{layout.job_name(execution, 'candidate').lower()}"
            job = f"{_SAGEMAKER}:transform-job/{layout.job_name(execution, 'transform').lower()}"
            for action in ("sagemaker:CreateModel", "sagemaker:AddTags"):
                assert iam_allows(transform, action, model, stack), (action, model)
            for action in ("sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob", "sagemaker:AddTags"):
                assert iam_allows(transform, action, job, stack), (action, job)
            for statements in describers:
                assert iam_allows(statements, "sagemaker:DescribeTransformJob", job, stack), job
    # The transform step makes candidates only: not the models the deployments serve.
    served = f"{_SAGEMAKER}:model/{stack}-credit-v1".lower()
    assert not iam_allows(transform, "sagemaker:CreateModel", served, stack)


def _with_parameter(statements: list[dict[str, Any]], name: str, value: str) -> list[dict[str, Any]]:
    """The statements with a template parameter's value written into their ``!Sub`` resources."""
    return cast(list[dict[str, Any]], json.loads(json.dumps(statements).replace("${" + name + "}", value)))


@pytest.mark.parametrize("prefix", ["driftline/", "ml-" + "team/" * 38 + "models/"])
def test_validate_and_the_jobs_role_reach_exactly_the_images_under_the_stack_s_repository_prefix(
    template: dict[str, Any], prefix: str
) -> None:
    assert len(prefix) <= 200 and re.fullmatch(
        template["Parameters"]["ModelImageRepositories"]["AllowedPattern"], prefix
    )
    validate = _with_parameter(_function_statements(template, "ValidateFunction"), "ModelImageRepositories", prefix)
    role = _with_parameter(
        list(_statements(template["Resources"]["SageMakerExecutionRole"]["Properties"]["Policies"])),
        "ModelImageRepositories",
        prefix,
    )
    inside = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{prefix}" + "m" * (256 - len(prefix))
    outside = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/other/churn-model"
    assert iam_allows(validate, "ecr:DescribeImages", inside, "driftline")
    assert not iam_allows(validate, "ecr:DescribeImages", outside, "driftline")
    for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"):
        assert iam_allows(role, action, inside, "driftline"), action
        assert not iam_allows(role, action, outside, "driftline"), action


def test_the_policies_refuse_another_stacks_names(template: dict[str, Any]) -> None:
    """The matcher is no yes-machine: the names of a stack whose name merely starts alike are outside the policy."""
    statements = _function_statements(template, "StartMonitoringFunction")
    name = layout.monitor_job_name(layout.endpoint_name("other", "credit"), datetime(2026, 1, 1, tzinfo=UTC))
    assert not iam_allows(
        statements, "sagemaker:CreateProcessingJob", f"{_SAGEMAKER}:processing-job/{name}", "driftline"
    )
    assert resource_matches("a?c*", "abcde") and not resource_matches("a?c*", "ABCDE")
    assert not resource_matches("a?c", "ac")


# EventBridge --------------------------------------------------------------------------------------------------


def _rendered(value: Any, stack: str) -> Any:
    if isinstance(value, dict):
        text = _sub(value, stack) if "Fn::Sub" in value else None
        return text if text is not None else {key: _rendered(item, stack) for key, item in value.items()}
    if isinstance(value, list):
        return [_rendered(item, stack) for item in value]
    return value


def _rule(template: dict[str, Any], function: str, event: str, stack: str) -> EventPattern:
    pattern = template["Resources"][function]["Properties"]["Events"][event]["Properties"]["Pattern"]
    return EventPattern.load(json.dumps(_rendered(pattern, stack)))


def _job_ended(name: str, status: str, schedule: str) -> Any:
    """A drift job's end: Driftline's monitor and merge jobs carry their schedule's name in their environment."""
    event: Any = copy.deepcopy(load_event("sagemaker_processing_job_failed"))
    event["detail"]["ProcessingJobName"] = name
    event["detail"]["ProcessingJobStatus"] = status
    event["detail"]["Environment"] = {"sagemaker_monitoring_schedule_name": schedule}
    return event


@pytest.mark.parametrize("stack", STACKS)
def test_every_drift_jobs_end_reaches_start_monitoring_once(template: dict[str, Any], stack: str) -> None:
    drift_jobs = _rule(template, "StartMonitoringFunction", "DriftJobEnded", stack)
    model_monitor = _rule(template, "StartMonitoringFunction", "ModelMonitorExecutionEnded", stack)
    for dataset in DATASETS:
        schedule = KINDS["scheduler schedule"].build(stack, dataset)[0]
        for kind in ("baseline job", "monitor job", "merge job"):
            for name in KINDS[kind].build(stack, dataset):
                for status in ("Completed", "Failed", "Stopped"):
                    event = _job_ended(name, status, schedule)
                    assert drift_jobs.matches_event(event), (kind, name)
                    assert not model_monitor.matches_event(event), (kind, name)


@pytest.mark.parametrize("stack", STACKS)
def test_every_model_monitor_schedules_executions_reach_start_monitoring(template: dict[str, Any], stack: str) -> None:
    model_monitor = _rule(template, "StartMonitoringFunction", "ModelMonitorExecutionEnded", stack)
    for dataset in DATASETS:
        event: Any = copy.deepcopy(load_event("sagemaker_model_monitor_execution_completed"))
        [schedule] = KINDS["monitoring schedule"].build(stack, dataset)
        event["detail"]["MonitoringScheduleArn"] = f"{_SAGEMAKER}:monitoring-schedule/{schedule}"
        assert model_monitor.matches_event(event), schedule


@pytest.mark.parametrize("stack", STACKS)
def test_every_endpoints_state_changes_reach_job_events(template: dict[str, Any], stack: str) -> None:
    rule = _rule(template, "JobEventsFunction", "EndpointStateChanged", stack)
    for dataset in DATASETS:
        event: Any = copy.deepcopy(load_event("sagemaker_endpoint_in_service"))
        [event["detail"]["EndpointName"]] = KINDS["endpoint"].build(stack, dataset)
        assert rule.matches_event(event), event["detail"]["EndpointName"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_staging_endpoints_state_changes_reach_job_events(template: dict[str, Any], stack: str) -> None:
    rule = _rule(template, "JobEventsFunction", "EndpointStateChanged", stack)
    for dataset in DATASETS:
        for name in KINDS["staging endpoint"].build(stack, dataset):
            event: Any = copy.deepcopy(load_event("sagemaker_endpoint_in_service"))
            event["detail"]["EndpointName"] = name
            assert rule.matches_event(event), name


@pytest.mark.parametrize("stack", STACKS)
def test_deploy_may_ask_whether_the_run_of_a_trial_still_runs(template: dict[str, Any], stack: str) -> None:
    statements = _function_statements(template, "DeployFunction")
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{stack}-pipeline:credit-5e4f54c7bade"
    assert iam_allows(statements, "states:DescribeExecution", arn, stack)
    other = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:another-pipeline:credit-5e4f54c7bade"
    assert not iam_allows(statements, "states:DescribeExecution", other, stack)


def test_test_staging_may_invoke_staging_endpoints_only(template: dict[str, Any]) -> None:
    statements = _function_statements(template, "TestStagingFunction")
    for stack in STACKS:
        for dataset in DATASETS:
            production = KINDS["endpoint"].build(stack, dataset)[0].lower()
            arn = f"{_SAGEMAKER}:endpoint/{production}"
            assert not iam_allows(statements, "sagemaker:InvokeEndpoint", arn, stack), arn


@pytest.mark.parametrize("stack", STACKS)
def test_every_drift_alarm_reaches_the_retrain(template: dict[str, Any], stack: str) -> None:
    rule = _rule(template, "StartRetrainFunction", "DriftAlarm", stack)
    for dataset in DATASETS:
        event: Any = copy.deepcopy(load_event("cloudwatch_alarm_drift_alarm"))
        [event["detail"]["alarmName"]] = KINDS["drift alarm"].build(stack, dataset)
        assert rule.matches_event(event), event["detail"]["alarmName"]
        assert layout.dataset_from_alarm_name(stack, event["detail"]["alarmName"]) == dataset


def _pipeline_named(statement: dict[str, Any], stack: str) -> dict[str, Any]:
    """The statement with the state machine's Name attribute filled in: the template names it <stack>-pipeline."""
    resources = [
        {"Fn::Sub": r["Fn::Sub"].replace("${PipelineStateMachine.Name}", f"{stack}-pipeline")}
        if isinstance(r, dict) and isinstance(r.get("Fn::Sub"), str)
        else r
        for r in _as_list(statement.get("Resource", []))
    ]
    return {**statement, "Resource": resources}


@pytest.mark.parametrize("stack", STACKS)
def test_every_end_of_the_stacks_pipeline_runs_reaches_the_retrain_which_may_read_the_run(
    template: dict[str, Any], stack: str
) -> None:
    rule = _rule(template, "StartRetrainFunction", "RunEnded", stack)
    statements = [_pipeline_named(s, stack) for s in _function_statements(template, "StartRetrainFunction")]
    machine = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{stack}-pipeline"
    event: Any = load_event("stepfunctions_execution_failed")
    for dataset in DATASETS:
        name = layout.execution_name_for_object(dataset, "drift", f"{stack}-drift-{dataset}", "2026-11-20T11:05Z")
        execution = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{stack}-pipeline:{name}"
        event = copy.deepcopy(event)
        event["resources"] = [execution]
        event["detail"].update(executionArn=execution, stateMachineArn=machine, name=name)
        assert rule.matches_event(event), name
        for action in ("states:DescribeExecution", "states:GetExecutionHistory"):
            assert iam_allows(statements, action, execution, stack), (action, execution)
    event["detail"]["stateMachineArn"] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{stack}x-pipeline"
    assert not rule.matches_event(event)


@pytest.mark.parametrize("stack", STACKS)
def test_every_groups_approval_decisions_reach_approval_events(template: dict[str, Any], stack: str) -> None:
    rule = _rule(template, "ApprovalEventsFunction", "ModelPackageDecided", stack)
    for dataset in DATASETS:
        event: Any = copy.deepcopy(load_event("sagemaker_model_package_approved"))
        [event["detail"]["ModelPackageGroupName"]] = KINDS["model package group"].build(stack, dataset)
        assert rule.matches_event(event), event["detail"]["ModelPackageGroupName"]


def test_another_stacks_drift_jobs_do_not_reach_this_stacks_start_monitoring(template: dict[str, Any]) -> None:
    drift_jobs = _rule(template, "StartMonitoringFunction", "DriftJobEnded", LONGEST_STACK)
    other = KINDS["merge job"].build("driftline", "x" * 40)[0]
    assert not drift_jobs.matches_event(_job_ended(other, "Completed", "driftline-credit-drift-monitor"))
