"""Every resource name Driftline builds from the stack and dataset names, over the names the deploy and Validate
accept: short and longest stack names (and the lengths where a name's tail stops fitting) times short and longest
dataset names. ``tests/unit/test_layout_names.py`` checks them against AWS's limits; ``tests/infra/
test_resource_name_permissions.py`` against the template's IAM policies and EventBridge rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import botocore.session

from driftline_core import layout

LONGEST_STACK = "s" + "a" * (layout.MAX_PREFIX_LENGTH - 2) + "9"
"""The longest stack name the deploy accepts (``ml/code_publisher.check_stack_name``)."""


def _stack(length: int) -> str:
    return "s" + "a" * (length - 2) + "9"


STACKS = [
    "a",
    "driftline",
    # Around where the old names lost the prefix beside a 40-character dataset: merge jobs from 27 characters,
    # job definitions from 30 (a 9-digit version) or 38, monitor jobs from 33, schedules from 40, baseline jobs
    # from 42 (and models and endpoint configs from 43, which the deploy no longer accepts).
    _stack(26),
    _stack(27),
    _stack(30),
    _stack(33),
    _stack(38),
    _stack(40),
    _stack(41),
    LONGEST_STACK,
    # CloudFormation's stack names may end in hyphens; the IAM prefix is then ``<stack>-`` all the same.
    "ends-with-hyphen-",
    "l" * (layout.MAX_PREFIX_LENGTH - 2) + "--",
]
assert len(LONGEST_STACK) == layout.MAX_PREFIX_LENGTH

DATASETS = [
    "a",
    "credit",
    "Credit",
    "credit--2026",
    "x" * 40,
    "X" * 40,
    "7" * 40,
    "x" * 39 + "y",
    "customer-churn-predictions-for-region-1",
    "customer-churn-predictions-for-region-2",
    "a-" * 19 + "bc",
    "Churn--2026-Q4-" + "z" * 25,
]
"""Short and longest (40 characters) dataset names Validate accepts: lowercase, mixed-case, with ``--``."""
assert all(layout.is_valid_dataset_name(dataset) for dataset in DATASETS)


def run_names(dataset: str) -> list[str]:
    """Execution names of an upload's run (the longest a dataset name gives) and of a drift retrain's."""
    return [
        layout.execution_name_for_object(dataset, "driftline-data", f"data/{dataset}/jan.csv", "v1"),
        layout.execution_name_for_object(dataset, "drift", f"driftline-drift-{dataset}", "2026-11-20T11:05Z"),
    ]


WINDOW_ENDS = [datetime(2026, 11, 23, 15, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, tzinfo=UTC)]
VERSIONS = [1, 9, 10, 999, 12_345, layout.MAX_MODEL_VERSION]


@dataclass(frozen=True)
class NameKind:
    """One kind of name: how it is built, and the botocore shape of the request field that takes it."""

    label: str
    build: Callable[[str, str], list[str]]
    """``(stack, dataset)`` -> the names of that kind (one per window or version where it has several)."""
    service: str
    operation: str
    member: str
    lowercase: bool = True
    """SageMaker writes names into ARNs in lowercase, so names the IAM policies match on must be lowercase."""


def _endpoint(stack: str, dataset: str) -> str:
    return layout.endpoint_name(stack, dataset)


NAME_KINDS = [
    NameKind(
        "model package group",
        lambda stack, dataset: [layout.model_package_group_name(stack, dataset)],
        "sagemaker",
        "CreateModelPackageGroup",
        "ModelPackageGroupName",
    ),
    NameKind(
        "endpoint",
        lambda stack, dataset: [_endpoint(stack, dataset)],
        "sagemaker",
        "CreateEndpoint",
        "EndpointName",
    ),
    NameKind(
        "model",
        lambda stack, dataset: [
            layout.versioned_name(_endpoint(stack, dataset), version, stack=stack) for version in VERSIONS
        ],
        "sagemaker",
        "CreateModel",
        "ModelName",
    ),
    NameKind(
        "endpoint config",
        lambda stack, dataset: [
            layout.versioned_name(_endpoint(stack, dataset), version, stack=stack) for version in VERSIONS
        ],
        "sagemaker",
        "CreateEndpointConfig",
        "EndpointConfigName",
    ),
    NameKind(
        "staging endpoint",
        lambda stack, dataset: [
            layout.staging_endpoint_name(_endpoint(stack, dataset), version, stack=stack) for version in VERSIONS
        ],
        "sagemaker",
        "CreateEndpoint",
        "EndpointName",
    ),
    NameKind(
        "trial config",
        lambda stack, dataset: [
            layout.trial_config_name(_endpoint(stack, dataset), version, stack=stack) for version in VERSIONS
        ],
        "sagemaker",
        "CreateEndpointConfig",
        "EndpointConfigName",
    ),
    NameKind(
        "rollback alarm",
        lambda stack, dataset: layout.alarm_names(_endpoint(stack, dataset)),
        "cloudwatch",
        "PutMetricAlarm",
        "AlarmName",
    ),
    NameKind(
        "drift alarm",
        lambda stack, dataset: [layout.drift_alarm_name(stack, dataset)],
        "cloudwatch",
        "PutMetricAlarm",
        "AlarmName",
        lowercase=False,
    ),
    NameKind(
        "scheduler schedule",
        lambda stack, dataset: [layout.schedule_name(_endpoint(stack, dataset), stack=stack)],
        "scheduler",
        "CreateSchedule",
        "Name",
    ),
    NameKind(
        "monitoring schedule",
        lambda stack, dataset: [layout.monitoring_schedule_name(_endpoint(stack, dataset), stack=stack)],
        "sagemaker",
        "CreateMonitoringSchedule",
        "MonitoringScheduleName",
    ),
    NameKind(
        "job definition",
        lambda stack, dataset: [
            layout.job_definition_name(_endpoint(stack, dataset), version, stack=stack) for version in VERSIONS
        ],
        "sagemaker",
        "CreateDataQualityJobDefinition",
        "JobDefinitionName",
    ),
    NameKind(
        "baseline job",
        lambda stack, dataset: [
            layout.baseline_job_name(_endpoint(stack, dataset), version, stack=stack) for version in VERSIONS
        ],
        "sagemaker",
        "CreateProcessingJob",
        "ProcessingJobName",
    ),
    NameKind(
        "monitor job",
        lambda stack, dataset: [layout.monitor_job_name(_endpoint(stack, dataset), end) for end in WINDOW_ENDS],
        "sagemaker",
        "CreateProcessingJob",
        "ProcessingJobName",
    ),
    NameKind(
        "merge job",
        lambda stack, dataset: [layout.merge_job_name(_endpoint(stack, dataset), end) for end in WINDOW_ENDS],
        "sagemaker",
        "CreateProcessingJob",
        "ProcessingJobName",
    ),
]
KINDS = {kind.label: kind for kind in NAME_KINDS}


@dataclass(frozen=True)
class NameRule:
    min_length: int
    max_length: int
    pattern: re.Pattern[str] | None


@cache
def name_rule(service: str, operation: str, member: str) -> NameRule:
    """Length and pattern of a request field, from botocore's service model (its patterns are Java regular
    expressions; these ones read the same in Python)."""
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).input_shape
    assert shape is not None
    metadata = shape.members[member].metadata
    pattern = metadata.get("pattern")
    return NameRule(
        int(metadata.get("min", 1)), int(metadata["max"]), re.compile(f"(?:{pattern})") if pattern else None
    )
