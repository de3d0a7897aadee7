"""Local mode end to end: a file put into S3 becomes a registered model; bad files fail with a reason."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path
from typing import Any

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person, upload_and_follow
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution
from driftline.local.sagemaker import JobRunner
from tests.e2e.local_objects import emails_about, read_object

pytestmark = pytest.mark.e2e


def _upload(cloud: LocalCloud, key: str, body: bytes) -> None:
    cloud.client("s3").put_object(Bucket=cloud.outputs["DataBucketName"], Key=key, Body=body)


def _run_for(cloud: LocalCloud, key: str, body: bytes, *, reject_because: str = "") -> RunRecord:
    """Upload and follow the run; a run that waits for approval is approved (or rejected) through its link."""
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    _upload(cloud, key, body)
    arn = wait_for_execution(sfn, machine, known=known)

    def decide() -> bool:
        approve, reject = approval_links(cloud.settings.outbox, arn)
        link = reject if reject_because else approve
        decide_as_a_person(link, approver="reviewer@example.com", reason=reject_because)
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: decide})


def _outbox_mentions(cloud: LocalCloud, text: str) -> bool:
    return any(text in path.read_text(errors="replace") for path in cloud.settings.outbox.glob("*.eml"))


def _packages(cloud: LocalCloud, dataset: str) -> list[dict[str, object]]:
    sagemaker = cloud.client("sagemaker")
    group = f"{cloud.outputs['ModelPackageGroupPrefix']}-{dataset}"
    try:
        return list(sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"])
    except sagemaker.exceptions.ClientError:
        return []


def test_an_upload_becomes_a_model_approved_through_its_emailed_link_and_deployed_to_a_live_endpoint(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "breast_cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    record = upload_and_follow(cloud, "breast-cancer", csv_path, timeout=300)

    assert record.status == "SUCCEEDED", record.cause
    registration = record.output["registration"]
    package = cloud.client("sagemaker").describe_model_package(ModelPackageName=registration["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert package["ApprovalDescription"].startswith("Approved by demo@localhost at ")
    assert record.output["approval"]["decided_by"] == "demo@localhost"
    evaluation_uri = package["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"]
    report = json.loads(read_object(cloud, evaluation_uri))
    assert report["binary_classification_metrics"]["auc"]["value"] > 0.9
    model_uri = package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
    assert read_object(cloud, model_uri)[:2] == b"\x1f\x8b"  # a gzip tarball
    lineage = package["CustomerMetadataProperties"]
    assert lineage["data_uri"].endswith("data/breast-cancer/breast_cancer.csv")
    assert lineage["data_version_id"]
    assert lineage["execution_arn"] == record.execution_arn
    mails = sorted(emails_about(cloud, record.execution_arn), key=lambda mail: "waits for your approval" not in mail)
    assert len(mails) == 2
    assert "waits for your approval" in mails[0] and "/approvals/" in mails[0] and "auc" in mails[0]
    assert "model deployed" in mails[1] and "invoke-endpoint --endpoint-name driftline-breast-cancer" in mails[1]
    deployment = record.output["deployment"]
    assert (deployment["endpoint_name"], deployment["action"]) == ("driftline-breast-cancer", "created")
    described = cloud.client("sagemaker").describe_endpoint(EndpointName="driftline-breast-cancer")
    assert described["EndpointStatus"] == "InService"
    assert described["EndpointConfigName"] == deployment["endpoint_config_name"]
    job_logs = list(cloud.settings.jobs_dir.glob("*/job.log"))
    assert len(job_logs) >= 3


BAD_UPLOADS = [
    ("empty", b"", "empty"),
    ("wrong-header", b"a,b,c\n1,2,3\n", "missing"),
    ("not-numbers", None, "is not a number"),
    ("binary", gzip.compress(b"x" * 2000), "UTF-8"),
]


@pytest.fixture(scope="module")
def approved_credit_run(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunRecord]:
    """A dataset's first file, accepted and its model approved through the emailed link: the file fixes the
    dataset's schema, as later uploads are checked against it, and the run leaves an approval link used once."""
    good = tmp_path_factory.mktemp("credit") / "good.csv"
    datasets.write_credit_csv(good, 400, seed=3)
    _upload(cloud, "data/bad-input/dataset.json", json.dumps({"target": "default"}).encode())
    first = _run_for(cloud, "data/bad-input/first.csv", good.read_bytes())
    assert first.status == "SUCCEEDED", first.cause
    return good, first


@pytest.fixture(scope="module")
def accepted_credit_file(approved_credit_run: tuple[Path, RunRecord]) -> Path:
    """A dataset whose schema is fixed by a first accepted file, as later uploads are checked against it."""
    return approved_credit_run[0]


@pytest.mark.parametrize(("case", "body", "reason"), BAD_UPLOADS, ids=[c[0] for c in BAD_UPLOADS])
def test_bad_uploads_fail_at_validation_with_a_readable_reason(
    cloud: LocalCloud, accepted_credit_file: Path, case: str, body: bytes | None, reason: str
) -> None:
    dataset = "bad-input"
    good = accepted_credit_file
    before = len(_packages(cloud, dataset))
    if body is None:
        lines = good.read_text().splitlines()
        header, row = lines[0], lines[1].split(",")
        row[1] = "lots"
        body = "\n".join([header, ",".join(row), *lines[2:]]).encode()
    record = _run_for(cloud, f"data/{dataset}/{case}.csv", body)

    assert record.status == "FAILED"
    assert record.error == "ValidationFailed"
    assert reason.lower() in (record.cause or "").lower()
    assert "Nothing was registered" in (record.cause or "")
    assert len(_packages(cloud, dataset)) == before
    mails = emails_about(cloud, record.execution_arn)
    assert len(mails) == 1
    assert "failed" in mails[0].lower() and reason.lower() in mails[0].lower()


def test_a_file_outside_the_data_prefix_starts_no_run(cloud: LocalCloud) -> None:
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]
    before = len(sfn.list_executions(stateMachineArn=machine)["executions"])
    _upload(cloud, "incoming/credit.csv", b"a,b\n1,2\n")
    _upload(cloud, "data/credit/notes.txt", b"hello")
    # Both uploads' events have been handled once StartRun has told the topic why the second one started no run.
    deadline = time.time() + 60
    while not _outbox_mentions(cloud, "data/credit/notes.txt is not a CSV file") and time.time() < deadline:
        time.sleep(0.2)
    assert len(sfn.list_executions(stateMachineArn=machine)["executions"]) == before


def test_the_same_object_event_delivered_twice_starts_one_run(cloud: LocalCloud) -> None:
    bucket = cloud.outputs["DataBucketName"]
    s3 = cloud.client("s3")
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]
    key = "data/twice/twice.csv"
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    put = s3.put_object(Bucket=bucket, Key=key, Body=b"x,y\n1,2\n")
    wait_for_execution(sfn, machine, known=known)
    event = {
        "version": "0",
        "id": "c3f9a1de-0000-4000-8000-000000000001",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-23T12:00:00Z",
        "region": cloud.settings.region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {
                "key": key,
                "size": 8,
                "etag": put["ETag"].strip('"'),
                "version-id": put["VersionId"],
                "sequencer": "1",
            },
            "request-id": "r",
            "requester": "123456789012",
            "source-ip-address": "127.0.0.1",
            "reason": "PutObject",
        },
    }
    lambdas = cloud.client("lambda")
    function = next(f for f in lambdas.list_functions()["Functions"] if "StartRun" in f["FunctionName"])
    answers = [
        json.loads(
            lambdas.invoke(FunctionName=function["FunctionName"], Payload=json.dumps(event).encode())["Payload"].read()
        )
        for _ in range(2)
    ]
    runs = [e for e in sfn.list_executions(stateMachineArn=machine)["executions"] if e["name"].startswith("twice-")]
    assert len(runs) == 1
    assert all(answer["started"] is False and "already started" in answer["reason"] for answer in answers)


def test_a_candidate_below_the_gate_is_rejected_and_nothing_is_registered(cloud: LocalCloud, tmp_path: Path) -> None:
    csv_path = tmp_path / "strict.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.9999}
    _upload(cloud, "data/strict/dataset.json", json.dumps(config).encode())
    record = _run_for(cloud, "data/strict/strict.csv", csv_path.read_bytes())

    assert record.status == "SUCCEEDED"
    assert "registration" not in record.output
    assert record.output["gate"]["passed"] is False
    assert _packages(cloud, "strict") == []
    mails = emails_about(cloud, record.execution_arn)
    assert len(mails) == 1 and "threshold" in mails[0]


def test_a_failing_training_job_fails_the_run_with_the_job_s_reason(
    cloud: LocalCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The training algorithm itself fails (here: it runs out of memory) after Validate accepted the data."""
    script_mode = JobRunner._script_mode

    def training_that_runs_out_of_memory(
        runner: JobRunner, job: Any, hyperparameters: dict[str, str], root: Path
    ) -> tuple[str, Path, list[str]]:
        program, code_dir, arguments = script_mode(runner, job, hyperparameters, root)
        Path(program).write_text(
            "import os, sys\n"
            "failure = os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure')\n"
            "open(failure, 'w').write('MemoryError: the training data does not fit the instance; use a larger "
            "TrainingInstanceType')\n"
            "sys.exit(1)\n"
        )
        return program, code_dir, arguments

    monkeypatch.setattr(JobRunner, "_script_mode", training_that_runs_out_of_memory)
    csv_path = tmp_path / "broken.csv"
    datasets.write_breast_cancer_csv(csv_path)
    _upload(cloud, "data/broken/dataset.json", json.dumps({"target": "diagnosis"}).encode())
    record = _run_for(cloud, "data/broken/broken.csv", csv_path.read_bytes())

    assert record.status == "FAILED"
    assert record.error == "SageMakerJobFailed"
    assert "MemoryError: the training data does not fit the instance" in (record.cause or "")
    assert "Nothing was registered" in (record.cause or "")
    assert _packages(cloud, "broken") == []


def test_a_model_rejected_through_its_link_is_rejected_in_the_registry_and_the_run_ends_with_the_reason(
    cloud: LocalCloud, tmp_path: Path
) -> None:
    csv_path = tmp_path / "reject.csv"
    datasets.write_breast_cancer_csv(csv_path)
    _upload(cloud, "data/reject-me/dataset.json", json.dumps({"target": "diagnosis"}).encode())
    record = _run_for(cloud, "data/reject-me/reject.csv", csv_path.read_bytes(), reject_because="recall too low")

    assert record.status == "FAILED"
    assert record.error == "ApprovalRejected"
    assert "rejected by reviewer@example.com" in (record.cause or "")
    assert "recall too low" in (record.cause or "")
    (summary,) = _packages(cloud, "reject-me")
    package = cloud.client("sagemaker").describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    assert package["ModelApprovalStatus"] == "Rejected"
    assert package["ApprovalDescription"].endswith(": recall too low")
    mails = emails_about(cloud, record.execution_arn)
    assert any("rejected by the approver" in mail and "recall too low" in mail for mail in mails)


def test_a_second_click_on_a_used_link_is_refused_and_the_task_token_appears_nowhere(
    cloud: LocalCloud, approved_credit_run: tuple[Path, RunRecord]
) -> None:
    import urllib.error
    import urllib.request

    sfn = cloud.client("stepfunctions")
    _, approved = approved_credit_run
    arn = approved.execution_arn
    approve, _ = approval_links(cloud.settings.outbox, arn)

    request = urllib.request.Request(approve, headers={"Sec-Fetch-Site": "none"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 403
    assert "already approved" in refused.value.read().decode()

    history = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    scheduled = [
        json.loads(e["taskScheduledEventDetails"]["parameters"])
        for e in history
        if e["type"] == "TaskScheduled" and "waitForTaskToken" in e["taskScheduledEventDetails"]["resource"]
    ]
    tokens = [p["Payload"]["task_token"] for p in scheduled if "registration" in p["Payload"]]
    assert tokens
    logs = cloud.client("logs")
    texts = [sfn.describe_execution(executionArn=arn)["output"]]
    for group in logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]:
        events = logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
        texts.append("\n".join(event["message"] for event in events))
    texts.extend(path.read_text(errors="replace") for path in cloud.settings.outbox.glob("*.eml"))
    for text in texts:
        assert tokens[0] not in text
