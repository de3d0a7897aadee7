"""SNS: email subscriptions deliver to an outbox folder of ``.eml`` files and to the terminal.

moto accepts email subscriptions but sends nothing; here each message to an email endpoint becomes a
real RFC 5322 message on disk that any mail client opens.
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

    def deliver(self, *, to: str, topic_arn: str, subject: str | None, body: str, message_id: str) -> Path:
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
        self.console.line("email", f"to {to}: {message['Subject']}")
        for line in body.splitlines():
            self.console.line("email", f"  {line}")
        self.console.line("email", f"(saved to {path})")
        return path


_active: list[Outbox] = []


def install(outbox: Outbox) -> None:
    """Deliver email subscriptions to ``outbox``."""
    _active[:] = [outbox]
    if seams.claim("sns"):
        _patch()


def _patch() -> None:
    original = Subscription.publish

    def publish(self: Subscription, message: str, message_id: str, subject: str | None = None, **kwargs: Any) -> None:
        if self.protocol in _EMAIL_PROTOCOLS:
            _active[-1].deliver(
                to=self.endpoint,
                topic_arn=self.topic.arn,
                subject=subject,
                body=message,
                message_id=message_id,
            )
            return
        original(self, message, message_id, subject=subject, **kwargs)

    seams.replace(Subscription, "publish", publish)
