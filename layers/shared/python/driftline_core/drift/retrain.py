"""The retrain decision: a drift alarm of this stack went to ALARM; start one pipeline run, or say why not.

In order:

1. Only ALARM states of this stack's drift alarms (``<stack>-drift-<dataset>``) count.
2. One drift episode, one run: the execution name comes from the alarm and the time of its state change,
   so a redelivered event finds its run (Step Functions refuses a second execution of one name), and the
   cooldown marker names the episode it handled, so a redelivered episode sends no second notice (and starts the
   retrain it claimed, if starting it failed).
3. No retrain while a run of the dataset is in progress (its RUNNING executions, found by name and input): the
   episode is held (``drift.held``) and decided when such a run ends without a new serving model
   (``drift.release``).
4. A cooldown (``DRIFT_RETRAIN_COOLDOWN_MINUTES``) since the last retrain or no-new-data notice of the
   dataset keeps a flapping alarm from starting a retrain storm. The marker
   (``drift/<dataset>/last-retrain.json`` in the artifact bucket) is written with an S3 conditional write
   against the version read, so of two episodes decided at the same moment exactly one starts a run.
5. The labelled data: the dataset's uploads under ``data/<dataset>/`` (every one, or those of the last
   ``retrain_window_days`` in ``dataset.json``). When none arrived after the data of the approved (serving)
   model, the topic is told that drift was found and fresh labelled data is needed, and nothing is trained.
6. The run starts with a trigger that says "drift", which features drifted and by how much, the drift report
   and ``runs/<execution>/retrain.json`` (the window's uploads, exact versions): Validate checks and copies
   every upload listed there and the run trains on all of them. Its ``data`` names the newest upload, which
   lineage and the fresh-data check read.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_condition_failed, is_missing_object
from driftline_core.aws.events import AlarmStateChangeEvent
from driftline_core.aws.stepfunctions import execution_arn_for, execution_exists
from driftline_core.drift.held import hold
from driftline_core.ingest.dataset_config import parse_dataset_config
from driftline_core.layout import dataset_from_alarm_name, drift_reports_prefix, model_package_group_name
from driftline_core.notifications.publish import Notification, email_subject, publish_notification
from driftline_core.payloads import DataObject, DriftedFeature, RetrainResult, RunInput, RunTrigger
from driftline_core.settings import Settings
from driftline_core.training.registry import find_approved_model_package

_DRIFT_DESCRIPTION = re.compile(r"distance: (?P<distance>[0-9.eE+-]+).*?threshold: (?P<threshold>[0-9.eE+-]+)")


@dataclass(frozen=True)
class Upload:
    key: str
    version_id: str | None
    last_modified: datetime
    size: int


def retrain_on_drift(
    event: AlarmStateChangeEvent, settings: Settings, now: datetime | None = None, *, held_note: str | None = None
) -> RetrainResult:
    """Start one retrain for a drift alarm's ALARM state, at most once per episode and once per cooldown.

    ``held_note`` says, for an episode that was held, which run it waited for and how that run ended.
    """
    now = now or datetime.now(UTC)
    detail = event.detail
    alarm = detail.alarm_name
    if detail.state.value != "ALARM":
        return RetrainResult(started=False, reason=f"Alarm {alarm} is {detail.state.value}, not ALARM; no retrain.")
    dataset = dataset_from_alarm_name(settings.model_package_group_prefix, alarm)
    if dataset is None:
        return RetrainResult(started=False, reason=f"{alarm} is not a drift alarm of this stack; no retrain.")

    execution_name = layout.execution_name_for_object(dataset, "drift", alarm, detail.state.timestamp)
    execution_arn = execution_arn_for(settings.state_machine_arn, execution_name)
    result: dict[str, Any] = {"dataset": dataset, "execution_name": execution_name, "execution_arn": execution_arn}
    if execution_exists(execution_arn):
        return RetrainResult(
            started=False, reason=f"This drift episode already started run {execution_name}.", **result
        )
    marker, etag = _read_marker(settings.artifact_bucket, dataset)
    # An episode that claimed a retrain whose start then failed starts it now: the run's name makes that once.
    claimed = marker.get("alarm") == alarm and marker.get("episode") == detail.state.timestamp
    if claimed and marker.get("action") != "retrain":
        return RetrainResult(
            started=False,
            reason=f"This drift episode was already handled: {marker.get('action')} at {marker.get('at')}.",
            dataset=dataset,
        )
    running = runs_in_progress(settings.state_machine_arn, dataset)
    if running:
        hold(settings.artifact_bucket, dataset, event, running, now)
        return RetrainResult(
            started=False,
            reason=(
                f"Drift found on {dataset}, but run {running[0]} of the dataset is in progress; no retrain started "
                "yet. The drift is held: when that run ends without deploying a new model, it decides then."
            ),
            dataset=dataset,
            held=True,
        )
    cooldown = timedelta(minutes=settings.drift_retrain_cooldown_minutes)
    last = _marker_time(marker)
    if not claimed and last is not None and now - last < cooldown:
        return RetrainResult(
            started=False,
            reason=(
                f"Drift found on {dataset} within the cooldown of {settings.drift_retrain_cooldown_minutes} minutes "
                f"since {marker.get('action', 'the last retrain')} at {last.isoformat()}; no retrain started."
            ),
            dataset=dataset,
        )

    drifted, report_uri = latest_drift(settings.artifact_bucket, dataset)
    window_days = _window_days(settings.data_bucket, dataset)
    window = labelled_uploads(settings.data_bucket, dataset, now, window_days)
    serving = serving_data(settings, dataset)
    serving_since = serving.time if serving else None
    fresh = [u for u in window if serving is None or serving.predates(u)]
    action = "retrain" if fresh else "no-new-data notice"
    claim = {"action": action, "at": now.isoformat(), "alarm": alarm, "episode": detail.state.timestamp}
    if fresh:
        claim["execution_name"] = execution_name
    if not claimed and not _claim(settings.artifact_bucket, dataset, claim, etag):
        return RetrainResult(
            started=False, reason=f"Another drift episode of {dataset} was handled at the same moment.", dataset=dataset
        )
    if not fresh:
        publish_notification(
            fresh_data_needed(dataset, alarm, drifted, report_uri, serving_since, window_days, held_note=held_note),
            settings,
        )
        return RetrainResult(
            started=False,
            reason=f"Drift found on {dataset}, but no labelled data arrived since the serving model's; notified.",
            dataset=dataset,
            notified=True,
        )

    newest = max(window, key=lambda u: u.last_modified)
    retrain_uri = s3io.write_json(
        settings.artifact_bucket,
        layout.run_retrain_key(execution_name),
        {
            "reason": "drift",
            "alarm_name": alarm,
            "alarm_state_time": detail.state.timestamp,
            "alarm_reason": detail.state.reason,
            "drifted_features": [f.model_dump(mode="json") for f in drifted],
            "report_uri": report_uri,
            "window_days": window_days,
            "serving_data_time": serving_since.isoformat() if serving_since else None,
            "uploads": [
                {
                    "uri": layout.s3_uri(settings.data_bucket, u.key),
                    "version_id": u.version_id,
                    "last_modified": u.last_modified.isoformat(),
                    "size": u.size,
                    "new": u in fresh,
                }
                for u in window
            ],
        },
    )
    features = ", ".join(_feature_text(f) for f in drifted) or "features named in the drift report"
    run_input = RunInput(
        dataset=dataset,
        data=DataObject(
            bucket=settings.data_bucket,
            key=newest.key,
            version_id=newest.version_id,
            uri=layout.s3_uri(settings.data_bucket, newest.key),
        ),
        trigger=RunTrigger(
            source="drift",
            event_id=event.id,
            reason=f"Retrained because drift alarm {alarm} fired: {features}." + (f" {held_note}" if held_note else ""),
            alarm_name=alarm,
            drifted_features=drifted,
            report_uri=report_uri,
            retrain_uri=retrain_uri,
        ),
    )
    try:
        get_client("stepfunctions").start_execution(
            stateMachineArn=settings.state_machine_arn,
            name=execution_name,
            input=json.dumps(run_input.model_dump(mode="json")),
        )
    except ClientError as error:
        if error_code(error) != "ExecutionAlreadyExists":
            raise
        return RetrainResult(
            started=False, reason=f"This drift episode already started run {execution_name}.", **result
        )
    return RetrainResult(
        started=True,
        reason=f"Started retrain {execution_name} of {dataset}: {len(fresh)} new of {len(window)} uploads; {features}.",
        **result,
    )


def runs_in_progress(state_machine_arn: str, dataset: str) -> list[str]:
    """Names of the dataset's RUNNING executions (upload and drift runs alike), confirmed by their input."""
    stepfunctions = get_client("stepfunctions")
    shape = re.compile(rf"^{re.escape(layout.execution_name_for_object(dataset, '', '', None)[:-12])}[0-9a-f]{{12}}$")
    found = []
    for page in stepfunctions.get_paginator("list_executions").paginate(
        stateMachineArn=state_machine_arn, statusFilter="RUNNING"
    ):
        for execution in page.get("executions", []):
            if not shape.match(execution["name"]):
                continue
            described = stepfunctions.describe_execution(executionArn=execution["executionArn"])
            if json.loads(described.get("input") or "{}").get("dataset") == dataset:
                found.append(str(execution["name"]))
    return found


def labelled_uploads(bucket: str, dataset: str, now: datetime, window_days: int | None) -> list[Upload]:
    """The dataset's CSV uploads (``data/<dataset>/<file>.csv``/``.csv.gz``), those of the last N days when set."""
    s3 = get_client("s3")
    prefix = f"{layout.DATA_PREFIX}{dataset}/"
    since = now - timedelta(days=window_days) if window_days else None
    uploads = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            key = item["Key"]
            if layout.dataset_from_key(key) != dataset or not layout.is_upload_file_name(key.rsplit("/", 1)[-1]):
                continue
            modified = item["LastModified"]
            if since is not None and modified < since:
                continue
            version = s3.head_object(Bucket=bucket, Key=key).get("VersionId")
            uploads.append(Upload(key, None if version in (None, "null") else version, modified, int(item["Size"])))
    return uploads


@dataclass(frozen=True)
class ServingData:
    """The upload the approved (serving) model was trained on, and when it was uploaded."""

    time: datetime
    key: str | None = None
    version_id: str | None = None

    def predates(self, upload: Upload) -> bool:
        """True for an upload that arrived after this one (S3 times are whole seconds: a tie is another object)."""
        if upload.last_modified != self.time:
            return upload.last_modified > self.time
        return (upload.key, upload.version_id) != (self.key, self.version_id)


def serving_data(settings: Settings, dataset: str) -> ServingData | None:
    """The approved model's training upload and its LastModified (else the package's creation), or None."""
    group = model_package_group_name(settings.model_package_group_prefix, dataset)
    approved = find_approved_model_package(group)
    if approved is None:
        return None
    described = get_client("sagemaker").describe_model_package(ModelPackageName=approved.model_package_arn)
    lineage = described.get("CustomerMetadataProperties", {})
    data_uri, version = lineage.get("data_uri"), lineage.get("data_version_id")
    if data_uri:
        bucket, key = layout.split_s3_uri(data_uri)
        request = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        try:
            modified = get_client("s3").head_object(**request)["LastModified"]
            return ServingData(modified, key, version or None)
        except ClientError as error:
            if not is_missing_object(error):
                raise
    created = described.get("CreationTime")
    return ServingData(created) if isinstance(created, datetime) else None


def latest_drift(bucket: str, dataset: str) -> tuple[list[DriftedFeature], str | None]:
    """The drifted features of the newest monitoring window and its report, from ``constraint_violations.json``."""
    s3 = get_client("s3")
    newest: dict[str, Any] | None = None
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=drift_reports_prefix(dataset)):
        for item in page.get("Contents", []):
            if item["Key"].endswith(f"/{layout.VIOLATIONS_FILE}") and (
                newest is None or item["LastModified"] > newest["LastModified"]
            ):
                newest = item
    if newest is None:
        return [], None
    key = newest["Key"]
    document = s3io.read_json(layout.s3_uri(bucket, key))
    features = []
    for violation in document.get("violations", []):
        if violation.get("constraint_check_type") != "baseline_drift_check":
            continue
        match = _DRIFT_DESCRIPTION.search(str(violation.get("description", "")))
        features.append(
            DriftedFeature(
                name=str(violation.get("feature_name")),
                distance=float(match["distance"]) if match else None,
                threshold=float(match["threshold"]) if match else None,
            )
        )
    report_key = key[: -len(layout.VIOLATIONS_FILE)] + layout.DRIFT_REPORT_FILE
    try:
        s3.head_object(Bucket=bucket, Key=report_key)
    except ClientError:
        report_key = key
    return features, layout.s3_uri(bucket, report_key)


def fresh_data_needed(
    dataset: str,
    alarm: str,
    drifted: list[DriftedFeature],
    report_uri: str | None,
    serving_since: datetime | None,
    window_days: int | None,
    *,
    held_note: str | None = None,
) -> Notification:
    """Drift without new labelled data: retraining would fit the same data again, so ask for fresh labels."""
    window = f"in the last {window_days} days" if window_days else f"under data/{dataset}/"
    since = serving_since.isoformat() if serving_since else "the serving model's training"
    lines = [
        f"The drift monitor of dataset {dataset} found drift (alarm {alarm}), but no labelled data arrived {window} "
        f"after the data the serving model was trained on ({since}).",
        *([held_note] if held_note else []),
        "",
        "Drifted features: " + (", ".join(_feature_text(f) for f in drifted) or "see the drift report"),
        f"Drift report: {report_uri or 'not found under ' + drift_reports_prefix(dataset)}",
        "",
        f"What to do: upload freshly labelled rows as data/{dataset}/<file>.csv; the upload starts a run. "
        "No model was trained and no endpoint was changed.",
    ]
    return Notification(
        subject=email_subject(dataset, "drift in {dataset}, fresh labelled data needed"),
        message="\n".join(lines),
        attributes={"outcome": "drift-needs-data", "dataset": dataset},
        error="",
        cause=lines[0],
    )


def _feature_text(feature: DriftedFeature) -> str:
    if feature.distance is None:
        return feature.name
    threshold = f" > {feature.threshold:g}" if feature.threshold is not None else ""
    return f"{feature.name} (distance {feature.distance:.4f}{threshold})"


def _read_marker(bucket: str, dataset: str) -> tuple[dict[str, Any], str | None]:
    try:
        found = get_client("s3").get_object(Bucket=bucket, Key=layout.retrain_marker_key(dataset))
    except ClientError as error:
        if is_missing_object(error):
            return {}, None
        raise
    return json.loads(found["Body"].read()), str(found["ETag"])


def _marker_time(marker: dict[str, Any]) -> datetime | None:
    try:
        return datetime.fromisoformat(str(marker["at"]))
    except (KeyError, ValueError):
        return None


def _claim(bucket: str, dataset: str, marker: dict[str, Any], etag: str | None) -> bool:
    """Write the marker only over the version read (or only if absent): False when another writer got there first."""
    condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
    try:
        get_client("s3").put_object(
            Bucket=bucket,
            Key=layout.retrain_marker_key(dataset),
            Body=json.dumps(marker).encode(),
            ContentType="application/json",
            **condition,
        )
    except ClientError as error:
        if is_condition_failed(error):
            return False
        raise
    return True


def _window_days(bucket: str, dataset: str) -> int | None:
    try:
        raw = get_client("s3").get_object(Bucket=bucket, Key=layout.dataset_config_key(dataset))["Body"].read()
    except ClientError as error:
        if is_missing_object(error):
            return None
        raise
    return parse_dataset_config(raw, source=layout.dataset_config_key(dataset)).retrain_window_days
