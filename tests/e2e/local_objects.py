"""What the end-to-end tests read back from a local cloud: S3 objects by URI, an endpoint's answer to rows, and
the emails about a run."""

from __future__ import annotations

import csv
import email
import email.policy
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


def emails_about(cloud: LocalCloud, execution_arn: str) -> list[str]:
    """Subject and body of each outbox email that mentions a run."""
    bodies = []
    for path in cloud.settings.outbox.glob("*.eml"):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body()
        text = body.get_content() if body is not None else ""
        if execution_arn in text:
            bodies.append(f"{message['Subject']}\n{text}")
    return bodies
