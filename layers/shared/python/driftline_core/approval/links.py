"""Signed approval links: ``<approval id>.<decision>.<expiry>.<signature>``, HMAC-SHA256 with a key kept in
Secrets Manager, so a link can be neither forged nor altered and stops working at its expiry."""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from driftline_core.approval.signatures import DECISIONS, Decision, signature
from driftline_core.aws.clients import get_client
from driftline_core.aws.times import iso_utc
from driftline_core.errors import LinkExpired, LinkInvalid
from driftline_core.settings import forgotten_on_reset


@forgotten_on_reset
def signing_key(secret_arn: str) -> bytes:
    """The HMAC key, read once per container from Secrets Manager."""
    if not secret_arn:
        raise RuntimeError("APPROVAL_SECRET_ARN is not set: the template gives it to every approval function.")
    secret = get_client("secretsmanager").get_secret_value(SecretId=secret_arn)
    return str(secret["SecretString"]).encode()


@dataclass(frozen=True)
class SignedLink:
    approval_id: str
    decision: Decision
    expires_at: int


def verify_link(link: str, key: bytes, *, now: float | None = None) -> SignedLink:
    """The link's fields when its signature holds and it has not expired; raises ``LinkRefused`` otherwise."""
    parts = link.split(".")
    if len(parts) != 4:
        raise LinkInvalid("This approval link is incomplete or malformed. Open the link from the email as it is.")
    approval_id, decision, expiry, given = parts
    expected = signature(f"{approval_id}.{decision}.{expiry}", key)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise LinkInvalid(
            "This approval link is not valid: its signature does not match. Open the link from the email as it is; "
            "a link that was changed or made up decides nothing."
        )
    if decision not in DECISIONS or not expiry.isdigit():
        raise LinkInvalid("This approval link names no decision Driftline knows.")
    expires_at = int(expiry)
    if (time.time() if now is None else now) >= expires_at:
        raise LinkExpired(
            f"This approval link expired at {iso_time(expires_at)}: the run stopped waiting for a decision then. "
            "Upload the data again to start a new run."
        )
    return SignedLink(approval_id=approval_id, decision=decision, expires_at=expires_at)


def link_url(api_url: str, link: str) -> str:
    return f"{api_url.rstrip('/')}/approvals/{link}"


def iso_time(epoch: float) -> str:
    return iso_utc(datetime.fromtimestamp(epoch, tz=UTC))
