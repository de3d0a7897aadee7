"""One vocabulary for AWS error responses: what was throttled, what is not there, what exists already.

Every module asks these questions through the functions below, so the same S3 hiccup is retried in every
step alike, and the same missing resource is recognised whichever service answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from driftline_core.errors import TransientAwsError

THROTTLED_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "ProvisionedThroughputExceededException",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
    }
)
"""Answers that say "try again later": throttling, a timeout or a service-side failure."""

NOT_FOUND_CODES = frozenset(
    {
        "404",
        "NotFound",
        "NoSuchKey",
        "NoSuchVersion",
        "NoSuchBucket",
        "ResourceNotFound",
        "ResourceNotFoundException",
        "ObjectNotFoundException",
    }
)
"""S3's, SageMaker's, Scheduler's, DynamoDB's and Application Auto Scaling's ways of saying "no such thing"."""

_NOT_FOUND_VALIDATION_CODES = frozenset({"ValidationException", "ValidationError"})
_NOT_FOUND_WORDS = ("not find", "not found", "does not exist")
"""SageMaker answers ValidationException "Could not find ..." for most missing resources."""

ALREADY_EXISTS_CODES = frozenset({"ResourceInUse", "ResourceInUseException", "ConflictException"})

CONDITION_FAILED_CODES = frozenset(
    {"ConditionalCheckFailedException", "PreconditionFailed", "412", "ConditionalRequestConflict", "409"}
)
"""A conditional write lost: DynamoDB's condition expression, or S3's If-Match / If-None-Match (412 when the
object changed, 409 while another write of it is in progress)."""

RUN_NOT_WAITING_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
"""Step Functions' answers when the step stopped waiting (timed out, execution stopped or already resumed)."""


def error_code(error: ClientError) -> str:
    """The ``Error.Code`` of an AWS error response."""
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Message", ""))


def http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_throttled(error: ClientError) -> bool:
    return error_code(error) in THROTTLED_CODES


def is_not_found(error: ClientError) -> bool:
    """The resource or object does not exist (or, for S3's HEAD, answered 404 with no code)."""
    code = error_code(error)
    if code in NOT_FOUND_CODES or http_status(error) == 404:
        return True
    message = error_message(error).lower()
    return code in _NOT_FOUND_VALIDATION_CODES and any(words in message for words in _NOT_FOUND_WORDS)


def is_missing_object(error: ClientError) -> bool:
    """An S3 object (or version) that is not there, as a role may be told it: S3 answers 403 rather than 404 for a
    missing key when the caller may not list the bucket, which Driftline's roles may not."""
    return is_not_found(error) or error_code(error) in {"403", "AccessDenied"}


def is_already_exists(error: ClientError) -> bool:
    """A create call found a resource of that name (a repeated call, or a race with another)."""
    return error_code(error) in ALREADY_EXISTS_CODES or "already exist" in error_message(error).lower()


def is_condition_failed(error: ClientError) -> bool:
    return error_code(error) in CONDITION_FAILED_CODES


def is_run_not_waiting(error: BaseException) -> bool:
    return isinstance(error, ClientError) and error_code(error) in RUN_NOT_WAITING_CODES


@contextmanager
def transient_aws_errors() -> Iterator[None]:
    """Throttling that outlasted boto3's retries becomes TransientAwsError, which the state machine retries."""
    try:
        yield
    except ClientError as error:
        if not is_throttled(error):
            raise
        operation = error.operation_name or "an AWS call"
        raise TransientAwsError(
            f"AWS is throttling Driftline ({error_code(error)} on {operation}); the pipeline retries this step."
        ) from error
