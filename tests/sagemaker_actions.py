"""What the emulated SageMaker API was asked, whoever asked it: handlers run in the test's process or in local
mode's function workers, jobs, and local mode itself. Recorded where moto answers each request (before IAM or the
action decides the answer), so a call that is refused is recorded too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import botocore.session
from moto.core.responses import BaseResponse
from moto.sagemaker.responses import SageMakerResponse


@cache
def model_monitor_actions() -> frozenset[str]:
    """Every Model Monitor action of the SageMaker API (schedules, executions, alerts and the four kinds of job
    definition), from the API's model."""
    operations = botocore.session.get_session().get_service_model("sagemaker").operation_names
    found = frozenset(name for name in operations if re.search(r"Monitoring|JobDefinition", name))
    assert {"CreateMonitoringSchedule", "ListMonitoringExecutions", "DeleteDataQualityJobDefinition"} <= found
    return found


@contextmanager
def sagemaker_actions() -> Iterator[list[str]]:
    """The SageMaker actions requested while the context is open, in order (``DescribeMonitoringSchedule``, ...)."""
    answered: list[str] = []
    own = "call_action" in SageMakerResponse.__dict__
    call_action = SageMakerResponse.call_action

    def recorded(self: BaseResponse) -> Any:
        answered.append(self._get_action())
        return call_action(self)

    SageMakerResponse.call_action = recorded  # type: ignore[method-assign]
    try:
        yield answered
    finally:
        if own:
            SageMakerResponse.call_action = call_action  # type: ignore[method-assign]
        else:
            del SageMakerResponse.call_action
