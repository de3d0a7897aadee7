"""Times as AWS writes them: aware UTC datetimes in descriptions, epoch milliseconds in events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def utc_now() -> datetime:
    return datetime.now(UTC)


def epoch_millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def times_as_epoch_millis(value: Any) -> Any:
    """``value`` with every datetime in it, at any depth, as epoch milliseconds: SageMaker's state-change events
    carry a resource's description with its times written so."""
    if isinstance(value, datetime):
        return epoch_millis(value)
    if isinstance(value, dict):
        return {k: times_as_epoch_millis(v) for k, v in value.items()}
    if isinstance(value, list):
        return [times_as_epoch_millis(v) for v in value]
    return value
