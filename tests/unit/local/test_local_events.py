"""EventBridge in local mode: events reach targets in the shape AWS sends, rendered as each target asks."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto.events.utils import _BASE_EVENT_MESSAGE

from driftline.local.events import Schedules, normalize_event, target_input

UPLOAD_EVENT: dict[str, Any] = {
    "version": "0",
    "id": "8f2a41c6-8d3e-4c55-9a07-3c1b2e6f0d11",
    "detail-type": "Object Created",
    "source": "aws.s3",
    "account": "123456789012",
    "time": "2026-11-23T12:00:00Z",
    "region": "us-east-1",
    "resources": ["arn:aws:s3:::driftline-data"],
    "detail": {"bucket": {"name": "driftline-data"}, "object": {"key": "data/credit/jan.csv", "size": 812}},
}


def _emulator_event(**changes: Any) -> dict[str, Any]:
    """An event as moto builds it: its fixed id, an epoch time and an ingestion time."""
    return {
        **UPLOAD_EVENT,
        "id": _BASE_EVENT_MESSAGE["id"],
        "time": 1795435200,
        "ingestion-time": 1795435200.5,
        **changes,
    }


def test_an_epoch_time_becomes_the_iso_timestamp_aws_sends() -> None:
    event = normalize_event(_emulator_event())

    assert event["time"] == "2026-11-23T12:00:00Z"
    assert datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp() == 1795435200


def test_an_iso_time_is_kept_as_it_is() -> None:
    assert normalize_event(UPLOAD_EVENT)["time"] == "2026-11-23T12:00:00Z"


def test_moto_s_fixed_id_is_replaced_by_a_fresh_id_per_event() -> None:
    first = normalize_event(_emulator_event())["id"]
    second = normalize_event(_emulator_event())["id"]

    assert first != _BASE_EVENT_MESSAGE["id"]
    assert first != second
    assert str(uuid.UUID(first)) == first


def test_an_event_s_own_id_is_kept_so_redeliveries_can_be_recognised() -> None:
    assert normalize_event(_emulator_event(id="evt-1"))["id"] == "evt-1"


def test_the_emulator_s_ingestion_time_is_dropped_and_the_original_left_untouched() -> None:
    original = _emulator_event()
    event = normalize_event(original)

    assert "ingestion-time" not in event
    assert set(event) == set(UPLOAD_EVENT)
    assert original == _emulator_event()


def test_a_constant_input_replaces_the_event() -> None:
    target = {"Id": "t", "Arn": "arn", "Input": '{"dataset": "credit", "retrain": true}'}

    assert target_input(target, UPLOAD_EVENT) == {"dataset": "credit", "retrain": True}


def test_an_input_path_selects_part_of_the_event() -> None:
    assert target_input({"InputPath": "$.detail"}, UPLOAD_EVENT) == UPLOAD_EVENT["detail"]
    assert target_input({"InputPath": "$.detail.object.key"}, UPLOAD_EVENT) == "data/credit/jan.csv"
    assert target_input({"InputPath": "$"}, UPLOAD_EVENT) == UPLOAD_EVENT


def test_an_input_path_to_a_missing_field_gives_nothing() -> None:
    assert target_input({"InputPath": "$.detail.object.version-id"}, UPLOAD_EVENT) is None
    assert target_input({"InputPath": "$.detail.object.key.length"}, UPLOAD_EVENT) is None


def test_an_input_transformer_renders_its_template_from_the_event() -> None:
    target = {
        "InputTransformer": {
            "InputPathsMap": {"bucket": "$.detail.bucket.name", "key": "$.detail.object.key"},
            "InputTemplate": '{"uri": "s3://<bucket>/<key>", "event": <aws.events.event.json>}',
        }
    }

    rendered = target_input(target, normalize_event(_emulator_event()))

    assert rendered["uri"] == "s3://driftline-data/data/credit/jan.csv"
    assert rendered["event"]["detail"] == UPLOAD_EVENT["detail"]
    assert "ingestion-time" not in rendered["event"]


def test_an_input_transformer_can_use_the_time_eventbridge_received_the_event() -> None:
    target = {"InputTransformer": {"InputTemplate": '{"received": "<aws.events.event.ingestion-time>"}'}}

    assert target_input(target, normalize_event(_emulator_event())) == {"received": "2026-11-23T12:00:00Z"}


def test_without_input_settings_the_target_receives_the_whole_event() -> None:
    assert target_input({"Id": "t", "Arn": "arn"}, UPLOAD_EVENT) is UPLOAD_EVENT


# ---------------------------------------------------------------- scheduled rules


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
    schedules = Schedules("us-east-1", seconds_per_minute=1.0, tick=0.02, clock=lambda: clock[0])
    schedules.start()
    try:
        time.sleep(0.2)
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
    time.sleep(0.3)

    assert _delivered(sqs, queue_url) == []
