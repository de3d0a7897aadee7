"""Drift held back by a run in progress: ``drift/<dataset>/held-drift.json`` in the artifact bucket.

A drift alarm's ALARM state that finds a run of its dataset in progress starts no retrain then, and while drift
persists the alarm stays in ALARM and sends nothing more: the episode is kept here until a run it waited for ends
(``drift.release``). Every write is an S3 conditional write over the version read (or only if absent), so a hold and
a release at the same moment never overwrite each other; of two held episodes the later one is kept.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from driftline_core import layout
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_condition_failed, is_missing_object
from driftline_core.aws.events import AlarmStateChangeEvent
from driftline_core.errors import TransientAwsError
from driftline_core.payloads import HeldDrift

_ATTEMPTS = 5
"""Conditional writes lost in a row before giving up (the invocation is retried)."""


def read_held(bucket: str, dataset: str) -> tuple[HeldDrift | None, str | None]:
    """The dataset's held drift record (held or released) and its ETag, or (None, None)."""
    try:
        found = get_client("s3").get_object(Bucket=bucket, Key=layout.held_drift_key(dataset))
    except ClientError as error:
        if is_missing_object(error):
            return None, None
        raise
    return HeldDrift.model_validate(json.loads(found["Body"].read())), str(found["ETag"])


def hold(bucket: str, dataset: str, event: AlarmStateChangeEvent, waiting_for: list[str], now: datetime) -> HeldDrift:
    """Keep this episode until a run it waits for ends; a later held episode of the dataset is kept instead."""
    episode = event.detail.state.timestamp
    for _ in range(_ATTEMPTS):
        current, etag = read_held(bucket, dataset)
        if current is not None and current.status == "held" and _later(current.episode, episode):
            return current
        same = current is not None and current.status == "held" and current.episode == episode
        record = HeldDrift(
            alarm_event=event.model_dump(mode="json", by_alias=True),
            episode=episode,
            held_at=current.held_at if same and current is not None else now.isoformat(),
            waiting_for=waiting_for,
        )
        if _write(bucket, dataset, record, etag):
            return record
    raise TransientAwsError(f"Could not keep the drift of {dataset}: {layout.held_drift_key(dataset)} kept changing.")


def mark_released(
    bucket: str, dataset: str, held: HeldDrift, etag: str, *, by: str, at: datetime, outcome: str
) -> bool:
    """Mark the record read (``etag``) released; False when it changed meanwhile (another episode was held)."""
    released = held.model_copy(
        update={"status": "released", "released_by": by, "released_at": at.isoformat(), "outcome": outcome}
    )
    return _write(bucket, dataset, released, etag)


def _write(bucket: str, dataset: str, record: HeldDrift, etag: str | None) -> bool:
    condition: dict[str, Any] = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        get_client("s3").put_object(
            Bucket=bucket,
            Key=layout.held_drift_key(dataset),
            Body=json.dumps(record.model_dump(mode="json")).encode(),
            ContentType="application/json",
            **condition,
        )
    except ClientError as error:
        if is_condition_failed(error):
            return False
        raise
    return True


def _later(first: str, second: str) -> bool:
    """Whether alarm state timestamp ``first`` is after ``second`` (CloudWatch writes them with a +0000 offset)."""
    try:
        return datetime.fromisoformat(first) > datetime.fromisoformat(second)
    except (TypeError, ValueError):
        return first > second
