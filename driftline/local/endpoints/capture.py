"""Data capture: an endpoint's sampled invocations, written to S3 as SageMaker's capture JSON lines.

With the endpoint config's ``DataCaptureConfig`` enabled, each sampled invocation of each variant (a shadow
variant's copies included, each sampled on its own) becomes one record in SageMaker's capture format, with its own
``eventId`` and the caller's ``InferenceId``; records are written together, one file per endpoint, variant and
hour, to ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<file>.jsonl`` (SageMaker writes every few
minutes, local mode every few seconds and whenever a server stops serving).
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from driftline.local.endpoints.server_process import EndpointFailed
from driftline.local.s3_uris import split_s3_uri
from driftline.local.times import utc_now

CAPTURE_FLUSH_SECONDS = 2.0
"""How long captured records wait before they are written to S3 (SageMaker writes every few minutes)."""

CapturedRecord = tuple[datetime, dict[str, Any]]
"""When a request was answered, and its record with where it goes (``_destination``, ``_variant``)."""


def sampled(settings: dict[str, Any]) -> bool:
    """Whether to capture one more invocation, at the config's InitialSamplingPercentage."""
    return random.uniform(0, 100) < settings["percentage"]


def capture_record(
    settings: dict[str, Any],
    variant: str,
    body: bytes,
    content_type: str | None,
    answer: bytes,
    answer_type: str,
    inference_id: str | None,
) -> CapturedRecord:
    """One invocation's record in SageMaker's capture format, stamped now."""
    data: dict[str, Any] = {}
    if settings["input"]:
        data["endpointInput"] = _captured(body, content_type or "", "INPUT", settings)
    if settings["output"]:
        data["endpointOutput"] = _captured(answer, answer_type, "OUTPUT", settings)
    now = utc_now()
    metadata = {"eventId": str(uuid.uuid4()), "inferenceTime": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    if inference_id:
        metadata["inferenceId"] = inference_id
    record = {"captureData": data, "eventMetadata": metadata, "eventVersion": "0"}
    return now, {**record, "_variant": variant, "_destination": settings["destination"]}


def write_captures(
    endpoint_name: str, records: list[CapturedRecord], s3: Callable[[], Any], report: Callable[[str], None]
) -> None:
    """Write ``records`` as JSON-lines files, one per variant and hour; a file S3 refuses is reported, not raised."""
    files: dict[str, list[str]] = {}
    for inferred, record in records:
        destination, variant = record.pop("_destination"), record.pop("_variant")
        hour = inferred.strftime("%Y/%m/%d/%H")
        files.setdefault(f"{destination}/{endpoint_name}/{variant}/{hour}", []).append(
            json.dumps(record, separators=(",", ":"))
        )
    if not files:
        return
    client = s3()
    written = utc_now()
    for prefix, lines in files.items():
        bucket, key_prefix = split_s3_uri(prefix, EndpointFailed)
        stamp = f"{written:%M-%S}-{written.microsecond // 1000:03d}"
        key = f"{key_prefix}/{stamp}-{uuid.uuid4()}.jsonl"
        try:
            client.put_object(Bucket=bucket, Key=key, Body="\n".join(lines).encode() + b"\n")
        except Exception as error:
            report(f"could not write captured data to s3://{bucket}/{key}: {error}")


def capture_settings(config: dict[str, Any]) -> dict[str, Any] | None:
    """What to capture, from the endpoint config's DataCaptureConfig; None when capture is off."""
    capture = config.get("DataCaptureConfig") or {}
    if not capture or capture.get("EnableCapture") is False:
        return None
    modes = {str(option.get("CaptureMode", "")) for option in capture.get("CaptureOptions") or []}
    headers = capture.get("CaptureContentTypeHeader") or {}
    return {
        "destination": str(capture["DestinationS3Uri"]).rstrip("/"),
        "percentage": float(capture.get("InitialSamplingPercentage", 0)),
        "input": bool(modes & {"Input", "InputAndOutput"}),
        "output": bool(modes & {"Output", "InputAndOutput"}),
        "csv": {_media_type(t) for t in headers.get("CsvContentTypes") or []},
        "json": {_media_type(t) for t in headers.get("JsonContentTypes") or []},
    }


def capture_summary(config: dict[str, Any]) -> dict[str, Any] | None:
    """DescribeEndpoint's DataCaptureConfigSummary for the configuration being served."""
    capture = config.get("DataCaptureConfig") or {}
    if not capture:
        return None
    enabled = capture.get("EnableCapture") is not False
    return {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(capture.get("InitialSamplingPercentage", 0)),
        "DestinationS3Uri": str(capture.get("DestinationS3Uri", "")),
        "KmsKeyId": str(capture.get("KmsKeyId", "")),
    }


def _captured(data: bytes, content_type: str, mode: str, settings: dict[str, Any]) -> dict[str, str]:
    """One side of a capture record: text for the configured CSV and JSON types, base64 for anything else."""
    kind = _media_type(content_type)
    encoding = "CSV" if kind in settings["csv"] else "JSON" if kind in settings["json"] else "BASE64"
    try:
        text = base64.b64encode(data).decode() if encoding == "BASE64" else data.decode("utf-8")
    except UnicodeDecodeError:
        encoding, text = "BASE64", base64.b64encode(data).decode()
    return {"observedContentType": content_type, "mode": mode, "data": text, "encoding": encoding}


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()
