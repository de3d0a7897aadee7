"""Task tokens of the steps waiting on SageMaker jobs, kept in DynamoDB under the job's name.

A job's state-change event names only the job, so the token the waiting step was given is stored
under the (deterministic) job name before the job starts. Items expire through the table's TTL on
``expires_at`` so tokens of runs that never hear back do not pile up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from driftline_core.clients import get_client
from driftline_core.settings import Settings


@dataclass(frozen=True)
class StoredTaskToken:
    job_name: str
    task_token: str = field(repr=False)
    """Kept out of ``repr`` so a token never reaches a log line by accident."""
    execution_id: str
    step: str
    expires_at: int


def put_token(job_name: str, task_token: str, *, execution_id: str, step: str, settings: Settings) -> StoredTaskToken:
    """Store (or replace, on a retried step) the token a step waits on; call before the job starts."""
    stored = StoredTaskToken(
        job_name=job_name,
        task_token=task_token,
        execution_id=execution_id,
        step=step,
        expires_at=int(time.time()) + settings.job_token_ttl_seconds,
    )
    restore_token(stored, settings=settings)
    return stored


def restore_token(stored: StoredTaskToken, *, settings: Settings) -> None:
    """Put a taken token back, so a retried event can still resume the run after a failed send."""
    get_client("dynamodb").put_item(
        TableName=settings.job_tokens_table,
        Item={
            "job_name": {"S": stored.job_name},
            "task_token": {"S": stored.task_token},
            "execution_id": {"S": stored.execution_id},
            "step": {"S": stored.step},
            "expires_at": {"N": str(stored.expires_at)},
        },
    )


def take_token(job_name: str, *, settings: Settings) -> StoredTaskToken | None:
    """Remove and return a job's token, or None for jobs Driftline did not start (or already resumed).

    One atomic delete returning the old item, so duplicate state-change events resume a run once.
    """
    response = get_client("dynamodb").delete_item(
        TableName=settings.job_tokens_table,
        Key={"job_name": {"S": job_name}},
        ReturnValues="ALL_OLD",
    )
    item: dict[str, Any] | None = response.get("Attributes")
    if not item or "task_token" not in item:
        return None
    return StoredTaskToken(
        job_name=job_name,
        task_token=item["task_token"]["S"],
        execution_id=item.get("execution_id", {}).get("S", ""),
        step=item.get("step", {}).get("S", ""),
        expires_at=int(item.get("expires_at", {}).get("N", "0")),
    )
