"""Processing jobs on several instances in local mode: each instance gets its own /opt/ml with the resource
config naming it, a ShardedByS3Key input gives each its share of the objects, the instances run at once and
every instance's outputs are uploaded; the drift monitor's sharded window, merged, reaches one instance's verdict."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from driftline.local import sagemaker, seams
from driftline.local.console import Console
from driftline.local.sagemaker import JobRunner
from driftline_core.layout import merge_job_name, monitor_job_name
from driftline_core.settings import Settings
from driftline_core.training.job_requests import build_monitor_job_request, build_monitor_merge_job_request
from tests.monitor_data import capture_record, csv_rows, features

REGION = "us-east-1"
BUCKET = "driftline-artifacts"
ENDPOINT = "driftline-credit"
SCHEDULE = "driftline-credit-drift-monitor"
HOUR = f"{ENDPOINT}/AllTraffic/2026/11/20/10"
WINDOW_END = "2026-11-20T11:00:00Z"
SETTINGS = Settings(
    artifact_bucket=BUCKET,
    sagemaker_role_arn="arn:aws:iam::123456789012:role/driftline-sagemaker",
    processing_image_uri="683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
    ml_code_uri=f"s3://{BUCKET}/code/v1/",
    max_job_runtime_seconds=300,
)


class Cloud:
    def __init__(self, endpoint_url: str, runner: JobRunner) -> None:
        self.runner = runner
        session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION)
        self.s3 = session.client("s3", endpoint_url=endpoint_url)
        self.sagemaker = session.client("sagemaker", endpoint_url=endpoint_url)

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)

    def read_json(self, key: str) -> Any:
        return json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return sorted(item["Key"] for item in listed)

    def run(self, request: dict[str, Any]) -> dict[str, Any]:
        self.sagemaker.create_processing_job(**request)
        self.runner.wait(timeout=240)
        return dict(self.sagemaker.describe_processing_job(ProcessingJobName=request["ProcessingJobName"]))


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    """The emulator with the application's real ml/ code published, as local mode runs it."""
    moto_api_backend.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    runner = JobRunner(
        jobs_dir=tmp_path / "jobs", endpoint_url=endpoint_url, region=REGION, console=Console(io.StringIO())
    )
    sagemaker.install(runner)
    cloud = Cloud(endpoint_url, runner)
    cloud.s3.create_bucket(Bucket=BUCKET)
    for path in sagemaker._published_files(sagemaker.ML_DIR):
        cloud.put(f"code/v1/src/{path.relative_to(sagemaker.ML_DIR).as_posix()}", path.read_bytes())
    try:
        yield cloud
    finally:
        runner.wait(timeout=30)
        server.stop()
        seams.restore()
        moto_api_backend.reset()


def monitor_request(name: str, output: str, instance_count: int) -> dict[str, Any]:
    return build_monitor_job_request(
        job_name=name,
        dataset="credit",
        endpoint=ENDPOINT,
        schedule=SCHEDULE,
        baseline_uri=f"s3://{BUCKET}/baseline/",
        capture_uris={HOUR: f"s3://{BUCKET}/capture/credit/{HOUR}/"},
        output_uri=output,
        window_start="2026-11-20T10:00:00Z",
        window_end=WINDOW_END,
        settings=SETTINGS,
        instance_count=instance_count,
    )


def test_a_two_instance_monitor_job_and_its_merge_give_the_single_instance_violations(
    cloud: Cloud,
    baseline_dir: Path,
    tmp_path: Path,
) -> None:
    for name in ("statistics.json", "constraints.json"):
        cloud.put(f"baseline/{name}", (baseline_dir / name).read_bytes())
    lines = [capture_record(row) for row in csv_rows(features(4000, seed=7, shifted=True))]
    for index in range(4):
        cloud.put(f"capture/credit/{HOUR}/capture-{index}.jsonl", "".join(lines[index::4]).encode())
    end = datetime(2026, 11, 20, 11, tzinfo=UTC)
    single_output, window = f"s3://{BUCKET}/single/", f"s3://{BUCKET}/sharded/"

    single = cloud.run(monitor_request(f"{ENDPOINT}-single-202611201100", single_output, 1))
    shards = cloud.run(monitor_request(monitor_job_name(ENDPOINT, end), window, 2))
    merge = cloud.run(
        build_monitor_merge_job_request(
            job_name=merge_job_name(ENDPOINT, end),
            dataset="credit",
            endpoint=ENDPOINT,
            schedule=SCHEDULE,
            baseline_uri=f"s3://{BUCKET}/baseline/",
            shards_uri=f"{window}shards/",
            output_uri=window,
            window_start="2026-11-20T10:00:00Z",
            window_end=WINDOW_END,
            settings=SETTINGS,
        )
    )

    for job in (single, shards, merge):
        assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    assert shards["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 2  # described as AWS describes it
    assert cloud.keys("sharded/shards/") == [
        "sharded/shards/statistics-algo-1.json",
        "sharded/shards/statistics-algo-2.json",
    ]
    jobs = tmp_path / "jobs" / shards["ProcessingJobName"]
    shares = {}
    for host in ("algo-1", "algo-2"):
        config = json.loads((jobs / host / "config" / "resourceconfig.json").read_text())
        assert config == {"current_host": host, "hosts": ["algo-1", "algo-2"]}
        shares[host] = sorted(p.name for p in (jobs / host / "processing" / "input" / "capture").rglob("*.jsonl"))
    assert shares == {
        "algo-1": ["capture-0.jsonl", "capture-2.jsonl"],
        "algo-2": ["capture-1.jsonl", "capture-3.jsonl"],
    }
    rows = [cloud.read_json(f"sharded/shards/statistics-{host}.json")["dataset"]["item_count"] for host in shares]
    assert rows == [2000, 2000]

    merged = cloud.read_json("sharded/constraint_violations.json")["violations"]
    alone = cloud.read_json("single/constraint_violations.json")["violations"]
    assert merged and sorted(v["feature_name"] for v in merged) == sorted(v["feature_name"] for v in alone)
    assert {v["constraint_check_type"] for v in merged} == {v["constraint_check_type"] for v in alone}
    metrics = cloud.read_json("sharded/cloudwatch_metrics.json")["MetricData"]
    [drifted] = [d for d in metrics if d["MetricName"] == "drifted_features"]
    assert drifted["Value"] == len(
        {v["feature_name"] for v in alone if v["constraint_check_type"] == "baseline_drift_check"}
    )
    assert {d["Name"]: d["Value"] for d in drifted["Dimensions"]} == {
        "Endpoint": ENDPOINT,
        "MonitoringSchedule": SCHEDULE,
    }


def test_a_job_fails_when_one_of_its_instances_fails_with_that_instances_reason_and_uploads_nothing(
    cloud: Cloud,
    baseline_dir: Path,
) -> None:
    for name in ("statistics.json", "constraints.json"):
        cloud.put(f"baseline/{name}", (baseline_dir / name).read_bytes())
    cloud.put(f"capture/credit/{HOUR}/capture-0.jsonl", capture_record("50,30,0.5,basic").encode())
    request = monitor_request(f"{ENDPOINT}-split-baseline", f"s3://{BUCKET}/split/", 2)
    [baseline] = [i["S3Input"] for i in request["ProcessingInputs"] if i["InputName"] == "baseline"]
    baseline["S3DataDistributionType"] = "ShardedByS3Key"  # algo-1 gets constraints.json, algo-2 statistics.json

    job = cloud.run(request)

    assert job["ProcessingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith(
        "AlgorithmError: exit code 1. Drift monitoring failed: the baseline statistics"
    )
    assert job["FailureReason"].endswith("(instance algo-1 of 2)")
    assert cloud.keys("split/") == []
