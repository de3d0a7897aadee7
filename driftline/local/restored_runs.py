"""Step Functions runs across a restart of local mode: what a saved run keeps, and how a run waits again.

moto's interpreter runs each execution on threads, with locks and events in its environment, so a run cannot be
saved as it lives. A saved run (``SavedRun``) is its record instead: name, ARN, input, status, times, output or
error, its whole event history, the task tokens it handed out, and, for a run waiting at a task token where a
person decides (``WAITS_FOR_A_PERSON``: an approval or a promotion), where and how it waits. Restored, every run answers
DescribeExecution, GetExecutionHistory and ListExecutions as before, and:

- a run that waited for a person waits again under the same ARN, at the same state, with the state's input and
  the same task token, its history going on from the last saved event. The state is re-entered without calling
  its task again: the approval record still holds that token and the emailed links sign the approval id, so a
  link sent before the restart resumes the run, and no second email goes out. Its ``TimeoutSeconds`` counts
  from when the task was first scheduled, as the approval links' expiry does;
- any other run that was still running ends ``ABORTED``, its cause saying local mode stopped during it (its jobs
  and endpoint servers stopped with local mode, so nothing would ever resume it), and its end is sent to
  EventBridge as Step Functions sends a stopped run's end.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.events.models import events_backends
from moto.stepfunctions.parser.api import (
    ExecutionAbortedEventDetails,
    ExecutionStatus,
    HistoryEventType,
)
from moto.stepfunctions.parser.asl.component.common.flow.start_at import StartAt
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.eval.evaluation_details import EvaluationDetails
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails
from moto.stepfunctions.parser.asl.eval.states import TaskData
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

from driftline.local.stepfunctions import EVENT_DETAIL_TYPE, status_change_event_detail

WAITS_FOR_A_PERSON = frozenset({"RequestApproval", "RequestPromotion"})
"""Task-token waits that outlive local mode: a person's decision (a model's approval, a trial winner's promotion).
Jobs and endpoints stop with local mode, so a run waiting on one of those could never be resumed and ends ABORTED
instead."""

STOPPED_ERROR = "LocalModeStopped"

_PROLOGUE = ("StateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted")
"""The events a waiting task state has written, in order, when it waits for its token."""


@dataclass
class WaitingTask:
    """Where a run waits for a task token, and what re-entering that state needs."""

    state: str
    token: str
    state_input: Any
    submitted_output: Any
    prologue: list[tuple[str, int]]
    """(type, id) of the state's events up to its wait: re-entering writes them again, so they are not repeated."""
    scheduled_at: float
    timeout_seconds: int | None

    def remaining_seconds(self, now: float) -> int | None:
        """The state's timeout left at ``now``: it counts from when the task was first scheduled."""
        if self.timeout_seconds is None:
            return None
        return max(1, int(self.timeout_seconds - (now - self.scheduled_at)))


@dataclass
class SavedRun:
    """One execution as it was saved: its record and history, and where it waited if it waits for a person."""

    state_machine: Any
    name: str
    arn: str
    account_id: str
    region_name: str
    sm_type: Any
    role_arn: str
    start_date: datetime
    input_json: str
    trace_header: Any
    status: str | None
    stop_date: datetime | None
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    waiting: WaitingTask | None = None


def saved_run(execution: Execution, resumable: frozenset[str] = WAITS_FOR_A_PERSON) -> SavedRun:
    """The record of a live execution, taken while its interpreter may still be running."""
    worker = execution.exec_worker
    env = getattr(worker, "env", None)
    events = env.event_manager.get_event_history() if env is not None else []
    tokens = list(env.callback_pool_manager._pool) if env is not None else []
    status = execution.exec_status.value if execution.exec_status is not None else None
    waiting = None
    if status == ExecutionStatus.RUNNING.value and env is not None:
        task = env.states.context_object.context_object_data.get("Task") or {}
        waiting = _waiting_task(execution, events, str(task.get("Token") or ""), resumable)
    return SavedRun(
        state_machine=execution.state_machine,
        name=execution.name,
        arn=execution.exec_arn,
        account_id=execution.account_id,
        region_name=execution.region_name,
        sm_type=execution.sm_type,
        role_arn=execution.role_arn,
        start_date=execution.start_date,
        input_json=json.dumps(execution.input_data),
        trace_header=execution.trace_header,
        status=status,
        stop_date=execution.stop_date,
        output=execution.output,
        error=execution.error,
        cause=execution.cause,
        events=events,
        tokens=tokens,
        waiting=waiting,
    )


def _waiting_task(
    execution: Execution, events: list[dict[str, Any]], token: str, resumable: frozenset[str]
) -> WaitingTask | None:
    """The top-level task state the run waits in for its token, when it is one that waits for a person."""
    if not token or len(events) < len(_PROLOGUE):
        return None
    prologue = events[-len(_PROLOGUE) :]
    if not all(_type(event["type"]).endswith(kind) for event, kind in zip(prologue, _PROLOGUE, strict=True)):
        return None
    entered, scheduled, _, submitted = prologue
    name = str(entered["stateEnteredEventDetails"]["name"])
    top_level = json.loads(execution.state_machine.definition).get("States", {})
    resource = str(submitted["taskSubmittedEventDetails"].get("resource", ""))
    if name not in resumable or name not in top_level or not resource.endswith("waitForTaskToken"):
        return None
    details = scheduled["taskScheduledEventDetails"]
    timeout = details.get("timeoutInSeconds")
    return WaitingTask(
        state=name,
        token=token,
        state_input=json.loads(entered["stateEnteredEventDetails"].get("input") or "{}"),
        submitted_output=json.loads(submitted["taskSubmittedEventDetails"].get("output") or "null"),
        prologue=[(_type(event["type"]), int(event["id"])) for event in prologue],
        scheduled_at=_epoch(scheduled["timestamp"]),
        timeout_seconds=int(timeout) if timeout is not None else None,
    )


def _type(event_type: Any) -> str:
    """A history event's type as its name (``HistoryEventType`` members print as ``HistoryEventType.X``)."""
    return str(getattr(event_type, "value", event_type))


def _epoch(timestamp: Any) -> float:
    if isinstance(timestamp, datetime):
        return timestamp.timestamp()
    return datetime.fromisoformat(str(timestamp).replace("Z", "+00:00")).timestamp()


class RestoredWorker(ExecutionWorker):
    """A restored run's interpreter: its history as saved and, for a waiting run, the re-entry of its wait."""

    waiting: WaitingTask | None = None

    def _execution_logic(self) -> None:
        plan, env = self.waiting, self.env
        assert plan is not None and env is not None
        program: Any = self._get_evaluation_entrypoint()
        state: Any = program.states.states[plan.state]
        program.start_at = StartAt(plan.state)
        remaining = plan.remaining_seconds(datetime.now(UTC).timestamp())
        if remaining is not None:
            state.timeout = TimeoutSeconds(timeout_seconds=remaining)
        env.states.reset(input_value=plan.state_input)
        _replay_prologue(env, state, plan)
        program.eval(env)
        self._execution_communication.terminated()


def _replay_prologue(env: Any, state: Any, plan: WaitingTask) -> None:
    """Re-enter the waiting state as it was left: the same token, no second call of its task, and none of the
    events it wrote before its wait written twice. Each replacement is used once: a Retry runs the task anew."""
    pending = list(plan.prologue)
    manager, context_object = env.event_manager, env.states.context_object
    add_event = manager.add_event

    def replayed_event(
        context: Any,
        event_type: Any,
        event_details: Any = None,
        timestamp: Any = None,
        update_source_event_id: bool = True,
    ) -> int:
        if pending and _type(event_type) == pending[0][0]:
            _, event_id = pending.pop(0)
            context.last_published_event_id = event_id
            if update_source_event_id:
                context.source_event_id = event_id
            if not pending:
                del manager.add_event
            return event_id
        pending.clear()
        del manager.add_event
        return int(add_event(context, event_type, event_details, timestamp, update_source_event_id))

    def saved_token() -> str:
        del context_object.update_task_token
        context_object.context_object_data["Task"] = TaskData(Token=plan.token)
        return plan.token

    def submitted_again(*args: Any, **kwargs: Any) -> None:
        del state._eval_service_task
        running = kwargs["env"] if "env" in kwargs else args[0]
        running.stack.append(copy.deepcopy(plan.submitted_output))

    manager.add_event = replayed_event
    context_object.update_task_token = saved_token
    state._eval_service_task = submitted_again


def restored_execution(run: SavedRun) -> Execution:
    """The execution a saved run describes, with its history; a waiting one is resumed by ``resume``."""
    execution = Execution(
        name=run.name,
        sm_type=run.sm_type,
        role_arn=run.role_arn,
        exec_arn=run.arn,
        account_id=run.account_id,
        region_name=run.region_name,
        state_machine=run.state_machine,
        start_date=run.start_date,
        cloud_watch_logging_session=None,
        activity_store={},
        input_data=run.input_json,
        trace_header=run.trace_header,
    )
    execution.exec_status = ExecutionStatus(run.status) if run.status else None
    execution.stop_date = run.stop_date
    execution.output = run.output
    execution.error = run.error
    execution.cause = run.cause
    worker = RestoredWorker(
        evaluation_details=EvaluationDetails(
            aws_execution_details=execution._get_start_aws_execution_details(),
            execution_details=execution.get_start_execution_details(),
            state_machine_details=execution.get_start_state_machine_details(),
        ),
        exec_comm=BaseExecutionWorkerCommunication(execution),
        cloud_watch_logging_session=None,
        activity_store={},
    )
    worker.waiting = run.waiting
    env = worker._get_evaluation_environment()
    env.event_manager._history_event_list.extend(run.events)  # type: ignore[arg-type]
    last_id = max((int(event["id"]) for event in run.events), default=0)
    env.event_manager._event_id_gen._next_id = last_id + 1
    env.event_history_context.source_event_id = env.event_history_context.last_published_event_id = last_id
    waiting_token = run.waiting.token if run.waiting else None
    for token in run.tokens:
        if token != waiting_token:  # the waiting state adds its own when it waits again
            env.callback_pool_manager.add(token)
    worker.env = env
    execution.exec_worker = worker
    return execution


def waits_for_a_person(execution: Execution) -> bool:
    worker = execution.exec_worker
    return (
        execution.exec_status == ExecutionStatus.RUNNING
        and isinstance(worker, RestoredWorker)
        and worker.waiting is not None
    )


def resume(execution: Execution) -> None:
    """Let a restored run that waited for a person wait again."""
    assert execution.exec_worker is not None
    execution.exec_worker.start()


def current_state(execution: Execution) -> str | None:
    """The state the run entered last and has not left, from its history."""
    env = getattr(execution.exec_worker, "env", None)
    if env is None:
        return None
    open_states: list[str] = []
    for event in env.event_manager._history_event_list:
        if "stateEnteredEventDetails" in event:
            open_states.append(str(event["stateEnteredEventDetails"]["name"]))
        elif "stateExitedEventDetails" in event and open_states:
            open_states.pop()
    return open_states[-1] if open_states else None


def abort_stopped_run(execution: Execution, stopped_at: datetime) -> None:
    """End a run that was running when local mode stopped: ABORTED, the cause saying why, in its history too."""
    state = current_state(execution)
    where = f" while it was in state {state}" if state else ""
    cause = (
        f"Local mode stopped{where}; its jobs and endpoint servers stopped with it, so this run cannot go on. "
        "Start a new run (upload the data again)."
    )
    execution.exec_status = ExecutionStatus.ABORTED
    execution.stop_date = stopped_at
    execution.error, execution.cause = STOPPED_ERROR, cause
    env = getattr(execution.exec_worker, "env", None)
    if env is not None:
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionAborted,
            event_details=EventDetails(  # type: ignore[typeddict-item]
                executionAbortedEventDetails=ExecutionAbortedEventDetails(error=STOPPED_ERROR, cause=cause)
            ),
            timestamp=stopped_at,
        )


def send_end(execution: Execution) -> None:
    """Step Functions' status-change event for a run that ended, to its account's default event bus."""
    detail = status_change_event_detail(execution, execution.exec_status or ExecutionStatus.ABORTED)
    events_backends[execution.account_id][execution.region_name].put_events(
        [
            {
                "Source": "aws.states",
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "Resources": [execution.exec_arn],
            }
        ]
    )
