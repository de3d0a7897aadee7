"""Local mode end to end with StagingEndpoint enabled: a candidate serves and is tested on its own staging endpoint
before the approval email goes out, approving promotes the same package to production, and the staging endpoint
is gone once the decision is made; a rejected candidate never reaches production."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE, approval_links, decide_as_a_person
from driftline.local.emulator import LocalCloud
from driftline.local.runs import RunRecord, follow, wait_for_execution

pytestmark = pytest.mark.e2e

DATASET = "staged"
ENDPOINT = f"driftline-{DATASET}"


@pytest.fixture(scope="module")
def cloud_parameters() -> dict[str, str]:
    # A p99 limit no local endpoint misses on a loaded machine (a CI run measured 1.4 s): these tests are about the
    # staging flow, not the speed; the refusal of a slow candidate is tested on the handler.
    return {
        "StagingEndpoint": "Enabled",
        "StagingLoadTestSeconds": "2",
        "StagingLoadTestRequestsPerSecond": "10",
        "StagingMaxP99Milliseconds": "10000",
    }


@pytest.fixture(scope="module")
def cancer_csv(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("staged") / "cancer.csv"
    datasets.write_breast_cancer_csv(path)
    return path.read_bytes()


def _endpoints(cloud: LocalCloud) -> dict[str, str]:
    listed = cloud.client("sagemaker").list_endpoints()["Endpoints"]
    return {endpoint["EndpointName"]: endpoint["EndpointStatus"] for endpoint in listed}


def _approval_email(outbox: Path, execution_arn: str) -> str:
    name = execution_arn.rsplit(":", 1)[-1]
    for path in sorted(outbox.glob("*")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if name in text and "approve" in text.lower() and "Staging" in text:
            return text
    raise AssertionError(f"no approval email with a staging section for {name} in {outbox}")


def _run(
    cloud: LocalCloud, name: str, body: bytes, decision: str, seen: dict[str, object], hyperparameters: dict[str, int]
) -> RunRecord:
    """Upload a CSV and decide its approval through the emailed link; each run must beat the model serving before it,
    so the versions train with more boosting rounds."""
    s3, sfn = cloud.client("s3"), cloud.client("stepfunctions")
    bucket, machine = cloud.outputs["DataBucketName"], cloud.outputs["PipelineStateMachineArn"]
    config = {"target": "diagnosis", "metric": "auc", "threshold": 0.5, "hyperparameters": hyperparameters}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/dataset.json", Body=json.dumps(config).encode())
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    s3.put_object(Bucket=bucket, Key=f"data/{DATASET}/{name}", Body=body)
    arn = wait_for_execution(sfn, machine, known=known)

    def decide() -> bool:
        approve, reject = approval_links(cloud.settings.outbox, arn)  # waits for the email
        seen["endpoints"] = _endpoints(cloud)
        seen["email"] = _approval_email(cloud.settings.outbox, arn)
        link = approve if decision == "approve" else reject
        decide_as_a_person(link, approver="reviewer@example.com", reason="keep the serving model for now")
        return True

    return follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: decide})


def test_a_staged_candidate_is_tested_before_approval_promoted_after_it_and_a_rejected_one_never_serves(
    cloud: LocalCloud, cancer_csv: bytes
) -> None:
    seen: dict[str, object] = {}
    first = _run(cloud, "first.csv", cancer_csv, "approve", seen, {"max_iter": 1, "max_depth": 1})

    assert first.status == "SUCCEEDED", first.output
    staging = f"{ENDPOINT}--staging-v1"
    # While the approval waited, only the staging endpoint served the candidate.
    assert seen["endpoints"] == {staging: "InService"}
    email = str(seen["email"])
    smoke = first.output["staging_test"]["smoke"]
    assert smoke["passed"] and smoke["mismatches"] == 0 and smoke["rows"] > 0
    assert f"{smoke['rows']}" in email and staging in email
    load = first.output["staging_test"]["load"]
    assert load["errors"] == 0 and load["requests"] >= 10
    # Production serves the package the staging endpoint tested; the staging endpoint is gone.
    package = first.output["registration"]["model_package_arn"]
    assert first.output["deployment"]["model_package_arn"] == package
    assert first.output["deployment"]["endpoint_name"] == ENDPOINT
    endpoints = _endpoints(cloud)
    assert endpoints.get(ENDPOINT) == "InService" and staging not in endpoints

    second = _run(cloud, "second.csv", cancer_csv, "reject", seen, {})

    assert second.status == "FAILED"
    assert second.output is None or "deployment" not in (second.output or {})
    staging_two = f"{ENDPOINT}--staging-v2"
    assert staging_two in str(seen["endpoints"])
    endpoints = _endpoints(cloud)
    assert staging_two not in endpoints
    # Production still serves the first version: a rejected candidate never touched it.
    description = cloud.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)
    assert description["EndpointConfigName"] == first.output["deployment"]["endpoint_config_name"]
    models = {model["ModelName"] for model in cloud.client("sagemaker").list_models()["Models"]}
    assert f"{ENDPOINT}-v1" in models and f"{ENDPOINT}-v2" not in models
