"""EventBridge: rules deliver matching events to Step Functions and Lambda targets, and schedules fire.

moto matches event patterns but delivers only to logs, SQS, archives and buses. This module wraps
``Rule.send_to_targets`` so that Step Functions targets start an execution and Lambda targets get an
asynchronous invocation, as on AWS; other targets keep moto's behaviour. moto never fires a rule's
``ScheduleExpression``: ``Schedules`` fires ``rate(...)`` rules with a "Scheduled Event", their rate
scaled to a laptop (``cron(...)`` rules are not fired locally).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule, events_backends
from moto.events.utils import _BASE_EVENT_MESSAGE, EventTemplateParser
from moto.s3 import notifications as s3_notifications
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.utilities.arns import parse_arn

from driftline.local import lambda_runtime, seams
from driftline.local.console import Console
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


_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_MINUTES_PER_UNIT = {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}


def rate_minutes(expression: str | None) -> int | None:
    """Minutes between firings of a ``rate(...)`` schedule; None for ``cron(...)`` or no schedule."""
    match = _RATE.match(expression or "")
    if not match:
        return None
    return int(match.group(1)) * _MINUTES_PER_UNIT[match.group(2)]


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


class Schedules:
    """Fires the enabled ``rate(...)`` rules of the default bus, one rate minute every ``seconds_per_minute``.

    A rule first fires one interval after it is first seen, as on AWS.
    """

    def __init__(self, region: str, seconds_per_minute: float, *, tick: float = 0.2) -> None:
        self.region = region
        self.seconds_per_minute = seconds_per_minute
        self.tick = tick
        self._due: dict[str, float] = {}
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="eventbridge-schedules", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def fire_due(self, now: float) -> list[str]:
        """Fire the rules whose time has come; returns their names."""
        bus = events_backends[ACCOUNT_ID][self.region].event_buses.get("default")
        fired = []
        for rule in list(bus.rules.values()) if bus else []:
            minutes = rate_minutes(rule.scheduled_expression)
            if minutes is None or rule.state != "ENABLED":
                self._due.pop(rule.arn, None)
                continue
            interval = minutes * self.seconds_per_minute
            due = self._due.setdefault(rule.arn, now + interval)
            if now < due:
                continue
            self._due[rule.arn] = now + interval
            event = scheduled_event(rule, now)
            # moto's own targets read events as moto builds them: epoch time and ingestion time.
            as_moto_builds_it = {**event, "time": now, "ingestion-time": now}
            _send(rule, event, functools.partial(_moto_send_to_targets[0], original_event=as_moto_builds_it))
            fired.append(rule.name)
        return fired

    def _run(self) -> None:
        while not self._stopped.wait(self.tick):
            try:
                self.fire_due(time.time())
            except Exception as error:  # a schedule must survive one bad firing, as on AWS
                if _active:
                    _active[-1][0].line("eventbridge", f"scheduled rules: {error}")


_schedules: list[Schedules] = []


def start_schedules(region: str, seconds_per_minute: float) -> None:
    """Fire the running local cloud's scheduled rules until ``stop_schedules``."""
    stop_schedules()
    schedules = Schedules(region, seconds_per_minute)
    _schedules.append(schedules)
    schedules.start()


def stop_schedules() -> None:
    while _schedules:
        _schedules.pop().stop()
