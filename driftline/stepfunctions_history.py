"""A Step Functions execution's history, read whole and read as steps: following a run, showing its status,
finding its logs and deciding one all walk it.

It takes any Step Functions client (local mode's or a real account's), so it imports nothing of local mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})

_FAILURE_EVENTS = {
    "TaskFailed": "",
    "TaskStartFailed": "",
    "TaskSubmitFailed": "",
    "TaskTimedOut": "the task timed out",
    "LambdaFunctionFailed": "",
    "LambdaFunctionStartFailed": "",
    "LambdaFunctionScheduleFailed": "",
    "LambdaFunctionTimedOut": "the function timed out",
}
"""The history events that say a state's work failed, with what to say when the event carries no cause."""


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution, oldest first, over as many GetExecutionHistory pages as it takes."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def execution_arn_for(machine_arn: str, run: str) -> str:
    """A run's execution ARN from its name (an ARN is returned as it is)."""
    if run.startswith("arn:"):
        return run
    prefix = machine_arn.replace(":stateMachine:", ":execution:", 1)
    return f"{prefix}:{run}"


@dataclass(frozen=True)
class StepFailure:
    error: str
    cause: str


@dataclass
class Step:
    """One visit of a state: when the run entered and left it, what it ran and what came back."""

    name: str
    state_type: str
    """``Task``, ``Choice``, ``Succeed``, ``Fail``, ... (the event's type without ``StateEntered``)."""
    entered: datetime
    exited: datetime | None = None
    function_name: str | None = None
    """The Lambda function a ``lambda:invoke`` task called (its name, not its ARN)."""
    submitted: dict[str, Any] = field(default_factory=dict)
    """What a ``.waitForTaskToken`` task's function answered before the run waited (a job's name, say)."""
    result: dict[str, Any] = field(default_factory=dict)
    """The task's result: the function's payload, or the output a callback sent with the task token."""
    failures: list[StepFailure] = field(default_factory=list)
    output: dict[str, Any] | None = None
    """The state's output once it was left."""

    def seconds(self, now: datetime) -> float:
        return ((self.exited or now) - self.entered).total_seconds()

    @property
    def job_names(self) -> list[str]:
        """The SageMaker jobs the step started, as its function and its callback named them."""
        names = [str(answer["job_name"]) for answer in (self.submitted, self.result) if answer.get("job_name")]
        return list(dict.fromkeys(names))


def read_steps(events: list[dict[str, Any]]) -> list[Step]:
    """The run's steps in the order they were entered; task events belong to the step open when they happened."""
    steps: list[Step] = []
    for event in events:
        kind = str(event["type"])
        when = _when(event)
        if kind.endswith("StateEntered"):
            details = event.get("stateEnteredEventDetails") or {}
            steps.append(
                Step(name=str(details.get("name", "")), state_type=kind.removesuffix("StateEntered"), entered=when)
            )
            continue
        if kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails") or {}
            step = _open_step(steps, str(details.get("name", "")))
            if step is not None:
                step.exited = when
                step.output = json_object(details.get("output"))
            continue
        step = _open_step(steps)
        if step is None:
            continue
        details = event.get(_details_key(kind)) or {}
        if kind == "TaskScheduled" and details.get("resourceType") == "lambda":
            step.function_name = function_name(json_object(details.get("parameters")).get("FunctionName", ""))
        elif kind == "TaskSubmitted":
            step.submitted = _task_payload(details.get("output"))
        elif kind in ("TaskSucceeded", "LambdaFunctionSucceeded"):
            step.result = _task_payload(details.get("output"))
        elif kind in _FAILURE_EVENTS:
            error = str(details.get("error") or ("States.Timeout" if "TimedOut" in kind else kind))
            cause = readable_cause(str(details.get("cause") or "")) or _FAILURE_EVENTS[kind]
            step.failures.append(StepFailure(error=error, cause=cause))
    return steps


@dataclass(frozen=True)
class StepChange:
    """Something that happened to a step between two reads of the history."""

    kind: Literal["entered", "failed", "exited"]
    step: Step
    failure: StepFailure | None = None


def step_changes(before: list[Step], after: list[Step]) -> list[StepChange]:
    """What ``after`` adds to ``before`` (both read from the same run's growing history), in the order it happened."""
    changes: list[StepChange] = []
    for index, step in enumerate(after):
        earlier = before[index] if index < len(before) else None
        if earlier is None:
            changes.append(StepChange("entered", step))
        seen_failures = len(earlier.failures) if earlier else 0
        changes.extend(StepChange("failed", step, failure) for failure in step.failures[seen_failures:])
        if step.exited is not None and (earlier is None or earlier.exited is None):
            changes.append(StepChange("exited", step))
    return changes


def function_name(function: str) -> str:
    """A function's name from what a task names it by: a name, a (qualified) function ARN or a partial ARN."""
    if ":function:" in function:
        return function.split(":function:", 1)[1].split(":", 1)[0]
    return function


def readable_cause(cause: str, limit: int = 300) -> str:
    """A failure's cause on one line: a Lambda error's message rather than its JSON, cut at ``limit`` characters."""
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            cause = str(parsed["errorMessage"])
    except ValueError:
        pass
    cause = " ".join(cause.split())
    return cause if len(cause) <= limit else cause[: limit - 3] + "..."


def _open_step(steps: list[Step], name: str | None = None) -> Step | None:
    for step in reversed(steps):
        if step.exited is None and (name is None or step.name == name):
            return step
    return None


def _details_key(kind: str) -> str:
    return f"{kind[:1].lower()}{kind[1:]}EventDetails"


def _when(event: dict[str, Any]) -> datetime:
    return utc(event.get("timestamp"))


def utc(value: Any) -> datetime:
    """A time the API answered, in UTC (a naive one is taken as UTC); a missing one reads as now."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def json_object(text: Any) -> dict[str, Any]:
    """A JSON object from the text the history and DescribeExecution carry; anything else reads as ``{}``."""
    if isinstance(text, dict):
        return text
    try:
        parsed = json.loads(text or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _task_payload(output: Any) -> dict[str, Any]:
    """A ``lambda:invoke`` task's output wraps the function's answer in ``Payload``; a callback's output is bare."""
    parsed = json_object(output)
    payload = parsed.get("Payload") if "StatusCode" in parsed else parsed
    return payload if isinstance(payload, dict) else {}
