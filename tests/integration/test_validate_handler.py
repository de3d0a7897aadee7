"""The Validate handler under moto: versioned S3 objects, the real handler, the payload the ASL sends; and the
README's dataset examples uploaded as a user would (each dataset.json with its CSV starts a run with the config it
declares, the decimal-comma file is refused with the README's words)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from driftline_core.errors import DatasetConfigInvalid, ValidationFailed
from driftline_core.payloads import StepInput
from tests.conftest import load_event
from tests.docs.readme_blocks import named_blocks

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
Upload = Callable[..., dict[str, Any]]

EVENT = load_event("validate")
DATA_BUCKET = EVENT["data"]["bucket"]
ARTIFACT_BUCKET = "driftline-artifacts-123456789012-us-east-1"


def credit_csv(rows: int = 40, *, income: str | None = None, extra_column: bool = False) -> bytes:
    header = "age,income,home,default" + (",region" if extra_column else "")
    lines = [header]
    for i in range(rows):
        value = income if income is not None and i == 2 else f"{20000 + 750 * i}"
        line = f"{21 + i % 50},{value},{['own', 'rent', 'mortgage'][i % 3]},{i % 2}"
        lines.append(line + (",north" if extra_column else ""))
    return ("\n".join(lines) + "\n").encode()


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


@pytest.fixture
def upload(s3: Any) -> Upload:
    """Put an object and return the Validate payload for that exact version."""

    def put(body: bytes, key: str = EVENT["data"]["key"], execution_name: str | None = None) -> dict[str, Any]:
        version = s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)["VersionId"]
        event = json.loads(json.dumps(EVENT))
        event["dataset"] = key.split("/")[1]
        event["data"].update(key=key, version_id=version, uri=f"s3://{DATA_BUCKET}/{key}")
        if execution_name:
            event["execution_name"] = execution_name
            event["execution_id"] = event["execution_id"].rsplit(":", 1)[0] + f":{execution_name}"
        return event

    return put


def read_json(s3: Any, key: str, bucket: str = ARTIFACT_BUCKET) -> Any:
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def keys(s3: Any, bucket: str = ARTIFACT_BUCKET) -> list[str]:
    return [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def emitted_metrics(stdout: str) -> dict[str, Any]:
    """Metric values from the CloudWatch embedded-metric documents the handler printed."""
    values: dict[str, Any] = {}
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        document = json.loads(line)
        for declared in document["_aws"]["CloudWatchMetrics"]:
            values.update({item["Name"]: document[item["Name"]] for item in declared["Metrics"]})
    return values


def put_dataset_config(s3: Any, document: Any) -> None:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    s3.put_object(Bucket=DATA_BUCKET, Key="data/credit/dataset.json", Body=body)


def test_the_sample_event_is_a_step_input() -> None:
    event = StepInput.model_validate(EVENT)
    assert event.dataset == "credit"
    assert event.data.key.startswith("data/credit/")


def test_a_first_upload_is_accepted_its_schema_kept_and_the_run_config_written(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    event = upload(credit_csv())
    result = handler(event, lambda_context)

    name = event["execution_name"]
    assert result == {
        "config_uri": f"s3://{ARTIFACT_BUCKET}/runs/{name}/config.json",
        "schema_uri": f"s3://{ARTIFACT_BUCKET}/datasets/credit/schema.json",
        "schema_source": "inferred",
        "rows": 40,
        "columns": 4,
        "release": {"staging": False, "ab_test": None},
        "transforms_test_rows": False,
    }
    schema = read_json(s3, "datasets/credit/schema.json")
    assert schema["columns"] == [
        {"name": "age", "type": "numeric"},
        {"name": "income", "type": "numeric"},
        {"name": "home", "type": "categorical"},
        {"name": "default", "type": "numeric"},
    ]
    assert (schema["target"], schema["problem_type"]) == ("default", "binary_classification")

    config = read_json(s3, f"runs/{name}/config.json")
    assert config == {
        "dataset": "credit",
        "target": "default",
        "problem_type": "binary_classification",
        "metric": "auc",
        "threshold": 0.7,
        "higher_is_better": True,
        "hyperparameters": {},
        "columns": schema["columns"],
        "feature_columns": ["age", "income", "home"],
        "data_uri": event["data"]["uri"],
        "data_version_id": event["data"]["version_id"],
        "input_uri": f"s3://{ARTIFACT_BUCKET}/runs/{name}/input/{event['data']['key'].rsplit('/', 1)[-1]}",
        "rows": 40,
        "seed": 42,
        "split": {"train": 0.7, "validation": 0.15, "test": 0.15},
        "delimiter": ",",
        "model_script": None,
        "model_algorithm": None,
        "model_framework": "scikit-learn",
        "model_image": None,
        "instance_count": 1,
    }


def test_the_run_keeps_its_own_copy_of_the_exact_version_it_checked(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    checked = credit_csv()
    event = upload(checked)
    s3.put_object(Bucket=DATA_BUCKET, Key=event["data"]["key"], Body=credit_csv(rows=60))  # a newer upload

    handler(event, lambda_context)

    name = event["execution_name"]
    file_name = event["data"]["key"].rsplit("/", 1)[-1]
    copy = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=f"runs/{name}/input/{file_name}")["Body"].read()
    assert copy == checked


def test_the_rows_validated_metric_is_emitted(
    handler: Handler,
    upload: Upload,
    lambda_context: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler(upload(credit_csv()), lambda_context)
    assert emitted_metrics(capsys.readouterr().out) == {"RowsValidated": [40.0]}


def test_the_second_upload_is_checked_against_the_schema_kept_from_the_first(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    handler(upload(credit_csv()), lambda_context)

    accepted = handler(upload(credit_csv(rows=30), execution_name="credit-second"), lambda_context)
    assert accepted["schema_source"] == "stored"
    assert accepted["schema_uri"] == f"s3://{ARTIFACT_BUCKET}/datasets/credit/schema.json"

    # Alone this file would be inferred with a categorical income; the kept schema says numeric.
    with pytest.raises(ValidationFailed) as caught:
        handler(upload(credit_csv(income="unknown"), execution_name="credit-third"), lambda_context)
    assert str(caught.value) == (
        "data/credit/credit-2026-11.csv: 1 value in numeric column 'income' is not a number "
        "(row 4: 'unknown'); correct or empty them, or declare the column \"categorical\" in the "
        "dataset's dataset.json."
    )


def test_an_upload_with_different_columns_names_the_missing_and_unexpected_ones(
    handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    handler(upload(credit_csv()), lambda_context)
    renamed = credit_csv(extra_column=True).replace(b"age,", b"years,", 1)
    with pytest.raises(ValidationFailed) as caught:
        handler(upload(renamed, execution_name="credit-renamed"), lambda_context)
    message = str(caught.value)
    assert message.startswith("data/credit/credit-2026-11.csv: the columns do not match the dataset's schema")
    assert "missing 'age'; unexpected 'years', 'region'" in message


def test_the_problem_type_of_the_first_upload_holds_for_later_ones(
    handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    handler(upload(credit_csv()), lambda_context)
    three_classes = credit_csv().replace(b",1\n", b",2\n", 5)
    with pytest.raises(ValidationFailed, match="problem type is binary_classification but the target column"):
        handler(upload(three_classes, execution_name="credit-classes"), lambda_context)


def test_declared_columns_win_and_the_declared_config_is_resolved(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    put_dataset_config(
        s3,
        {
            "target": "default",
            "metric": "f1",
            "threshold": 0.65,
            "hyperparameters": {"max_iter": 300, "early_stopping": "auto"},
            "min_rows": 30,
            "columns": [
                {"name": "age", "type": "categorical"},
                {"name": "income", "type": "numeric"},
                {"name": "home", "type": "categorical"},
                {"name": "default", "type": "categorical"},
            ],
        },
    )
    event = upload(credit_csv())
    result = handler(event, lambda_context)

    assert result["schema_source"] == "declared"
    assert result["schema_uri"] == f"s3://{DATA_BUCKET}/data/credit/dataset.json"
    config = read_json(s3, f"runs/{event['execution_name']}/config.json")
    assert config["columns"][0] == {"name": "age", "type": "categorical"}
    assert (config["metric"], config["threshold"]) == ("f1", 0.65)
    assert config["hyperparameters"] == {"max_iter": "300", "early_stopping": "auto"}

    with pytest.raises(ValidationFailed, match="numeric column 'income' is not a number"):
        handler(upload(credit_csv(income="lots"), execution_name="credit-declared"), lambda_context)


def test_a_declared_minimum_of_rows_is_enforced(s3: Any, handler: Handler, upload: Upload, lambda_context: Any) -> None:
    put_dataset_config(s3, {"min_rows": 100})
    with pytest.raises(ValidationFailed, match="it has 40 data rows, and at least 100 are needed"):
        handler(upload(credit_csv()), lambda_context)


def test_an_invalid_dataset_config_names_the_field(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    put_dataset_config(s3, {"problem_type": "regression", "metirc": "rmse"})
    with pytest.raises(DatasetConfigInvalid) as caught:
        handler(upload(credit_csv()), lambda_context)
    message = str(caught.value)
    assert message.startswith("data/credit/dataset.json: unknown field 'metirc' (did you mean 'metric'?)")
    assert keys(s3) == []


def test_the_release_plan_follows_the_stack_parameters_unless_the_dataset_says_otherwise(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    for name, value in {
        "STAGING_ENDPOINT": "Enabled",
        "AB_TEST_MODE": "Split",
        "AB_TEST_CHALLENGER_SHARE": "0.2",
        "AB_TEST_TRIAL_MINUTES": "60",
    }.items():
        monkeypatch.setenv(name, value)
    reset_settings()
    release = handler(upload(credit_csv()), lambda_context)["release"]
    assert release == {
        "staging": True,
        "ab_test": {
            "mode": "split",
            "challenger_share": 0.2,
            "trial_minutes": 60,
            "min_labelled_rows": 200,
            "significance": 0.05,
            "promotion": "approval",
        },
    }
    put_dataset_config(
        s3, {"ab_test": {"mode": "shadow", "challenger_share": 0.5, "min_labelled_rows": 50, "promotion": "automatic"}}
    )
    release = handler(upload(credit_csv()), lambda_context)["release"]
    assert (release["ab_test"]["mode"], release["ab_test"]["challenger_share"]) == ("shadow", 0.5)
    assert (release["ab_test"]["min_labelled_rows"], release["ab_test"]["trial_minutes"]) == (50, 60)
    assert release["ab_test"]["promotion"] == "automatic"
    monkeypatch.setenv("AB_TEST_PROMOTION", "Automatic")
    reset_settings()
    put_dataset_config(s3, {"ab_test": {"mode": "split"}})
    assert handler(upload(credit_csv()), lambda_context)["release"]["ab_test"]["promotion"] == "automatic"
    put_dataset_config(s3, {"ab_test": False})
    assert handler(upload(credit_csv()), lambda_context)["release"] == {"staging": True, "ab_test": None}
    reset_settings()


@pytest.mark.parametrize(
    ("ab_test", "message"),
    [
        ({"challenger_share": 1.5}, "'ab_test.challenger_share' is 1.5: input should be less than 1"),
        ({"challenger_share": 0}, "'ab_test.challenger_share' is 0: input should be greater than 0"),
        (
            {"challenger_share": 0.2, "champion_share": 0.7},
            "ab_test.champion_share (0.7) and ab_test.challenger_share (0.2) add up to 0.9; the two variants' "
            "shares must add up to 1",
        ),
        ({"trial_minutes": 50000}, "'ab_test.trial_minutes' is 50000: input should be less than or equal to 43200"),
        ({"mode": "canary"}, "'ab_test.mode' is \"canary\""),
        ({"winner": "auto"}, "unknown field 'ab_test.winner'"),
        ({"promotion": "manual"}, "'ab_test.promotion' is \"manual\""),
    ],
)
def test_an_ab_test_configuration_that_cannot_work_is_refused_naming_the_field(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, ab_test: dict[str, Any], message: str
) -> None:
    put_dataset_config(s3, {"ab_test": ab_test})
    with pytest.raises(DatasetConfigInvalid) as caught:
        handler(upload(credit_csv()), lambda_context)
    assert message in str(caught.value)
    assert keys(s3) == []


def test_an_empty_file_is_rejected_counted_and_nothing_is_written(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValidationFailed, match=r"^data/credit/credit-2026-11\.csv: is empty"):
        handler(upload(b""), lambda_context)
    assert keys(s3) == []
    assert emitted_metrics(capsys.readouterr().out) == {"UploadsRejected": [1.0]}


def test_a_compressed_file_named_csv_is_rejected(handler: Handler, upload: Upload, lambda_context: Any) -> None:
    with pytest.raises(ValidationFailed, match=r"is not a UTF-8 CSV file \(it looks like a gzip-compressed file\)"):
        handler(upload(gzip.compress(credit_csv())), lambda_context)


def test_non_numeric_values_in_the_first_upload_are_fine_but_bad_rows_are_not(
    handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    body = credit_csv().replace(b"\n25,", b"\n25,1,2,", 1)
    with pytest.raises(ValidationFailed, match=r"1 row does not have the header's 4 fields \(row 6: 6 fields\)"):
        handler(upload(body), lambda_context)


def test_a_dataset_name_sagemaker_cannot_use_is_rejected(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    with pytest.raises(ValidationFailed) as caught:
        handler(upload(credit_csv(), key="data/credit_risk/2026.csv"), lambda_context)
    assert str(caught.value).startswith("data/credit_risk/2026.csv: the dataset name 'credit_risk' cannot be used")
    assert "letters, digits or inner hyphens" in str(caught.value)
    assert keys(s3) == []


def test_the_exact_uploaded_version_is_validated(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    first = upload(credit_csv())
    upload(b"")  # a newer, empty version of the same key
    assert handler(first, lambda_context)["rows"] == 40


def test_a_deleted_version_is_reported(s3: Any, handler: Handler, upload: Upload, lambda_context: Any) -> None:
    event = upload(credit_csv())
    s3.delete_object(Bucket=DATA_BUCKET, Key=event["data"]["key"], VersionId=event["data"]["version_id"])
    with pytest.raises(ValidationFailed, match="no longer exists"):
        handler(event, lambda_context)


def test_two_first_uploads_at_the_same_moment_keep_one_schema_and_the_other_is_held_to_it(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Upload B is checked while upload A, with other columns, finishes first and keeps its schema."""
    from driftline_core.ingest import validation

    put_dataset_config(s3, {"target": "default"})
    first = upload(credit_csv(extra_column=True), key="data/credit/a.csv", execution_name="credit-a")
    second = upload(credit_csv(), key="data/credit/b.csv", execution_name="credit-b")
    checked = validation._validate_object
    interleaved: list[str] = []

    def check_b_while_a_finishes(step: Any, *args: Any) -> Any:
        report = checked(step, *args)
        if step.data.key.endswith("b.csv") and not interleaved:
            interleaved.append("a")
            handler(first, lambda_context)  # A reads no schema either, and keeps its own first
        return report

    monkeypatch.setattr(validation, "_validate_object", check_b_while_a_finishes)
    with pytest.raises(ValidationFailed) as caught:
        handler(second, lambda_context)

    assert interleaved == ["a"]
    assert "the columns do not match the dataset's schema (missing 'region')" in str(caught.value)
    kept = read_json(s3, "datasets/credit/schema.json")
    assert [column["name"] for column in kept["columns"]] == ["age", "income", "home", "default", "region"]
    versions = s3.list_object_versions(Bucket=ARTIFACT_BUCKET, Prefix="datasets/credit/schema.json")["Versions"]
    assert len(versions) == 1
    assert not any(key.startswith("runs/credit-b/") for key in keys(s3))


def test_a_file_like_the_winner_passes_when_it_loses_the_race_to_keep_the_schema(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.ingest import validation

    first = upload(credit_csv(), key="data/credit/a.csv", execution_name="credit-a")
    second = upload(credit_csv(rows=30), key="data/credit/b.csv", execution_name="credit-b")
    checked = validation._validate_object
    calls: list[str] = []

    def check_b_while_a_finishes(step: Any, *args: Any) -> Any:
        report = checked(step, *args)
        calls.append(step.data.key)
        if step.data.key.endswith("b.csv") and len(calls) == 1:
            handler(first, lambda_context)
        return report

    monkeypatch.setattr(validation, "_validate_object", check_b_while_a_finishes)
    result = handler(second, lambda_context)

    assert result["schema_source"] == "stored"
    assert calls == ["data/credit/b.csv", "data/credit/a.csv", "data/credit/b.csv"]


def test_a_gzip_compressed_upload_is_validated_and_its_copy_kept_compressed(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    body = gzip.compress(credit_csv())
    event = upload(body, key="data/credit/june.CSV.GZ")
    result = handler(event, lambda_context)

    assert (result["rows"], result["columns"]) == (40, 4)
    config = read_json(s3, f"runs/{event['execution_name']}/config.json")
    assert config["input_uri"].endswith("/input/june.CSV.GZ")
    copied = s3.get_object(Bucket=ARTIFACT_BUCKET, Key=config["input_uri"].split("/", 3)[3])["Body"].read()
    assert copied == body


def test_a_damaged_gzip_upload_is_refused_with_what_to_do(
    handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    body = gzip.compress(credit_csv())
    with pytest.raises(ValidationFailed) as caught:
        handler(upload(body[: len(body) // 2], key="data/credit/june.csv.gz"), lambda_context)
    assert str(caught.value).startswith(
        "data/credit/june.csv.gz: is named .csv.gz but is not a valid gzip file (it ends before its compressed "
        "data does, so the upload was cut short); compress the CSV again"
    )


def test_a_declared_delimiter_reads_the_upload_and_reaches_the_run_config(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    semicolons = credit_csv().replace(b",", b";")
    with pytest.raises(ValidationFailed, match=r"declare \"delimiter\": \";\""):
        handler(upload(semicolons), lambda_context)

    put_dataset_config(s3, {"delimiter": ";"})
    event = upload(semicolons, execution_name="credit-semicolons")
    assert handler(event, lambda_context)["columns"] == 4
    assert read_json(s3, f"runs/{event['execution_name']}/config.json")["delimiter"] == ";"


def test_a_reserved_hyperparameter_is_refused_before_any_job(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    put_dataset_config(s3, {"hyperparameters": {"model-dir": "/tmp/anywhere"}})
    with pytest.raises(DatasetConfigInvalid, match="hyperparameter 'model-dir' is reserved by the training script"):
        handler(upload(credit_csv()), lambda_context)
    assert keys(s3) == []


# Drift runs: the labelled data window --------------------------------------------------------------------


def retrain_event(s3: Any, uploads: list[tuple[str, bytes]], execution_name: str = "credit-retrain") -> dict[str, Any]:
    """A drift run's Validate payload: each upload put, listed in ``retrain.json`` as StartRetrain lists them."""
    listed = []
    for key, body in uploads:
        version = s3.put_object(Bucket=DATA_BUCKET, Key=key, Body=body)["VersionId"]
        head = s3.head_object(Bucket=DATA_BUCKET, Key=key, VersionId=version)
        listed.append(
            {
                "uri": f"s3://{DATA_BUCKET}/{key}",
                "version_id": version,
                "last_modified": head["LastModified"].isoformat(),
                "size": len(body),
                "new": True,
            }
        )
    manifest = {
        "reason": "drift",
        "alarm_name": "driftline-drift-credit",
        "alarm_state_time": "2026-11-02T10:00:00.000+0000",
        "alarm_reason": "Threshold Crossed",
        "drifted_features": [{"name": "income", "distance": 0.41, "threshold": 0.1}],
        "report_uri": f"s3://{ARTIFACT_BUCKET}/drift/credit/reports/drift_report.html",
        "window_days": None,
        "serving_data_time": None,
        "uploads": listed,
    }
    retrain_key = f"runs/{execution_name}/retrain.json"
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=retrain_key, Body=json.dumps(manifest).encode())
    newest_key = uploads[-1][0] if uploads else "data/credit/newest.csv"
    event = json.loads(json.dumps(EVENT))
    event["execution_name"] = execution_name
    event["execution_id"] = event["execution_id"].rsplit(":", 1)[0] + f":{execution_name}"
    event["data"].update(
        key=newest_key,
        version_id=listed[-1]["version_id"] if listed else None,
        uri=f"s3://{DATA_BUCKET}/{newest_key}",
    )
    event["trigger"] = {
        "source": "drift",
        "event_id": "5c0e8a4e-2f5b-4f7e-9d55-0c8f0d2f6a11",
        "alarm_name": "driftline-drift-credit",
        "drifted_features": manifest["drifted_features"],
        "report_uri": manifest["report_uri"],
        "retrain_uri": f"s3://{ARTIFACT_BUCKET}/{retrain_key}",
    }
    return event


def test_a_drift_run_checks_every_upload_of_its_window_and_copies_each_exact_version(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    first, second, third = credit_csv(rows=40), gzip.compress(credit_csv(rows=30)), credit_csv(rows=20)
    event = retrain_event(
        s3, [("data/credit/1-jan.csv", first), ("data/credit/2-feb.csv.gz", second), ("data/credit/3-mar.csv", third)]
    )
    s3.put_object(Bucket=DATA_BUCKET, Key="data/credit/1-jan.csv", Body=credit_csv(rows=99))  # a newer version

    result = handler(event, lambda_context)

    name = event["execution_name"]
    assert result["rows"] == 90
    assert result["files"] == 3
    config = read_json(s3, f"runs/{name}/config.json")
    assert config["input_uri"] == f"s3://{ARTIFACT_BUCKET}/runs/{name}/input/"
    assert config["rows"] == 90
    copies = sorted(key for key in keys(s3) if key.startswith(f"runs/{name}/input/"))
    assert copies == [
        f"runs/{name}/input/0001-1-jan.csv",
        f"runs/{name}/input/0002-2-feb.csv.gz",
        f"runs/{name}/input/0003-3-mar.csv",
    ]
    bodies = [s3.get_object(Bucket=ARTIFACT_BUCKET, Key=key)["Body"].read() for key in copies]
    assert bodies == [first, second, third]


def test_an_upload_run_s_result_has_no_window_count(handler: Handler, upload: Upload, lambda_context: Any) -> None:
    assert "files" not in handler(upload(credit_csv()), lambda_context)


def test_one_bad_file_of_the_window_fails_the_run_naming_the_file_the_row_and_the_value(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    handler(retrain_event(s3, [("data/credit/jan.csv", credit_csv())], "credit-first"), lambda_context)
    event = retrain_event(
        s3, [("data/credit/feb.csv", credit_csv(income="lots")), ("data/credit/mar.csv", credit_csv())], "credit-bad"
    )

    with pytest.raises(ValidationFailed) as caught:
        handler(event, lambda_context)

    assert str(caught.value) == (
        "data/credit/feb.csv: 1 value in numeric column 'income' is not a number (row 4: 'lots'); correct or "
        'empty them, or declare the column "categorical" in the dataset\'s dataset.json.'
    )
    assert not any(key.startswith("runs/credit-bad/input/") for key in keys(s3))


def test_the_row_minimum_applies_to_the_window_s_total(s3: Any, handler: Handler, lambda_context: Any) -> None:
    put_dataset_config(s3, {"min_rows": 50})
    uploads = [(f"data/credit/part-{n}.csv", credit_csv(rows=20)) for n in range(3)]

    assert handler(retrain_event(s3, uploads, "credit-sixty"), lambda_context)["rows"] == 60

    with pytest.raises(ValidationFailed) as caught:
        handler(retrain_event(s3, uploads[:2], "credit-forty"), lambda_context)
    assert str(caught.value).startswith(
        "the labelled data window of dataset 'credit' "
        f"(s3://{ARTIFACT_BUCKET}/runs/credit-forty/retrain.json): its files have 40 data rows together, "
        "and at least 50 are needed"
    )


def test_a_window_whose_uploads_were_all_deleted_fails_with_what_to_do(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    event = retrain_event(s3, [("data/credit/jan.csv", credit_csv()), ("data/credit/feb.csv", credit_csv())])
    for key in ("data/credit/jan.csv", "data/credit/feb.csv"):
        version = s3.head_object(Bucket=DATA_BUCKET, Key=key)["VersionId"]
        s3.delete_object(Bucket=DATA_BUCKET, Key=key, VersionId=version)

    with pytest.raises(ValidationFailed) as caught:
        handler(event, lambda_context)

    assert str(caught.value) == (
        f"s3://{ARTIFACT_BUCKET}/runs/credit-retrain/retrain.json: the labelled data window of dataset 'credit' "
        "has no file to train on (its 2 uploads were all deleted since); upload labelled rows as "
        "data/credit/<file>.csv, which starts a run of its own."
    )
    assert not any(key.startswith("runs/credit-retrain/input/") for key in keys(s3))


def test_an_empty_window_fails_with_what_to_do(s3: Any, handler: Handler, lambda_context: Any) -> None:
    with pytest.raises(ValidationFailed, match=r"has no file to train on \(it lists no upload\)"):
        handler(retrain_event(s3, []), lambda_context)


def test_a_deleted_upload_of_the_window_is_left_out_and_the_rest_train(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    event = retrain_event(s3, [("data/credit/jan.csv", credit_csv(rows=30)), ("data/credit/feb.csv", credit_csv())])
    s3.delete_object(
        Bucket=DATA_BUCKET,
        Key="data/credit/jan.csv",
        VersionId=s3.head_object(Bucket=DATA_BUCKET, Key="data/credit/jan.csv")["VersionId"],
    )

    result = handler(event, lambda_context)

    assert (result["rows"], result["files"]) == (40, 1)
    assert [key for key in keys(s3) if "/input/" in key] == ["runs/credit-retrain/input/0001-feb.csv"]


def test_a_window_listing_another_dataset_s_file_is_refused(s3: Any, handler: Handler, lambda_context: Any) -> None:
    event = retrain_event(s3, [("data/loans/jan.csv", credit_csv()), ("data/credit/feb.csv", credit_csv())])
    with pytest.raises(ValidationFailed, match=r"data/loans/jan.csv: is not an upload of dataset 'credit'"):
        handler(event, lambda_context)


def test_the_window_s_classes_are_counted_over_all_its_files(s3: Any, handler: Handler, lambda_context: Any) -> None:
    """A month of only defaults and a month of none train a binary model together."""
    lines = credit_csv().decode().splitlines()
    defaults = [line for line in lines[1:] if line.endswith(",1")]
    repaid = [line for line in lines[1:] if line.endswith(",0")]
    event = retrain_event(
        s3,
        [
            ("data/credit/1-defaults.csv", "\n".join([lines[0], *defaults]).encode()),
            ("data/credit/2-repaid.csv", "\n".join([lines[0], *repaid]).encode()),
        ],
    )

    result = handler(event, lambda_context)

    assert (result["rows"], result["files"], result["schema_source"]) == (40, 2, "inferred")
    assert read_json(s3, "datasets/credit/schema.json")["problem_type"] == "binary_classification"


# -- the README's examples ---------------------------------------------------------------------------------------------


def upload_as_the_readme_says(s3: Any, dataset: str, config: str, csv: str) -> dict[str, Any]:
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
    s3: Any, handler: Handler, lambda_context: Any, dataset: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = named_blocks("dataset.json")[dataset]
    declared = json.loads(config)
    csv = enough_rows(named_blocks("dataset.csv")[dataset], declared.get("min_rows", 20))
    if "script" in declared.get("model", {}):
        publish_model_script(s3, monkeypatch, declared["model"]["script"])
    if "image" in declared.get("model", {}):
        repository, tag = declared["model"]["image"].split("/", 1)[1].rsplit(":", 1)
        push_image(monkeypatch, repository, tag)

    result = handler(upload_as_the_readme_says(s3, dataset, config, csv), lambda_context)

    resolved = json.loads(
        s3.get_object(Bucket=ARTIFACT_BUCKET, Key=result["config_uri"].split("/", 3)[3])["Body"].read()
    )
    for field in ("target", "problem_type", "metric", "threshold", "delimiter", "model"):
        if field == "model" and field in declared:
            assert resolved["model_script"] == declared["model"].get("script")
            assert resolved["model_algorithm"] == declared["model"].get("algorithm")
            assert resolved["instance_count"] == declared["model"].get("instance_count", 1)
            assert resolved["model_image"] == declared["model"].get("image")
        elif field in declared:
            assert resolved[field] == declared[field], field
    assert resolved["rows"] == result["rows"] >= declared.get("min_rows", 20)


def test_the_readme_s_decimal_comma_file_is_refused_with_the_readme_s_words(
    s3: Any, handler: Handler, lambda_context: Any
) -> None:
    config = json.dumps({"delimiter": ";", "min_rows": 4})
    event = upload_as_the_readme_says(s3, "houses", config, named_blocks("refused.csv")["decimal-comma"])

    with pytest.raises(ValidationFailed) as refused:
        handler(event, lambda_context)

    shown = " ".join(named_blocks("refusal")["decimal-comma"].split())
    assert shown in " ".join(str(refused.value).split())
    assert "problem_type" not in str(refused.value)


# A dataset's own training script -----------------------------------------------------------------------------

CODE_URI = f"s3://{ARTIFACT_BUCKET}/code/0123456789ab"


def publish_model_script(
    s3: Any, monkeypatch: pytest.MonkeyPatch, name: str, requirements: bytes | None = None
) -> None:
    """The script as the code publisher ships it, one object per ml/ file under ``<code>/src/``."""
    from driftline_core.settings import reset_settings

    folder = f"code/0123456789ab/src/models/{name}"
    s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{folder}/train.py", Body=b"# script\n")
    if requirements is not None:
        s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{folder}/requirements.txt", Body=requirements)
    monkeypatch.setenv("ML_CODE_URI", CODE_URI)
    reset_settings()


def test_a_dataset_s_own_training_script_in_the_published_code_is_written_to_the_run_config_with_its_hyperparameters(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_model_script(s3, monkeypatch, "logistic_regression")
    put_dataset_config(
        s3, {"model": {"script": "logistic_regression"}, "hyperparameters": {"C": 0.5, "penalty-kind": "l2"}}
    )

    result = handler(upload(credit_csv()), lambda_context)

    bucket, key = result["config_uri"][len("s3://") :].split("/", 1)
    config = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert config["model_script"] == "logistic_regression"
    assert config["hyperparameters"] == {"C": "0.5", "penalty-kind": "l2"}  # the script's own: passed as given


@pytest.mark.parametrize(
    ("document", "says"),
    [
        (
            {"model": {"script": "gradient_boosting"}},
            "model.script 'gradient_boosting' names ml/models/gradient_boosting/train.py, which is not in the ml/ "
            f"code this stack deployed ({CODE_URI}); add the script there and deploy again",
        ),
        ({"model": {"script": "../train"}}, "'model.script' is \"../train\""),
        ({"model": {"script": "logistic_regression", "container": "x"}}, "unknown field 'model.container'"),
        (
            {"model": {"script": "logistic_regression"}, "hyperparameters": {"target": "x"}},
            "hyperparameter 'target' is set by the pipeline",
        ),
        (
            {"model": {"script": "logistic_regression"}, "hyperparameters": {"model_script": "other"}},
            "hyperparameter 'model_script' is set by the pipeline",
        ),
        (
            {"model": {"algorithm": "xgboost", "instance_count": 5}},
            "model.instance_count is 5, above the 4 this stack allows (its MaxTrainingInstances parameter)",
        ),
        ({"model": {"algorithm": "xgboost", "instance_count": 0}}, "'model.instance_count' is 0"),
        ({"model": {"algorithm": "lightgbm"}}, "'model.algorithm' is \"lightgbm\""),
        ({"model": {}}, 'model names one of "script" (your training script), "algorithm": "xgboost" or "image"'),
        (
            {"model": {"script": "logistic_regression", "algorithm": "xgboost"}},
            'model names one of "script" (your training script), "algorithm": "xgboost" or "image" (your container',
        ),
        (
            {"model": {"script": "logistic_regression", "instance_count": 2}},
            'model.instance_count applies to "algorithm": "xgboost" and "image"; a training script runs on one',
        ),
        (
            {"model": {"algorithm": "xgboost"}, "hyperparameters": {"max_iter": 10}},
            "hyperparameter 'max_iter' is not one XGBoost accepts",
        ),
        (
            {"model": {"algorithm": "xgboost"}, "hyperparameters": {"objective": "reg:tweedie"}},
            "hyperparameter 'objective' is set by the pipeline from the problem type",
        ),
        (
            {"model": {"algorithm": "xgboost"}, "hyperparameters": {"eval_metric": "accuracy"}},
            'hyperparameter \'eval_metric\' is "accuracy"; it must be one of "logloss", "error"',
        ),
        (
            {"model": {"algorithm": "xgboost"}, "hyperparameters": {"eval_metric": "mlogloss"}},
            "hyperparameter 'eval_metric' 'mlogloss' does not measure a binary_classification model; use one of "
            "logloss, error, auc, aucpr",
        ),
        (
            {"model": {"algorithm": "xgboost"}, "hyperparameters": {"subsample": 1.5}},
            "hyperparameter 'subsample' is 1.5; it must be a number above 0 to 1",
        ),
        (
            {"model": {"algorithm": "xgboost"}, "hyperparameters": {"tree_method": "gpu_hist"}},
            'hyperparameter \'tree_method\' is "gpu_hist"; it must be one of "auto", "exact", "approx", "hist"',
        ),
    ],
)
def test_a_model_choice_the_pipeline_cannot_train_is_refused_at_validation_with_the_reason(
    s3: Any,
    handler: Handler,
    upload: Upload,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    document: dict[str, Any],
    says: str,
) -> None:
    publish_model_script(s3, monkeypatch, "logistic_regression")
    put_dataset_config(s3, document)

    with pytest.raises(DatasetConfigInvalid) as refused:
        handler(upload(credit_csv()), lambda_context)

    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("requirements", "says"),
    [
        (b"lightgbm==4.3.0\n# fine\ncatboost>=1.2,<1.3\n", None),
        (
            b"lightgbm==4.3.0\nnumpy==2.0.0\n",
            "ml/models/logistic_regression/requirements.txt line 2 ('numpy==2.0.0') names numpy, which the "
            "scikit-learn image already holds",
        ),
        (
            b"lightgbm==4.3.0\nlightgbm=4.3.0\n",
            "ml/models/logistic_regression/requirements.txt line 2 ('lightgbm=4.3.0') is not a requirement pip can "
            "read",
        ),
        (b"-r ../other.txt\n", "line 1 ('-r ../other.txt') names another file or an editable checkout"),
        (b"\xff\xfe numpy\n", "ml/models/logistic_regression/requirements.txt is not UTF-8 text"),
    ],
)
def test_a_training_script_s_requirements_that_pip_would_stop_at_are_refused_at_validation_naming_the_line(
    s3: Any,
    handler: Handler,
    upload: Upload,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    requirements: bytes,
    says: str | None,
) -> None:
    publish_model_script(s3, monkeypatch, "logistic_regression", requirements)
    put_dataset_config(s3, {"model": {"script": "logistic_regression"}})

    if says is None:
        assert handler(upload(credit_csv()), lambda_context)["rows"] == 40
        return
    with pytest.raises(DatasetConfigInvalid) as refused:
        handler(upload(credit_csv()), lambda_context)
    assert says in str(refused.value)


@pytest.mark.parametrize(("framework", "refused"), [("xgboost", True), (None, False)])
def test_a_script_on_xgboost_s_container_may_not_require_xgboost_which_the_scikit_learn_image_lacks(
    s3: Any,
    handler: Handler,
    upload: Upload,
    lambda_context: Any,
    monkeypatch: pytest.MonkeyPatch,
    framework: str | None,
    refused: bool,
) -> None:
    publish_model_script(s3, monkeypatch, "xgboost_trees", b"xgboost==3.1.0\n")
    model = {"script": "xgboost_trees", **({"framework": framework} if framework else {})}
    put_dataset_config(s3, {"model": model})

    if not refused:
        result = handler(upload(credit_csv()), lambda_context)
        bucket, key = result["config_uri"][len("s3://") :].split("/", 1)
        assert json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())["model_framework"] == "scikit-learn"
        return
    with pytest.raises(DatasetConfigInvalid) as problem:
        handler(upload(credit_csv()), lambda_context)
    assert "line 1 ('xgboost==3.1.0') names xgboost, which the XGBoost image already holds" in str(problem.value)


# The dataset's own container image ----------------------------------------------------------------------------

ACCOUNT = "123456789012"
IMAGE_REPOSITORY = "driftline/churn-model"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/{IMAGE_REPOSITORY}:1.0"


def push_image(monkeypatch: pytest.MonkeyPatch, repository: str, tag: str) -> None:
    """An image pushed to this account's ECR, where the stack's SageMaker role (of this account) may pull it."""
    from driftline_core.settings import reset_settings

    ecr = boto3.client("ecr")
    ecr.create_repository(repositoryName=repository)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7023,
            "digest": "sha256:" + "a" * 64,
        },
        "layers": [],
    }
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag=tag)
    monkeypatch.setenv("SAGEMAKER_ROLE_ARN", f"arn:aws:iam::{ACCOUNT}:role/driftline-SageMakerExecutionRole-ABC")
    reset_settings()


@pytest.fixture
def pushed_image(s3: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    push_image(monkeypatch, IMAGE_REPOSITORY, "1.0")
    return IMAGE


def test_a_container_image_in_the_stack_s_registry_is_written_to_the_run_config_and_asks_for_a_batch_transform(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, pushed_image: str
) -> None:
    put_dataset_config(s3, {"model": {"image": pushed_image, "instance_count": 2}, "hyperparameters": {"depth": 4}})

    result = handler(upload(credit_csv()), lambda_context)

    assert result["transforms_test_rows"] is True
    config = read_json(s3, result["config_uri"].split(f"{ARTIFACT_BUCKET}/", 1)[1])
    assert (config["model_image"], config["instance_count"], config["hyperparameters"]) == (
        pushed_image,
        2,
        {"depth": "4"},
    )


@pytest.mark.parametrize(
    ("image", "says"),
    [
        (
            IMAGE.replace("us-east-1", "eu-west-1"),
            "is in eu-west-1; SageMaker runs images from the job's own region, us-east-1",
        ),
        (
            IMAGE.replace(ACCOUNT, "210987654321"),
            "is in account 210987654321; this stack's SageMaker role pulls images from its own account, 123456789012",
        ),
        (
            IMAGE.replace("driftline/churn-model", "models/churn-model"),
            "this stack's SageMaker role pulls only from repositories whose names start with 'driftline/' (its "
            "ModelImageRepositories parameter): push the image to driftline/churn-model",
        ),
        (
            IMAGE.replace("churn-model", "other-model"),
            "names repository 'driftline/other-model', which does not exist in 123456789012's registry in us-east-1",
        ),
        (IMAGE.replace(":1.0", ":2.0"), "repository 'driftline/churn-model' holds no image with tag '2.0'"),
        (
            IMAGE.replace(":1.0", "@sha256:" + "b" * 64),
            f"repository 'driftline/churn-model' holds no image with digest sha256:{'b' * 64}",
        ),
        (IMAGE.rsplit(":", 1)[0], "names no tag or digest; add one"),
        ("docker.io/library/python:3.12", "is not an Amazon ECR image URI"),
    ],
)
def test_a_container_image_the_stack_could_not_run_is_refused_at_validation_with_the_reason(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, pushed_image: str, image: str, says: str
) -> None:
    put_dataset_config(s3, {"model": {"image": image}})

    with pytest.raises(DatasetConfigInvalid) as refused:
        handler(upload(credit_csv()), lambda_context)

    assert says in str(refused.value)
    assert f"model.image '{image}'" in str(refused.value)


def test_a_container_is_refused_when_the_stack_s_processing_type_cannot_run_its_batch_transform(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any, pushed_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftline_core.settings import reset_settings

    monkeypatch.setenv("PROCESSING_INSTANCE_TYPE", "ml.c7i-flex.2xlarge")  # processing jobs only
    reset_settings()
    put_dataset_config(s3, {"model": {"image": pushed_image}})

    with pytest.raises(DatasetConfigInvalid) as refused:
        handler(upload(credit_csv()), lambda_context)

    assert "ProcessingInstanceType, ml.c7i-flex.2xlarge, which batch transform does not offer" in str(refused.value)


# SageMaker's XGBoost algorithm --------------------------------------------------------------------------------


def test_an_xgboost_dataset_writes_the_algorithm_its_instances_and_its_hyperparameters_to_the_run_config(
    s3: Any, handler: Handler, upload: Upload, lambda_context: Any
) -> None:
    put_dataset_config(
        s3,
        {"model": {"algorithm": "xgboost", "instance_count": 2}, "hyperparameters": {"max_depth": 4, "eta": 0.3}},
    )

    result = handler(upload(credit_csv()), lambda_context)

    bucket, key = result["config_uri"][len("s3://") :].split("/", 1)
    config = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert (config["model_algorithm"], config["instance_count"], config["model_script"]) == ("xgboost", 2, None)
    assert config["hyperparameters"] == {"max_depth": "4", "eta": "0.3"}
