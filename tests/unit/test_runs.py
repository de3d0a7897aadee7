"""StartRun's decisions: which uploads start a run, under which name, and how a redelivery is answered."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import S3EventNotificationEventBridgeModel
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from driftline_core import runs
from driftline_core.layout import execution_name_for_object
from driftline_core.runs import (
    execution_arn_for,
    run_input_for_upload,
    start_run_for_upload,
    upload_identity,
)
from driftline_core.settings import Settings
from tests.conftest import load_event

BUCKET = "driftline-data-123456789012-us-east-1"
STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-pipeline"


def test_upload_under_a_dataset_folder_becomes_the_run_input() -> None:
    run_input = run_input_for_upload(BUCKET, "data/credit/jan.csv", "v1", event_id="evt-1")

    assert run_input is not None
    assert run_input.dataset == "credit"
    assert run_input.data.uri == f"s3://{BUCKET}/data/credit/jan.csv"
    assert run_input.data.version_id == "v1"
    assert run_input.trigger.source == "upload"
    assert run_input.trigger.event_id == "evt-1"


@pytest.mark.parametrize(
    "key",
    [
        "uploads/credit/jan.csv",
        "data/jan.csv",
        "data/credit/2026/jan.csv",
        "data/credit/dataset.json",
        "data/credit/",
        "data//jan.csv",
    ],
)
def test_keys_outside_data_dataset_file_csv_start_no_run(key: str) -> None:
    assert run_input_for_upload(BUCKET, key, "v1") is None


def test_dataset_names_sagemaker_cannot_use_still_start_a_run_so_validate_can_explain() -> None:
    run_input = run_input_for_upload(BUCKET, "data/Credit Data_2026!/jan.csv", None)

    assert run_input is not None
    assert run_input.dataset == "Credit Data_2026!"


def test_execution_arn_is_built_from_the_state_machine_arn_and_name() -> None:
    assert (
        execution_arn_for(STATE_MACHINE_ARN, "credit-0123456789ab")
        == "arn:aws:states:us-east-1:123456789012:execution:driftline-pipeline:credit-0123456789ab"
    )


def test_execution_arn_refuses_an_arn_that_is_not_a_state_machine() -> None:
    with pytest.raises(ValueError, match="not a state machine ARN"):
        execution_arn_for("arn:aws:lambda:us-east-1:123456789012:function:x", "run")


def test_sample_event_parses_and_names_its_run_from_the_object_version() -> None:
    event = S3EventNotificationEventBridgeModel.model_validate(load_event("start_run"))
    detail = event.detail

    run_input = run_input_for_upload(detail.bucket.name, detail.object.key, detail.object.version_id, event.id)

    assert event.detail_type == "Object Created"
    assert run_input is not None
    assert run_input.dataset == "credit"
    assert run_input.data.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"


def _settings() -> Settings:
    return Settings(data_bucket=BUCKET, state_machine_arn=STATE_MACHINE_ARN)


def _stubbed_stepfunctions(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    client = boto3.client("stepfunctions", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)

    def get_client(service: str) -> Any:
        assert service == "stepfunctions"
        return client

    monkeypatch.setattr(runs, "get_client", get_client)
    return stubber


def test_a_start_that_loses_a_race_with_a_redelivery_reports_the_run_as_already_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stubber = _stubbed_stepfunctions(monkeypatch)
    name = execution_name_for_object("credit", BUCKET, "data/credit/jan.csv", "v1")
    arn = execution_arn_for(STATE_MACHINE_ARN, name)
    stubber.add_client_error("describe_execution", service_error_code="ExecutionDoesNotExist")
    stubber.add_client_error("start_execution", service_error_code="ExecutionAlreadyExists")

    with stubber:
        result = start_run_for_upload(BUCKET, "data/credit/jan.csv", "v1", "evt-2", _settings())

    assert result.started is False
    assert result.execution_arn == arn
    assert result.execution_name == name
    assert "already started" in result.reason


def test_other_start_errors_propagate(monkeypatch: pytest.MonkeyPatch) -> None:
    stubber = _stubbed_stepfunctions(monkeypatch)
    stubber.add_client_error("describe_execution", service_error_code="ExecutionDoesNotExist")
    stubber.add_client_error("start_execution", service_error_code="StateMachineDoesNotExist")

    with stubber, pytest.raises(ClientError, match="StateMachineDoesNotExist"):
        start_run_for_upload(BUCKET, "data/credit/jan.csv", "v1", "evt-3", _settings())


def test_uploads_to_another_bucket_start_no_run() -> None:
    result = start_run_for_upload("someone-elses-bucket", "data/credit/jan.csv", "v1", None, _settings())

    assert result.started is False
    assert result.execution_arn is None
    assert "not in the data bucket" in result.reason


def test_a_versioned_upload_is_identified_by_its_version() -> None:
    assert upload_identity("v1", "00617F08299329D189") == "v1"


def test_unversioned_rewrites_of_a_key_get_different_runs_and_redeliveries_the_same() -> None:
    first_write = upload_identity(None, "00617F08299329D189")
    redelivered = upload_identity(None, "00617F08299329D189")
    second_write = upload_identity(None, "00617F0829932A0012")

    def name(identity: str | None) -> str:
        return execution_name_for_object("credit", BUCKET, "data/credit/jan.csv", identity)

    assert name(first_write) == name(redelivered)
    assert name(second_write) != name(first_write)
