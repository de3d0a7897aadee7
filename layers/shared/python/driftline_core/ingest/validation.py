"""Validate step: check an uploaded object version and write the run's resolved config.

The schema a file is checked against is, in order: the columns declared in ``dataset.json``, the schema
kept from the dataset's first accepted file, or (for that first file) the one inferred from it. The kept
schema also records the first file's target and problem type, so later runs train the same kind of model.

A drift run trains on its labelled data window: every upload listed in its ``retrain.json``, each exact
version checked as an upload is and copied into the run's input folder, which the jobs then read whole.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Literal

from botocore.exceptions import ClientError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from pydantic import ValidationError

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.arns import parse_arn
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_condition_failed, is_not_found, is_throttled
from driftline_core.errors import DatasetConfigInvalid, TransientAwsError, ValidationFailed
from driftline_core.ingest.csv_stream import READ_CHUNK_BYTES, is_gzip_key
from driftline_core.ingest.csv_validation import CsvFile, CsvReport, validate_csv, validate_csv_files
from driftline_core.ingest.dataset_config import (
    DEFAULT_MIN_ROWS,
    DatasetConfig,
    ModelFramework,
    Schema,
    parse_dataset_config,
    resolve_config,
)
from driftline_core.ingest.model_images import (
    check_image_place,
    check_transform_instance_type,
    confirm_image_exists,
    parse_image_uri,
)
from driftline_core.ingest.release_plan import release_plan
from driftline_core.ingest.requirements_file import FRAMEWORK_PACKAGES, requirements_problems
from driftline_core.payloads import DataObject, RetrainManifest, StepInput, ValidationResult
from driftline_core.settings import ReleaseSettings, Settings

_KEEP_SCHEMA_ATTEMPTS = 5
_KEEP_SCHEMA_RETRY_SECONDS = 0.2


def validate_upload(step: StepInput, settings: Settings, release: ReleaseSettings | None = None) -> ValidationResult:
    """Check the uploaded object version against its dataset's schema and write ``runs/<run>/config.json``."""
    data = step.data
    _check_dataset_name(step.dataset, data.key)
    config_key = layout.dataset_config_key(step.dataset)
    declared = _read_dataset_config(settings.data_bucket, config_key)
    if declared.model is not None and declared.model.script is not None:
        _check_model_script(declared.model.script, declared.model.framework or "scikit-learn", config_key, settings)
    if declared.model is not None and declared.model.image is not None:
        _check_model_image(declared.model.image, config_key, settings)
    if declared.model is not None and declared.model.instance_count > settings.max_training_instances:
        raise DatasetConfigInvalid(
            f"{config_key}: model.instance_count is {declared.model.instance_count}, above the "
            f"{settings.max_training_instances} this stack allows (its MaxTrainingInstances parameter); ask for "
            "fewer instances, or deploy again with a larger MaxTrainingInstances."
        )
    stored = _read_stored_schema(settings.artifact_bucket, step.dataset)
    window = _retrain_window(step, settings) if step.trigger.retrain_uri else None

    report = _validate_object(step, declared, stored, window)
    if stored is None:
        # The first accepted file's schema, target and problem type are kept, written only if no other upload
        # kept one first: two first uploads checked at once keep one schema, and the later is held to it.
        stored = _keep_schema(settings.artifact_bucket, step.dataset, report)
        if stored is not None and declared.columns is None:
            report = _validate_object(step, declared, stored, window)
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

    config.input_uri = (
        _copy_window(window, step.execution_name, settings.artifact_bucket)
        if window is not None
        else s3io.copy_object_version(
            data.bucket,
            data.key,
            data.version_id,
            settings.artifact_bucket,
            layout.run_input_key(step.execution_name, data.key.rsplit("/", 1)[-1]),
        )
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
        files=len(window) if window is not None else None,
        release=release_plan(declared.ab_test, release or ReleaseSettings()),
        transforms_test_rows=config.model_image is not None,
    )


def _check_model_image(uri: str, config_key: str, settings: Settings) -> None:
    """The image must be one this stack's SageMaker role may pull (its account, region and repository prefix), and
    must exist there."""
    image = parse_image_uri(uri)
    try:
        check_image_place(
            image,
            account=role.account if (role := parse_arn(settings.sagemaker_role_arn)) else "",
            region=get_client("ecr").meta.region_name,
            repository_prefix=settings.model_image_repositories,
        )
        check_transform_instance_type(settings.processing_instance_type)
        confirm_image_exists(image)
    except DatasetConfigInvalid as error:
        raise DatasetConfigInvalid(f"{config_key}: {error}") from None


def _check_model_script(name: str, framework: ModelFramework, config_key: str, settings: Settings) -> None:
    """The dataset's own training script must be in the ``ml/`` code this stack published, or no job could run it."""
    folder = f"{layout.ml_code_files_uri(settings.ml_code_uri)}models/{name}/"
    bucket, key = layout.split_s3_uri(f"{folder}train.py")
    s3 = get_client("s3")
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if not is_not_found(error):
            raise
        raise DatasetConfigInvalid(
            f"{config_key}: model.script '{name}' names ml/models/{name}/train.py, which is not in the ml/ code this "
            f"stack deployed ({settings.ml_code_uri}); add the script there and deploy again (sam deploy, or restart "
            "local mode), or correct the name."
        ) from None
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{key.rsplit('/', 1)[0]}/requirements.txt")["Body"].read()
    except ClientError as error:
        if not is_not_found(error):
            raise
        return  # no requirements: the script uses what the container holds
    shown_as = f"ml/models/{name}/requirements.txt"
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise DatasetConfigInvalid(f"{shown_as} is not UTF-8 text; save it as UTF-8 and deploy again.") from None
    problems = requirements_problems(text, shown_as, image_packages=FRAMEWORK_PACKAGES[framework], image=framework)
    if problems:
        raise DatasetConfigInvalid(f"{'; '.join(problems)}. Correct it and deploy again.")


def _retrain_window(step: StepInput, settings: Settings) -> list[DataObject]:
    """The uploads a drift run's ``retrain.json`` lists, oldest first; those deleted since are left out.

    Each must be an upload of the run's dataset in the data bucket. A window left with no upload fails the run:
    there is nothing to train on.
    """
    uri = str(step.trigger.retrain_uri)
    manifest = _read_manifest(uri, settings.artifact_bucket)
    listed: list[tuple[str, DataObject]] = []
    for upload in manifest.uploads:
        bucket, key = layout.split_s3_uri(upload.uri)
        if bucket != settings.data_bucket or not layout.is_upload_file_name(key.rsplit("/", 1)[-1]):
            raise ValidationFailed(
                f"{uri}: lists {upload.uri}, which is not a CSV upload in the data bucket {settings.data_bucket}; "
                "start the retrain again so the window is listed anew."
            )
        _check_dataset_name(step.dataset, key)
        listed.append(
            (
                upload.last_modified or "",
                DataObject(bucket=bucket, key=key, version_id=upload.version_id, uri=upload.uri),
            )
        )
    present = [(modified, data) for modified, data in listed if _version_exists(data)]
    if not present:
        gone = f"its {len(listed)} uploads were all deleted since" if listed else "it lists no upload"
        raise ValidationFailed(
            f"{uri}: the labelled data window of dataset '{step.dataset}' has no file to train on ({gone}); "
            f"upload labelled rows as data/{step.dataset}/<file>.csv, which starts a run of its own."
        )
    return [data for _, data in sorted(present, key=lambda item: (item[0], item[1].key))]


def _read_manifest(uri: str, artifact_bucket: str) -> RetrainManifest:
    bucket, key = layout.split_s3_uri(uri)
    if bucket != artifact_bucket:
        raise ValidationFailed(
            f"{uri}: a retrain's window is listed in the artifact bucket {artifact_bucket}, not here."
        )
    try:
        document = s3io.read_json_if_exists(bucket, key)
    except ValueError as error:  # not JSON
        raise ValidationFailed(
            f"{uri}: the retrain's window cannot be read ({error}); start the retrain again."
        ) from error
    if document is None:
        raise ValidationFailed(f"{uri}: the retrain's window no longer exists; start the retrain again.")
    try:
        return RetrainManifest.model_validate(document)
    except ValidationError as error:
        raise ValidationFailed(
            f"{uri}: the retrain's window cannot be read ({error.error_count()} invalid field(s)); "
            "start the retrain again."
        ) from None


def _version_exists(data: DataObject) -> bool:
    request = {"Bucket": data.bucket, "Key": data.key, **({"VersionId": data.version_id} if data.version_id else {})}
    try:
        get_client("s3").head_object(**request)
    except ClientError as error:
        if is_not_found(error):
            return False
        _raise_if_throttled(error)
        raise
    return True


def _copy_window(window: list[DataObject], execution_name: str, artifact_bucket: str) -> str:
    """Copy each exact version into the run's input folder, numbered so sorted names keep the window's order
    (oldest first) and two uploads of one name stay apart; returns the folder's URI."""
    width = max(4, len(str(len(window))))
    for number, data in enumerate(window, start=1):
        name = f"{number:0{width}d}-{data.key.rsplit('/', 1)[-1]}"
        s3io.copy_object_version(
            data.bucket, data.key, data.version_id, artifact_bucket, layout.run_input_key(execution_name, name)
        )
    return layout.s3_uri(artifact_bucket, layout.run_input_key(execution_name, ""))


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
        if is_not_found(error):
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
            if not is_condition_failed(error):
                _raise_if_throttled(error)
                raise
        winner = _read_stored_schema(bucket, dataset)
        if winner is not None:
            return winner
        time.sleep(_KEEP_SCHEMA_RETRY_SECONDS)  # 409: the other write has not landed yet
    raise TransientAwsError(f"s3://{bucket}/{key}: another upload is writing the dataset's schema at this moment.")


def _validate_object(
    step: StepInput, declared: DatasetConfig, stored: Schema | None, window: list[DataObject] | None = None
) -> CsvReport:
    """Check the upload (or every upload of a drift run's window, as one data set) against the declared columns,
    else the kept schema, else infer the schema from it (from the window's oldest file)."""
    expected = Schema(columns=declared.columns) if declared.columns is not None else stored
    stored_target = stored.target if stored is not None else None
    target = declared.target or stored_target
    # The problem type found from the first accepted file holds while the target stays the same.
    problem_type = declared.problem_type or (
        stored.problem_type if stored is not None and stored_target == target else None
    )
    min_rows = declared.min_rows or DEFAULT_MIN_ROWS
    if window is not None:
        return validate_csv_files(
            (CsvFile(_existing_version_chunks(data), data.key, is_gzip_key(data.key)) for data in window),
            source=f"the labelled data window of dataset '{step.dataset}' ({step.trigger.retrain_uri})",
            delimiter=declared.delimiter,
            schema=expected,
            target=target,
            problem_type=problem_type,
            min_rows=min_rows,
        )
    return validate_csv(
        _existing_version_chunks(step.data),
        source=step.data.key,
        gzipped=is_gzip_key(step.data.key),
        delimiter=declared.delimiter,
        schema=expected,
        target=target,
        problem_type=problem_type,
        min_rows=min_rows,
    )


def _existing_version_chunks(data: DataObject) -> Iterator[bytes]:
    """The version's bytes (see :func:`_object_chunks`); a version deleted meanwhile is a readable failure."""
    try:
        yield from _object_chunks(data.bucket, data.key, data.version_id)
    except ClientError as error:
        if is_not_found(error):
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


def _raise_if_throttled(error: ClientError) -> None:
    """Throttling that outlasted boto3's retries is worth a state-machine retry; other errors are not."""
    if is_throttled(error):
        raise TransientAwsError(f"S3 is throttling or unavailable ({error_code(error)}).") from error
