"""Clients of the emulator, as local mode's own services call it."""

from __future__ import annotations

from typing import Any

import boto3


def emulator_client(service: str, endpoint_url: str | None, region: str) -> Any:
    """A boto3 client for ``service`` on the emulator, with the placeholder credentials every local caller uses."""
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def emulator_environment(endpoint_url: str, region: str) -> dict[str, str]:
    """The variables that point a local process's AWS SDK at the emulator, with the same placeholder credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
