"""The README's dataset examples uploaded as a user would, through the real Validate handler under moto: each
dataset.json with its CSV starts a run with the config it declares, and the decimal-comma file is refused with the
README's words."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from driftline_core.errors import ValidationFailed
from tests.conftest import load_event
from tests.docs.readme_blocks import named_blocks

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

EVENT = load_event("validate")
DATA_BUCKET = EVENT["data"]["bucket"]
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"


@pytest.fixture
def s3(aws: None, monkeypatch: pytest.MonkeyPatch) -> Any:
    from driftline_core.settings import reset_settings

    client = boto3.client("s3")
    for bucket in (DATA_BUCKET, ARTIFACT_BUCKET):
        client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("DATA_BUCKET", DATA_BUCKET)
    monkeypatch.setenv("ARTIFACT_BUCKET", ARTIFACT_BUCKET)
    reset_settings()
    return client


@pytest.fixture
def handler(s3: Any) -> Handler:
    """Imported once the environment is set: Powertools reads its namespace when the module loads."""
    from functions.validate.app import lambda_handler

    return lambda_handler


def upload(s3: Any, dataset: str, config: str, csv: str) -> dict[str, Any]:
    """Put ``dataset.json`` and then the CSV, as the README says to; the Validate payload for the CSV's version."""
    s3.put_object(Bucket=DATA_BUCKET, Key=f"data/{dataset}/dataset.json", Body=config.encode())
    key = f"data/{dataset}/{dataset}.csv"
    version = s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=csv.encode())["VersionId"]
    event = json.loads(json.dumps(EVENT))
    event["dataset"] = dataset
    event["data"].update(key=key, version_id=version, uri=f"s3://{DATA_BUCKET}/{key}")
    return event


def enough_rows(csv: str, rows: int) -> str:
    """The README's example rows repeated until the file has at least ``rows`` data rows."""
    header, *lines = csv.splitlines()
    repeats = -(-rows // len(lines))
    return "\n".join([header, *(lines * repeats)]) + "\n"


@pytest.mark.parametrize("dataset", sorted(named_blocks("dataset.csv")))
def test_each_readme_dataset_starts_a_run_with_the_config_it_declares(
    s3: Any, handler: Handler, lambda_context: Any, dataset: str
) -> None:
    config = named_blocks("dataset.json")[dataset]
    declared = json.loads(config)
    csv = enough_rows(named_blocks("dataset.csv")[dataset], declared.get("min_rows", 20))

    result = handler(upload(s3, dataset, config, csv), lambda_context)

    resolved = json.loads(
        s3.get_object(Bucket=ARTIFACT_BUCKET, Key=result["config_uri"].split("/", 3)[3])["Body"].read()
    )
    for field in ("target", "problem_type", "metric", "threshold", "delimiter"):
        assert resolved[field] == declared[field], field
    assert resolved["rows"] == result["rows"] >= declared.get("min_rows", 20)


def test_the_readme_s_decimal_comma_file_is_refused_with_the_readme_s_words(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    config = json.dumps({"delimiter": ";", "min_rows": 4})
    event = upload(s3, "houses", config, named_blocks("refused.csv")["decimal-comma"])

    with pytest.raises(ValidationFailed) as refused:
        handler(event, lambda_context)

    shown = " ".join(named_blocks("refusal")["decimal-comma"].split())
    assert shown in " ".join(str(refused.value).split())
    assert "problem_type" not in str(refused.value)
