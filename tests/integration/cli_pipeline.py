"""The real pipeline ASL in moto's interpreter behind a stack named ``driftline``, for the run commands' tests.

Each step's function answers as scripted (the statemachine harness's behaviours), so runs end the ways real runs
end: deployed, rejected by the gate, failed with a reason, or waiting for approval.
"""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from tests.statemachine.harness import STEPS, Behaviour, StepError, render_definition

REGION = "us-east-1"
STACK = "driftline"
GROUP = "driftline-credit"


@dataclass
class ScriptedPipeline:
    sfn: Any
    machine_arn: str
    function_names: dict[str, str]
    behaviours: dict[str, Behaviour] = field(default_factory=dict)

    def start(self, name: str, dataset: str = "credit") -> str:
        run_input = {
            "dataset": dataset,
            "data": {
                "bucket": "data",
                "key": f"data/{dataset}/a.csv",
                "version_id": "v1",
                "uri": f"s3://data/data/{dataset}/a.csv",
            },
            "trigger": {"source": "upload", "event_id": "e1"},
        }
        started = self.sfn.start_execution(stateMachineArn=self.machine_arn, name=name, input=json.dumps(run_input))
        return str(started["executionArn"])

    def wait(self, execution_arn: str, *, until_state: str | None = None, timeout: float = 30) -> dict[str, Any]:
        """Wait for the run to end, or to enter ``until_state`` (a task waiting on a token, say)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            described = dict(self.sfn.describe_execution(executionArn=execution_arn))
            if described["status"] != "RUNNING":
                return described
            if until_state:
                events = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
                if any(e["type"] == "TaskSubmitted" for e in events) and any(
                    (e.get("stateEnteredEventDetails") or {}).get("name") == until_state for e in events
                ):
                    return described
            time.sleep(0.1)
        raise TimeoutError(f"{execution_arn} did not get there in {timeout} s")


def package_arn(version: int) -> str:
    return f"arn:aws:sagemaker:{REGION}:123456789012:model-package/{GROUP}/{version}"


def job(name: str, kind: str = "processing") -> Behaviour:
    """A job step: the function names the job it started; the job's end answers through the task token."""

    def behave(payload: dict[str, Any]) -> Any:
        job_name = f"{payload['execution_name']}-{name}"
        result = {"job_name": job_name, "job_type": kind, "status": "Completed", "outputs": {}}
        _answer_later(payload["task_token"], result)
        return {"job_name": job_name, "job_arn": f"arn:aws:sagemaker:{REGION}:123456789012:{kind}-job/{job_name}"}

    return behave


def waiting_for_approval(version: int) -> Behaviour:
    def behave(payload: dict[str, Any]) -> Any:
        return {"approval_id": "a1", "model_package_arn": package_arn(version), "expires_at": 1_900_000_000}

    return behave


def deployed(payload: dict[str, Any]) -> Any:
    result = {
        "endpoint_name": "driftline-credit",
        "endpoint_arn": f"arn:aws:sagemaker:{REGION}:123456789012:endpoint/driftline-credit",
        "endpoint_config_name": "driftline-credit-v3",
        "model_name": "driftline-credit-v3",
        "model_package_arn": package_arn(3),
        "action": "created",
        "endpoint_type": "Provisioned",
    }
    _answer_later(payload["task_token"], result)
    return {"endpoint_name": "driftline-credit", "endpoint_config_name": "driftline-credit-v3", "action": "created"}


def gate(passed: bool, *, incumbent: bool = False) -> dict[str, Any]:
    return {
        "passed": passed,
        "metric": "auc",
        "value": 0.91 if passed else 0.52,
        "threshold": 0.7,
        "higher_is_better": True,
        "incumbent_model_package_arn": package_arn(2) if incumbent else None,
        "incumbent_value": 0.88 if incumbent else None,
        "evaluation_uri": "s3://art/eval/evaluation.json",
        "reasons": ["auc 0.91 meets the threshold 0.7."] if passed else ["auc 0.52 is below the threshold 0.7."],
        "data_drift": None,
    }


def notified(outcome_cause: str, error: str = "") -> Behaviour:
    def behave(payload: dict[str, Any]) -> Any:
        return {"subject": "s", "error": error or payload.get("error", {}).get("Error", ""), "cause": outcome_cause}

    return behave


def _answer_later(token: str, result: dict[str, Any]) -> None:
    def answer() -> None:
        time.sleep(0.05)
        boto3.client("stepfunctions", region_name=REGION).send_task_success(taskToken=token, output=json.dumps(result))

    threading.Thread(target=answer, daemon=True).start()


def scripted_pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> Iterator[ScriptedPipeline]:
    """Under moto (the ``aws`` fixture): the pipeline state machine and a stack ``driftline`` whose output names it;
    commands run from an empty folder (no local mode there)."""
    from moto.awslambda.models import LambdaFunction

    from driftline.local import seams, stepfunctions

    monkeypatch.chdir(tmp_path)
    stepfunctions.install()
    role = boto3.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(e, c):\n    return e\n")
    arns, names = {}, {}
    for step in STEPS:
        name = f"{STACK}-{step}Function-A1B2C3D4E5F6"
        arns[step] = boto3.client("lambda").create_function(
            FunctionName=name,
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
        names[step] = name
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(name=f"{STACK}-pipeline", definition=render_definition(arns), roleArn=role)
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {"PipelineStateMachineArn": {"Value": machine["stateMachineArn"]}},
    }
    boto3.client("cloudformation").create_stack(StackName=STACK, TemplateBody=json.dumps(template))
    pipeline = ScriptedPipeline(sfn=sfn, machine_arn=machine["stateMachineArn"], function_names=names)
    # A run without a staging endpoint has none to remove (RemoveStaging's own answer then).
    pipeline.behaviours["RemoveStaging"] = lambda _: {"endpoint_name": None, "removed": []}
    steps_by_function = {name: step for step, name in names.items()}

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        payload = json.loads(event) if isinstance(event, str) else event
        try:
            return json.dumps(pipeline.behaviours[steps_by_function[self.function_name]](payload)), False, ""
        except StepError as error:
            return json.dumps({"errorType": error.error_type, "errorMessage": str(error)}), True, ""

    monkeypatch.setattr(LambdaFunction, "_invoke_lambda", invoke)
    yield pipeline
    seams.restore()
