"""The AWS event shapes the handlers receive, with the fields they read, as AWS documents them.

The project's own models rather than Powertools' parser models: importing that package builds the models
of every AWS event it knows (about a hundred), which each cold start would pay for to read three shapes.
Sources: EventBridge's event structure (EventBridge user guide, "Amazon EventBridge events"), S3's
"EventBridge event message structure" (S3 user guide), "Step Functions Execution Status Change" (Step
Functions developer guide, "EventBridge for Step Functions execution status changes") and API Gateway's
"payload format version 2.0" for HTTP API Lambda integrations (API Gateway developer guide). Unread fields
are ignored, as before. Like every payload model, they build their validators on first use.
"""

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _AwsEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore", defer_build=True)


class EventBridgeEvent(_AwsEvent):
    """The envelope every EventBridge event has; each subclass declares ``detail`` as the shape it reads."""

    version: str
    id: str
    """A UUID per event: redelivered events keep it, so it names the work an event starts."""
    detail_type: str = Field(alias="detail-type")
    source: str
    account: str
    time: str
    """ISO 8601, set by the service that sent the event."""
    region: str
    resources: list[str]


class S3Bucket(_AwsEvent):
    name: str


class S3Object(_AwsEvent):
    key: str
    """As the event spells it, possibly URL-encoded: ``layout.key_readings`` finds the stored key."""
    size: int | None = Field(default=None, ge=0)
    etag: str = ""
    version_id: str | None = Field(default=None, alias="version-id")
    """Present when the bucket has versioning enabled."""
    sequencer: str | None = None
    """Orders events of the same key: a later write has a greater sequencer (compare as hex strings)."""


class S3ObjectCreatedDetail(_AwsEvent):
    bucket: S3Bucket
    object: S3Object


class S3ObjectCreatedEvent(EventBridgeEvent):
    """S3's "Object Created" event, sent to EventBridge when the bucket has EventBridge notifications on."""

    detail: S3ObjectCreatedDetail


class HttpApiRequestHttp(_AwsEvent):
    method: str


class HttpApiRequestContext(_AwsEvent):
    http: HttpApiRequestHttp


class HttpApiRequest(_AwsEvent):
    """An API Gateway HTTP API request to a Lambda integration, payload format version 2.0."""

    version: str
    route_key: str = Field(alias="routeKey")
    request_context: HttpApiRequestContext = Field(alias="requestContext")
    path_parameters: dict[str, str] | None = Field(default=None, alias="pathParameters")
    """Absent when the route has no path parameters."""
    body: str | None = None
    """Absent when the request has no body."""
    is_base64_encoded: bool = Field(alias="isBase64Encoded")


class AlarmState(_AwsEvent):
    value: str
    reason: str = ""
    reason_data: str | None = Field(default=None, alias="reasonData")
    timestamp: str


class AlarmStateChange(_AwsEvent):
    """``detail`` of "CloudWatch Alarm State Change" (CloudWatch user guide, "Alarm events and EventBridge")."""

    alarm_name: str = Field(alias="alarmName")
    state: AlarmState
    previous_state: AlarmState | None = Field(default=None, alias="previousState")
    configuration: dict[str, Any] = Field(default_factory=dict)


class AlarmStateChangeEvent(EventBridgeEvent):
    detail: AlarmStateChange


class SageMakerJobStateChange(EventBridgeEvent):
    """A SageMaker Processing, Training or Transform Job State Change; ``detail`` resembles the Describe*Job
    response."""

    detail: dict[str, Any]


class ScheduledEvent(EventBridgeEvent):
    """EventBridge's "Scheduled Event" from the reconcile rule; ``detail`` is always empty."""

    source: Literal["aws.events"]
    detail_type: Literal["Scheduled Event"] = Field(alias="detail-type")
    detail: dict[str, Any]


class ModelPackageStateChange(EventBridgeEvent):
    """A "SageMaker Model Package State Change"; ``detail`` resembles the DescribeModelPackage response."""

    detail: dict[str, Any]


class ProcessingJobStateChange(EventBridgeEvent):
    """SageMaker's "SageMaker Processing Job State Change" event; ``detail`` is the job's description."""

    detail: dict[str, Any]


class ExecutionDataDetails(_AwsEvent):
    included: bool = True
    """False when Step Functions left the input or output out of the event (over EventBridge's size quota)."""


class ExecutionStatusChange(_AwsEvent):
    """``detail`` of "Step Functions Execution Status Change": the execution as DescribeExecution describes it."""

    execution_arn: str = Field(alias="executionArn")
    state_machine_arn: str = Field(alias="stateMachineArn")
    name: str
    status: str
    """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED (or PENDING_REDRIVE)."""
    start_date: int = Field(alias="startDate")
    """Epoch milliseconds, as are ``stop_date`` and ``redrive_date``."""
    stop_date: int | None = Field(default=None, alias="stopDate")
    input: str | None = None
    input_details: ExecutionDataDetails | None = Field(default=None, alias="inputDetails")
    output: str | None = None
    """Only for a SUCCEEDED execution."""
    output_details: ExecutionDataDetails | None = Field(default=None, alias="outputDetails")
    error: str | None = None
    cause: str | None = None


class ExecutionStatusChangeEvent(EventBridgeEvent):
    """Step Functions sends one for every status change of a standard workflow's execution, its end included."""

    detail: ExecutionStatusChange
