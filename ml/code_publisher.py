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

It also refuses, before anything is published, a stack name the pipeline cannot serve: the functions name
the Model Registry groups ``<stack name>-<dataset>`` and their permissions match that prefix, so the name
must be lowercase and short enough to leave room for any dataset name (the same holds for every SageMaker name the
functions build from it).

Only boto3 and the standard library: the publisher needs no layer and has nothing to install at build time.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
import tarfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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
ACCESS_RETRY_DELAYS_SECONDS = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"""A role's permissions reach S3 seconds after CloudFormation creates it, so the publisher's first calls may be
refused; it waits and tries again (a minute in all) instead of rolling the stack back."""
_ACCESS_DENIED_CODES = {"AccessDenied", "403"}
"""HeadObject answers a bare 403 without an error body."""
MAX_STACK_NAME_LENGTH = 42
"""Every SageMaker name the functions build (group, endpoint, models, jobs, schedules) starts with ``<stack>-``,
which their permissions and EventBridge rules match, within 63 characters: a model name needs room beside it for
8 characters of a hash that tells a long dataset name's endpoint from the others and ``-v`` with a 9-digit version
(driftline_core.layout.MAX_PREFIX_LENGTH). CloudFormation's Rules cannot measure the stack name: the check is here."""
_STACK_NAME = re.compile(r"^[a-z][a-z0-9-]*$")

_T = TypeVar("_T")


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


def check_stack_name(stack_name: str) -> None:
    """Refuse a stack name that cannot prefix every dataset's Model Registry group, saying what would work."""
    problems = []
    if not _STACK_NAME.match(stack_name):
        problems.append(
            "it must be lowercase letters, digits and hyphens starting with a letter (SageMaker writes names "
            "in ARNs in lowercase, and the Model Registry permissions match on the stack name)"
        )
    if len(stack_name) > MAX_STACK_NAME_LENGTH:
        problems.append(
            f"it has {len(stack_name)} characters and may have at most {MAX_STACK_NAME_LENGTH} (every SageMaker "
            "name of the stack starts with <stack name>-, which its permissions match, and has at most 63 characters)"
        )
    if problems:
        suggestion = re.sub(r"[^a-z0-9-]+", "-", stack_name.lower()).strip("-")[:MAX_STACK_NAME_LENGTH] or "driftline"
        if not suggestion[0].isalpha():
            suggestion = f"driftline-{suggestion}"[:MAX_STACK_NAME_LENGTH]
        raise ValueError(
            f"The stack name {stack_name!r} cannot be used: {'; and '.join(problems)}. Delete this stack and "
            f"deploy again under a name such as {suggestion.rstrip('-')!r} (sam deploy --stack-name ...)."
        )


def stack_name_from_id(stack_id: str) -> str:
    """``arn:aws:cloudformation:<region>:<account>:stack/<name>/<id>`` -> ``<name>``."""
    _, _, path = stack_id.partition(":stack/")
    return path.split("/", 1)[0]


def publish_ml_code(
    bucket: str, source_dir: Path, s3: Any = None, sleep: Callable[[float], None] = time.sleep
) -> PublishedCode:
    """Upload the code under its content version unless that version is already complete in the bucket."""
    files = code_files(source_dir)
    if not files:
        raise RuntimeError(f"no job code found in {source_dir}: the ml/ folder shipped with no scripts")
    published = PublishedCode(bucket=bucket, version=content_version(source_dir, files))
    s3 = s3 or boto3.client("s3")
    return _retrying_access_denied(lambda: _upload(s3, published, source_dir, files), bucket, sleep)


def _retrying_access_denied(publish: Callable[[], _T], bucket: str, sleep: Callable[[float], None]) -> _T:
    """Run the (idempotent) publish again while S3 refuses access, for as long as IAM takes to propagate."""
    for delay in ACCESS_RETRY_DELAYS_SECONDS:
        try:
            return publish()
        except ClientError as error:
            if _error_code(error) not in _ACCESS_DENIED_CODES:
                raise
            LOGGER.warning("S3 refused access (%s), probably a new role; retrying in %.0f s", _error_code(error), delay)
            sleep(delay)
    try:
        return publish()
    except ClientError as error:
        if _error_code(error) not in _ACCESS_DENIED_CODES:
            raise
        raise RuntimeError(
            f"S3 still refused access to s3://{bucket}/{CODE_PREFIX} after {sum(ACCESS_RETRY_DELAYS_SECONDS):.0f} s "
            f"({_error_code(error)}); the publisher's role needs s3:PutObject and s3:GetObject on that prefix and "
            "s3:ListBucket on the bucket (the PublishJobCode and SeeWhatIsPublished statements in template.yaml)."
        ) from error


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _upload(s3: Any, published: PublishedCode, source_dir: Path, files: list[Path]) -> PublishedCode:
    bucket = published.bucket
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
        if _error_code(error) in _MISSING_CODES:
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
        check_stack_name(stack_name_from_id(str(event.get("StackId", ""))))
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
