"""What the end-to-end tests read back from a local cloud: S3 objects by URI, and an endpoint's answer to rows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from driftline.local.emulator import LocalCloud


def read_object(cloud: LocalCloud, uri: str) -> bytes:
    """The object an ``s3://bucket/key`` URI names, from the local cloud's S3."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bytes(cloud.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def answers_to_rows(
    cloud: LocalCloud, endpoint: str, csv_path: Path, target: str, count: int
) -> tuple[list[dict[str, str]], list[list[str]]]:
    """The first ``count`` rows of a CSV with a header, and the endpoint's ``text/csv`` answer to their features."""
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))[:count]
    body = "\n".join(",".join(value for name, value in row.items() if name != target) for row in rows) + "\n"
    answer = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=body.encode()
    )
    return rows, list(csv.reader(io.StringIO(answer["Body"].read().decode())))
