"""StartRun under moto: one execution per object version, none for keys outside data/<dataset>/."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from tests.conftest import load_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

PASS_DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
DATA_BUCKET = "driftline-data-123456789012-us-east-1"


@pytest.fixture
def state_machine_arn(aws: None, monkeypatch: pytest.MonkeyPatch) -> str:
    stepfunctions = boto3.client("stepfunctions")
    arn: str = stepfunctions.create_state_machine(
        name="driftline-pipeline",
        definition=PASS_DEFINITION,
        roleArn="arn:aws:iam::123456789012:role/driftline-pipeline",
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    monkeypatch.setenv("DATA_BUCKET", DATA_BUCKET)
    return arn


@pytest.fixture
def lambda_handler(state_machine_arn: str) -> Handler:
    """Imported once the environment is set: Powertools reads its service and namespace at import."""
    from functions.start_run.app import lambda_handler

    return lambda_handler


def _executions(state_machine_arn: str) -> list[dict[str, Any]]:
    client: Any = boto3.client("stepfunctions")
    executions: list[dict[str, Any]] = client.list_executions(stateMachineArn=state_machine_arn)["executions"]
    return executions


def _event(key: str | None = None, version_id: str | None = None) -> dict[str, Any]:
    event = load_event("start_run")
    if key is not None:
        event["detail"]["object"]["key"] = key
    if version_id is not None:
        event["detail"]["object"]["version-id"] = version_id
    return event


def test_the_same_event_delivered_twice_starts_one_run(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    first = lambda_handler(_event(), lambda_context)
    second = lambda_handler(_event(), lambda_context)

    executions = _executions(state_machine_arn)
    assert len(executions) == 1
    assert first["started"] is True
    assert first["execution_arn"] == executions[0]["executionArn"]
    assert second["started"] is False
    assert second["execution_arn"] == first["execution_arn"]
    assert "already started" in second["reason"]


def test_the_run_input_names_the_exact_object_version(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    result = lambda_handler(_event(), lambda_context)

    described = boto3.client("stepfunctions").describe_execution(executionArn=result["execution_arn"])
    run_input = json.loads(described["input"])
    assert described["name"] == result["execution_name"]
    assert result["execution_name"].startswith("credit-")
    assert run_input == {
        "dataset": "credit",
        "data": {
            "bucket": DATA_BUCKET,
            "key": "data/credit/applications-2026-11.csv",
            "version_id": "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e",
            "uri": f"s3://{DATA_BUCKET}/data/credit/applications-2026-11.csv",
        },
        "trigger": {"source": "upload", "event_id": "17793124-05d4-b198-2fde-7ededc63b103"},
    }


def test_a_new_version_of_the_same_key_starts_a_second_run(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    first = lambda_handler(_event(), lambda_context)
    second = lambda_handler(_event(version_id="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH"), lambda_context)

    assert first["started"] is True
    assert second["started"] is True
    assert second["execution_name"] != first["execution_name"]
    assert len(_executions(state_machine_arn)) == 2


@pytest.mark.parametrize("key", ["incoming/credit/jan.csv", "data/credit/dataset.json", "data/credit/2026/jan.csv"])
def test_keys_outside_data_dataset_file_csv_start_nothing(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any, key: str
) -> None:
    result = lambda_handler(_event(key=key), lambda_context)

    assert result == {
        "started": False,
        "execution_arn": None,
        "execution_name": None,
        "dataset": None,
        "reason": f"s3://{DATA_BUCKET}/{key} is not an upload of the form data/<dataset>/<file>.csv; no run started.",
    }
    assert _executions(state_machine_arn) == []


def test_a_dataset_name_sagemaker_rejects_still_starts_a_run(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    result = lambda_handler(_event(key="data/Credit_Data 2026/jan.csv"), lambda_context)

    assert result["started"] is True
    assert result["dataset"] == "Credit_Data 2026"
    assert len(_executions(state_machine_arn)) == 1


def test_rewriting_a_key_in_an_unversioned_bucket_starts_a_new_run_but_a_redelivery_does_not(
    state_machine_arn: str, lambda_handler: Handler, lambda_context: Any
) -> None:
    first_write = _event()
    del first_write["detail"]["object"]["version-id"]
    second_write = json.loads(json.dumps(first_write))
    second_write["detail"]["object"]["sequencer"] = "00617F0829932A0012"

    first = lambda_handler(first_write, lambda_context)
    redelivered = lambda_handler(first_write, lambda_context)
    second = lambda_handler(second_write, lambda_context)

    assert [first["started"], redelivered["started"], second["started"]] == [True, False, True]
    assert len(_executions(state_machine_arn)) == 2
