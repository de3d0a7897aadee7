"""One vocabulary for AWS's answers: the same error means the same thing in every stage."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from driftline_core.aws.error_codes import (
    is_already_exists,
    is_condition_failed,
    is_missing_object,
    is_not_found,
    is_run_not_waiting,
    is_throttled,
    transient_aws_errors,
)
from driftline_core.errors import TransientAwsError


def _error(code: str, message: str = "", status: int = 400, operation: str = "GetObject") -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


@pytest.mark.parametrize(
    "error",
    [
        _error("NoSuchKey", status=404),
        _error("404", status=404),  # HeadObject has no body, so no code but the status
        _error("NoSuchVersion"),
        _error("ResourceNotFoundException"),  # EventBridge Scheduler
        _error("ObjectNotFoundException"),  # Application Auto Scaling
        _error("ValidationException", "Could not find endpoint 'arn:aws:sagemaker:...:endpoint/x'."),
        _error("ValidationException", "ModelPackageGroup arn:aws:sagemaker:...:model-package-group/x does not exist."),
    ],
    ids=lambda e: e.response["Error"]["Code"],
)
def test_every_services_way_of_saying_no_such_thing_is_not_found(error: ClientError) -> None:
    assert is_not_found(error)


def test_a_validation_error_about_something_else_is_not_a_missing_resource() -> None:
    refused = _error("ValidationException", "1 validation error detected: Value 'x y' at 'endpointName' failed")

    assert not is_not_found(refused)
    assert not is_already_exists(refused)


def test_a_missing_object_may_be_answered_403_to_a_role_that_cannot_list_the_bucket() -> None:
    denied = _error("AccessDenied", "Access Denied", status=403)

    assert is_missing_object(denied)
    assert not is_not_found(denied)


@pytest.mark.parametrize(
    "code", ["ThrottlingException", "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"]
)
def test_throttling_timeouts_and_service_errors_become_the_error_the_state_machine_retries(code: str) -> None:
    assert is_throttled(_error(code))
    with pytest.raises(TransientAwsError, match=f"{code} on GetObject"), transient_aws_errors():
        raise _error(code)


def test_any_other_error_passes_through_unchanged() -> None:
    with pytest.raises(ClientError, match="AccessDenied"), transient_aws_errors():
        raise _error("AccessDenied", status=403)


def test_a_create_that_finds_its_resource_is_already_exists() -> None:
    assert is_already_exists(_error("ResourceInUse", "Monitoring schedule x already exists"))
    assert is_already_exists(_error("ValidationException", "Cannot create already existing model 'x'."))


def test_a_lost_conditional_write_is_recognised_in_dynamodb_and_s3() -> None:
    assert is_condition_failed(_error("ConditionalCheckFailedException"))
    assert is_condition_failed(_error("PreconditionFailed", status=412))
    assert is_condition_failed(_error("ConditionalRequestConflict", status=409))


def test_a_run_that_stopped_waiting_is_recognised_from_step_functions_answers() -> None:
    assert is_run_not_waiting(_error("TaskTimedOut"))
    assert is_run_not_waiting(_error("InvalidToken"))
    assert not is_run_not_waiting(_error("ThrottlingException"))
    assert not is_run_not_waiting(ValueError("not an AWS error"))
