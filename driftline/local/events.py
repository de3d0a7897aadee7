"""EventBridge: rules deliver matching events to Step Functions and Lambda targets.

moto matches event patterns but delivers only to logs, SQS, archives and buses. This module wraps
``Rule.send_to_targets`` so that Step Functions targets start an execution and Lambda targets get an
asynchronous invocation, as on AWS; other targets keep moto's behaviour.
"""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from moto.events.models import Rule
from moto.events.utils import _BASE_EVENT_MESSAGE, EventTemplateParser
from moto.stepfunctions.parser.models import stepfunctions_parser_backends
from moto.utilities.arns import parse_arn

from driftline.local import lambda_runtime, seams
from driftline.local.console import Console
from driftline.local.settings import ACCOUNT_ID

_LOCAL_TARGETS = {"states", "lambda"}


def normalize_event(event: dict[str, Any]) -> dict[str, Any]:
    """Give emulator-made events the shape AWS sends: an ISO timestamp and an id of their own."""
    event = copy.deepcopy(event)
    if isinstance(event.get("time"), int | float):
        event["time"] = datetime.fromtimestamp(float(event["time"]), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if event.get("id") in (None, "", _BASE_EVENT_MESSAGE["id"]):
        event["id"] = str(uuid.uuid4())
    event.pop("ingestion-time", None)
    return event


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


def _patch() -> None:
    original = Rule.send_to_targets

    def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
        if getattr(self, "state", "ENABLED") != "ENABLED":
            return
        if not self.event_pattern.matches_event(original_event):
            return
        console, region = _active[-1]
        event = normalize_event(dict(original_event))
        local = [t for t in self.targets if parse_arn(t["Arn"]).service in _LOCAL_TARGETS]
        for target in local:
            try:
                _deliver(target, target_input(target, event), region)
            except Exception as error:  # one failing target must not stop the others, as on AWS
                console.line("eventbridge", f"rule {self.name}: delivery to {target['Arn']} failed: {error}")
        others = [t for t in self.targets if t not in local]
        if others:
            rule = copy.copy(self)
            rule.targets = others
            original(rule, original_event, transform_input)

    seams.replace(Rule, "send_to_targets", send_to_targets)


def _deliver(target: dict[str, Any], payload: Any, region: str) -> None:
    arn = target["Arn"]
    service = parse_arn(arn).service
    if service == "states":
        backend = stepfunctions_parser_backends[ACCOUNT_ID][region]
        # EventBridge names the executions it starts with a fresh id.
        backend.start_execution(state_machine_arn=arn, name=str(uuid.uuid4()), execution_input=json.dumps(payload))
    elif service == "lambda":
        lambda_runtime.invoke_async(arn, payload, region)
