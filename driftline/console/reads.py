"""What the console shows, read from the same AWS APIs the CLI uses (Step Functions, the SageMaker Model Registry,
SageMaker endpoints, S3), so its pages are the same against local mode and an AWS account.

Each read asks only for what its page shows: the runs list is ListExecutions alone (no call per run), a run's page
its execution, history and the state machine's definition, a model group's page one DescribeModelPackage per
version it lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftline.run_status import DECISION_STATES, dataset_of, run_reason
from driftline.stepfunctions_history import Step, execution_arn_for, execution_history, json_object, read_steps, utc

RUNS_PAGE = 100
"""Runs listed on one page of the runs list."""
VERSIONS_SHOWN = 100
"""Model versions a group's page lists and plots (the newest)."""
_NAME_HASH = re.compile(r"-[0-9a-f]{12}$")
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
            row_dataset = _NAME_HASH.sub("", name)
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
    for summary in summaries[:limit]:
        described = sagemaker.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
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
