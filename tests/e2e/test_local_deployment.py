"""Local mode end to end: approved models go live, replace each other without downtime, and a broken one does not.

One dataset, three approved versions in a row, on one local cloud: each run must beat the model before it on the
same test rows, so the versions train with more and more boosting rounds (one stump, three stumps, the default).
"""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from sklearn.metrics import roc_auc_score

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person, wait_for_captures
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution
from tests.e2e.local_objects import read_object

pytestmark = pytest.mark.e2e

DATASET = "rollout"
ENDPOINT = f"driftline-{DATASET}"
VARIANT = "AllTraffic"
ONE_STUMP = {"max_iter": 1, "max_depth": 1}
THREE_STUMPS = {"max_iter": 3, "max_depth": 1}
DEFAULT_MODEL: dict[str, int] = {}


def _run(
    cloud: LocalCloud,
    name: str,
    body: bytes,
    hyperparameters: dict[str, int],
    *,
    before_approval: Callable[[str], None],
) -> RunRecord:
    """Upload the dataset's config and a CSV, then approve the run through its emailed link (``before_approval``
    is given the run's ARN first)."""
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.5, "hyperparameters": hyperparameters}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/dataset.json", Body=json.dumps(config).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/{name}", Body=body)
    arn = wait_for_execution(sfn, machine, known=known)

    def approve() -> bool:
        before_approval(arn)
        link, _ = approval_links(cloud.settings.outbox, arn)
        decide_as_a_person(link, approver="reviewer@example.com")
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: approve})


def _invoke(cloud: LocalCloud, body: str, **extra: str) -> tuple[str, str]:
    """The endpoint's CSV answer to CSV rows, and the production variant that answered."""
    response = cloud.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="text/csv", Accept="text/csv", Body=body.encode(), **extra
    )
    return response["Body"].read().decode(), response["InvokedProductionVariant"]


def _package(cloud: LocalCloud, record: RunRecord) -> dict[str, Any]:
    arn = record.output["registration"]["model_package_arn"]
    return dict(cloud.client("sagemaker").describe_model_package(ModelPackageName=arn))


@dataclass
class Traffic:
    """A client calling the endpoint with one row over and over, from before an approval until told to stop."""

    cloud: LocalCloud
    row: str
    answers: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def start(self, _: str = "") -> None:
        self.thread = threading.Thread(target=self._call, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        ended = len(self.answers) + len(self.errors)
        deadline = time.time() + 30
        while len(self.answers) + len(self.errors) < ended + 5 and time.time() < deadline:  # a few after the run ended
            time.sleep(0.02)
        self.stop.set()
        assert self.thread is not None
        self.thread.join(timeout=30)

    def _call(self) -> None:
        while not self.stop.is_set():
            try:
                self.answers.append(_invoke(self.cloud, self.row)[0])
            except Exception as error:  # every failure counts against the endpoint
                self.errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.02)


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("rollout") / "cancer.csv"
    datasets.write_breast_cancer_csv(path)
    return path.read_bytes()


@pytest.fixture(scope="module")
def first(cloud: LocalCloud, cancer_csv: bytes) -> RunRecord:
    record = _run(cloud, "first.csv", cancer_csv, ONE_STUMP, before_approval=lambda _: None)
    assert record.status == "SUCCEEDED", record.cause
    return record


@pytest.fixture(scope="module")
def one_row(cancer_csv: bytes) -> str:
    """The first uploaded row's features, without the target (the last column)."""
    return ",".join(cancer_csv.decode().splitlines()[1].split(",")[:-1])


@pytest.fixture(scope="module")
def second(cloud: LocalCloud, first: RunRecord, cancer_csv: bytes, one_row: str) -> tuple[RunRecord, Traffic]:
    traffic = Traffic(cloud, one_row)
    try:
        record = _run(cloud, "second.csv", cancer_csv, THREE_STUMPS, before_approval=traffic.start)
    finally:
        if traffic.thread is not None:
            traffic.finish()
    return record, traffic


@pytest.fixture(scope="module")
def third(cloud: LocalCloud, second: tuple[RunRecord, Traffic], cancer_csv: bytes) -> RunRecord:
    """A third model, registered and evaluated sound, whose model.tar.gz is damaged in S3 before its approval."""

    def damage_the_registered_model(execution_arn: str) -> None:
        package = _package(cloud, _registered_run(cloud, execution_arn))
        model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        bucket, _, key = model_uri[5:].partition("/")
        cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=b"not a gzip archive at all")

    return _run(cloud, "third.csv", cancer_csv, DEFAULT_MODEL, before_approval=damage_the_registered_model)


def _registered_run(cloud: LocalCloud, execution_arn: str) -> RunRecord:
    """A run waiting for approval, with what it has registered so far."""
    history = cloud.client("stepfunctions").get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    registered = next(
        json.loads(e["stateExitedEventDetails"]["output"])
        for e in history
        if e["type"] == "TaskStateExited" and e["stateExitedEventDetails"]["name"] == "Register"
    )
    return RunRecord(execution_arn=execution_arn, status="RUNNING", output=registered)


def test_the_approved_model_s_endpoint_answers_the_test_rows_as_its_evaluation_scored_them(
    cloud: LocalCloud, first: RunRecord
) -> None:
    deployment = first.output["deployment"]
    assert (deployment["endpoint_name"], deployment["action"]) == (ENDPOINT, "created")
    test_uri = first.output["preprocess"]["outputs"]["test"].rstrip("/")
    metadata_uri = first.output["preprocess"]["outputs"]["metadata"].rstrip("/")
    features = read_object(cloud, f"{test_uri}/test_features.csv").decode().splitlines()
    targets = [
        int(line.split(",", 1)[0]) for line in read_object(cloud, f"{test_uri}/test.csv").decode().splitlines()[1:]
    ]
    class_labels = json.loads(read_object(cloud, f"{metadata_uri}/preprocessing.json"))["class_labels"]

    answer, variant = _invoke(cloud, "\n".join(features[1:]) + "\n")  # the rows as uploaded, without the header

    rows = list(csv.reader(io.StringIO(answer)))
    assert variant == VARIANT
    assert len(rows) == len(targets) > 50
    expected = [class_labels[code] for code in targets]
    accuracy = sum(row[0] == label for row, label in zip(rows, expected, strict=True)) / len(rows)
    malignant = [float(row[1 + class_labels.index("malignant")]) for row in rows]
    auc = roc_auc_score([label == "malignant" for label in expected], malignant)
    report = json.loads(read_object(cloud, first.output["gate"]["evaluation_uri"]))["binary_classification_metrics"]
    assert accuracy == pytest.approx(report["accuracy"]["value"], abs=1e-9)
    assert auc == pytest.approx(report["auc"]["value"], abs=1e-9)


CAPTURE_KEY = re.compile(
    rf"^capture/{DATASET}/{ENDPOINT}/{VARIANT}/(\d{{4}})/(\d{{2}})/(\d{{2}})/(\d{{2}})/[^/]+\.jsonl$"
)


def test_requests_to_the_endpoint_are_captured_in_sagemaker_s_data_capture_format(
    cloud: LocalCloud, first: RunRecord, one_row: str
) -> None:
    capture_uri = first.output["deployment"]["data_capture_uri"]
    bucket = capture_uri[5:].partition("/")[0]
    before, records_before = wait_for_captures(cloud, capture_uri, ENDPOINT, 0, timeout=0)
    answer, _ = _invoke(cloud, one_row + "\n", InferenceId="request-42")

    # Earlier tests' requests may still be on their way to S3: wait for this request's own record.
    deadline = time.monotonic() + 30
    read: dict[str, list[dict[str, Any]]] = {}
    mine: list[tuple[str, dict[str, Any]]] = []
    while not mine and time.monotonic() < deadline:
        keys, _ = wait_for_captures(cloud, capture_uri, ENDPOINT, records_before + 1)
        for key in set(keys) - set(before) - set(read):
            read[key] = [json.loads(line) for line in read_object(cloud, f"s3://{bucket}/{key}").decode().splitlines()]
        mine = [
            (key, r)
            for key, rows in read.items()
            for r in rows
            if r["eventMetadata"].get("inferenceId") == "request-42"
        ]
        if not mine:
            time.sleep(0.5)
    assert len(mine) == 1
    key, record = mine[0]
    assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
    assert record["eventVersion"] == "0"
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": one_row + "\n",
        "encoding": "CSV",
    }
    output = record["captureData"]["endpointOutput"]
    assert (output["mode"], output["encoding"], output["data"]) == ("OUTPUT", "CSV", answer)
    assert output["observedContentType"].startswith("text/csv")
    metadata = record["eventMetadata"]
    assert re.fullmatch(r"[0-9a-f-]{36}", metadata["eventId"])
    inferred = datetime.strptime(metadata["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ")
    layout = CAPTURE_KEY.match(key)
    assert layout is not None, key
    assert tuple(int(part) for part in layout.groups()) == (inferred.year, inferred.month, inferred.day, inferred.hour)


def test_a_second_approved_model_replaces_the_first_while_requests_keep_being_answered(
    cloud: LocalCloud, first: RunRecord, second: tuple[RunRecord, Traffic]
) -> None:
    record, traffic = second
    assert record.status == "SUCCEEDED", record.cause
    assert record.output["gate"]["passed"] is True
    deployment = record.output["deployment"]
    assert deployment["action"] == "updated"
    assert deployment["previous_endpoint_config_name"] == first.output["deployment"]["endpoint_config_name"]
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == deployment["endpoint_config_name"] == f"{ENDPOINT}-v2"

    assert traffic.errors == []
    assert len(traffic.answers) > 20
    # One switch, from the first model's answer to the second's: never back, never a gap.
    switches = [i for i in range(1, len(traffic.answers)) if traffic.answers[i] != traffic.answers[i - 1]]
    assert len(switches) == 1, sorted(set(traffic.answers))
    assert traffic.answers[-1] == _invoke(cloud, traffic.row)[0]


def test_a_model_that_cannot_load_fails_its_update_and_the_previous_model_keeps_answering(
    cloud: LocalCloud, second: tuple[RunRecord, Traffic], third: RunRecord
) -> None:
    serving = second[0].output["deployment"]["endpoint_config_name"]
    assert third.status == "FAILED"
    assert third.error == "DeploymentFailed"
    cause = third.cause or ""
    assert f"update to {ENDPOINT}-v3 failed, previous model still serving ({serving})" in cause
    assert "is not a readable .tar.gz archive" in cause

    described = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert (described["EndpointStatus"], described["EndpointConfigName"]) == ("InService", serving)
    assert f"{ENDPOINT}-v3" in described["FailureReason"]
    answer, _ = _invoke(cloud, second[1].row)
    assert answer == second[1].answers[-1]
