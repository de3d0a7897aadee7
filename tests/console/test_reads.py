"""What the console reads from Step Functions, given answers shaped as Step Functions gives them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from driftline.console.reads import deployments

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-pipeline"
START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/{}"


class StepFunctionsAnswers:
    """ListExecutions and DescribeExecution as Step Functions answers them, for the runs given; counts the
    describes, which the console keeps to the runs that can be of the endpoint's dataset."""

    def __init__(self, runs: list[dict[str, Any]]) -> None:
        self.runs = runs
        self.described: list[str] = []

    def list_executions(self, **kwargs: Any) -> dict[str, Any]:
        assert kwargs["stateMachineArn"] == MACHINE
        keys = ("executionArn", "stateMachineArn", "name", "status", "startDate", "stopDate")
        return {"executions": [{key: run[key] for key in keys if key in run} for run in self.runs]}

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        self.described.append(executionArn.rsplit(":", 1)[1])
        for run in self.runs:
            if run["executionArn"] == executionArn:
                return run
        raise ClientError({"Error": {"Code": "ExecutionDoesNotExist", "Message": executionArn}}, "DescribeExecution")


def _run(name: str, dataset: str, hours: int, status: str, **described: Any) -> dict[str, Any]:
    return {
        "executionArn": f"arn:aws:states:us-east-1:123456789012:execution:driftline-pipeline:{name}",
        "stateMachineArn": MACHINE,
        "name": name,
        "status": status,
        "startDate": START + timedelta(hours=hours),
        "stopDate": START + timedelta(hours=hours, minutes=20),
        "input": json.dumps({"dataset": dataset}),
        **described,
    }


def _deployed(version: int, action: str, endpoint: str = "driftline-credit") -> str:
    return json.dumps(
        {"deployment": {"endpoint_name": endpoint, "action": action, "model_package_arn": PACKAGE.format(version)}}
    )


def test_an_endpoint_s_deployments_and_rollbacks_newest_first_from_the_runs_that_deployed_to_it() -> None:
    sfn = StepFunctionsAnswers(
        [
            _run("credit-aaaaaaaaaaa1", "credit", 1, "SUCCEEDED", output=_deployed(1, "created")),
            _run(
                "credit-aaaaaaaaaaa2",
                "credit",
                2,
                "FAILED",
                error="DeploymentFailed",
                cause="Endpoint driftline-credit rolled back to driftline-credit-v1: alarm driftline-credit-5xx fired",
            ),
            _run("credit-aaaaaaaaaaa3", "credit", 3, "FAILED", error="ValidationFailed", cause="two rows"),
            _run("credit-aaaaaaaaaaa4", "credit", 4, "SUCCEEDED", output=_deployed(3, "updated")),
            _run("credit-aaaaaaaaaaa5", "credit", 5, "RUNNING"),
            _run(
                "tumours-aaaaaaaaaaa6", "tumours", 6, "SUCCEEDED", output=_deployed(1, "created", "driftline-tumours")
            ),
            _run(
                "credit-eu-aaaaaaaaaa7",
                "credit-eu",
                7,
                "SUCCEEDED",
                output=_deployed(1, "created", "driftline-credit-eu"),
            ),
        ]
    )

    found = deployments(sfn, MACHINE, "driftline-credit", prefix="driftline")

    assert [(item.run, item.version, item.failed) for item in found] == [
        ("credit-aaaaaaaaaaa4", "version 3", False),
        ("credit-aaaaaaaaaaa2", "", True),
        ("credit-aaaaaaaaaaa1", "version 1", False),
    ]
    assert found[0].outcome == "deployed to driftline-credit (updated)"
    assert "rolled back to driftline-credit-v1: alarm driftline-credit-5xx fired" in found[1].outcome
    assert found[0].when == START + timedelta(hours=4, minutes=20)
    # Another dataset's runs are never described; a longer dataset name that starts alike is, and left out.
    assert "tumours-aaaaaaaaaaa6" not in sfn.described and "credit-aaaaaaaaaaa5" not in sfn.described
    assert "credit-eu-aaaaaaaaaa7" in sfn.described
