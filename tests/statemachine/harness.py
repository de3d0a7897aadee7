"""Harness that runs the real ASL in moto's Step Functions interpreter with scripted step behaviour.

Each Lambda the state machine invokes is replaced by a scripted behaviour (a result, an error, or a
job callback through the task token), so every path through ``statemachine/pipeline.asl.json`` can be
driven and asserted without running the handlers themselves.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

ASL_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "pipeline.asl.json"
STEPS = [
    "Validate",
    "Preprocess",
    "Train",
    "TransformTestRows",
    "Evaluate",
    "QualityGate",
    "Register",
    "RequestApproval",
    "Deploy",
    "FinishDeployment",
    "TestStaging",
    "RemoveStaging",
    "AnalyseTrial",
    "DecideTrial",
    "Notify",
]
SUBSTITUTIONS = {
    "Partition": "aws",
    "JobTimeoutSeconds": "5",
    "RetryIntervalSeconds": "1",
    "ApprovalTimeoutSeconds": "3",
    "DeployTimeoutSeconds": "3",
}

Behaviour = Callable[[dict[str, Any]], Any]


class StepError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def render_definition(function_arns: dict[str, str]) -> str:
    text = ASL_PATH.read_text()
    values = dict(SUBSTITUTIONS, **{f"{step}FunctionArn": arn for step, arn in function_arns.items()})
    return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], text)


@dataclass
class Pipeline:
    sfn: Any
    arn: str
    behaviours: dict[str, Behaviour]
    calls: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def run(self, run_input: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
        execution = self.sfn.start_execution(
            stateMachineArn=self.arn, name=f"run-{time.time_ns()}", input=json.dumps(run_input)
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            description = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if description["status"] != "RUNNING":
                return dict(description)
            time.sleep(0.1)
        raise TimeoutError("execution did not finish")

    def states_entered(self, execution_arn: str) -> list[str]:
        history = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in history if e["type"].endswith("StateEntered")]


def job_callback(result: dict[str, Any] | None = None, *, error: str | None = None, cause: str = "") -> Behaviour:
    """A job step: answer through the task token from another thread, as the job-event Lambda does."""

    def behave(payload: dict[str, Any]) -> Any:
        token = payload["task_token"]
        client = boto3.client("stepfunctions", region_name="us-east-1")

        def answer() -> None:
            time.sleep(0.2)
            if error:
                client.send_task_failure(taskToken=token, error=error, cause=cause)
            else:
                client.send_task_success(taskToken=token, output=json.dumps(result))

        threading.Thread(target=answer, daemon=True).start()
        return {"job_name": "job", "job_arn": "arn:job"}

    return behave


def raising(error_type: str, message: str) -> Behaviour:
    def behave(payload: dict[str, Any]) -> Any:
        raise StepError(error_type, message)

    return behave
