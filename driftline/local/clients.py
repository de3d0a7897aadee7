"""Clients of the emulator, as local mode's own services call it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3

# The user's own credentials in local mode: an administrator's, never checked against a role's policies.
PLACEHOLDER_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def emulator_client(
    service: str, endpoint_url: str | None, region: str, credentials: Mapping[str, str] | None = None
) -> Any:
    """A boto3 client for ``service`` on the emulator, signing with ``credentials`` (a role session's variables,
    which local mode checks against that role's policies) or with the user's placeholder credentials."""
    chosen = dict(credentials or PLACEHOLDER_CREDENTIALS)
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=chosen["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=chosen["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=chosen.get("AWS_SESSION_TOKEN"),
    )


def emulator_environment(
    endpoint_url: str, region: str, credentials: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The variables that point a local process's AWS SDK at the emulator, with ``credentials`` as above."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **(credentials or PLACEHOLDER_CREDENTIALS),
    }
