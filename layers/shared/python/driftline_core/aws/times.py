"""Times as AWS writes and reads them in text: ISO 8601 in UTC to the second, ``YYYY-MM-DDTHH:MM:SSZ`` (what a Step
Functions Wait state's TimestampPath accepts, and what the jobs' window arguments and the emails show)."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
