"""A pipeline run as a person follows it from a terminal: which run a name means, the recent runs, a run's steps
with their times, the gate's decision, why it failed and what it waits for.

Everything is read from Step Functions (ListExecutions, DescribeExecution, GetExecutionHistory), so it works the
same against local mode and an AWS account.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from driftline.cli_errors import CommandError
from driftline.stepfunctions_history import (
    TERMINAL_STATUSES,
    Step,
    StepChange,
    execution_arn_for,
    execution_history,
    json_object,
    read_steps,
    readable_cause,
    step_changes,
    utc,
)

APPROVAL_STATE = "RequestApproval"
PROMOTION_STATE = "RequestPromotion"
"""Where a run waits for a person to promote the challenger that won its A/B trial."""
DECISION_STATES = (APPROVAL_STATE, PROMOTION_STATE)
GATE_STATE = "QualityGate"
RECENT_SHOWN = 5
"""How many recent run names an unknown run's message lists."""
LOOKUP_SCAN_LIMIT = 5000
"""The most executions a name prefix is matched against (newest first)."""
RUN_NAME_HASH = re.compile(r"-[0-9a-f]{12}$")
"""The ``-<12 hex digits>`` every run name ends with, after its dataset's."""


# Which run a name means ----------------------------------------------------------------------------------------


def find_run(sfn: Any, machine_arn: str, run: str) -> dict[str, Any]:
    """DescribeExecution of the run ``run`` names: an execution ARN, a name, or a prefix of one name."""
    if run.startswith("arn:"):
        described = _describe_if_exists(sfn, run)
        if described is None:
            raise CommandError(f"no run {run}: {_recent_names(sfn, machine_arn)}")
        return described
    described = _describe_if_exists(sfn, execution_arn_for(machine_arn, run))
    if described is not None:
        return described
    matches = []
    for scanned, execution in enumerate(_executions(sfn, machine_arn)):
        if scanned >= LOOKUP_SCAN_LIMIT:
            break
        if str(execution["name"]).startswith(run):
            matches.append(str(execution["name"]))
    if len(matches) == 1:
        found = _describe_if_exists(sfn, execution_arn_for(machine_arn, matches[0]))
        if found is not None:
            return found
    if len(matches) > 1:
        shown = ", ".join(matches[:RECENT_SHOWN]) + (", ..." if len(matches) > RECENT_SHOWN else "")
        raise CommandError(f"{run!r} matches {len(matches)} runs ({shown}): give more of the name")
    raise CommandError(f"no run named {run!r} or starting so: {_recent_names(sfn, machine_arn)}")


def _describe_if_exists(sfn: Any, execution_arn: str) -> dict[str, Any] | None:
    try:
        return dict(sfn.describe_execution(executionArn=execution_arn))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "InvalidArn"):
            return None
        raise


def _recent_names(sfn: Any, machine_arn: str) -> str:
    recent = []
    for execution in _executions(sfn, machine_arn):
        recent.append(str(execution["name"]))
        if len(recent) == RECENT_SHOWN:
            break
    if not recent:
        return "the pipeline has no runs yet (an upload to data/<dataset>/ starts one)"
    return f"the most recent are {', '.join(recent)} (`driftline runs` lists them)"


def _executions(sfn: Any, machine_arn: str) -> Iterator[dict[str, Any]]:
    """The pipeline's executions, newest first, page by page."""
    kwargs: dict[str, Any] = {"stateMachineArn": machine_arn, "maxResults": 100}
    while True:
        page = sfn.list_executions(**kwargs)
        yield from sorted(page["executions"], key=lambda e: e["startDate"], reverse=True)
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


# The recent runs --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunSummary:
    name: str
    execution_arn: str
    dataset: str
    status: str
    started: datetime
    stopped: datetime | None
    reason: str

    def seconds(self, now: datetime) -> float:
        return ((self.stopped or now) - self.started).total_seconds()


def list_runs(sfn: Any, machine_arn: str, *, dataset: str | None = None, limit: int = 20) -> list[RunSummary]:
    """The newest ``limit`` runs (of ``dataset``), each with the reason it is where it is."""
    runs: list[RunSummary] = []
    for scanned, execution in enumerate(_executions(sfn, machine_arn)):
        if len(runs) >= limit or (dataset and scanned >= LOOKUP_SCAN_LIMIT):
            break
        if dataset and not may_be_of_dataset(str(execution["name"]), dataset):
            continue
        described = _describe_if_exists(sfn, str(execution["executionArn"]))
        if described is None or (dataset and dataset_of(described) != dataset):
            continue
        steps = (
            read_steps(execution_history(sfn, described["executionArn"])) if described["status"] == "RUNNING" else []
        )
        runs.append(summarize(described, steps))
    return runs


def summarize(described: dict[str, Any], steps: list[Step], *, now: datetime | None = None) -> RunSummary:
    return RunSummary(
        name=str(described["name"]),
        execution_arn=str(described["executionArn"]),
        dataset=dataset_of(described),
        status=str(described["status"]),
        started=utc(described["startDate"]),
        stopped=utc(described["stopDate"]) if described.get("stopDate") else None,
        reason=run_reason(described, steps, now=now),
    )


def dataset_of(described: dict[str, Any]) -> str:
    """The run's dataset, from its input; a run whose input has none is known by its name without the hash."""
    dataset = json_object(described.get("input")).get("dataset")
    if isinstance(dataset, str) and dataset:
        return dataset
    return RUN_NAME_HASH.sub("", str(described.get("name", "")))


def may_be_of_dataset(name: str, dataset: str) -> bool:
    """Whether a run's name can be one of ``dataset``'s: run names keep the dataset's letters and digits (other
    characters become hyphens, long names are cut) before ``-<12 hex digits>``; the run's input then decides."""
    named = re.sub(r"[^A-Za-z0-9]", "", RUN_NAME_HASH.sub("", name))
    return bool(named) and re.sub(r"[^A-Za-z0-9]", "", dataset).startswith(named)


def may_be_of_endpoint(name: str, endpoint: str, prefix: str) -> bool:
    """Whether a run's name can be of the dataset an endpoint serves: the endpoint (``<prefix>-<dataset>``, its
    model package group's name) keeps the dataset's letters and digits lowercased, or a start of them before ``--``
    and a hash, so the run's and the endpoint's letters start alike; the run's input then decides."""
    named = re.sub(r"[^a-z0-9]", "", RUN_NAME_HASH.sub("", name).lower())
    served = re.sub(r"[^a-z0-9]", "", endpoint.removeprefix(f"{prefix}-").split("--")[0])
    return bool(named) and bool(served) and (named.startswith(served) or served.startswith(named))


def run_reason(described: dict[str, Any], steps: list[Step], *, now: datetime | None = None) -> str:
    """Why the run is where it is, in one line: what it waits for, how it ended, or why it failed."""
    status = described["status"]
    output = json_object(described.get("output"))
    if status == "RUNNING":
        return _running_reason(steps, now or datetime.now(UTC))
    notification: dict[str, Any] = output["notification"] if isinstance(output.get("notification"), dict) else {}
    if status == "SUCCEEDED":
        deployment = output.get("deployment") or {}
        trial = output.get("trial") or {}
        if deployment and trial:
            who = "the challenger won" if trial.get("winner") == "challenger" else "the serving model stays"
            return f"A/B trial on {deployment.get('endpoint_name')}: {trial.get('decision')}, {who}"
        if deployment:
            return f"deployed to {deployment.get('endpoint_name')} ({deployment.get('action')})"
        gate = output.get("gate") or {}
        if gate and not gate.get("passed", True):
            reasons = " ".join(str(reason) for reason in gate.get("reasons") or []) or gate_sentence(gate)
            return "rejected by the quality gate: " + _one_line(reasons)
        return _one_line(notification.get("cause") or "succeeded")
    cause = readable_cause(str(described.get("cause") or ""))
    error = str(described.get("error") or "")
    if status == "ABORTED":
        return "stopped" + (f": {cause}" if cause else "")
    if status == "TIMED_OUT":
        return "timed out" + (f": {cause}" if cause else "")
    return ": ".join(part for part in (error, cause) if part) or status.lower()


def _running_reason(steps: list[Step], now: datetime) -> str:
    current = next((step for step in reversed(steps) if step.exited is None), None)
    if current is None:
        return "starting"
    if current.name in DECISION_STATES and current.submitted:
        package = str(current.submitted.get("model_package_arn") or "")
        what = "approval" if current.name == APPROVAL_STATE else "the promotion"
        return f"waiting for {what} of {model_version(package)}" if package else f"waiting for {what}"
    jobs = f" (job {', '.join(current.job_names)})" if current.job_names else ""
    return f"in {current.name} for {format_seconds(current.seconds(now))}{jobs}"


# One run's status ---------------------------------------------------------------------------------------------


def status_lines(
    described: dict[str, Any], steps: list[Step], *, decide_flags: str = "", now: datetime | None = None
) -> list[str]:
    """The run's status: a heading, each step with its start time and duration and what it decided, and how the run
    ended or what it waits for (with the commands that decide it)."""
    now = now or datetime.now(UTC)
    summary = summarize(described, steps, now=now)
    lines = [
        f"Run {summary.name} ({summary.dataset}): {summary.status}, started {summary.started:%Y-%m-%d %H:%M:%S} UTC, "
        f"{format_seconds(summary.seconds(now))}{'' if summary.stopped else ' so far'}",
    ]
    trigger = json_object(described.get("input")).get("trigger") or {}
    data = json_object(described.get("input")).get("data") or {}
    if trigger.get("source") == "drift":
        lines.append(f"  retrain: {_one_line(str(trigger.get('reason') or 'drift'))}")
    elif data.get("uri"):
        lines.append(
            f"  upload: {data['uri']}" + (f" (version {data['version_id']})" if data.get("version_id") else "")
        )
    for step in steps:
        lines.append(step_line(step, now, run_ended=summary.stopped is not None))
        lines.extend(f"      {detail}" for detail in step_details(step))
    lines.extend(closing_lines(described, steps, decide_flags=decide_flags, now=now))
    return lines


def step_line(step: Step, now: datetime, *, run_ended: bool = False) -> str:
    """``  12:00:01  Train   12.0 s``; a step still open is running, unless the run has ended there (a Fail
    state is never left)."""
    if step.exited:
        state = format_seconds(step.seconds(now))
    elif run_ended:
        state = "ended the run"
    else:
        state = f"running for {format_seconds(step.seconds(now))}"
    return f"  {step.entered:%H:%M:%S}  {step.name:<24} {state}"


def step_details(step: Step) -> list[str]:
    """What a step did, when it says something a person acts on: its jobs, the gate's decision, the registered
    package, the decision it waited for, the endpoint, and each failure."""
    details = [f"job {name}" for name in step.job_names]
    result = step.result
    if step.name == GATE_STATE and "passed" in result:
        details.extend(gate_lines(result))
    elif result.get("model_package_arn") and result.get("approval_status"):
        details.append(f"registered {result['model_package_arn']} ({result['approval_status']})")
    elif result.get("decision") and result.get("decided_by"):
        reason = f": {result['reason']}" if result.get("reason") else ""
        details.append(f"{result['decision']} by {result['decided_by']} ({result.get('source', '')}){reason}")
    elif result.get("winner") and result.get("decision"):
        details.append(f"trial decision {result['decision']}: {_one_line(str(result.get('reason') or ''))}")
        if result.get("report_uri"):
            details.append(f"report {result['report_uri']}")
    elif isinstance(result.get("smoke"), dict) and isinstance(result.get("load"), dict):
        smoke, load = result["smoke"], result["load"]
        details.append(f"smoke test: {smoke.get('rows')} rows, {smoke.get('mismatches')} answered differently")
        details.append(
            f"load test: {load.get('requests')} requests, p99 {load.get('p99_milliseconds')} ms, "
            f"{load.get('errors')} errors"
        )
    elif result.get("endpoint_name") and result.get("action"):
        details.append(f"endpoint {result['endpoint_name']} {result['action']}, serving {result.get('model_name', '')}")
    details.extend(f"!! {failure.error}: {failure.cause}" for failure in step.failures)
    return details


def model_version(package_arn: str) -> str:
    """``arn:...:model-package/driftline-credit/3`` reads ``driftline-credit version 3``."""
    group, _, version = package_arn.rpartition(":model-package/")[2].rpartition("/")
    return f"{group} version {version}" if group and version.isdigit() else package_arn


def gate_lines(gate: dict[str, Any]) -> list[str]:
    lines = [("passed: " if gate.get("passed") else "failed: ") + gate_sentence(gate)]
    lines.extend(_one_line(str(reason)) for reason in gate.get("reasons") or [])
    return lines


def gate_sentence(gate: dict[str, Any]) -> str:
    """The gate's numbers: the metric, its value, the threshold and the serving model it was compared with."""
    metric = gate.get("metric", "metric")
    direction = "higher" if gate.get("higher_is_better", True) else "lower"
    sentence = (
        f"{metric} {_number(gate.get('value'))}, threshold {_number(gate.get('threshold'))} ({direction} is better)"
    )
    incumbent = gate.get("incumbent_model_package_arn")
    if incumbent:
        sentence += f"; serving model {incumbent} scored {_number(gate.get('incumbent_value'))}"
    else:
        sentence += "; no serving model compared"
    return sentence


def closing_lines(described: dict[str, Any], steps: list[Step], *, decide_flags: str, now: datetime) -> list[str]:
    """How the run ended, or what it waits for; a run waiting for approval gets the commands that decide it."""
    status = described["status"]
    name = described["name"]
    reason = run_reason(described, steps, now=now)
    if status != "RUNNING":
        return [f"Run ended {status}: {reason}"]
    current = next((step for step in reversed(steps) if step.exited is None), None)
    if current is not None and current.name in DECISION_STATES and current.submitted:
        flags = f" {decide_flags}" if decide_flags else ""
        package = current.submitted.get("model_package_arn") or "its model"
        expires = current.submitted.get("expires_at")
        until = f" until {datetime.fromtimestamp(int(expires), UTC):%Y-%m-%d %H:%M} UTC" if expires else ""
        if current.name == PROMOTION_STATE:
            return [
                f"Waiting for the promotion of {package}, the winner of its A/B trial, to all traffic{until}:",
                f"  promote: driftline approve {name}{flags}",
                f'  keep the serving model: driftline reject {name}{flags} --reason "..."',
            ]
        return [
            f"Waiting for approval of {package}{until}:",
            f"  approve: driftline approve {name}{flags}",
            f'  reject:  driftline reject {name}{flags} --reason "..."',
        ]
    return [f"Running: {reason}"]


# Following a run --------------------------------------------------------------------------------------------


def follow_run(
    sfn: Any,
    execution_arn: str,
    *,
    show: Callable[[str], None],
    decide_flags: str = "",
    poll: float = 2.0,
) -> str:
    """Print the run's status, then each step as it happens, until the run ends; return how it ended."""
    events = execution_history(sfn, execution_arn)
    steps = read_steps(events)
    described = sfn.describe_execution(executionArn=execution_arn)
    for line in status_lines(described, steps, decide_flags=decide_flags):
        show(line)
    waiting_shown = _waits_for_approval(steps)
    while described["status"] not in TERMINAL_STATUSES or len(events) != len(execution_history(sfn, execution_arn)):
        time.sleep(poll)
        events = execution_history(sfn, execution_arn)
        current = read_steps(events)
        for change in step_changes(steps, current):
            for line in _change_lines(change):
                show(line)
        steps = current
        described = sfn.describe_execution(executionArn=execution_arn)
        waiting = _waits_for_approval(steps)
        if waiting and not waiting_shown:
            for line in closing_lines(described, steps, decide_flags=decide_flags, now=datetime.now(UTC)):
                show(line)
        waiting_shown = waiting
    for line in closing_lines(described, steps, decide_flags=decide_flags, now=datetime.now(UTC)):
        show(line)
    return str(described["status"])


def _change_lines(change: StepChange) -> list[str]:
    step = change.step
    if change.kind == "entered":
        return [f"  {step.entered:%H:%M:%S}  -> {step.name}"]
    if change.kind == "failed":
        assert change.failure is not None
        return [f"      !! {change.failure.error}: {change.failure.cause}"]
    assert step.exited is not None
    details = [detail for detail in step_details(step) if not detail.startswith("!! ")]
    return [
        f"  {step.exited:%H:%M:%S}  <- {step.name} ({format_seconds(step.seconds(step.exited))})",
        *(f"      {detail}" for detail in details),
    ]


def _waits_for_approval(steps: list[Step]) -> bool:
    current = next((step for step in reversed(steps) if step.exited is None), None)
    return current is not None and current.name in DECISION_STATES and bool(current.submitted)


# Formatting ---------------------------------------------------------------------------------------------------


def runs_table(runs: list[RunSummary], *, now: datetime | None = None, reason_width: int = 100) -> list[str]:
    now = now or datetime.now(UTC)
    rows = [("NAME", "DATASET", "STATUS", "STARTED (UTC)", "DURATION", "REASON")]
    for run in runs:
        reason = run.reason if len(run.reason) <= reason_width else run.reason[: reason_width - 3] + "..."
        started = f"{run.started:%Y-%m-%d %H:%M:%S}"
        rows.append((run.name, run.dataset, run.status, started, format_seconds(run.seconds(now)), reason))
    widths = [max(len(row[column]) for row in rows) for column in range(5)]
    return [
        "  ".join([*(cell.ljust(width) for cell, width in zip(row[:5], widths, strict=True)), row[5]]).rstrip()
        for row in rows
    ]


def format_seconds(seconds: float) -> str:
    """``0.4 s``, ``12.0 s``, ``3 min 05 s``, ``2 h 03 min``, ``1 d 04 h``."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    if whole < 86400:
        return f"{whole // 3600} h {whole % 3600 // 60:02d} min"
    return f"{whole // 86400} d {whole % 86400 // 3600:02d} h"


def _number(value: Any) -> str:
    if isinstance(value, int | float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
