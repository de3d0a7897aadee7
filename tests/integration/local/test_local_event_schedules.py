"""EventBridge's scheduled rules in local mode, under moto: each rule fires at its scaled rate or its cron times,
only while enabled, with the event AWS sends."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from driftline.local.events import Schedules


@pytest.fixture
def local_events(aws: None) -> Iterator[Any]:
    """moto with local mode's EventBridge delivery installed, and an SQS queue to watch deliveries in."""
    import boto3

    from driftline.local import events, seams
    from driftline.local.console import Console

    events.install(Console(), "us-east-1")
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue_url = sqs.create_queue(QueueName="deliveries")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    try:
        yield boto3.client("events", region_name="us-east-1"), sqs, queue_url, queue_arn
    finally:
        seams.restore()


def _delivered(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in messages]


def _schedule_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == Schedules.thread_name]


def _scheduled_rule(client: Any, queue_arn: str, expression: str, name: str = "reconcile") -> str:
    arn: str = client.put_rule(Name=name, ScheduleExpression=expression)["RuleArn"]
    client.put_targets(Rule=name, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return arn


def test_a_rule_with_only_a_schedule_receives_no_events(local_events: Any) -> None:
    client, sqs, queue_url, queue_arn = local_events
    _scheduled_rule(client, queue_arn, "rate(5 minutes)")

    client.put_events(Entries=[{"Source": "aws.s3", "DetailType": "Object Created", "Detail": "{}"}])

    assert _delivered(sqs, queue_url) == []


def test_a_scheduled_rule_fires_once_per_scaled_interval(local_events: Any) -> None:
    client, sqs, queue_url, queue_arn = local_events
    _scheduled_rule(client, queue_arn, "rate(5 minutes)")
    schedules = Schedules("us-east-1", seconds_per_minute=2.0)

    first_seen = schedules.fire_due(now=1000.0)
    early = schedules.fire_due(now=1009.9)
    due = schedules.fire_due(now=1010.0)
    again_early = schedules.fire_due(now=1019.0)
    again = schedules.fire_due(now=1020.0)

    assert (first_seen, early, due, again_early, again) == ([], [], ["reconcile"], [], ["reconcile"])
    assert [event["detail-type"] for event in _delivered(sqs, queue_url)] == ["Scheduled Event"] * 2


def test_a_lambda_target_receives_the_scheduled_event_aws_sends(
    local_events: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline.local import events

    client, _, _, _ = local_events
    function_arn = "arn:aws:lambda:us-east-1:123456789012:function:driftline-ReconcileJobsFunction"
    rule_arn = client.put_rule(Name="reconcile", ScheduleExpression="rate(5 minutes)")["RuleArn"]
    client.put_targets(Rule="reconcile", Targets=[{"Id": "fn", "Arn": function_arn}])
    delivered: list[tuple[str, Any]] = []
    monkeypatch.setattr(events, "_deliver", lambda target, payload, region: delivered.append((target["Arn"], payload)))
    schedules = Schedules("us-east-1", seconds_per_minute=1.0)

    schedules.fire_due(now=1795435200.0)
    schedules.fire_due(now=1795435200.0 + 300)

    assert len(delivered) == 1
    arn, event = delivered[0]
    assert arn == function_arn
    assert str(uuid.UUID(event.pop("id"))) != ""
    assert event == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-11-23T12:05:00Z",
        "region": "us-east-1",
        "resources": [rule_arn],
        "detail": {},
    }


def test_disabled_rules_are_not_fired(local_events: Any) -> None:
    client, sqs, queue_url, queue_arn = local_events
    _scheduled_rule(client, queue_arn, "rate(1 minute)", name="paused")
    client.disable_rule(Name="paused")
    schedules = Schedules("us-east-1", seconds_per_minute=1.0)

    schedules.fire_due(now=0.0)

    assert schedules.fire_due(now=10_000.0) == []
    assert _delivered(sqs, queue_url) == []


NOON = datetime(2026, 11, 27, 12, 0, tzinfo=UTC).timestamp()


def test_a_cron_rule_fires_when_the_utc_clock_reaches_its_time_with_that_time_in_the_event(local_events: Any) -> None:
    client, sqs, queue_url, queue_arn = local_events
    _scheduled_rule(client, queue_arn, "cron(15 12 * * ? *)", name="daily-at-quarter-past-noon")
    schedules = Schedules("us-east-1", seconds_per_minute=1.0)

    # Unscaled: a minute of the clock is a minute, whatever the rate scaling.
    before = [schedules.fire_due(now=NOON + offset) for offset in (0.0, 60.0, 14 * 60 + 59.9)]
    at_time = schedules.fire_due(now=NOON + 15 * 60 + 0.2)
    later_that_day = schedules.fire_due(now=NOON + 3600.0)
    next_day = schedules.fire_due(now=NOON + 86400 + 15 * 60)

    assert before == [[], [], []]
    assert (at_time, later_that_day, next_day) == (["daily-at-quarter-past-noon"], [], ["daily-at-quarter-past-noon"])
    assert [event["time"] for event in _delivered(sqs, queue_url)] == ["2026-11-27T12:15:00Z", "2026-11-28T12:15:00Z"]


def test_a_cron_rule_fires_on_its_own_thread_when_the_injected_clock_reaches_its_time(local_events: Any) -> None:
    client, sqs, queue_url, queue_arn = local_events
    _scheduled_rule(client, queue_arn, "cron(0/15 * * * ? *)", name="quarter-hourly")
    clock = [NOON + 5 * 60]
    readings: list[float] = []

    def read_clock() -> float:
        readings.append(clock[0])
        return clock[0]

    schedules = Schedules("us-east-1", seconds_per_minute=1.0, tick=0.02, clock=read_clock)
    schedules.start()
    try:
        deadline = time.time() + 5
        while len(readings) < 3 and time.time() < deadline:  # it has looked at the clock before the rule's time
            time.sleep(0.02)
        assert _delivered(sqs, queue_url) == []
        clock[0] = NOON + 15 * 60
        deadline = time.time() + 5
        delivered: list[dict[str, Any]] = []
        while time.time() < deadline and not delivered:
            delivered = _delivered(sqs, queue_url)
            time.sleep(0.02)
    finally:
        schedules.stop()

    assert [event["time"] for event in delivered] == ["2026-11-27T12:15:00Z"]


def test_put_rule_refuses_a_cron_expression_aws_refuses_with_aws_wording(local_events: Any) -> None:
    from botocore.exceptions import ClientError

    client, _, _, _ = local_events

    with pytest.raises(ClientError) as refused:
        client.put_rule(Name="both-days", ScheduleExpression="cron(0 12 * * * *)")

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("Parameter ScheduleExpression is not valid.")
    assert "day-of-month and day-of-week" in error["Message"]


def test_schedules_run_on_their_own_until_stopped(local_events: Any) -> None:
    from driftline.local import events

    client, sqs, queue_url, queue_arn = local_events
    _scheduled_rule(client, queue_arn, "rate(1 minute)")

    events.start_schedules("us-east-1", seconds_per_minute=0.1)
    try:
        deadline = time.time() + 5
        while time.time() < deadline and not _delivered(sqs, queue_url):
            time.sleep(0.05)
    finally:
        events.stop_schedules()
    sqs.purge_queue(QueueUrl=queue_url)
    deadline = time.time() + 5
    while _schedule_threads() and time.time() < deadline:  # no timer is left that could still fire
        time.sleep(0.02)

    assert _delivered(sqs, queue_url) == []
