"""A web page the user has open cannot drive local mode, and a job request cannot run code of its choosing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from driftline.local.emulator import LocalCloud

pytestmark = pytest.mark.e2e

EVIL = "http://evil.example"


def _hostile_job(name: str, marker: Path, cloud: LocalCloud) -> dict[str, Any]:
    """The CreateProcessingJob a page would send: a shell command as the job's entrypoint."""
    bucket = cloud.outputs["ArtifactBucketName"]
    return {
        "ProcessingJobName": name,
        "RoleArn": "arn:aws:iam::123456789012:role/any",
        "AppSpecification": {"ImageUri": "any", "ContainerEntrypoint": ["/bin/sh", "-c", f"id > {marker}"]},
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/code/",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            }
        ],
    }


def _create_job(cloud: LocalCloud, job: dict[str, Any], headers: dict[str, str]) -> int:
    """Send a signed CreateProcessingJob (as the AWS SDK for JavaScript in a page would), with extra headers."""
    sagemaker = cloud.client("sagemaker")

    def add_headers(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    sagemaker.meta.events.register("before-send.sagemaker.CreateProcessingJob", add_headers)
    try:
        sagemaker.create_processing_job(**job)
    except ClientError as error:
        return int(error.response["ResponseMetadata"]["HTTPStatusCode"])
    return 200


def _job_exists(cloud: LocalCloud, name: str) -> bool:
    try:
        cloud.client("sagemaker").describe_processing_job(ProcessingJobName=name)
    except ClientError:
        return False
    return True


def test_a_page_of_another_origin_is_refused_and_starts_no_job(cloud: LocalCloud, tmp_path: Path) -> None:
    marker = tmp_path / "ran-as-the-user"

    status = _create_job(cloud, _hostile_job("from-a-page", marker, cloud), {"Origin": EVIL})

    assert status == 403
    cloud.jobs.wait(timeout=30)
    assert not _job_exists(cloud, "from-a-page")
    assert not marker.exists()


def test_a_rebound_dns_name_is_refused_and_starts_no_job(cloud: LocalCloud, tmp_path: Path) -> None:
    marker = tmp_path / "ran-as-the-user"
    port = cloud.settings.port

    status = _create_job(cloud, _hostile_job("from-a-rebound-name", marker, cloud), {"Host": f"rebind.evil:{port}"})

    assert status == 403
    assert not _job_exists(cloud, "from-a-rebound-name")
    assert not marker.exists()


def test_a_job_asking_for_a_shell_fails_with_a_reason_and_runs_nothing(cloud: LocalCloud, tmp_path: Path) -> None:
    """The same request from a client on this machine reaches SageMaker, and the job refuses to run it."""
    marker = tmp_path / "ran-as-the-user"

    assert _create_job(cloud, _hostile_job("from-this-machine", marker, cloud), {}) == 200
    cloud.jobs.wait(timeout=60)

    description = cloud.client("sagemaker").describe_processing_job(ProcessingJobName="from-this-machine")
    assert description["ProcessingJobStatus"] == "Failed"
    reason = description["FailureReason"]
    assert reason.startswith(
        "ClientError: local mode runs a processing job only as python3 and one of the application's job scripts ("
    )
    # Every job the pipeline starts is one of them, the drift baseline and monitor included.
    named = reason.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert {"preprocess.py", "evaluate.py", "baseline.py", "monitor.py"} <= set(named)
    assert '["/bin/sh", "-c"' in reason
    assert 'set ContainerEntrypoint to ["python3", "/opt/ml/processing/input/code/<script>"]' in reason
    assert not marker.exists()
