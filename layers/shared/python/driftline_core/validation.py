"""Validate step: check an uploaded object version and write the run's resolved config.

The schema a file is checked against is, in order: the columns declared in ``dataset.json``, the schema
kept from the dataset's first accepted file, or (for that first file) the one inferred from it. The kept
schema also records the first file's target and problem type, so later runs train the same kind of model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Literal

from botocore.exceptions import ClientError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from pydantic import ValidationError

from driftline_core import layout, s3io
from driftline_core.clients import get_client
from driftline_core.csv_stream import READ_CHUNK_BYTES, is_gzip_key
from driftline_core.csv_validation import CsvReport, validate_csv
from driftline_core.dataset_config import (
    DEFAULT_MIN_ROWS,
    DatasetConfig,
    Schema,
    parse_dataset_config,
    resolve_config,
)
from driftline_core.errors import DatasetConfigInvalid, TransientAwsError, ValidationFailed
from driftline_core.models import StepInput, ValidationResult
from driftline_core.settings import Settings

_MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
_WRITE_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}
"""What S3 answers a conditional write when the object exists (412) or is being written at the moment (409)."""
_KEEP_SCHEMA_ATTEMPTS = 5
_KEEP_SCHEMA_RETRY_SECONDS = 0.2
_THROTTLED = {
    "SlowDown",
    "Throttling",
    "ThrottlingException",
    "RequestTimeout",
    "ServiceUnavailable",
    "InternalError",
}


def validate_upload(step: StepInput, settings: Settings) -> ValidationResult:
    """Check the uploaded object version against its dataset's schema and write ``runs/<run>/config.json``."""
    data = step.data
    _check_dataset_name(step.dataset, data.key)
    config_key = layout.dataset_config_key(step.dataset)
    declared = _read_dataset_config(settings.data_bucket, config_key)
    stored = _read_stored_schema(settings.artifact_bucket, step.dataset)

    report = _validate_object(step, declared, stored)
    if stored is None:
        # The first accepted file's schema, target and problem type are kept, written only if no other upload
        # kept one first: two first uploads checked at once keep one schema, and the later is held to it.
        stored = _keep_schema(settings.artifact_bucket, step.dataset, report)
        if stored is not None and declared.columns is None:
            report = _validate_object(step, declared, stored)
    schema_source: Literal["declared", "inferred", "stored"] = (
        "declared" if declared.columns is not None else "inferred" if report.schema_inferred else "stored"
    )
    config = resolve_config(
        declared,
        dataset=step.dataset,
        columns=report.schema.columns,
        target=report.target,
        problem_type=report.problem_type,
        rows=report.rows,
        data_uri=data.uri,
        data_version_id=data.version_id,
    )

    config.input_uri = s3io.copy_object_version(
        data.bucket,
        data.key,
        data.version_id,
        settings.artifact_bucket,
        layout.run_input_key(step.execution_name, data.key.rsplit("/", 1)[-1]),
    )
    schema_uri = (
        layout.s3_uri(settings.data_bucket, config_key)
        if schema_source == "declared"
        else layout.s3_uri(settings.artifact_bucket, layout.dataset_schema_key(step.dataset))
    )
    config_uri = s3io.write_json(
        settings.artifact_bucket, layout.run_config_key(step.execution_name), config.model_dump(mode="json")
    )
    return ValidationResult(
        config_uri=config_uri,
        schema_uri=schema_uri,
        schema_source=schema_source,
        rows=report.rows,
        columns=len(report.schema.columns),
    )


def _check_dataset_name(dataset: str, key: str) -> None:
    if not layout.is_valid_dataset_name(dataset):
        raise ValidationFailed(
            f"{key}: the dataset name '{dataset}' cannot be used; dataset names become SageMaker resource "
            "names, so use 1 to 40 letters, digits or inner hyphens (for example data/credit-risk/file.csv)."
        )
    if layout.dataset_from_key(key) != dataset:
        raise ValidationFailed(
            f"{key}: is not an upload of dataset '{dataset}'; uploads go to data/{dataset}/<file>.csv."
        )


def _read_dataset_config(bucket: str, key: str) -> DatasetConfig:
    """The declared config, or an empty one (all defaults) when the dataset has no ``dataset.json``."""
    try:
        raw = get_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _error_code(error) in _MISSING:
            return DatasetConfig()
        _raise_if_throttled(error)
        raise
    return parse_dataset_config(raw, source=key)


def _read_stored_schema(bucket: str, dataset: str) -> Schema | None:
    key = layout.dataset_schema_key(dataset)
    try:
        document = s3io.read_json_if_exists(bucket, key)
    except ValueError as error:  # not JSON
        raise _unreadable_schema(bucket, key, str(error)) from error
    if document is None:
        return None
    try:
        return Schema.model_validate(document)
    except ValidationError as error:
        raise _unreadable_schema(bucket, key, f"{error.error_count()} invalid field(s)") from error


def _unreadable_schema(bucket: str, key: str, detail: str) -> DatasetConfigInvalid:
    return DatasetConfigInvalid(
        f"{layout.s3_uri(bucket, key)}: the dataset's kept schema cannot be read ({detail}); delete it so "
        'the next upload infers the schema again, or declare "columns" in the dataset\'s dataset.json.'
    )


def _keep_schema(bucket: str, dataset: str, report: CsvReport) -> Schema | None:
    """Keep the schema this file showed unless one is kept already; returns the one kept first, if not this.

    The write is conditional (``If-None-Match: *``), so of two first uploads checked at the same moment exactly
    one schema is kept and the other upload is checked against it.
    """
    key = layout.dataset_schema_key(dataset)
    kept = Schema(columns=report.schema.columns, target=report.target, problem_type=report.problem_type)
    for _ in range(_KEEP_SCHEMA_ATTEMPTS):
        try:
            get_client("s3").put_object(
                Bucket=bucket,
                Key=key,
                Body=json.dumps(kept.model_dump(mode="json"), indent=2, sort_keys=True).encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
            return None
        except ClientError as error:
            if _error_code(error) not in _WRITE_CONFLICTS:
                _raise_if_throttled(error)
                raise
        winner = _read_stored_schema(bucket, dataset)
        if winner is not None:
            return winner
        time.sleep(_KEEP_SCHEMA_RETRY_SECONDS)  # 409: the other write has not landed yet
    raise TransientAwsError(f"s3://{bucket}/{key}: another upload is writing the dataset's schema at this moment.")


def _validate_object(step: StepInput, declared: DatasetConfig, stored: Schema | None) -> CsvReport:
    """Check the object against the declared columns, else the kept schema, else infer the schema from it."""
    data = step.data
    expected = Schema(columns=declared.columns) if declared.columns is not None else stored
    stored_target = stored.target if stored is not None else None
    target = declared.target or stored_target
    # The problem type found from the first accepted file holds while the target stays the same.
    problem_type = declared.problem_type or (
        stored.problem_type if stored is not None and stored_target == target else None
    )
    try:
        return validate_csv(
            _object_chunks(data.bucket, data.key, data.version_id),
            source=data.key,
            gzipped=is_gzip_key(data.key),
            delimiter=declared.delimiter,
            schema=expected,
            target=target,
            problem_type=problem_type,
            min_rows=declared.min_rows or DEFAULT_MIN_ROWS,
        )
    except ClientError as error:
        if _error_code(error) in _MISSING:
            version = f" (version {data.version_id})" if data.version_id else ""
            raise ValidationFailed(
                f"{data.key}: the uploaded object{version} no longer exists, so there is nothing to "
                "validate; upload the file again."
            ) from error
        _raise_if_throttled(error)
        raise


def _object_chunks(bucket: str, key: str, version_id: str | None) -> Iterator[bytes]:
    """The object's bytes in large reads (time linear in its size, memory constant); a dropped connection
    mid-stream is transient, so the state machine retries."""
    request: dict[str, str] = {"Bucket": bucket, "Key": key}
    if version_id:
        request["VersionId"] = version_id
    try:
        body = get_client("s3").get_object(**request)["Body"]
        try:
            yield from body.iter_chunks(READ_CHUNK_BYTES)
        finally:
            body.close()
    except (BotocoreConnectionError, ReadTimeoutError, ResponseStreamingError, IncompleteReadError) as error:
        raise TransientAwsError(f"reading s3://{bucket}/{key} was interrupted ({error}).") from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _raise_if_throttled(error: ClientError) -> None:
    """Throttling that outlasted boto3's retries is worth a state-machine retry; other errors are not."""
    if _error_code(error) in _THROTTLED:
        raise TransientAwsError(f"S3 is throttling or unavailable ({_error_code(error)}).") from error
