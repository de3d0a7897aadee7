"""The one home of Driftline's S3 key layout and resource naming.

Every key, prefix and job name the pipeline writes is built here, so a reader can find where a run's
files live without reading the handlers.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote, unquote_plus

DATA_PREFIX = "data/"
DATASET_CONFIG_FILE = "dataset.json"
UPLOAD_EXTENSIONS = (".csv", ".csv.gz")
"""What a user calls a CSV upload, in any letter case; SageMaker jobs read gzip-compressed CSV as it is."""

_DATASET_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}[A-Za-z0-9])?$")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
MAX_EXECUTION_NAME = 50
"""Execution names stay short enough that ``<execution>-<step>`` fits SageMaker's 63-character job names."""


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def split_s3_uri(uri: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` for an ``s3://bucket/key`` URI."""
    if not uri.startswith("s3://"):
        raise ValueError(f"not an S3 URI: {uri!r}")
    bucket, _, key = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"S3 URI has no bucket: {uri!r}")
    return bucket, key


def dataset_from_key(key: str) -> str | None:
    """Dataset name for an upload key ``data/<dataset>/<file>.csv``, or None when the key is outside that shape."""
    if not key.startswith(DATA_PREFIX):
        return None
    parts = key[len(DATA_PREFIX) :].split("/")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        return None
    return parts[0]


def is_upload_file_name(name: str) -> bool:
    """True for ``.csv`` and ``.csv.gz`` names in any letter case (``JAN.CSV``, ``jan.csv.GZ``)."""
    lowered = name.lower()
    return any(lowered.endswith(extension) and len(lowered) > len(extension) for extension in UPLOAD_EXTENSIONS)


def is_compressed_upload(key: str) -> bool:
    return key.lower().endswith(".gz")


def is_folder_marker(key: str) -> bool:
    """The zero-byte object the S3 console creates for "Create folder" has a key ending in ``/``."""
    return key.endswith("/")


def is_dataset_config_key(key: str) -> bool:
    dataset = dataset_from_key(key)
    return dataset is not None and key == dataset_config_key(dataset)


def key_readings(event_key: str) -> list[str]:
    """The object keys an event's ``object.key`` may stand for, the key as given first.

    How S3 encodes keys in EventBridge events is not settled: its classic notifications URL-encode
    them with ``+`` for a space, while events through EventBridge have been seen with keys as written,
    and with ``%20`` for a space but ``+`` as written. Each reading is a candidate to confirm against
    S3; none is safe to assume.
    """
    readings = [event_key, unquote_plus(event_key), unquote(event_key)]
    return list(dict.fromkeys(readings))


def is_valid_dataset_name(name: str) -> bool:
    """Dataset names become SageMaker resource names: letters, digits and inner hyphens, 40 characters at most."""
    return bool(_DATASET_NAME.match(name))


def dataset_config_key(dataset: str) -> str:
    """Optional per-dataset config in the data bucket, beside the uploads."""
    return f"{DATA_PREFIX}{dataset}/{DATASET_CONFIG_FILE}"


def dataset_schema_key(dataset: str) -> str:
    """Schema kept in the artifact bucket once inferred from a dataset's first accepted file."""
    return f"datasets/{dataset}/schema.json"


def run_prefix(execution_name: str) -> str:
    """Everything one pipeline run writes to the artifact bucket lives under this prefix."""
    return f"runs/{execution_name}/"


def run_config_key(execution_name: str) -> str:
    """The resolved dataset config a run uses, written by Validate and read by every later step."""
    return f"{run_prefix(execution_name)}config.json"


def run_input_key(execution_name: str, file_name: str) -> str:
    """The run's pinned copy of its upload: later uploads to the same key cannot change what this run trains on."""
    return f"{run_prefix(execution_name)}input/{file_name}"


def processing_output_prefix(execution_name: str, step: str, output_name: str) -> str:
    return f"{run_prefix(execution_name)}{step}/{output_name}/"


def training_output_prefix(execution_name: str) -> str:
    """SageMaker appends ``<job>/output/model.tar.gz`` to this path."""
    return f"{run_prefix(execution_name)}train/"


def data_capture_prefix(dataset: str) -> str:
    """Where the dataset's endpoint writes captured requests and answers; SageMaker adds ``<endpoint>/<variant>/``."""
    return f"capture/{dataset}/"


def ml_code_prefix(code_version: str) -> str:
    """Where the deploy-time publisher ships ``ml/``: the files for processing jobs and a tarball for training."""
    return f"code/{code_version}/"


def ml_code_files_prefix(code_version: str) -> str:
    return f"{ml_code_prefix(code_version)}src/"


def ml_code_tarball_key(code_version: str) -> str:
    return f"{ml_code_prefix(code_version)}sourcedir.tar.gz"


def execution_name_for_object(dataset: str, bucket: str, key: str, version_id: str | None) -> str:
    """Deterministic execution name for one uploaded object version.

    Step Functions refuses a second execution with the same name, so the same object event delivered
    twice starts one run, while a new version of the same key starts a new one.
    """
    digest = hashlib.sha256(f"{bucket}/{key}?{version_id or ''}".encode()).hexdigest()[:12]
    return f"{_safe_name(dataset, MAX_EXECUTION_NAME - 13)}-{digest}"


def job_name(execution_name: str, step: str) -> str:
    """SageMaker job name for a step of a run; deterministic so a retried step never starts a duplicate job."""
    name = f"{_safe_name(execution_name, MAX_EXECUTION_NAME)}-{step}"
    return name[:63].rstrip("-")


def _safe_name(value: str, limit: int) -> str:
    cleaned = _NAME_UNSAFE.sub("-", value).strip("-") or "run"
    return cleaned[:limit].rstrip("-")
