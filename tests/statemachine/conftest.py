"""Fixture that runs the real ASL in moto's interpreter (see ``harness``)."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tests.statemachine.harness import STEPS, Pipeline, StepError, render_definition


@pytest.fixture
def pipeline(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    from moto.awslambda.models import LambdaFunction

    from driftline.local import seams, stepfunctions

    stepfunctions.install()
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name="us-east-1")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(e, c):\n    return e\n")
    arns = {}
    for step in STEPS:
        arns[step] = lam.create_function(
            FunctionName=f"driftline-{step}",
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = sfn.create_state_machine(name="pipeline", definition=render_definition(arns), roleArn=role)
    state = Pipeline(sfn=sfn, arn=machine["stateMachineArn"], behaviours={})

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        step = self.function_name.removeprefix("driftline-")
        payload = json.loads(event) if isinstance(event, str) else event
        state.calls.setdefault(step, []).append(payload)
        try:
            return json.dumps(state.behaviours[step](payload)), False, ""
        except StepError as error:
            return json.dumps({"errorType": error.error_type, "errorMessage": str(error)}), True, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    yield state
    seams.restore()
