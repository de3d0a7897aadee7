"""Starting one pipeline run per uploaded object version.

S3 delivers events at least once, so the execution name is derived from the object version: a
redelivered event finds its run already started instead of starting a second one.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError
from pydantic import BaseModel

from driftline_core.clients import get_client
from driftline_core.layout import dataset_from_key, execution_name_for_object, s3_uri
from driftline_core.models import DataObject, RunInput, RunTrigger
from driftline_core.settings import Settings

UPLOAD_SUFFIX = ".csv"


class StartRunResult(BaseModel):
    """What StartRun returns; ``reason`` says in a sentence why a run did or did not start."""

    started: bool
    execution_arn: str | None = None
    execution_name: str | None = None
    dataset: str | None = None
    reason: str


def run_input_for_upload(bucket: str, key: str, version_id: str | None, event_id: str | None = None) -> RunInput | None:
    """The execution input for an upload, or None when the key is not ``data/<dataset>/<file>.csv``.

    The dataset name is taken as written: a name SageMaker cannot use still starts a run, so that
    Validate fails it with a readable reason and the user is notified.
    """
    dataset = dataset_from_key(key)
    if dataset is None or not key.lower().endswith(UPLOAD_SUFFIX):
        return None
    return RunInput(
        dataset=dataset,
        data=DataObject(bucket=bucket, key=key, version_id=version_id, uri=s3_uri(bucket, key)),
        trigger=RunTrigger(source="upload", event_id=event_id),
    )


def execution_arn_for(state_machine_arn: str, execution_name: str) -> str:
    """The ARN Step Functions gives a named execution of a standard state machine."""
    prefix, marker, machine_name = state_machine_arn.rpartition(":stateMachine:")
    if not marker:
        raise ValueError(f"not a state machine ARN: {state_machine_arn!r}")
    return f"{prefix}:execution:{machine_name}:{execution_name}"


def upload_identity(version_id: str | None, sequencer: str | None) -> str | None:
    """What tells one write of a key from another: its version, or S3's per-write sequencer when unversioned.

    A redelivered event repeats both, so it maps to the same run; a new write of the same key does not.
    """
    if version_id:
        return version_id
    return f"sequencer-{sequencer}" if sequencer else None


def start_run_for_upload(
    bucket: str,
    key: str,
    version_id: str | None,
    event_id: str | None,
    settings: Settings,
    sequencer: str | None = None,
) -> StartRunResult:
    """Start the pipeline for one uploaded object version, at most once."""
    if settings.data_bucket and bucket != settings.data_bucket:
        return StartRunResult(
            started=False,
            reason=f"s3://{bucket}/{key} is not in the data bucket {settings.data_bucket}; no run started.",
        )
    run_input = run_input_for_upload(bucket, key, version_id, event_id)
    if run_input is None:
        return StartRunResult(
            started=False,
            reason=(f"s3://{bucket}/{key} is not an upload of the form data/<dataset>/<file>.csv; no run started."),
        )
    execution_name = execution_name_for_object(run_input.dataset, bucket, key, upload_identity(version_id, sequencer))
    execution_arn = execution_arn_for(settings.state_machine_arn, execution_name)
    stepfunctions = get_client("stepfunctions")

    if _execution_exists(execution_arn):
        return _already_started(run_input.dataset, execution_name, execution_arn)
    try:
        started = stepfunctions.start_execution(
            stateMachineArn=settings.state_machine_arn,
            name=execution_name,
            input=json.dumps(run_input.model_dump(mode="json")),
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
            return _already_started(run_input.dataset, execution_name, execution_arn)
        raise
    return StartRunResult(
        started=True,
        execution_arn=started["executionArn"],
        execution_name=execution_name,
        dataset=run_input.dataset,
        reason=f"Started run {execution_name} for {run_input.data.uri}.",
    )


def _execution_exists(execution_arn: str) -> bool:
    """Answer a redelivered event without a start call, which succeeds silently while the run is open."""
    try:
        get_client("stepfunctions").describe_execution(executionArn=execution_arn)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
            return False
        raise
    return True


def _already_started(dataset: str, execution_name: str, execution_arn: str) -> StartRunResult:
    return StartRunResult(
        started=False,
        execution_arn=execution_arn,
        execution_name=execution_name,
        dataset=dataset,
        reason=f"Run {execution_name} was already started for this object version.",
    )
