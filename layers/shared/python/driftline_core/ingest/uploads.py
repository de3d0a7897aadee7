"""Starting one pipeline run per uploaded object version.

S3 delivers events at least once, so the execution name is derived from the object version: a
redelivered event finds its run already started instead of starting a second one. The event's key is
confirmed against S3 before a run starts (see ``resolve_uploaded_key``), and an upload under ``data/``
that cannot start a run is answered with a notification saying why and what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_missing_object
from driftline_core.aws.stepfunctions import execution_arn_for, execution_exists
from driftline_core.layout import (
    DATA_PREFIX,
    DATASET_CONFIG_FILE,
    dataset_from_key,
    execution_name_for_object,
    is_dataset_config_key,
    is_folder_marker,
    is_upload_file_name,
    key_readings,
    s3_uri,
)
from driftline_core.notifications.messages import upload_not_started
from driftline_core.notifications.publish import publish_notification
from driftline_core.payloads import DataObject, RunInput, RunTrigger, StartRunResult
from driftline_core.settings import Settings

UPLOAD_ADVICE = "upload .csv or .csv.gz files under data/<dataset>/"
_NOT_THIS_OBJECT = {"400", "InvalidArgument"}
"""Besides a missing object, what HeadObject answers (without a body) a version id of another form."""

Verdict = Literal["run", "ignored", "refused"]


@dataclass(frozen=True)
class UploadDecision:
    """What an upload's key alone says: start a run, ignore it quietly, or refuse it with a reason."""

    verdict: Verdict
    reason: str


def classify_upload(key: str) -> UploadDecision:
    """Decide from the key's shape; ``refused`` reasons name the key and say what to upload instead."""
    if is_folder_marker(key):
        return UploadDecision("ignored", f"{key} is a folder marker; no run started.")
    if not key.startswith(DATA_PREFIX):
        if key.lower().startswith(DATA_PREFIX):
            return UploadDecision(
                "refused",
                f"{key} is not under data/ (S3 keys are case-sensitive); {UPLOAD_ADVICE}.",
            )
        return UploadDecision("ignored", f"{key} is outside data/; no run started.")
    if is_dataset_config_key(key):
        return UploadDecision("ignored", f"{key} is a dataset config; it applies to the next upload's run.")
    parts = key[len(DATA_PREFIX) :].split("/")
    name = parts[-1]
    if name == DATASET_CONFIG_FILE:
        return UploadDecision(
            "refused",
            f"{key} is not read from there; a dataset's config goes to data/<dataset>/{DATASET_CONFIG_FILE}.",
        )
    if not is_upload_file_name(name):
        return UploadDecision("refused", f"{key} is not a CSV file; {UPLOAD_ADVICE}.")
    if len(parts) == 1 or not parts[0]:
        return UploadDecision(
            "refused", f"{key} is not in a dataset folder; upload it as data/<dataset>/{name}, named for its dataset."
        )
    if len(parts) > 2:
        return UploadDecision(
            "refused",
            f"{key} is in a nested folder; upload CSV files directly under data/<dataset>/ "
            f"(for example data/{parts[0]}/{name}).",
        )
    return UploadDecision("run", f"{key} is an upload of dataset {parts[0]}.")


@dataclass(frozen=True)
class ResolvedKey:
    """The reading of an event's key that is the uploaded object, or why none is."""

    key: str | None
    tried: tuple[str, ...]
    replaced: bool = False
    """Unversioned bucket only: the key exists but holds a newer write, whose own event starts its run."""


def resolve_uploaded_key(
    bucket: str, event_key: str, version_id: str | None, etag: str | None, size: int | None
) -> ResolvedKey:
    """The object key the event is about, confirmed with HeadObject against the event's version, ETag and size.

    The key as given is tried first, then its URL-decoded readings (``layout.key_readings``); the first
    whose object matches what the event reports is the upload. Keys whose literal text contains ``+`` or
    ``%20`` are found as given; encoded keys are found by their decoded reading.
    """
    s3 = get_client("s3")
    tried: list[str] = []
    replaced = False
    for reading in key_readings(event_key):
        tried.append(reading)
        try:
            if version_id:
                head = s3.head_object(Bucket=bucket, Key=reading, VersionId=version_id)
            else:
                head = s3.head_object(Bucket=bucket, Key=reading)
        except ClientError as error:
            if is_missing_object(error) or error_code(error) in _NOT_THIS_OBJECT:
                continue
            raise
        if _same_object(head, version_id, etag, size):
            return ResolvedKey(key=reading, tried=tuple(tried))
        replaced = replaced or not version_id
    return ResolvedKey(key=None, tried=tuple(tried), replaced=replaced)


def _same_object(found: Mapping[str, Any], version_id: str | None, etag: str | None, size: int | None) -> bool:
    if version_id and found.get("VersionId") not in (None, version_id):
        return False
    if etag and str(found.get("ETag", "")).strip('"') != etag.strip('"'):
        return False
    return size is None or found.get("ContentLength") == size


def run_input_for_upload(bucket: str, key: str, version_id: str | None, event_id: str | None = None) -> RunInput | None:
    """The execution input for an upload, or None unless the key is ``data/<dataset>/<file>.csv`` (or ``.csv.gz``).

    The dataset name is taken as written: a name SageMaker cannot use still starts a run, so that
    Validate fails it with a readable reason and the user is notified.
    """
    dataset = dataset_from_key(key)
    if dataset is None or classify_upload(key).verdict != "run":
        return None
    return RunInput(
        dataset=dataset,
        data=DataObject(bucket=bucket, key=key, version_id=version_id, uri=s3_uri(bucket, key)),
        trigger=RunTrigger(source="upload", event_id=event_id),
    )


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
    etag: str | None = None,
    size: int | None = None,
) -> StartRunResult:
    """Start the pipeline for one uploaded object version, at most once; tell the topic when an upload cannot."""
    if settings.data_bucket and bucket != settings.data_bucket:
        return StartRunResult(
            started=False,
            reason=f"s3://{bucket}/{key} is not in the data bucket {settings.data_bucket}; no run started.",
        )
    decision = classify_upload(key)
    if decision.verdict == "ignored":
        return StartRunResult(started=False, reason=decision.reason)
    if decision.verdict == "refused":
        return _refuse(bucket, key, version_id, decision.reason, settings)
    resolved = resolve_uploaded_key(bucket, key, version_id, etag, size)
    if resolved.key is None:
        if resolved.replaced:
            overwritten = f"s3://{bucket}/{key} was overwritten"
            return StartRunResult(
                started=False,
                reason=f"{overwritten} before its run could start; the newer write starts its own.",
            )
        return _refuse(bucket, key, version_id, _not_found_reason(key, version_id, etag, size, resolved), settings)
    key = resolved.key
    run_input = run_input_for_upload(bucket, key, version_id, event_id)
    if run_input is None:
        return _refuse(bucket, key, version_id, classify_upload(key).reason, settings)
    execution_name = execution_name_for_object(run_input.dataset, bucket, key, upload_identity(version_id, sequencer))
    execution_arn = execution_arn_for(settings.state_machine_arn, execution_name)
    stepfunctions = get_client("stepfunctions")

    if execution_exists(execution_arn):
        return _already_started(run_input.dataset, execution_name, execution_arn)
    try:
        started = stepfunctions.start_execution(
            stateMachineArn=settings.state_machine_arn,
            name=execution_name,
            input=json.dumps(run_input.model_dump(mode="json")),
        )
    except ClientError as error:
        if error_code(error) == "ExecutionAlreadyExists":
            return _already_started(run_input.dataset, execution_name, execution_arn)
        raise
    return StartRunResult(
        started=True,
        execution_arn=started["executionArn"],
        execution_name=execution_name,
        dataset=run_input.dataset,
        reason=f"Started run {execution_name} for {run_input.data.uri}.",
    )


def _already_started(dataset: str, execution_name: str, execution_arn: str) -> StartRunResult:
    return StartRunResult(
        started=False,
        execution_arn=execution_arn,
        execution_name=execution_name,
        dataset=dataset,
        reason=f"Run {execution_name} was already started for this object version.",
    )


def _refuse(bucket: str, key: str, version_id: str | None, reason: str, settings: Settings) -> StartRunResult:
    """No run for this upload: say why on the topic, where the run outcomes arrive."""
    folder = key[len(DATA_PREFIX) :].split("/")[0] if key.startswith(DATA_PREFIX) and key.count("/") > 1 else ""
    dataset = folder or None
    publish_notification(upload_not_started(bucket, key, version_id, dataset, reason), settings)
    return StartRunResult(started=False, dataset=dataset, reason=f"{reason} No run started.", notified=True)


def _not_found_reason(
    key: str, version_id: str | None, etag: str | None, size: int | None, resolved: ResolvedKey
) -> str:
    described = [f"version {version_id}" if version_id else "unversioned"]
    if etag:
        described.append(f"ETag {etag}")
    if size is not None:
        described.append(f"{size} bytes")
    tried = ", ".join(repr(reading) for reading in resolved.tried)
    return (
        f"{key} could not be found as the upload event describes it ({', '.join(described)}); "
        f"tried the key {tried}. If it was deleted or replaced right after the upload, upload it again."
    )
