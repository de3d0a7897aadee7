"""Small Step Functions helpers: an execution's ARN from its name, and whether it exists."""

from __future__ import annotations

from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code


def execution_arn_for(state_machine_arn: str, execution_name: str) -> str:
    """The ARN Step Functions gives a named execution of a standard state machine."""
    prefix, marker, machine_name = state_machine_arn.rpartition(":stateMachine:")
    if not marker:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return f"{prefix}:execution:{machine_name}:{execution_name}"


def execution_exists(execution_arn: str) -> bool:
    """True when Step Functions knows the execution (running or ended)."""
    try:
        get_client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error_code(error) == "ExecutionDoesNotExist":
            return False
        raise
    return True
