"""What the console shows, read from the same AWS APIs the CLI uses (Step Functions, the SageMaker Model Registry,
SageMaker endpoints, S3), so its pages are the same against local mode and an AWS account.

Each read asks only for what its page shows: the runs list is ListExecutions alone (no call per run), a run's page
its execution, history and the state machine's definition, a model group's page one DescribeModelPackage per
version it lists, an endpoint's page one DescribeExecution per ended run of its dataset among the newest (these
describes run several at a time).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from driftline.layer_modules import layer_module
from driftline.run_status import DECISION_STATES, RUN_NAME_HASH, dataset_of, may_be_of_endpoint, run_reason
from driftline.stepfunctions_history import Step, execution_arn_for, execution_history, json_object, read_steps, utc

T = TypeVar("T")
RUNS_PAGE = 100
"""Runs listed on one page of the runs list."""
VERSIONS_SHOWN = 100
"""Model versions a group's page lists and plots (the newest)."""
RUN_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
"""A Step Functions execution name as the pipeline builds them; anything else names no run."""
GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
"""SageMaker's pattern for a model package group's name."""


@dataclass(frozen=True)
class RunRow:
    name: str
    dataset: str
    status: str
    started: datetime
    stopped: datetime | None


def recent_runs(sfn: Any, machine_arn: str, *, dataset: str = "", limit: int = RUNS_PAGE) -> list[RunRow]:
    """The newest runs, from ListExecutions alone; ``dataset`` is a run name without its hash, as the list shows it
    (a run's name is its dataset's, shortened and with other characters as hyphens)."""
    rows: list[RunRow] = []
    kwargs: dict[str, Any] = {"stateMachineArn": machine_arn, "maxResults": 1000}
    while len(rows) < limit:
        page = sfn.list_executions(**kwargs)
        for execution in sorted(page["executions"], key=lambda e: e["startDate"], reverse=True):
            name = str(execution["name"])
            row_dataset = RUN_NAME_HASH.sub("", name)
            if dataset and row_dataset != dataset:
                continue
            stopped = execution.get("stopDate")
            rows.append(
                RunRow(
                    name,
                    row_dataset,
                    str(execution["status"]),
                    utc(execution["startDate"]),
                    utc(stopped) if stopped else None,
                )
            )
        if not page.get("nextToken"):
            break
        kwargs["nextToken"] = page["nextToken"]
    return rows[:limit]


@dataclass
class RunDetail:
    name: str
    dataset: str
    status: str
    started: datetime
    stopped: datetime | None
    reason: str
    steps: list[Step]
    definition: dict[str, Any]
    output: dict[str, Any]
    trigger: dict[str, Any]
    data_uri: str
    waiting_package: str = ""
    """The model package the run waits for a decision on (its approval), when it waits for one."""
    waiting_state: str = ""


def run_detail(sfn: Any, machine_arn: str, name: str) -> RunDetail | None:
    """One run: its execution, its steps and the definition it runs; None when there is no such run."""
    if not RUN_NAME.fullmatch(name):
        return None
    arn = execution_arn_for(machine_arn, name)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        return None
    steps = read_steps(execution_history(sfn, arn))
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=machine_arn)["definition"])
    run_input = json_object(described.get("input"))
    detail = RunDetail(
        name=name,
        dataset=dataset_of(described),
        status=str(described["status"]),
        started=utc(described["startDate"]),
        stopped=utc(described["stopDate"]) if described.get("stopDate") else None,
        reason=run_reason(described, steps, now=datetime.now(UTC)),
        steps=steps,
        definition=definition,
        output=json_object(described.get("output")),
        trigger=dict(run_input.get("trigger") or {}),
        data_uri=str((run_input.get("data") or {}).get("uri") or ""),
    )
    current = next((step for step in reversed(steps) if step.exited is None), None)
    if detail.status == "RUNNING" and current is not None and current.name in DECISION_STATES and current.submitted:
        detail.waiting_package = str(current.submitted.get("model_package_arn") or "")
        detail.waiting_state = current.name
    return detail


def s3_uris(value: Any) -> list[str]:
    """Every ``s3://`` URI in a run's output, in order, once each: its artifacts."""
    found: list[str] = []
    if isinstance(value, dict):
        for item in value.values():
            found += s3_uris(item)
    elif isinstance(value, list):
        for item in value:
            found += s3_uris(item)
    elif isinstance(value, str) and value.startswith("s3://"):
        found.append(value)
    return list(dict.fromkeys(found))


DESCRIBES_AT_ONCE = 8
"""A page that describes many things (a group's versions, an endpoint's runs) asks this many at a time: on AWS one
Describe call takes tens of milliseconds, so a hundred one after another would take seconds."""


def at_once(describe: Callable[[T], dict[str, Any]], items: list[T]) -> list[dict[str, Any]]:
    """``describe`` of every item, in the items' order, ``DESCRIBES_AT_ONCE`` calls at a time (boto3's clients
    may be shared between threads)."""
    with ThreadPoolExecutor(max_workers=DESCRIBES_AT_ONCE) as pool:
        return list(pool.map(describe, items))


# The Model Registry --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelGroup:
    name: str
    created: datetime


def model_groups(sagemaker: Any, prefix: str) -> list[ModelGroup]:
    """The stack's model package groups (``<stack>-<dataset>``), newest first."""
    groups: list[ModelGroup] = []
    kwargs: dict[str, Any] = {
        "NameContains": prefix,
        "MaxResults": 100,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    while True:
        page = sagemaker.list_model_package_groups(**kwargs)
        groups += [
            ModelGroup(str(item["ModelPackageGroupName"]), utc(item["CreationTime"]))
            for item in page["ModelPackageGroupSummaryList"]
            if str(item["ModelPackageGroupName"]).startswith(f"{prefix}-")
        ]
        if not page.get("NextToken"):
            return groups
        kwargs["NextToken"] = page["NextToken"]


@dataclass(frozen=True)
class ModelVersion:
    arn: str
    version: int
    status: str
    created: datetime
    metric: str
    value: float | None
    decided: str
    """``ApprovalDescription``: who decided and why (the registry keeps it with the status)."""
    decided_at: datetime | None
    run: str
    lineage: dict[str, str] = field(default_factory=dict)


def model_versions(sagemaker: Any, group: str, *, limit: int = VERSIONS_SHOWN) -> list[ModelVersion]:
    """The group's newest versions, oldest first, each with its gate metric, status and who decided."""
    summaries: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "ModelPackageGroupName": group,
        "MaxResults": 100,
        "SortBy": "CreationTime",
        "SortOrder": "Descending",
    }
    while len(summaries) < limit:
        page = sagemaker.list_model_packages(**kwargs)
        summaries += page["ModelPackageSummaryList"]
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    versions = []
    for described in at_once(
        lambda summary: sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"]),
        summaries[:limit],
    ):
        lineage = {str(k): str(v) for k, v in (described.get("CustomerMetadataProperties") or {}).items()}
        status = str(described.get("ModelApprovalStatus") or "")
        modified = described.get("LastModifiedTime")
        versions.append(
            ModelVersion(
                arn=str(described["ModelPackageArn"]),
                version=int(described.get("ModelPackageVersion") or 0),
                status=status,
                created=utc(described["CreationTime"]),
                metric=lineage.get("metric", ""),
                value=_number(lineage.get("metric_value")),
                decided=str(described.get("ApprovalDescription") or ""),
                decided_at=utc(modified) if modified and status != "PendingManualApproval" else None,
                run=lineage.get("execution_arn", "").rpartition(":")[2],
                lineage=lineage,
            )
        )
    return sorted(versions, key=lambda version: version.version)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


# Endpoints -----------------------------------------------------------------------------------------------------

ENDPOINT_METRICS = ("Invocations", "ModelLatency", "Invocation4XXErrors", "Invocation5XXErrors")
"""What an endpoint's page plots, per variant: SageMaker's own metrics (``AWS/SageMaker``)."""
METRIC_HOURS = 3


@dataclass(frozen=True)
class VariantView:
    name: str
    model: str
    weight: float
    instances: int
    series: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    """Each of ``ENDPOINT_METRICS`` over the last hours: the Sum of counts, the Average latency in milliseconds."""


@dataclass(frozen=True)
class EndpointView:
    name: str
    status: str
    config: str
    modified: datetime | None
    failure: str
    variants: list[VariantView]


def endpoint_names(sagemaker: Any, prefix: str) -> list[str]:
    """The stack's endpoints (``<stack>-<dataset>``, staging ones included), by name."""
    names: list[str] = []
    kwargs: dict[str, Any] = {
        "NameContains": f"{prefix}-",
        "MaxResults": 100,
        "SortBy": "Name",
        "SortOrder": "Ascending",
    }
    while True:
        page = sagemaker.list_endpoints(**kwargs)
        names += [
            str(item["EndpointName"])
            for item in page["Endpoints"]
            if str(item["EndpointName"]).startswith(f"{prefix}-")
        ]
        if not page.get("NextToken"):
            return names
        kwargs["NextToken"] = page["NextToken"]


def endpoint_view(
    sagemaker: Any, cloudwatch: Any | None, name: str, *, period: int, now: datetime
) -> EndpointView | None:
    """The endpoint, what each variant serves with its weight, and (with ``cloudwatch``) its metrics."""
    try:
        described = sagemaker.describe_endpoint(EndpointName=name)
    except sagemaker.exceptions.ClientError:
        return None
    config_name = str(described.get("EndpointConfigName") or "")
    models: dict[str, str] = {}
    if config_name:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=config_name)
        models = {str(v["VariantName"]): str(v.get("ModelName") or "") for v in config.get("ProductionVariants", [])}
    variants = []
    for variant in described.get("ProductionVariants") or []:
        variant_name = str(variant["VariantName"])
        series = _variant_metrics(cloudwatch, name, variant_name, period, now) if cloudwatch is not None else {}
        variants.append(
            VariantView(
                name=variant_name,
                model=models.get(variant_name, ""),
                weight=float(variant.get("CurrentWeight") or 0.0),
                instances=int(variant.get("CurrentInstanceCount") or 0),
                series=series,
            )
        )
    modified = described.get("LastModifiedTime")
    return EndpointView(
        name=name,
        status=str(described.get("EndpointStatus") or ""),
        config=config_name,
        modified=utc(modified) if modified else None,
        failure=str(described.get("FailureReason") or ""),
        variants=variants,
    )


def _variant_metrics(
    cloudwatch: Any, endpoint: str, variant: str, period: int, now: datetime
) -> dict[str, list[tuple[datetime, float]]]:
    series: dict[str, list[tuple[datetime, float]]] = {}
    for metric in ENDPOINT_METRICS:
        statistic = "Average" if metric == "ModelLatency" else "Sum"
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}],
            StartTime=now - timedelta(hours=METRIC_HOURS),
            EndTime=now,
            Period=period,
            Statistics=[statistic],
        )["Datapoints"]
        scale = 1 / 1000 if metric == "ModelLatency" else 1  # microseconds, shown in milliseconds
        series[metric] = sorted((utc(point["Timestamp"]), float(point[statistic]) * scale) for point in points)
    return series


# Deployments ---------------------------------------------------------------------------------------------------

DEPLOYMENT_FAILED = "DeploymentFailed"
"""The error a run ends with when its endpoint could not be created or updated (or its update rolled back)."""
DEPLOYMENTS_SHOWN = 20
RUNS_SCANNED = 200
"""How far back an endpoint's page looks for its deployments: the newest runs of the stack."""
RUNS_DESCRIBED = 60
"""An endpoint's page describes at most this many of its dataset's ended runs."""


@dataclass(frozen=True)
class Deployment:
    """One run's deployment to an endpoint: what it put there, or why the endpoint kept what it served."""

    run: str
    when: datetime
    version: str
    """``version 3`` for what a run deployed; empty for a failed deployment (its reason names what it tried)."""
    outcome: str
    failed: bool


def deployments(
    sfn: Any, machine_arn: str, endpoint: str, *, prefix: str, scanned: int = RUNS_SCANNED
) -> list[Deployment]:
    """The endpoint's deployments and rollbacks, newest first, from the runs that ended deploying to it.

    A run that succeeded says what it deployed (``$.deployment``); one that failed with ``DeploymentFailed`` says
    why its update did not take (rolled back, refused, timed out), and the endpoint kept its model. Only ended runs
    whose names can be of the endpoint's dataset are described."""
    candidates = [
        row
        for row in recent_runs(sfn, machine_arn, limit=scanned)
        if row.status in ("SUCCEEDED", "FAILED") and may_be_of_endpoint(row.name, endpoint, prefix)
    ][:RUNS_DESCRIBED]
    described_runs = at_once(
        lambda row: sfn.describe_execution(executionArn=execution_arn_for(machine_arn, row.name)), candidates
    )
    found: list[Deployment] = []
    for row, described in zip(candidates, described_runs, strict=True):
        output = json_object(described.get("output"))
        deployment = output.get("deployment") if isinstance(output.get("deployment"), dict) else {}
        when = row.stopped or row.started
        if row.status == "SUCCEEDED" and deployment and deployment.get("endpoint_name") == endpoint:
            version = _version_of(str(deployment.get("model_package_arn") or ""))
            found.append(Deployment(row.name, when, version, run_reason(described, []), failed=False))
        elif (
            row.status == "FAILED"
            and described.get("error") == DEPLOYMENT_FAILED
            and endpoint_of(dataset_of(described), prefix) == endpoint
        ):
            found.append(Deployment(row.name, when, "", run_reason(described, []), failed=True))
    return found[:DEPLOYMENTS_SHOWN]


def endpoint_of(dataset: str, prefix: str) -> str:
    """The dataset's endpoint, named as the pipeline names it (its model package group's name)."""
    return str(layer_module("driftline_core.layout").endpoint_name(prefix, dataset))


def _version_of(package_arn: str) -> str:
    version = package_arn.rpartition("/")[2]
    return f"version {version}" if version.isdigit() else ""


# Drift ---------------------------------------------------------------------------------------------------------

FEATURE_METRIC_PREFIX = "feature_baseline_drift_"
DRIFT_HOURS = 24


@dataclass(frozen=True)
class AlarmChange:
    when: datetime
    summary: str


@dataclass(frozen=True)
class DriftRow:
    """A dataset's drift monitor as the list shows it: its alarm's state, from DescribeAlarms alone."""

    dataset: str
    endpoint: str
    state: str
    reason: str


@dataclass
class DriftView:
    dataset: str
    alarm: str
    state: str
    state_reason: str
    endpoint: str
    threshold: float | None
    """The baseline's distance threshold (``comparison_threshold`` of its ``constraints.json``), when readable."""
    features: dict[str, list[tuple[datetime, float]]] = field(default_factory=dict)
    history: list[AlarmChange] = field(default_factory=list)
    reports: list[str] = field(default_factory=list)


def drift_alarms(cloudwatch: Any, stack: str) -> list[dict[str, Any]]:
    """The stack's drift alarms (``<stack>-drift-<dataset>``), one per served dataset."""
    alarms: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"AlarmNamePrefix": f"{stack}-drift-", "AlarmTypes": ["MetricAlarm"]}
    while True:
        page = cloudwatch.describe_alarms(**kwargs)
        alarms += page["MetricAlarms"]
        if not page.get("NextToken"):
            return alarms
        kwargs["NextToken"] = page["NextToken"]


def alarm_endpoint(alarm: dict[str, Any]) -> str:
    """The endpoint a drift alarm watches (its ``Endpoint`` dimension)."""
    return next((str(d["Value"]) for d in alarm.get("Dimensions") or [] if d["Name"] == "Endpoint"), "")


def drift_row(alarm: dict[str, Any], stack: str) -> DriftRow:
    return DriftRow(
        dataset=str(alarm["AlarmName"]).removeprefix(f"{stack}-drift-"),
        endpoint=alarm_endpoint(alarm),
        state=str(alarm.get("StateValue") or ""),
        reason=str(alarm.get("StateReason") or ""),
    )


def drift_view(
    cloudwatch: Any,
    sagemaker: Any,
    s3: Any,
    alarm: dict[str, Any],
    *,
    stack: str,
    bucket: str,
    period: int,
    now: datetime,
) -> DriftView:
    """A dataset's drift: each feature's distance per window, the alarm and its state changes, the latest reports."""
    endpoint = alarm_endpoint(alarm)
    dataset = str(alarm["AlarmName"]).removeprefix(f"{stack}-drift-")
    view = DriftView(
        dataset=dataset,
        alarm=str(alarm["AlarmName"]),
        state=str(alarm.get("StateValue") or ""),
        state_reason=str(alarm.get("StateReason") or ""),
        endpoint=endpoint,
        threshold=_baseline_threshold(sagemaker, s3, endpoint) if endpoint else None,
    )
    namespace = str(alarm.get("Namespace") or "")
    listed = cloudwatch.list_metrics(Namespace=namespace, Dimensions=[{"Name": "Endpoint", "Value": endpoint}])
    for metric in listed.get("Metrics", []):
        name = str(metric["MetricName"])
        if not name.startswith(FEATURE_METRIC_PREFIX):
            continue
        points = cloudwatch.get_metric_statistics(
            Namespace=namespace,
            MetricName=name,
            Dimensions=metric["Dimensions"],
            StartTime=now - timedelta(hours=DRIFT_HOURS),
            EndTime=now,
            Period=period,
            Statistics=["Maximum"],
        )["Datapoints"]
        feature = name.removeprefix(FEATURE_METRIC_PREFIX)
        view.features[feature] = sorted((utc(p["Timestamp"]), float(p["Maximum"])) for p in points)
    history = cloudwatch.describe_alarm_history(AlarmName=view.alarm, HistoryItemType="StateUpdate", MaxRecords=20)
    view.history = [
        AlarmChange(utc(item["Timestamp"]), str(item.get("HistorySummary") or ""))
        for item in history.get("AlarmHistoryItems", [])
    ]
    listed_reports = (
        s3.list_objects_v2(Bucket=bucket, Prefix=f"monitoring/{dataset}/").get("Contents", []) if bucket else []
    )
    reports = sorted(
        (item for item in listed_reports if str(item["Key"]).endswith("/drift_report.html")),
        key=lambda item: item["LastModified"],
        reverse=True,
    )
    view.reports = [f"s3://{bucket}/{item['Key']}" for item in reports[:10]]
    return view


def _baseline_threshold(sagemaker: Any, s3: Any, endpoint: str) -> float | None:
    """The drift threshold of the baseline the endpoint's newest monitor job compared with."""
    jobs = sagemaker.list_processing_jobs(
        NameContains=f"{endpoint}-monitor-", SortBy="CreationTime", SortOrder="Descending", MaxResults=5
    )["ProcessingJobSummaries"]
    for job in jobs:
        described = sagemaker.describe_processing_job(ProcessingJobName=job["ProcessingJobName"])
        for item in described.get("ProcessingInputs") or []:
            if item.get("InputName") != "baseline":
                continue
            uri = str(item["S3Input"]["S3Uri"]).rstrip("/") + "/constraints.json"
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            try:
                constraints = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            except Exception:
                return None
            value = ((constraints.get("monitoring_config") or {}).get("distribution_constraints") or {}).get(
                "comparison_threshold"
            )
            return float(value) if isinstance(value, int | float) else None
    return None
