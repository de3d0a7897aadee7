"""EventBridge in local mode: events reach targets in the shape AWS sends, rendered as each target asks."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from moto.events.utils import _BASE_EVENT_MESSAGE

from driftline.local.events import normalize_event, target_input

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
