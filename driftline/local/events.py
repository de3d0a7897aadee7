"""EventBridge: rules deliver matching events to Step Functions and Lambda targets, and schedules fire.

moto matches event patterns but delivers only to logs, SQS, archives and buses. This module wraps
``Rule.send_to_targets`` so that Step Functions targets start an execution and Lambda targets get an
asynchronous invocation, as on AWS; other targets keep moto's behaviour. moto never fires a rule's
``ScheduleExpression``: ``Schedules`` fires scheduled rules with a "Scheduled Event". A ``rate(...)``
rule's rate is scaled to a laptop (``LocalSettings.schedule_seconds_per_minute``); a ``cron(...)`` rule
names clock times, so it fires when the real UTC clock reaches them, and its event's ``time`` is that
clock time. PutRule refuses a cron expression AWS refuses (``driftline.local.cron``).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import itertools
import json
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from moto.events.exceptions import ValidationException
from moto.events.models import EventsBackend, Rule, events_backends
from moto.events.utils import _BASE_EVENT_MESSAGE, EventTemplateParser
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.utilities.arns import parse_arn

from driftline.local import lambda_runtime, seams
from driftline.local.console import Console
from driftline.local.cron import RULE_REFUSAL, UTC_ZONE, DueTimes, InvalidScheduleExpression, validate
from driftline.local.settings import ACCOUNT_ID

_LOCAL_TARGETS = {"states", "lambda"}


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """Give emulator-made events the shape AWS sends: an ISO timestamp and an id of their own, and S3's
    object fields as S3 names them."""
    event = copy.deepcopy(event)
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(float(event["time"]), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if event.get("id") in (None, "", _BASE_EVENT_MESSAGE["id"]):
        event["id"] = str(uuid.uuid4())
    event.pop("ingestion-time", None)
    if event.get("source") == "aws.s3" and isinstance(event.get("detail"), dict):
        _as_s3_sends(event["detail"])
    return event


_S3_REASONS = {
    "ObjectCreated:Put": "PutObject",
    "ObjectCreated:Post": "POST Object",
    "ObjectCreated:Copy": "CopyObject",
    "ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
}
"""S3's ``reason`` for each way an object is created (Amazon S3 User Guide, EventBridge event structure)."""

_s3_event_name: contextvars.ContextVar[str] = contextvars.ContextVar("s3_event_name", default="")
_s3_sequence = itertools.count(int(time.time() * 1000) << 16)


def _as_s3_sends(detail: dict[str, Any]) -> None:
    """moto names the ETag ``eTag``, gives every event one sequencer and the reason ``ObjectCreated``;
    S3 sends ``etag``, an increasing hexadecimal sequencer per key and the API call that created the object."""
    obj = detail.get("object")
    if isinstance(obj, dict):
        if "eTag" in obj:
            obj["etag"] = obj.pop("eTag")
        if obj.get("sequencer") == _MOTO_SEQUENCER:
            obj["sequencer"] = f"{next(_s3_sequence):018X}"
    name = _s3_event_name.get().removeprefix("s3:")
    if detail.get("reason") == "ObjectCreated" and name in _S3_REASONS:
        detail["reason"] = _S3_REASONS[name]


_MOTO_SEQUENCER = "617f08299329d189"


class _AsReceived(dict[str, Any]):
    """An event as moto's template parser reads it: the parser asks for the ingestion time, which
    AWS events do not carry, to fill ``<aws.events.event.ingestion-time>``; here it is the event's time."""

    def __missing__(self, key: str) -> Any:
        if key == "ingestion-time":
            return self.get("time", "")
        raise KeyError(key)


def target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a target receives: the event, or its Input, InputPath or InputTransformer rendering."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        node: Any = event
        for part in target["InputPath"].lstrip("$").strip(".").split("."):
            if part:
                node = node.get(part) if isinstance(node, dict) else None
        return node
    transformer = target.get("InputTransformer")
    if transformer:
        rendered = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=_AsReceived(event),  # type: ignore[arg-type]
        )
        return rendered
    return event


_active: list[tuple[Console, str]] = []


def install(console: Console, region: str) -> None:
    """Route rule deliveries to Step Functions and Lambda targets of the running local cloud."""
    _active[:] = [(console, region)]
    if seams.claim("events"):
        _patch()


_moto_send_to_targets: list[Callable[..., None]] = []
"""moto's own ``Rule.send_to_targets``, for the targets local mode leaves to moto."""


def _patch() -> None:
    original = Rule.send_to_targets
    _moto_send_to_targets[:] = [original]

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return
        event: Any = normalize_event(dict(original_event))
        # A rule with only a schedule matches no events (moto reads its missing pattern as "match all").
        if not self.event_pattern.get_pattern() or not self.event_pattern.matches_event(event):
            return
        _send(self, event, lambda rule: original(rule, event, transform_input))

    seams.replace(Rule, "send_to_targets", send_to_targets)

    put_rule = EventsBackend.put_rule

    def put_rule_as_aws_validates(self: EventsBackend, name: str, **kwargs: Any) -> Rule:
        expression = kwargs.get("scheduled_expression")
        if expression and expression.startswith("cron("):
            try:
                validate(expression, one_time_allowed=False)
            except InvalidScheduleExpression as error:
                raise ValidationException(f"{RULE_REFUSAL} {error.reason}.") from error
        return put_rule(self, name, **kwargs)

    seams.replace(EventsBackend, "put_rule", put_rule_as_aws_validates)

    send_s3_event = s3_notifications._send_event_bridge_message

    def send_event_bridge_message(account_id: str, bucket: Any, event_name: Any, key: Any) -> None:
        token = _s3_event_name.set(str(getattr(event_name, "value", event_name)))
        try:
            send_s3_event(account_id, bucket, event_name, key)
        finally:
            _s3_event_name.reset(token)

    seams.replace(s3_notifications, "_send_event_bridge_message", send_event_bridge_message)


def _send(rule: Rule, original_event: Any, send_others: Callable[[Rule], None]) -> None:
    console, region = _active[-1]
    event = normalize_event(dict(original_event))
    local = [t for t in rule.targets if parse_arn(t["Arn"]).service in _LOCAL_TARGETS]
    for target in local:
        try:
            _deliver(target, target_input(target, event), region)
        except Exception as error:  # one failing target must not stop the others, as on AWS
            console.line("eventbridge", f"rule {rule.name}: delivery to {target['Arn']} failed: {error}")
    others = [t for t in rule.targets if t not in local]
    if others:
        copied = copy.copy(rule)
        copied.targets = others
        send_others(copied)


def _deliver(target: dict[str, Any], payload: Any, region: str) -> None:
    arn = target["Arn"]
    service = parse_arn(arn).service
    if service == "states":
        backend = stepfunctions_parser_backends[ACCOUNT_ID][region]
        # EventBridge names the executions it starts with a fresh id.
        backend.start_execution(state_machine_arn=arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload))
    elif service == "lambda":
        lambda_runtime.invoke_async(arn, payload, region)


def scheduled_event(rule: Rule, fired_at: float) -> dict[str, Any]:
    """The event EventBridge sends a scheduled rule's targets."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule.account_id,
        "time": datetime.fromtimestamp(fired_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": rule.region_name,
        "resources": [rule.arn],
        "detail": {},
    }


class ScheduleTimer(ABC):
    """Fires what is due on a background thread, every ``tick`` seconds of ``clock``, until stopped.

    ``fire_due`` does the firing for one clock reading; tests call it with the time they choose.
    """

    thread_name = "schedules"
    rates_fire_at_once = False
    """Whether a ``rate(...)`` schedule first fires when first seen (EventBridge Scheduler) or an interval later."""

    def __init__(
        self, region: str, seconds_per_minute: float, *, tick: float = 0.2, clock: Callable[[], float] = time.time
    ) -> None:
        self.region = region
        self.seconds_per_minute = seconds_per_minute
        self.tick = tick
        self.clock = clock
        self.due = DueTimes(seconds_per_minute, rate_at_once=self.rates_fire_at_once)
        self._told: set[str] = set()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @abstractmethod
    def fire_due(self, now: float) -> list[str]:
        """Fire what is due at ``now``; returns the names fired."""

    @abstractmethod
    def say(self, message: str) -> None:
        """Tell the person running local mode (its console)."""

    def due_at(
        self, key: str, name: str, expression: str, now: float, zone: ZoneInfo = UTC_ZONE, start: float | None = None
    ) -> float | None:
        """When ``key`` fell due if it is due at ``now``; an expression AWS would refuse is named once and skipped."""
        try:
            return self.due.take(key, expression, now, zone, start)
        except InvalidScheduleExpression as error:
            self.say_once(key, f"{name}: {error}; it is not fired")
            return None

    def due_times(self) -> dict[str, Any]:
        """When each schedule is next due: saved with local mode's state, so a restart goes on from there."""
        return dict(self.due._due)

    def resume_due_times(self, saved: dict[str, Any]) -> None:
        """Go on from the due times a previous local mode saved: a schedule fires when it was next due (once, now,
        when that passed while local mode was stopped), and an ``at(...)`` schedule that fired does not fire again."""
        self.due._due.update(saved)

    def say_once(self, key: str, message: str) -> None:
        if key not in self._told:
            self._told.add(key)
            self.say(message)

    def _run(self) -> None:
        while not self._stopped.wait(self.tick):
            try:
                self.fire_due(self.clock())
            except Exception as error:  # a schedule must survive one bad firing, as on AWS
                self.say(f"{self.thread_name}: {error}")


class Schedules(ScheduleTimer):
    """Fires the enabled scheduled rules of the default bus.

    A ``rate(...)`` rule first fires one interval after it is first seen, as on AWS, one rate minute every
    ``seconds_per_minute``; a ``cron(...)`` rule at each clock time it names (UTC).
    """

    thread_name = "eventbridge-schedules"

    def fire_due(self, now: float) -> list[str]:
        bus = events_backends[ACCOUNT_ID][self.region].event_buses.get("default")
        fired = []
        for rule in list(bus.rules.values()) if bus else []:
            if not rule.scheduled_expression or rule.state != "ENABLED":
                self.due.forget(rule.arn)
                continue
            due = self.due_at(rule.arn, f"rule {rule.name}", rule.scheduled_expression, now)
            if due is None:
                continue
            event = scheduled_event(rule, due)
            # moto's own targets read events as moto builds them: epoch time and ingestion time.
            as_moto_builds_it = {**event, "time": due, "ingestion-time": now}
            _send(rule, event, functools.partial(_moto_send_to_targets[0], original_event=as_moto_builds_it))
            fired.append(rule.name)
        return fired

    def say(self, message: str) -> None:
        if _active:
            _active[-1][0].line("eventbridge", message)


_schedules: list[Schedules] = []


def start_schedules(region: str, seconds_per_minute: float, due_times: dict[str, Any] | None = None) -> None:
    """Fire the running local cloud's scheduled rules until ``stop_schedules`` (from saved ``due_times``, if any)."""
    stop_schedules()
    schedules = Schedules(region, seconds_per_minute)
    schedules.resume_due_times(due_times or {})
    _schedules.append(schedules)
    schedules.start()


def schedule_due_times() -> dict[str, Any]:
    """The scheduled rules' next due times, to save."""
    return _schedules[-1].due_times() if _schedules else {}


def stop_schedules() -> None:
    while _schedules:
        _schedules.pop().stop()
