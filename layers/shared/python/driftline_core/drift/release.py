"""A run's end releases the drift held while it was in progress (``drift.held``).

Step Functions sends "Step Functions Execution Status Change" to EventBridge for every status change of a standard
workflow's execution, however it ends: a Succeed or Fail state, StopExecution, or a timeout. The stack's rule sends
the ends of its pipeline's runs to StartRetrain, which reads the ended run's dataset (from the event's input, or from
DescribeExecution when Step Functions left the input out) and the drift held for that dataset:

- Nothing held, or a run that ended before the drift was held and was not waited for: nothing to do.
- The run deployed a new model (its Deploy state finished with the endpoint serving it, even if a later step
  failed): the held drift measured the model it replaced, and the new model gets its own baseline. Released; no
  retrain.
- The drift alarm has left ALARM since (or is gone): the drift passed. Released; no retrain.
- Any other end (the quality gate or the approver rejected the model, the approval expired, a step failed, the run
  was stopped or timed out): the held episode is decided now as it would have been with no run in progress
  (``retrain_on_drift``): a retrain, the fresh-labelled-data notice, the cooldown, or held again while another run of
  the dataset is still in progress.

The release is marked with a conditional write over the record read, and the decision is made once per episode (the
retrain's name comes from the episode; the cooldown marker names the episode it handled), so a redelivered or
concurrent end event starts at most one retrain and sends at most one notice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from driftline_core.aws.clients import get_client
from driftline_core.aws.events import AlarmStateChangeEvent, ExecutionStatusChange, ExecutionStatusChangeEvent
from driftline_core.drift.held import mark_released, read_held
from driftline_core.drift.retrain import retrain_on_drift
from driftline_core.payloads import HeldDrift, RetrainResult
from driftline_core.settings import Settings

ENDED_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
DEPLOY_STATE = "Deploy"
"""The pipeline's state that finishes once the endpoint serves the run's model; it writes ``$.deployment``."""
CONCLUDE_TRIAL_STATE = "ConcludeTrial"
"""An A/B trial's last state: the endpoint serves the winner alone; it writes ``$.deployment`` too."""


def release_held_drift(
    event: ExecutionStatusChangeEvent, settings: Settings, now: datetime | None = None
) -> RetrainResult:
    """Decide the drift held for the ended run's dataset, once, unless the run deployed a new model."""
    now = now or datetime.now(UTC)
    run = event.detail
    if run.state_machine_arn != settings.state_machine_arn or run.status not in ENDED_STATUSES:
        return RetrainResult(started=False, reason=f"Run {run.name} is {run.status}, not an ended pipeline run.")
    dataset = _dataset_of(run)
    if dataset is None:
        return RetrainResult(started=False, reason=f"Run {run.name} names no dataset; no drift to release.")
    held, etag = read_held(settings.artifact_bucket, dataset)
    if held is None or held.status != "held" or etag is None:
        return RetrainResult(
            started=False, reason=f"Run {run.name} of {dataset} ended {run.status}; no drift was held.", dataset=dataset
        )
    if run.name not in held.waiting_for and _stopped_before(run, held):
        return RetrainResult(
            started=False,
            reason=f"Run {run.name} of {dataset} ended before the drift of {held.episode} was held.",
            dataset=dataset,
        )

    alarm_event = AlarmStateChangeEvent.model_validate(held.alarm_event)
    alarm = alarm_event.detail.alarm_name
    if deployed_a_new_model(run.execution_arn):
        outcome = (
            f"Run {run.name} deployed a new model of {dataset}, which gets its own drift baseline: the drift held "
            f"since {held.held_at} (alarm {alarm}) was measured on the model it replaced and starts no retrain."
        )
        mark_released(settings.artifact_bucket, dataset, held, etag, by=run.name, at=now, outcome=outcome)
        return RetrainResult(started=False, reason=outcome, dataset=dataset)
    state = alarm_state(alarm)
    if state != "ALARM":
        outcome = (
            f"Drift alarm {alarm} is {state or 'deleted'} now: the drift held since {held.held_at} has passed, "
            f"and run {run.name}'s end starts no retrain."
        )
        mark_released(settings.artifact_bucket, dataset, held, etag, by=run.name, at=now, outcome=outcome)
        return RetrainResult(started=False, reason=outcome, dataset=dataset)

    note = (
        f"The drift was found while run {', '.join(held.waiting_for) or run.name} was in progress and held until "
        f"run {run.name} ended {ended_as(run)} without deploying a new model."
    )
    result = retrain_on_drift(alarm_event, settings, now, held_note=note)
    if not result.held:
        mark_released(settings.artifact_bucket, dataset, held, etag, by=run.name, at=now, outcome=result.reason)
    return result


def deployed_a_new_model(execution_arn: str) -> bool:
    """Whether the endpoint ended up serving the run's model: its Deploy state finished with the model in service
    (its output carries ``deployment``), or, when Deploy started an A/B trial, the trial ended with the challenger
    serving alone. A trial the champion kept deployed nothing."""
    deployed = False
    paginator = get_client("stepfunctions").get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=execution_arn, reverseOrder=True, includeExecutionData=True):
        for history_event in page.get("events", []):
            exited = history_event.get("stateExitedEventDetails") or {}
            output = _json_object(exited.get("output"))
            deployment = output.get("deployment")
            if not isinstance(deployment, dict):
                continue
            if exited.get("name") == CONCLUDE_TRIAL_STATE:
                return bool((output.get("trial") or {}).get("winner") == "challenger")
            if exited.get("name") == DEPLOY_STATE:
                deployed = deployment.get("action") != "trial"
    return deployed


def alarm_state(alarm_name: str) -> str | None:
    """The alarm's state now (OK, ALARM, INSUFFICIENT_DATA), or None when it no longer exists."""
    found = get_client("cloudwatch").describe_alarms(AlarmNames=[alarm_name]).get("MetricAlarms", [])
    return str(found[0]["StateValue"]) if found else None


def ended_as(run: ExecutionStatusChange) -> str:
    """``FAILED (ApprovalRejected)``: the status and, when there is one, the error the run ended with."""
    return f"{run.status} ({run.error})" if run.error else run.status


def _dataset_of(run: ExecutionStatusChange) -> str | None:
    text = run.input
    if text is None or (run.input_details is not None and not run.input_details.included):
        text = get_client("stepfunctions").describe_execution(executionArn=run.execution_arn).get("input")
    dataset = _json_object(text).get("dataset")
    return dataset if isinstance(dataset, str) and dataset else None


def _stopped_before(run: ExecutionStatusChange, held: HeldDrift) -> bool:
    if run.stop_date is None:
        return False
    try:
        held_at = datetime.fromisoformat(held.held_at)
    except ValueError:
        return False
    return datetime.fromtimestamp(run.stop_date / 1000, tz=UTC) < held_at


def _json_object(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
