"""StartRun's decisions: which uploads start a run, under which name, and how a redelivery is answered."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from driftline_core.aws import stepfunctions
from driftline_core.aws.events import S3ObjectCreatedEvent
from driftline_core.aws.stepfunctions import execution_arn_for
from driftline_core.ingest import uploads as runs
from driftline_core.ingest.uploads import classify_upload, run_input_for_upload, start_run_for_upload, upload_identity
from driftline_core.layout import execution_name_for_object, key_readings
from driftline_core.settings import Settings
from tests.conftest import EVENTS_DIR, load_event

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


@pytest.mark.parametrize(
    "key",
    ["data/credit/JAN.CSV", "data/credit/jan.Csv", "data/credit/jan.csv.gz", "data/credit/JAN.CSV.GZ"],
)
def test_csv_uploads_in_any_letter_case_and_gzip_compressed_start_a_run(key: str) -> None:
    run_input = run_input_for_upload(BUCKET, key, "v1")

    assert run_input is not None
    assert run_input.dataset == "credit"
    assert run_input.data.key == key


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (
            "data/credit/notes.txt",
            "data/credit/notes.txt is not a CSV file; upload .csv or .csv.gz files under data/<dataset>/.",
        ),
        (
            "data/credit/jan.gz",
            "data/credit/jan.gz is not a CSV file; upload .csv or .csv.gz files under data/<dataset>/.",
        ),
        (
            "data/credit/2026/jan.csv",
            "data/credit/2026/jan.csv is in a nested folder; upload CSV files directly under data/<dataset>/ "
            "(for example data/credit/jan.csv).",
        ),
        (
            "data/jan.csv",
            "data/jan.csv is not in a dataset folder; upload it as data/<dataset>/jan.csv, named for its dataset.",
        ),
        (
            "DATA/credit/jan.csv",
            "DATA/credit/jan.csv is not under data/ (S3 keys are case-sensitive); "
            "upload .csv or .csv.gz files under data/<dataset>/.",
        ),
        (
            "data/credit/2026/dataset.json",
            "data/credit/2026/dataset.json is not read from there; a dataset's config goes to "
            "data/<dataset>/dataset.json.",
        ),
    ],
)
def test_uploads_under_data_that_cannot_start_a_run_are_refused_with_what_to_do(key: str, reason: str) -> None:
    decision = classify_upload(key)

    assert decision.verdict == "refused"
    assert decision.reason == reason


@pytest.mark.parametrize("key", ["data/credit/dataset.json", "data/credit/", "data/", "runs/x/config.json"])
def test_dataset_configs_folder_markers_and_keys_outside_data_are_ignored_quietly(key: str) -> None:
    assert classify_upload(key).verdict == "ignored"


@pytest.mark.parametrize(
    ("event_key", "readings"),
    [
        ("data/credit/jan.csv", ["data/credit/jan.csv"]),
        ("data/credit/june+2026.csv", ["data/credit/june+2026.csv", "data/credit/june 2026.csv"]),
        ("data/credit/june%202026.csv", ["data/credit/june%202026.csv", "data/credit/june 2026.csv"]),
        ("data/credit/a%2Bb+c.csv", ["data/credit/a%2Bb+c.csv", "data/credit/a+b c.csv", "data/credit/a+b+c.csv"]),
        ("data/cr%C3%A9dit/%C3%A9t%C3%A9.csv", ["data/cr%C3%A9dit/%C3%A9t%C3%A9.csv", "data/crédit/été.csv"]),
    ],
)
def test_an_event_key_is_read_as_given_first_then_url_decoded(event_key: str, readings: list[str]) -> None:
    assert key_readings(event_key) == readings


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
    event = S3ObjectCreatedEvent.model_validate(load_event("start_run"))
    detail = event.detail

    run_input = run_input_for_upload(detail.bucket.name, detail.object.key, detail.object.version_id, event.id)

    assert event.detail_type == "Object Created"
    assert run_input is not None
    assert run_input.dataset == "credit"
    assert run_input.data.version_id == "IYV3p45BT0ac8hjHg1houSdS1a.Mro8e"


DOCUMENTED_EVENT_FIELDS = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
DOCUMENTED_DETAIL_FIELDS = {"version", "bucket", "object", "request-id", "requester", "source-ip-address", "reason"}
DOCUMENTED_OBJECT_FIELDS = {"key", "size", "etag", "version-id", "sequencer"}
UPLOAD_SAMPLES = [*sorted(path.stem for path in EVENTS_DIR.glob("s3_object_created_*.json")), "start_run"]


@pytest.mark.parametrize("sample", UPLOAD_SAMPLES)
def test_upload_samples_have_the_fields_s3_documents_for_eventbridge_and_parse(sample: str) -> None:
    raw = load_event(sample)
    event = S3ObjectCreatedEvent.model_validate(raw)

    assert set(raw) == DOCUMENTED_EVENT_FIELDS
    assert set(raw["detail"]) == DOCUMENTED_DETAIL_FIELDS
    assert set(raw["detail"]["object"]) == DOCUMENTED_OBJECT_FIELDS
    assert (event.source, event.detail_type) == ("aws.s3", "Object Created")
    assert event.detail.object.etag == raw["detail"]["object"]["etag"]
    assert event.detail.object.version_id == raw["detail"]["object"]["version-id"]


@pytest.mark.parametrize(
    ("sample", "verdict"),
    [
        ("start_run", "run"),
        ("s3_object_created_csv_gz", "run"),
        ("s3_object_created_encoded_key", "run"),
        ("s3_object_created_not_csv", "refused"),
        ("s3_object_created_dataset_config", "ignored"),
        ("s3_object_created_folder_marker", "ignored"),
    ],
)
def test_each_upload_sample_gets_the_decision_its_key_calls_for(sample: str, verdict: str) -> None:
    event = S3ObjectCreatedEvent.model_validate(load_event(sample))

    assert classify_upload(event.detail.object.key).verdict == verdict


def _settings() -> Settings:
    return Settings(data_bucket=BUCKET, state_machine_arn=STATE_MACHINE_ARN)


def _stubbed_stepfunctions(monkeypatch: pytest.MonkeyPatch) -> Stubber:
    """Step Functions stubbed; S3 answers that ``data/credit/jan.csv`` version ``v1`` exists."""
    session = boto3.Session(region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    clients: dict[str, Any] = {"stepfunctions": session.client("stepfunctions"), "s3": session.client("s3")}
    stubber = Stubber(clients["stepfunctions"])
    s3 = Stubber(clients["s3"])
    s3.add_response(
        "head_object",
        {"VersionId": "v1", "ETag": '"b1946ac92492d2347c6235b4d2611184"', "ContentLength": 6},
        {"Bucket": BUCKET, "Key": "data/credit/jan.csv", "VersionId": "v1"},
    )
    s3.activate()

    def get_client(service: str) -> Any:
        return clients[service]

    for module in (runs, stepfunctions):
        monkeypatch.setattr(module, "get_client", get_client)
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
