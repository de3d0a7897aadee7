"""SNS: email subscriptions deliver to an outbox folder of ``.eml`` files, each announced in the terminal.

moto accepts email subscriptions but sends nothing; here each message to an email endpoint becomes a
real RFC 5322 message on disk that any mail client opens. The terminal gets one line per email (who, what,
which file); an approval request also says which run waits, and where its links are.
"""

from __future__ import annotations

import re
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from moto.sns.models import Subscription

from driftline.local import seams
from driftline.local.console import Console

_EMAIL_PROTOCOLS = {"email", "email-json"}


class Outbox:
    def __init__(self, folder: Path, console: Console) -> None:
        self.folder = folder
        self.console = console

    def deliver(
        self,
        *,
        to: str,
        topic_arn: str,
        subject: str | None,
        body: str,
        message_id: str,
        attributes: dict[str, str] | None = None,
    ) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        message = EmailMessage()
        message["From"] = "AWS Notifications <no-reply@sns.amazonaws.com>"
        message["To"] = to
        message["Subject"] = subject or "AWS Notification Message"
        message["Date"] = formatdate(localtime=True)
        message["Message-ID"] = make_msgid(domain="sns.local")
        message["X-SNS-Topic-Arn"] = topic_arn
        message["X-SNS-Message-Id"] = message_id
        message.set_content(body, cte="8bit")  # plain text on disk, readable without a mail client
        slug = re.sub(r"[^a-z0-9]+", "-", (subject or "message").lower()).strip("-")[:60]
        path = self.folder / f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{message_id[:8]}.eml"
        path.write_bytes(bytes(message))
        self.console.line("email", f"to {to}: {message['Subject']} ({path})")
        named = attributes or {}
        if named.get("outcome") == APPROVAL_REQUESTED and named.get("run"):
            self.console.line("run", f"{named['run']}: waiting for approval: links in {path}")
        if named.get("outcome") == PROMOTION_REQUESTED and named.get("run"):
            self.console.line("run", f"{named['run']}: waiting for the trial winner's promotion: links in {path}")
        return path


APPROVAL_REQUESTED = "approval-requested"
"""The ``outcome`` message attribute of the approver's email."""
PROMOTION_REQUESTED = "promotion-requested"
"""The ``outcome`` of the email asking to promote a trial's winning challenger."""


def attribute_values(message_attributes: dict[str, Any] | None) -> dict[str, str]:
    """A published message's String attributes as ``{name: value}``, however the emulator holds them."""
    values: dict[str, str] = {}
    for name, attribute in (message_attributes or {}).items():
        value = attribute.get("Value", attribute.get("StringValue")) if isinstance(attribute, dict) else None
        if isinstance(value, str):
            values[name] = value
    return values


_active: list[Outbox] = []


def install(outbox: Outbox) -> None:
    """Deliver email subscriptions to ``outbox``."""
    _active[:] = [outbox]
    if seams.claim("sns"):
        _patch()


def _patch() -> None:
    original = Subscription.publish

    def publish(
        self: Subscription,
        message: str,
        message_id: str,
        subject: str | None = None,
        message_attributes: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if self.protocol in _EMAIL_PROTOCOLS:
            _active[-1].deliver(
                to=self.endpoint,
                topic_arn=self.topic.arn,
                subject=subject,
                body=message,
                message_id=message_id,
                attributes=attribute_values(message_attributes),
            )
            return
        original(self, message, message_id, subject=subject, message_attributes=message_attributes, **kwargs)

    seams.replace(Subscription, "publish", publish)
