"""CloudFormation custom resource that ships the ``ml/`` job code to the artifact bucket at ``sam deploy``.

SageMaker jobs read their scripts from S3, so the code has to be there before the first run. The function
is deployed with ``ml/`` as its code, publishes the files next to it under a content-addressed prefix and
reports where they are, so every step function can point its jobs at exactly the code that was deployed:

- ``code/<version>/src/<path>``: the scripts, one object per file (processing jobs mount this prefix);
- ``code/<version>/sourcedir.tar.gz``: the same files as one tarball (the training job's
  ``sagemaker_submit_directory``).

``<version>`` is the first 12 hex digits of a SHA-256 over the files' relative paths and contents, so a deploy
that changes no job code changes no URI. Old versions are never deleted: earlier runs and registered models
reference them.

Only boto3 and the standard library: the publisher needs no layer and has nothing to install at build time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import tarfile
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

LOGGER = logging.getLogger(__name__)
LOGGER.setLevel(logging.INFO)

SOURCE_DIR = Path(__file__).resolve().parent
"""The directory whose files are published: the function's own code, which is ``ml/``."""

CODE_PREFIX = "code/"
VERSION_LENGTH = 12
TARBALL_NAME = "sourcedir.tar.gz"
_EXCLUDED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
_EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
_MISSING_CODES = {"404", "NoSuchKey", "NotFound"}
_TIMEOUT_MARGIN_SECONDS = 5.0
"""Answer FAILED this long before the Lambda times out, so a stuck upload never leaves the stack waiting."""


@dataclass(frozen=True)
class PublishedCode:
    bucket: str
    version: str

    @property
    def prefix(self) -> str:
        return f"{CODE_PREFIX}{self.version}/"

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def code_files(source_dir: Path) -> list[Path]:
    """The files to publish, sorted by relative path: everything except this module and Python caches."""
    own_name = Path(__file__).name
    files = []
    for path in source_dir.rglob("*"):
        relative = path.relative_to(source_dir)
        if not path.is_file():
            continue
        if relative.as_posix() == own_name:
            continue
        if any(part in _EXCLUDED_DIRS for part in relative.parts) or path.suffix in _EXCLUDED_SUFFIXES:
            continue
        files.append(path)
    return sorted(files, key=lambda path: path.relative_to(source_dir).as_posix())


def content_version(source_dir: Path, files: list[Path]) -> str:
    """Hash of relative paths and contents: renaming, adding or editing any file gives a new version."""
    digest = hashlib.sha256()
    for path in files:
        relative = path.relative_to(source_dir).as_posix().encode()
        content = path.read_bytes()
        digest.update(len(relative).to_bytes(8, "big") + relative)
        digest.update(len(content).to_bytes(8, "big") + content)
    return digest.hexdigest()[:VERSION_LENGTH]


def build_tarball(source_dir: Path, files: list[Path]) -> bytes:
    """A reproducible gzip tarball (fixed owners, modes and timestamps): same files, same bytes."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            content = path.read_bytes()
            info = tarfile.TarInfo(name=path.relative_to(source_dir).as_posix())
            info.size = len(content)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(content))
    return gzip.compress(raw.getvalue(), mtime=0)


def publish_ml_code(bucket: str, source_dir: Path, s3: Any = None) -> PublishedCode:
    """Upload the code under its content version unless that version is already complete in the bucket."""
    files = code_files(source_dir)
    if not files:
        raise RuntimeError(f"no job code found in {source_dir}: the ml/ folder shipped with no scripts")
    published = PublishedCode(bucket=bucket, version=content_version(source_dir, files))
    s3 = s3 or boto3.client("s3")
    tarball_key = f"{published.prefix}{TARBALL_NAME}"
    if _object_exists(s3, bucket, tarball_key):
        LOGGER.info("code version %s is already published at %s", published.version, published.uri)
        return published
    for path in files:
        key = f"{published.prefix}src/{path.relative_to(source_dir).as_posix()}"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
    # The tarball goes last: its presence marks a complete upload, which is what makes reruns skip.
    s3.put_object(
        Bucket=bucket,
        Key=tarball_key,
        Body=build_tarball(source_dir, files),
        ContentType="application/gzip",
    )
    LOGGER.info("published %d files as code version %s at %s", len(files), published.version, published.uri)
    return published


def _object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in _MISSING_CODES:
            return False
        raise
    return True


def lambda_handler(event: dict[str, Any], context: Any) -> None:
    """Answer every CloudFormation request exactly once, FAILED with the reason when anything goes wrong."""
    responder = _Responder(event)
    timer = _start_timeout_guard(responder, context)
    try:
        request_type = event.get("RequestType")
        if request_type == "Delete":
            # Runs and registered models keep pointing at old code versions; deleting it would break them.
            responder.send("SUCCESS", physical_id=event.get("PhysicalResourceId") or _fallback_id(event))
            return
        if request_type not in {"Create", "Update"}:
            raise ValueError(f"unsupported CloudFormation request type {request_type!r}")
        bucket = event.get("ResourceProperties", {}).get("ArtifactBucket")
        if not bucket:
            raise ValueError("the MlCode resource needs an ArtifactBucket property to publish to")
        published = publish_ml_code(bucket, SOURCE_DIR)
        responder.send(
            "SUCCESS",
            physical_id=published.prefix.rstrip("/"),
            data={"CodeUri": published.uri, "CodeVersion": published.version},
        )
    except Exception as error:
        LOGGER.exception("publishing the ml code failed")
        responder.send(
            "FAILED",
            physical_id=event.get("PhysicalResourceId") or _fallback_id(event),
            reason=f"Publishing the ml/ job code failed: {error}",
        )
    finally:
        if timer is not None:
            timer.cancel()


def _fallback_id(event: dict[str, Any]) -> str:
    """Physical id for a resource that never got one (a failed Create), so CloudFormation can roll back."""
    return f"{event.get('LogicalResourceId', 'MlCode')}-not-published"


def _start_timeout_guard(responder: _Responder, context: Any) -> threading.Timer | None:
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is None:
        return None
    seconds = remaining() / 1000 - _TIMEOUT_MARGIN_SECONDS
    if seconds <= 0:
        return None
    timer = threading.Timer(
        seconds,
        responder.send,
        kwargs={
            "status": "FAILED",
            "physical_id": responder.event.get("PhysicalResourceId") or _fallback_id(responder.event),
            "reason": "Publishing the ml/ job code timed out; raise the publisher's Timeout and redeploy.",
        },
    )
    timer.daemon = True
    timer.start()
    return timer


class _Responder:
    """Sends the one response CloudFormation waits for; later calls (the timeout guard) are ignored."""

    def __init__(self, event: dict[str, Any]) -> None:
        self.event = event
        self._lock = threading.Lock()
        self._sent = False

    def send(
        self,
        status: str,
        physical_id: str,
        data: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        with self._lock:
            if self._sent:
                return
            self._sent = True
        body = json.dumps(
            {
                "Status": status,
                "Reason": (reason or f"Details in CloudWatch Logs stream {_log_stream()}")[:3000],
                "PhysicalResourceId": physical_id,
                "StackId": self.event.get("StackId"),
                "RequestId": self.event.get("RequestId"),
                "LogicalResourceId": self.event.get("LogicalResourceId"),
                "NoEcho": False,
                "Data": data or {},
            }
        ).encode()
        url = response_url(self.event["ResponseURL"])
        # CloudFormation's pre-signed URL is signed without a content type, so none may be sent.
        request = urllib.request.Request(
            url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                LOGGER.info("sent %s to CloudFormation (HTTP %s)", status, response.status)
        except Exception:
            LOGGER.exception("could not send the %s response to CloudFormation", status)


def response_url(url: str) -> str:
    """CloudFormation sends an https URL; local emulators may send ``host:port/path`` with no scheme."""
    return url if "://" in url else f"http://{url}"


def _log_stream() -> str:
    return os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "(publisher not running in Lambda)")
