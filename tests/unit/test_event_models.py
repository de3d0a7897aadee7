"""Every sample event parses into the model its handler validates it with, and reads the right fields.

The samples in ``events/`` follow AWS's documented shapes (EventBridge envelope, S3 "Object Created",
CloudWatch "Alarm State Change", API Gateway HTTP API payload 2.0) and the state machine's payloads.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from driftline_core.aws.events import (
    AlarmStateChangeEvent,
    EventBridgeEvent,
    ExecutionStatusChangeEvent,
    HttpApiRequest,
    S3ObjectCreatedEvent,
)
from driftline_core.drift.schedules import MonitoringRequest
from driftline_core.handler_input import validate_event, validated_event
from driftline_core.payloads import (
    ApprovalRequestInput,
    DecideTrialInput,
    DeployInput,
    EvaluateInput,
    GateInput,
    NotifyInput,
    RegisterInput,
    RemoveStagingInput,
    StagingTestInput,
    StepInput,
    TrainInput,
    TrialAnalysisInput,
    WaitingStepInput,
)
from tests.conftest import EVENTS_DIR, load_event

# Handlers' own event models, imported in the test (``aws_env``) as every handler module is: its Metrics
# take their namespace from the environment when the module loads.
ModelPackageStateChange = "functions.approval_events.app:ModelPackageStateChange"
SageMakerJobStateChange = "functions.job_events.app:SageMakerJobStateChange"
ScheduledEvent = "functions.reconcile_jobs.app:ScheduledEvent"

# Each sample and the model its handler validates it with.
MODEL_OF_SAMPLE: dict[str, type[BaseModel] | str] = {
    "analyse_trial": TrialAnalysisInput,
    "approval_page_get": HttpApiRequest,
    "approval_page_post": HttpApiRequest,
    "cloudwatch_alarm_drift_alarm": AlarmStateChangeEvent,
    "cloudwatch_alarm_drift_ok": AlarmStateChangeEvent,
    "decide_trial": DecideTrialInput,
    "deploy": DeployInput,
    "evaluate": EvaluateInput,
    "notify_failed": NotifyInput,
    "notify_registered": NotifyInput,
    "notify_rejected": NotifyInput,
    "preprocess": WaitingStepInput,
    "quality_gate": GateInput,
    "register": RegisterInput,
    "request_approval": ApprovalRequestInput,
    "request_promotion": "functions.request_approval.app:ApprovalQuestion",
    "s3_object_created_csv_gz": S3ObjectCreatedEvent,
    "s3_object_created_dataset_config": S3ObjectCreatedEvent,
    "s3_object_created_encoded_key": S3ObjectCreatedEvent,
    "s3_object_created_folder_marker": S3ObjectCreatedEvent,
    "s3_object_created_not_csv": S3ObjectCreatedEvent,
    "sagemaker_endpoint_in_service": SageMakerJobStateChange,
    "sagemaker_model_monitor_execution_completed": "functions.start_monitoring.app:ProcessingJobStateChange",
    "sagemaker_model_package_approved": ModelPackageStateChange,
    "sagemaker_processing_job_failed": SageMakerJobStateChange,
    "sagemaker_training_job_completed": SageMakerJobStateChange,
    "sagemaker_transform_job_completed": SageMakerJobStateChange,
    "scheduled_reconcile_jobs": ScheduledEvent,
    "remove_staging": RemoveStagingInput,
    "scheduler_start_monitoring": MonitoringRequest,
    "start_run": S3ObjectCreatedEvent,
    "stepfunctions_execution_failed": ExecutionStatusChangeEvent,
    "test_staging": StagingTestInput,
    "train": TrainInput,
    "validate": StepInput,
}
# The CloudFormation custom resource request for ml/code_publisher.py, which reads it without the layer.
NOT_A_LAYER_MODEL = {"code_publisher_create"}


def test_every_sample_event_has_a_model() -> None:
    samples = {path.stem for path in EVENTS_DIR.glob("*.json")}

    assert samples - NOT_A_LAYER_MODEL == set(MODEL_OF_SAMPLE)


def _model_of(sample: str) -> type[BaseModel]:
    model = MODEL_OF_SAMPLE[sample]
    if isinstance(model, str):
        module, name = model.split(":")
        loaded: type[BaseModel] = getattr(importlib.import_module(module), name)
        return loaded
    return model


@pytest.mark.parametrize("sample", sorted(MODEL_OF_SAMPLE))
def test_each_sample_event_parses_into_its_handlers_model(sample: str, aws_env: None) -> None:
    model = _model_of(sample)

    parsed = validate_event(load_event(sample), model)

    assert isinstance(parsed, model)


@pytest.mark.parametrize("sample", sorted(s for s in MODEL_OF_SAMPLE if "detail-type" in load_event(s)))
def test_eventbridge_samples_carry_the_documented_envelope(sample: str, aws_env: None) -> None:
    raw = load_event(sample)
    event = validate_event(raw, _model_of(sample))
    assert isinstance(event, EventBridgeEvent)

    assert (event.id, event.source, event.detail_type) == (raw["id"], raw["source"], raw["detail-type"])
    assert (event.version, event.account, event.region) == ("0", "123456789012", "us-east-1")
    assert event.resources == raw["resources"]


def test_an_s3_upload_event_gives_the_bucket_key_version_size_etag_and_sequencer() -> None:
    raw = load_event("start_run")
    obj = raw["detail"]["object"]

    event = S3ObjectCreatedEvent.model_validate(raw)

    assert event.detail.bucket.name == raw["detail"]["bucket"]["name"]
    assert (event.detail.object.key, event.detail.object.version_id) == (obj["key"], obj["version-id"])
    assert (event.detail.object.size, event.detail.object.etag) == (obj["size"], obj["etag"])
    assert event.detail.object.sequencer == obj["sequencer"]


def test_an_upload_to_an_unversioned_bucket_has_no_version_id() -> None:
    raw = load_event("start_run")
    del raw["detail"]["object"]["version-id"]

    assert S3ObjectCreatedEvent.model_validate(raw).detail.object.version_id is None


def test_an_s3_event_without_the_object_key_is_refused_naming_the_field() -> None:
    raw = load_event("start_run")
    del raw["detail"]["object"]["key"]

    with pytest.raises(ValidationError) as refused:
        S3ObjectCreatedEvent.model_validate(raw)

    assert refused.value.errors()[0]["loc"] == ("detail", "object", "key")


def test_an_approval_link_post_gives_the_link_method_and_encoded_form() -> None:
    raw = load_event("approval_page_post")

    event = HttpApiRequest.model_validate(raw)

    assert event.request_context.http.method == "POST"
    assert event.path_parameters == raw["pathParameters"]
    assert (event.body, event.is_base64_encoded) == (raw["body"], True)


def test_an_approval_page_get_without_a_body_parses_with_none() -> None:
    raw = load_event("approval_page_get")
    raw.pop("body", None)

    event = HttpApiRequest.model_validate(raw)

    assert (event.request_context.http.method, event.body) == ("GET", None)


def test_a_drift_alarm_event_gives_the_alarm_and_its_new_state() -> None:
    raw = load_event("cloudwatch_alarm_drift_alarm")

    event = AlarmStateChangeEvent.model_validate(raw)

    assert event.detail.alarm_name == raw["detail"]["alarmName"]
    assert event.detail.state.value == "ALARM"


def test_a_run_end_event_gives_the_run_how_it_ended_and_its_input() -> None:
    raw = load_event("stepfunctions_execution_failed")

    event = ExecutionStatusChangeEvent.model_validate(raw)

    assert (event.detail.name, event.detail.status, event.detail.error) == (
        "credit-5e4f54c7bade",
        "FAILED",
        "ApprovalRejected",
    )
    assert json.loads(event.detail.input or "")["dataset"] == "credit"
    assert event.detail.input_details is not None and event.detail.input_details.included
    assert event.detail.start_date < (event.detail.stop_date or 0) and event.detail.output is None


class _Order(BaseModel):
    order_id: str
    quantity: int


@validated_event(_Order)
def _handler(event: _Order, context: Any) -> dict[str, Any]:
    return {"order_id": event.order_id, "quantity": event.quantity, "context": context}


def test_a_handler_receives_its_event_as_the_typed_model() -> None:
    assert _handler({"order_id": "o-1", "quantity": "3"}, "ctx") == {"order_id": "o-1", "quantity": 3, "context": "ctx"}


def test_a_handler_accepts_an_event_given_as_a_json_string() -> None:
    assert _handler(json.dumps({"order_id": "o-2", "quantity": 1}), None)["order_id"] == "o-2"


def test_a_malformed_event_raises_a_validation_error_naming_each_wrong_field() -> None:
    with pytest.raises(ValidationError) as refused:
        _handler({"quantity": "many"}, None)

    assert {error["loc"] for error in refused.value.errors()} == {("order_id",), ("quantity",)}


def test_a_waiting_steps_parse_error_does_not_echo_the_task_token() -> None:
    event = load_event("preprocess")
    del event["validation"]

    with pytest.raises(ValidationError) as refused:
        validate_event(event, WaitingStepInput)

    assert event["task_token"] not in str(refused.value)
