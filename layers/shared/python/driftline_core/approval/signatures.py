"""What an approval link says and its signature: ``<approval id>.<decision>.<expiry>.<signature>``.

Pure functions of their arguments, importing nothing else of the layer, so the CLI signs a link for
``driftline approve`` with the very code the RequestApproval function signs the emailed links with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Literal

Decision = Literal["approve", "reject"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject")
_LINK_VERSION = "v1"


def approval_id_for(model_package_arn: str) -> str:
    """One approval per model package, so the registry event (which names only the package) finds it."""
    return hashlib.sha256(model_package_arn.encode()).hexdigest()[:32]


def promotion_approval_id(model_package_arn: str) -> str:
    """The approval of a trial winner's promotion: its own record, apart from the model's (already decided)."""
    return approval_id_for(f"{model_package_arn}#promotion")


def sign_link(approval_id: str, decision: Decision, expires_at: int, key: bytes) -> str:
    """The URL path segment of a link: readable fields and their signature, all URL-safe."""
    payload = f"{approval_id}.{decision}.{expires_at}"
    return f"{payload}.{signature(payload, key)}"


def signature(payload: str, key: bytes) -> str:
    digest = hmac.new(key, f"{_LINK_VERSION}.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
