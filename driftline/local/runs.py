"""Following a pipeline run the way a user watches it: states as they start and finish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftline.stepfunctions_history import (
    TERMINAL_STATUSES,
    Step,
    StepChange,
    execution_history,
    read_steps,
    step_changes,
)

TERMINAL = TERMINAL_STATUSES


@dataclass
class RunRecord:
    execution_arn: str
    status: str
    output: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    state_seconds: dict[str, float] = field(default_factory=dict)
    transitions: int = 0
    wall_seconds: float = 0.0


def wait_for_execution(sfn: Any, state_machine_arn: str, *, known: set[str], timeout: float = 60) -> str:
    """The ARN of the first execution not in ``known`` (the one an upload just started)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for execution in sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]:
            if execution["executionArn"] not in known:
                return str(execution["executionArn"])
        time.sleep(0.2)
    raise TimeoutError(f"no pipeline run started within {timeout:.0f} s")


def follow(
    sfn: Any,
    execution_arn: str,
    *,
    show: Callable[[str], None],
    timeout: float = 900,
    poll: float = 0.25,
    on_enter: dict[str, Callable[[], bool]] | None = None,
) -> RunRecord:
    """Print each state as it is entered and left, until the run ends; return what happened.

    ``on_enter`` maps a state name to what to do once the run enters it (a person approving, say): it
    returns False to stop following there, and the record then says the run is still ``RUNNING``.
    """
    started = time.time()
    pending_hooks = dict(on_enter or {})
    steps: list[Step] = []
    record = RunRecord(execution_arn=execution_arn, status="RUNNING")
    while True:
        events = execution_history(sfn, execution_arn)
        current = read_steps(events)
        for change in step_changes(steps, current):
            show(change_line(change))
        steps = current
        _record_times(record, steps)
        entered = {step.name for step in steps}
        for state in [name for name in pending_hooks if name in entered]:
            if not pending_hooks.pop(state)():
                record.wall_seconds = time.time() - started
                return record
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] in TERMINAL and len(events) == len(execution_history(sfn, execution_arn)):
            record.status = description["status"]
            record.output = json.loads(description.get("output") or "{}")
            record.error = description.get("error")
            record.cause = description.get("cause")
            record.wall_seconds = time.time() - started
            return record
        if time.time() - started > timeout:
            raise TimeoutError(f"run {execution_arn} still {description['status']} after {timeout:.0f} s")
        time.sleep(poll)


def change_line(change: StepChange) -> str:
    """``-> State`` when entered, ``<- State (1.5 s)`` when left, ``!! Error: cause`` when its work failed."""
    step = change.step
    if change.kind == "entered":
        return f"-> {step.name}"
    if change.kind == "exited":
        return f"<- {step.name} ({step.seconds(datetime.now(UTC)):.1f} s)"
    assert change.failure is not None
    return f"!! {change.failure.error}: {change.failure.cause}"


def _record_times(record: RunRecord, steps: list[Step]) -> None:
    seconds: dict[str, float] = {}
    for step in steps:
        if step.exited is not None:
            seconds[step.name] = seconds.get(step.name, 0.0) + step.seconds(step.exited)
    record.state_seconds = seconds
    record.transitions = len(steps)
