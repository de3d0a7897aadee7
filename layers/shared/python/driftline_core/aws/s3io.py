"""Small S3 reads and writes the handlers share (JSON documents and streamed lines)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_not_found
from driftline_core.layout import split_s3_uri


def read_json(uri: str) -> Any:
    bucket, key = split_s3_uri(uri)
    body = get_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    return json.loads(body)


def read_json_if_exists(bucket: str, key: str) -> Any | None:
    """The parsed document, or None when the object does not exist."""
    try:
        body = get_client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    return json.loads(body)


def write_json(bucket: str, key: str, document: Any) -> str:
    """Write a JSON document and return its S3 URI."""
    get_client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(document, indent=2, sort_keys=True).encode(),
        ContentType="application/json",
    )
    return f"s3://{bucket}/{key}"


def copy_object_version(source_bucket: str, source_key: str, version_id: str | None, bucket: str, key: str) -> str:
    """Server-side copy of one exact object version (multipart for large objects); returns the copy's URI."""
    source: dict[str, str] = {"Bucket": source_bucket, "Key": source_key}
    if version_id:
        source["VersionId"] = version_id
    get_client("s3").copy(source, bucket, key)
    return f"s3://{bucket}/{key}"


def prefix_holds_objects(bucket: str, prefix: str) -> bool:
    """Whether any object's key starts with ``prefix``: SageMaker refuses a job input whose prefix holds none."""
    listed = get_client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    return bool(listed.get("KeyCount") or listed.get("Contents"))
