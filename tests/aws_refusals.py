"""How the request-constraint tests ask for AWS's refusals: the settings their job requests are built with, the
pattern a service model declares for a member, a refused call's answer, and a client config that sends what boto3
itself would refuse."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

UNCHECKED_BY_CLIENT = Config(parameter_validation=False)
"""boto3 itself refuses missing members and short values; these clients send them so the emulator answers."""


def model_pattern(service: str, operation: str, *path: str) -> str:
    """The pattern the service model declares for a member, as AWS quotes it in its message."""
    shape: Any = botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape
    for name in path:
        shape = shape.member if name == "member" else shape.members[name]
    return str(shape.metadata["pattern"])


def refusal(call: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    response = raised.value.response
    return {
        "status": response["ResponseMetadata"]["HTTPStatusCode"],
        "code": response["Error"]["Code"],
        "message": response["Error"]["Message"],
    }
