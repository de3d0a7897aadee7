"""SageMaker in local mode: jobs run their scripts under the container contract, and report as SageMaker does."""

from __future__ import annotations

import io
import json
import sys
import tarfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_api._internal.models import moto_api_backend
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends
from moto.server import ThreadedMotoServer

from driftline.local import sagemaker, seams
from driftline.local.console import Console
from driftline.local.sagemaker import (
    JobFailed,
    JobRunner,
    _decode_hyperparameter,
    _epoch_millis,
    _failure_reason,
    _sm_variables,
)
from driftline.local.settings import ACCOUNT_ID

REGION = "us-east-1"
BUCKET = "driftline-artifacts"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/driftline-sagemaker"


def _runner(tmp_path: Path, endpoint_url: str = "http://127.0.0.1:4777") -> JobRunner:
    return JobRunner(
        jobs_dir=tmp_path / "jobs", endpoint_url=endpoint_url, region=REGION, console=Console(io.StringIO())
    )


# -- the container contract, piece by piece ----------------------------------------------------------


def test_container_paths_map_into_the_job_folder(tmp_path: Path) -> None:
    root = tmp_path / "jobs" / "credit-preprocess"

    assert JobRunner._local(root, "/opt/ml/processing/input/data") == root / "processing" / "input" / "data"
    assert JobRunner._local(root, "/opt/ml/") == root


@pytest.mark.parametrize("path", ["/tmp/data", "/opt/ml", "/opt/mlx/data", "processing/input", "/opt/ml/../../etc"])
def test_paths_outside_opt_ml_are_refused_with_a_client_error(tmp_path: Path, path: str) -> None:
    with pytest.raises(JobFailed) as failure:
        JobRunner._local(tmp_path, path)

    assert str(failure.value) == f"ClientError: local path {path} must be under /opt/ml/"


def test_entrypoint_python_runs_with_this_interpreter_and_container_paths_are_mapped(tmp_path: Path) -> None:
    runner = _runner(tmp_path)
    root = tmp_path / "jobs" / "credit-evaluate"

    assert runner._program("python3", root) == sys.executable
    assert runner._program("python", root) == sys.executable
    assert runner._program("/opt/ml/processing/input/code/evaluate.py", root) == str(
        root / "processing" / "input" / "code" / "evaluate.py"
    )
    assert runner._program("--threshold", root) == "--threshold"


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ('"s3://bucket/code/sourcedir.tar.gz"', "s3://bucket/code/sourcedir.tar.gz"),
        ("0.5", 0.5),
        ("200", 200),
        ("null", None),
        ('{"a": 1}', {"a": 1}),
        ("lbfgs", "lbfgs"),
        ("", ""),
    ],
)
def test_hyperparameters_are_decoded_from_json_as_the_training_toolkit_does(raw: str, decoded: Any) -> None:
    assert _decode_hyperparameter(raw) == decoded


def test_training_variables_point_at_the_job_folder_one_per_channel(tmp_path: Path) -> None:
    channels = {
        "train": tmp_path / "input" / "data" / "train",
        "validation": tmp_path / "input" / "data" / "validation",
    }

    env = _sm_variables(tmp_path, channels, {"max_iter": "200", "solver": "lbfgs"})

    assert env["SM_CHANNEL_TRAIN"] == str(channels["train"])
    assert env["SM_CHANNEL_VALIDATION"] == str(channels["validation"])
    assert env["SM_MODEL_DIR"] == str(tmp_path / "model")
    assert env["SM_OUTPUT_DATA_DIR"] == str(tmp_path / "output" / "data")
    assert env["SM_OUTPUT_DIR"] == str(tmp_path / "output")
    assert env["SM_INPUT_CONFIG_DIR"] == str(tmp_path / "input" / "config")
    assert json.loads(env["SM_CHANNELS"]) == ["train", "validation"]
    assert json.loads(env["SM_HPS"]) == {"max_iter": 200, "solver": "lbfgs"}
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert all(isinstance(value, str) for value in env.values())


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (JobFailed("AlgorithmError: exit code 1. boom"), "AlgorithmError: exit code 1. boom"),
        (JobFailed("ClientError: no objects found at s3://b/p"), "ClientError: no objects found at s3://b/p"),
        (OSError("disk full"), "InternalServerError: disk full"),
    ],
)
def test_failure_reasons_carry_sagemaker_s_prefixes(error: Exception, reason: str) -> None:
    assert _failure_reason(error) == reason


def test_event_times_are_epoch_milliseconds_at_any_depth() -> None:
    started = datetime(2026, 11, 23, 12, 0, 0, 250000, tzinfo=UTC)
    description = {
        "TrainingJobName": "credit-train",
        "TrainingStartTime": started,
        "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": started}],
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }

    assert _epoch_millis(description) == {
        "TrainingJobName": "credit-train",
        "TrainingStartTime": 1795435200250,
        "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": 1795435200250}],
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }


# -- real jobs against the emulator ------------------------------------------------------------------

PROCESSING_SCRIPT = """
import argparse
import pathlib

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir", type=pathlib.Path)
parser.add_argument("--output-dir", type=pathlib.Path)
args = parser.parse_args()
rows = (args.data_dir / "jan.csv").read_text().splitlines()[1:]
(args.output_dir / "summary").mkdir(parents=True)
(args.output_dir / "summary" / "rows.txt").write_text(str(len(rows)))
print(f"counted {len(rows)} rows")
"""

TRAINING_SCRIPT = """
import json
import os
import sys

rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")).read().splitlines()[1:]
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as model:
    json.dump({"rows": len(rows), "arguments": sys.argv[1:]}, model)
print("trained on", len(rows), "rows")
"""

FAILING_TRAINING_SCRIPT = """
import os
import sys

with open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w") as failure:
    failure.write("learning_rate must be a number")
print("giving up")
sys.exit(1)
"""


@dataclass
class Emulator:
    endpoint_url: str
    runner: JobRunner
    s3: Any

    @property
    def backend(self) -> SageMakerModelBackend:
        return sagemaker_backends[ACCOUNT_ID][REGION]

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        return sorted(item["Key"] for item in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    moto_api_backend.reset()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    runner = _runner(tmp_path, endpoint_url)
    sagemaker.install(runner)
    s3 = boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    s3.create_bucket(Bucket=BUCKET)
    try:
        yield Emulator(endpoint_url, runner, s3)
    finally:
        runner.wait(timeout=30)
        server.stop()
        seams.restore()
        moto_api_backend.reset()


def test_a_processing_job_runs_its_script_and_uploads_its_outputs(emulator: Emulator, tmp_path: Path) -> None:
    emulator.s3.put_object(Bucket=BUCKET, Key="code/count.py", Body=textwrap.dedent(PROCESSING_SCRIPT).encode())
    emulator.s3.put_object(Bucket=BUCKET, Key="runs/r1/input/jan.csv", Body=b"income,default\n1,0\n2,1\n3,0\n")

    emulator.backend.create_processing_job(
        app_specification={
            "ImageUri": "sklearn",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/count.py"],
            "ContainerArguments": [
                "--data-dir",
                "/opt/ml/processing/input/data",
                "--output-dir",
                "/opt/ml/processing/output",
            ],
        },
        experiment_config={},
        network_config={},
        processing_inputs=[
            {
                "InputName": "code",
                "S3Input": {"S3Uri": f"s3://{BUCKET}/code/count.py", "LocalPath": "/opt/ml/processing/input/code"},
            },
            {
                "InputName": "data",
                "S3Input": {"S3Uri": f"s3://{BUCKET}/runs/r1/input/", "LocalPath": "/opt/ml/processing/input/data"},
            },
        ],
        processing_job_name="credit-count",
        processing_output_config={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {"S3Uri": f"s3://{BUCKET}/runs/r1/counted", "LocalPath": "/opt/ml/processing/output"},
                }
            ]
        },
        role_arn=ROLE_ARN,
        tags=[],
        stopping_condition={"MaxRuntimeInSeconds": 60},
    )
    assert emulator.backend.describe_processing_job("credit-count")["ProcessingJobStatus"] == "InProgress"
    emulator.runner.wait()

    description = emulator.backend.describe_processing_job("credit-count")
    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason")
    assert emulator.keys("runs/r1/counted/") == ["runs/r1/counted/summary/rows.txt"]
    assert emulator.read("runs/r1/counted/summary/rows.txt") == b"3"
    assert "counted 3 rows" in (tmp_path / "jobs" / "credit-count" / "job.log").read_text()


def _create_training_job(emulator: Emulator, name: str, script_text: str) -> None:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        script = textwrap.dedent(script_text).encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(script)
        tar.addfile(info, io.BytesIO(script))
    emulator.s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=archive.getvalue())
    emulator.s3.put_object(Bucket=BUCKET, Key="runs/r1/train/train.csv", Body=b"income,default\n1,0\n2,1\n")
    emulator.backend.create_training_job(
        training_job_name=name,
        hyper_parameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/code/sourcedir.tar.gz"',
            "max_iter": "200",
            "solver": "lbfgs",
        },
        algorithm_specification={"TrainingImage": "sklearn", "TrainingInputMode": "File"},
        role_arn=ROLE_ARN,
        input_data_config=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/runs/r1/train/"}},
                "ContentType": "text/csv",
            }
        ],
        output_data_config={"S3OutputPath": f"s3://{BUCKET}/runs/r1/models"},
        resource_config={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        vpc_config={},
        stopping_condition={"MaxRuntimeInSeconds": 60},
        tags=[],
        enable_network_isolation=False,
        enable_inter_container_traffic_encryption=False,
        enable_managed_spot_training=False,
        checkpoint_config={},
        debug_hook_config={},
        debug_rule_configurations=[],
        tensor_board_output_config={},
        experiment_config={},
    )


def test_a_training_job_runs_in_script_mode_and_uploads_model_tar_gz(emulator: Emulator, tmp_path: Path) -> None:
    _create_training_job(emulator, "credit-train", TRAINING_SCRIPT)
    emulator.runner.wait()

    description = emulator.backend.describe_training_job("credit-train")
    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    model_uri = f"s3://{BUCKET}/runs/r1/models/credit-train/output/model.tar.gz"
    assert description["ModelArtifacts"] == {"S3ModelArtifacts": model_uri}
    with tarfile.open(fileobj=io.BytesIO(emulator.read("runs/r1/models/credit-train/output/model.tar.gz"))) as tar:
        model_file = tar.extractfile("model.json")
        assert model_file is not None
        model = json.loads(model_file.read())
    assert model == {"rows": 2, "arguments": ["--max_iter", "200", "--solver", "lbfgs"]}
    assert "trained on 2 rows" in (tmp_path / "jobs" / "credit-train" / "job.log").read_text()


def test_a_training_script_s_failure_file_becomes_the_failure_reason(emulator: Emulator) -> None:
    _create_training_job(emulator, "credit-train-fails", FAILING_TRAINING_SCRIPT)
    emulator.runner.wait()

    description = emulator.backend.describe_training_job("credit-train-fails")
    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == "AlgorithmError: learning_rate must be a number"
    assert emulator.keys("runs/r1/models/") == []
