"""Task tokens of the steps waiting on SageMaker jobs, kept in DynamoDB under the job's name.

A job's state-change event names only the job, so the token the waiting step was given is stored
under the (deterministic) job name before the job starts. Items expire through the table's TTL on
``expires_at`` so tokens of runs that never hear back do not pile up; ``stored_at`` says how long a run
has been waiting, for the reconciler that resumes runs whose job event never arrived.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_condition_failed, is_run_not_waiting
from driftline_core.settings import Settings

logger = Logger(child=True)


@dataclass(frozen=True)
class StoredTaskToken:
    job_name: str
    task_token: str = field(repr=False)
    """Kept out of ``repr`` so a token never reaches a log line by accident."""
    execution_id: str
    step: str
    expires_at: int
    stored_at: int = 0
    """When the step stored the token (epoch seconds); 0 for tokens stored before this was recorded."""
    context: str = ""
    """What the step needs to judge the outcome (a deployment's target configuration, as JSON); empty for jobs."""


@dataclass(frozen=True)
class WaitingJob:
    """A job some run waits on, as a scan of the table sees it (without its token)."""

    job_name: str
    step: str
    stored_at: int


SCAN_PAGE_SIZE = 100
"""Items one Scan request reads; pages stay small so a pass can stop between them when time runs short."""


def put_token(
    job_name: str, task_token: str, *, execution_id: str, step: str, settings: Settings, context: str = ""
) -> StoredTaskToken:
    """Store (or replace, on a retried step) the token a step waits on; call before the job starts."""
    now = int(time.time())
    stored = StoredTaskToken(
        job_name=job_name,
        task_token=task_token,
        execution_id=execution_id,
        step=step,
        expires_at=now + settings.job_token_ttl_seconds,
        stored_at=now,
        context=context,
    )
    get_client("dynamodb").put_item(TableName=settings.job_tokens_table, Item=_item(stored))
    return stored


def restore_token(stored: StoredTaskToken, *, settings: Settings) -> None:
    """Put a taken token back, so a retried event or the reconciler can still resume the run after a failed send.

    Only where no token is stored: a newer one means the step was retried, and the taken token is dead.
    """
    try:
        get_client("dynamodb").put_item(
            TableName=settings.job_tokens_table,
            Item=_item(stored),
            ConditionExpression="attribute_not_exists(job_name)",
        )
    except ClientError as error:
        if not is_condition_failed(error):
            raise


def _item(stored: StoredTaskToken) -> dict[str, Any]:
    item = {
        "job_name": {"S": stored.job_name},
        "task_token": {"S": stored.task_token},
        "execution_id": {"S": stored.execution_id},
        "step": {"S": stored.step},
        "expires_at": {"N": str(stored.expires_at)},
        "stored_at": {"N": str(stored.stored_at)},
    }
    if stored.context:
        item["context"] = {"S": stored.context}
    return item


def take_token(job_name: str, *, settings: Settings) -> StoredTaskToken | None:
    """Remove and return a job's token, or None for jobs Driftline did not start (or already resumed).

    One atomic delete returning the old item: of a duplicate event, a late event and the reconciler, only
    the first to delete gets the token, so a run is resumed once.
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
        stored_at=int(item.get("stored_at", {}).get("N", "0")),
        context=item.get("context", {}).get("S", ""),
    )


def waiting_jobs(*, settings: Settings, limit: int) -> Iterator[WaitingJob]:
    """The jobs runs wait on, in the table's scan order, at most ``limit`` of them, read page by page.

    The scan reads names and steps only: a token leaves the table only through ``take_token``.
    """
    request: dict[str, Any] = {
        "TableName": settings.job_tokens_table,
        "ProjectionExpression": "#job, #step, #stored",
        "ExpressionAttributeNames": {"#job": "job_name", "#step": "step", "#stored": "stored_at"},
        "Limit": min(SCAN_PAGE_SIZE, max(limit, 1)),
    }
    returned = 0
    while returned < limit:
        page = get_client("dynamodb").scan(**request)
        for item in page.get("Items", []):
            if returned >= limit:
                return
            returned += 1
            yield WaitingJob(
                job_name=item["job_name"]["S"],
                step=item.get("step", {}).get("S", ""),
                stored_at=int(item.get("stored_at", {}).get("N", "0")),
            )
        last_key = page.get("LastEvaluatedKey")
        if not last_key:
            return
        request["ExclusiveStartKey"] = last_key


# What handing a token back did, for the handlers' metrics and responses.
RESUMED_SUCCESS = "succeeded"
RESUMED_FAILURE = "failed"
STILL_RUNNING = "still_running"
NOT_OURS = "not_ours"
RUN_NOT_WAITING = "run_not_waiting"


def hand_back(
    stored: StoredTaskToken, send: Callable[[], str], *, settings: Settings, log_keys: Mapping[str, Any]
) -> str:
    """Run ``send`` (which calls SendTaskSuccess or SendTaskFailure with a taken token) and return its outcome.

    A run that no longer waits (timed out, stopped or already resumed) is ``run_not_waiting``; any other
    error puts the token back, so a retried event or the reconciler can still resume the run.
    """
    try:
        return send()
    except Exception as error:
        if isinstance(error, ClientError) and is_run_not_waiting(error):
            logger.warning(
                "The step no longer waits on this job (timed out, stopped or already resumed)",
                extra={**log_keys, "error_code": error_code(error)},
            )
            return RUN_NOT_WAITING
        restore_token(stored, settings=settings)
        raise


def send_task_success(stored: StoredTaskToken, output: str) -> None:
    """Resume the waiting step with ``output`` (JSON) as its result."""
    get_client("stepfunctions").send_task_success(taskToken=stored.task_token, output=output)


def send_task_failure(stored: StoredTaskToken, error: str, cause: str) -> None:
    """Fail the waiting step with a named error its Catch routes on and a readable cause."""
    get_client("stepfunctions").send_task_failure(taskToken=stored.task_token, error=error, cause=cause)
