"""Following a pipeline run the way a user watches it: states as they start and finish."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from driftline.stepfunctions_history import execution_history

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}


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
    seen = 0
    entered: dict[str, float] = {}
    record = RunRecord(execution_arn=execution_arn, status="RUNNING")
    while True:
        events = execution_history(sfn, execution_arn)
        for event in events[seen:]:
            _describe(event, entered, record, show)
        seen = len(events)
        for state in [name for name in pending_hooks if name in entered]:
            if not pending_hooks.pop(state)():
                record.wall_seconds = time.time() - started
                return record
        description = sfn.describe_execution(executionArn=execution_arn)
        if description["status"] in TERMINAL and seen == len(execution_history(sfn, execution_arn)):
            record.status = description["status"]
            record.output = json.loads(description.get("output") or "{}")
            record.error = description.get("error")
            record.cause = description.get("cause")
            record.transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
            record.wall_seconds = time.time() - started
            return record
        if time.time() - started > timeout:
            raise TimeoutError(f"run {execution_arn} still {description['status']} after {timeout:.0f} s")
        time.sleep(poll)


def _describe(event: dict[str, Any], entered: dict[str, float], record: RunRecord, show: Callable[[str], None]) -> None:
    kind = event["type"]
    stamp = event["timestamp"].timestamp() if hasattr(event["timestamp"], "timestamp") else time.time()
    if kind.endswith("StateEntered"):
        name = event["stateEnteredEventDetails"]["name"]
        entered[name] = stamp
        show(f"-> {name}")
    elif kind.endswith("StateExited"):
        name = event["stateExitedEventDetails"]["name"]
        seconds = stamp - entered.get(name, stamp)
        record.state_seconds[name] = record.state_seconds.get(name, 0.0) + seconds
        show(f"<- {name} ({seconds:.1f} s)")
    elif kind in ("TaskFailed", "LambdaFunctionFailed"):
        details = event.get("taskFailedEventDetails") or event.get("lambdaFunctionFailedEventDetails") or {}
        show(f"!! {details.get('error', 'error')}: {_short(details.get('cause', ''))}")
    elif kind == "TaskTimedOut":
        show("!! the task timed out")


def _short(cause: str, limit: int = 300) -> str:
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict) and "errorMessage" in parsed:
            cause = str(parsed["errorMessage"])
    except ValueError:
        pass
    cause = " ".join(cause.split())
    return cause if len(cause) <= limit else cause[: limit - 3] + "..."
