"""Publishing an email to the notification topic, with the one subject rule every message follows."""

from __future__ import annotations

import re
from dataclasses import dataclass

from driftline_core.aws.clients import get_client
from driftline_core.settings import Settings

SUBJECT_LIMIT = 99
"""SNS refuses subjects of 100 characters or more."""
SUBJECT_DATASET_LIMIT = 40
UNKNOWN_DATASET = "unknown"
_SUBJECT_UNSAFE = re.compile(r"[^\x20-\x7e]+")


@dataclass(frozen=True)
class Notification:
    subject: str
    message: str
    attributes: dict[str, str]
    error: str
    """Error name for the Fail state; empty for outcomes that are not failures."""
    cause: str


def publish_notification(notification: Notification, settings: Settings) -> str | None:
    """Publish to the topic; returns SNS's message id."""
    published = get_client("sns").publish(
        TopicArn=settings.notification_topic_arn,
        Subject=notification.subject,
        Message=notification.message,
        MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in notification.attributes.items()
        },
    )
    return published.get("MessageId")


def email_subject(dataset: str, what: str) -> str:
    """``Driftline: <dataset> <what>``, or ``what`` with its ``{dataset}`` filled in: ASCII, one line and under
    100 characters, as SNS requires; long or odd dataset names are shortened."""
    name = _SUBJECT_UNSAFE.sub("?", dataset).strip() or UNKNOWN_DATASET
    if len(name) > SUBJECT_DATASET_LIMIT:
        name = name[: SUBJECT_DATASET_LIMIT - 3] + "..."
    text = what.replace("{dataset}", name) if "{dataset}" in what else f"{name} {what}"
    return _SUBJECT_UNSAFE.sub("?", f"Driftline: {text}")[:SUBJECT_LIMIT]
