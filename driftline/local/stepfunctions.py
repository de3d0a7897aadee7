"""Step Functions: moto's ASL interpreter runs the state machine; these gaps are closed here.

- ``SendTaskFailure`` drops its ``cause`` in moto's request handler, which would lose the readable reason a
  failed SageMaker job reports.
- State machines created by CloudFormation land in the backend that does not execute them.
- ``StopExecution`` leaves a run that waits on a task token RUNNING until the wait times out, and a task
  token of the stopped run still resumes it. On AWS the run is ABORTED at once and its open task is closed:
  SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat with its token answer ``TaskTimedOut``.
- moto sends no "Step Functions Execution Status Change" event. Step Functions sends one to the default event
  bus for every status change of a standard workflow's execution: when it starts, and once when it ends,
  however it ends (succeeded, failed, timed out or stopped), with the shape the Step Functions developer guide
  documents ("EventBridge for Step Functions execution status changes").

All are fixed so local runs behave as on AWS. And the terminal says how each run ended, in one line with the
reason (``outcome_line``), where moto's interpreter would log its internal objects.
"""

from __future__ import annotations

import datetime
import json
import re
import threading
import time
import weakref
from typing import Any

from moto.core.config import default_user_config
from moto.core.exceptions import AWSError
from moto.events.models import events_backends
from moto.stepfunctions.models import StateMachine, StepFunctionBackend
from moto.stepfunctions.parser import api as parser_api
from moto.stepfunctions.parser.api import ExecutionStatus, StateMachineType
from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
from moto.stepfunctions.parser.models import StepFunctionsParserBackend, stepfunctions_parser_backends
from moto.stepfunctions.responses import StepFunctionResponse

from driftline.local import seams
from driftline.local.console import Console
from driftline.local.times import epoch_millis

EVENT_DETAIL_TYPE = "Step Functions Execution Status Change"


def enable_execution() -> None:
    """Make moto's interpreter execute the ASL instead of returning canned results."""
    seams.replace_item(default_user_config, "stepfunctions", {"execute_state_machine": True})  # type: ignore[arg-type]


def install() -> None:
    enable_execution()
    if not seams.claim("stepfunctions"):
        return

    def send_task_failure(self: StepFunctionResponse) -> Any:
        from moto.core.responses import EmptyResult

        self.stepfunction_backend.send_task_failure(  # type: ignore[call-arg]
            self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
        )
        return EmptyResult()

    seams.replace(StepFunctionResponse, "send_task_failure", send_task_failure)

    def stop_execution(self: StepFunctionsParserBackend, execution_arn: str) -> Any:
        _wait_until_interpreting(self.describe_execution(execution_arn))
        execution: Any = StepFunctionBackend.stop_execution(self, execution_arn)
        if getattr(execution, "exec_status", None) == ExecutionStatus.RUNNING:
            execution.exec_status = ExecutionStatus.ABORTED
            execution.stop_date = datetime.datetime.now(tz=datetime.UTC)
            _emit_end(execution)
        return execution

    seams.add(StepFunctionsParserBackend, "stop_execution", stop_execution)

    start = Execution.start

    def start_and_emit(self: Execution) -> None:
        # Sent before the run starts, so that its end, however soon it comes, is never sent first.
        _emit(self, ExecutionStatus.RUNNING)
        start(self)

    seams.replace(Execution, "start", start_and_emit)

    terminated = BaseExecutionWorkerCommunication.terminated

    def terminated_and_emit(self: BaseExecutionWorkerCommunication) -> None:
        terminated(self)
        _emit_end(self.execution)

    seams.replace(BaseExecutionWorkerCommunication, "terminated", terminated_and_emit)

    for action in ("send_task_success", "send_task_failure", "send_task_heartbeat"):
        seams.replace(
            StepFunctionsParserBackend, action, _refusing_closed_tasks(getattr(StepFunctionsParserBackend, action))
        )

    def create_from_cloudformation_json(
        cls: type,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        definition = properties.get("DefinitionString", "")
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        backend = stepfunctions_parser_backends[account_id][region_name]
        return backend.create_state_machine(
            name=properties.get("StateMachineName", resource_name),
            definition=definition,
            roleArn=properties.get("RoleArn", ""),
            tags=[{"key": t["Key"], "value": t["Value"]} for t in properties.get("Tags", [])],
        )

    seams.replace(StateMachine, "create_from_cloudformation_json", classmethod(create_from_cloudformation_json))


STARTING_SECONDS = 60.0
"""How long StopExecution waits for a run that has just started to begin interpreting (parsing its definition)."""


def _wait_until_interpreting(execution: Any) -> None:
    """A run's interpreter parses its definition on its own thread before it can be stopped (a large definition
    takes a second or more on a busy machine); moto's StopExecution fails in that window, where AWS stops the
    run. Waiting for the interpreter gives AWS's answer."""
    worker = getattr(execution, "exec_worker", None)
    deadline = time.monotonic() + STARTING_SECONDS
    while (
        worker is not None
        and getattr(worker, "env", None) is None
        and execution.exec_status == ExecutionStatus.RUNNING
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)


class TaskTimedOut(AWSError):
    TYPE = "TaskTimedOut"
    STATUS = 400


class TaskDoesNotExist(AWSError):
    TYPE = "TaskDoesNotExist"
    STATUS = 400


def _refusing_closed_tasks(send: Any) -> Any:
    """A task-token call that answers TaskTimedOut for a token whose execution has ended, as AWS does (and
    answers moto's own TaskTimedOut and TaskDoesNotExist with their error codes, which moto leaves empty)."""

    def checked(self: StepFunctionsParserBackend, task_token: str, *args: Any, **kwargs: Any) -> Any:
        for execution in self._get_executions():
            worker = getattr(execution, "exec_worker", None)
            if worker is None or execution.exec_status == ExecutionStatus.RUNNING:
                continue
            if worker.env.callback_pool_manager.get(task_token) is not None:
                raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'")
        try:
            return send(self, task_token, *args, **kwargs)
        except parser_api.TaskTimedOut as timed_out:
            raise TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'") from timed_out
        except parser_api.TaskDoesNotExist as missing:
            raise TaskDoesNotExist("Task does not exist anymore") from missing

    return checked


def status_change_event_detail(execution: Execution, status: ExecutionStatus) -> dict[str, Any]:
    """The event's ``detail``: the execution as DescribeExecution describes it, its times in epoch milliseconds."""
    succeeded = status == ExecutionStatus.SUCCEEDED
    redrivable = status in (ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED)
    stop_date = execution.stop_date if status != ExecutionStatus.RUNNING else None
    return {
        "executionArn": execution.exec_arn,
        "stateMachineArn": execution.state_machine_arn,
        "name": execution.name,
        "status": status.value,
        "startDate": epoch_millis(execution.start_date),
        "stopDate": epoch_millis(stop_date) if isinstance(stop_date, datetime.datetime) else None,
        "input": json.dumps(execution.input_data, separators=(",", ":")),
        "inputDetails": {"included": True},
        "output": json.dumps(execution.output, separators=(",", ":")) if succeeded else None,
        "outputDetails": {"included": True} if succeeded else None,
        "stateMachineVersionArn": None,
        "stateMachineAliasArn": None,
        "redriveCount": 0,
        "redriveDate": None,
        "redriveStatus": "REDRIVABLE" if redrivable else "NOT_REDRIVABLE",
        "redriveStatusReason": None if redrivable else f"Execution is {status.value} and cannot be redriven",
        "error": execution.error,
        "cause": execution.cause,
    }


_ended_lock = threading.Lock()
_ended: weakref.WeakSet[Execution] = weakref.WeakSet()


def _emit_end(execution: Execution) -> None:
    """Send an execution's end once: a stopped run ends when StopExecution answers, and again (not sent) when its
    interpreter thread notices."""
    with _ended_lock:
        if execution in _ended or execution.exec_status == ExecutionStatus.RUNNING:
            return
        _ended.add(execution)
    _emit(execution, execution.exec_status)
    console = _outcomes.get("console")
    if console is not None and execution.exec_status is not None:
        console.line("run", outcome_line(execution.name, execution.exec_status.value, *_outcome_facts(execution)))


_outcomes: dict[str, Console] = {}


def report_outcomes(console: Console) -> None:
    """Print each run's end to ``console`` (until local mode stops)."""
    seams.replace_item(_outcomes, "console", console)


def _outcome_facts(execution: Execution) -> tuple[str | None, str | None, str | None, dict[str, Any]]:
    """The state a failed run failed at, its error and cause, and its output."""
    events: list[Any] = []
    worker = getattr(execution, "exec_worker", None)
    if worker is not None and worker.env is not None:
        events = list(worker.env.event_manager.get_event_history())
    output: dict[str, Any] = execution.output if isinstance(execution.output, dict) else {}
    return failed_state(events), execution.error, execution.cause, output


def failed_state(events: list[Any]) -> str | None:
    """The state whose task or function last failed or timed out, from an execution's history."""
    current: str | None = None
    failed: str | None = None
    for event in events:
        kind = str(getattr(event.get("type"), "value", event.get("type")))
        if kind.endswith("StateEntered"):
            current = str((event.get("stateEnteredEventDetails") or {}).get("name") or "") or None
        elif kind.endswith(("Failed", "TimedOut")) and not kind.startswith("Execution"):
            failed = current
    return failed


OUTCOME_TEXT_LIMIT = 400
"""A run's reason is cut here in the terminal; its notification email and DescribeExecution keep it whole."""
_WHITESPACE = re.compile(r"\s+")


def outcome_line(
    name: str, status: str, failed_at: str | None, error: str | None, cause: str | None, output: dict[str, Any]
) -> str:
    """``<run>: <STATUS>`` and why, in one line: where and why a run failed, or what a finished run left serving."""
    if status == "SUCCEEDED":
        return f"{name}: SUCCEEDED{_success_summary(output)}"
    if status == "ABORTED":
        return f"{name}: ABORTED (stopped)"
    where = f" at {failed_at}" if failed_at else ""
    why = _WHITESPACE.sub(" ", cause or "").strip()
    if len(why) > OUTCOME_TEXT_LIMIT:
        why = why[: OUTCOME_TEXT_LIMIT - 3].rstrip() + "..."
    named = f" ({error})" if error else ""
    return f"{name}: {status}{where}{named}" + (f": {why}" if why else "")


def _success_summary(output: dict[str, Any]) -> str:
    deployment = output.get("deployment") if isinstance(output.get("deployment"), dict) else None
    package = str((output.get("registration") or {}).get("model_package_arn") or "")
    version = package.rsplit("/", 1)[-1] if package else ""
    if deployment:
        model = f"model version {version}" if version.isdigit() else "the model"
        return f": {model} serving on endpoint {deployment.get('endpoint_name')}"
    gate = output.get("gate") if isinstance(output.get("gate"), dict) else None
    if gate is not None and gate.get("passed") is False:
        reasons = " ".join(str(reason) for reason in gate.get("reasons") or [])
        return f": nothing registered, the model did not pass the quality gate: {reasons}".rstrip(": ")
    return ""


def _emit(execution: Execution, status: ExecutionStatus | None) -> None:
    """Step Functions sends a standard workflow's status changes to its account's and Region's default event bus;
    express workflows send none."""
    if status is None or execution.sm_type != StateMachineType.STANDARD:
        return
    detail = status_change_event_detail(execution, status)
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
