"""SageMaker jobs in local mode, run for real against the emulator: their scripts run under the container contract,
only the application's own ml/ code runs, and they report as SageMaker does."""

from __future__ import annotations

import io
import json
import os
import tarfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.moto_api._internal.models import moto_api_backend
from moto.sagemaker.models import SageMakerModelBackend, sagemaker_backends

from driftline.local import sagemaker, seams
from driftline.local.console import Console
from driftline.local.sagemaker import JobRunner
from driftline.local.settings import ACCOUNT_ID
from driftline_core.training.jobs import failure_cause

REGION = "us-east-1"
BUCKET = "driftline-artifacts"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/driftline-sagemaker"


# -- real jobs against the emulator ------------------------------------------------------------------

PROCESSING_SCRIPT = """
import argparse
import os
import pathlib

from jobs import DATA_FILE

parser = argparse.ArgumentParser()
parser.add_argument("--data-dir", type=pathlib.Path)
parser.add_argument("--output-dir", type=pathlib.Path)
args = parser.parse_args()
rows = (args.data_dir / DATA_FILE).read_text().splitlines()[1:]
(args.output_dir / "summary").mkdir(parents=True)
(args.output_dir / "summary" / "rows.txt").write_text(str(len(rows)))
(args.output_dir / "summary" / "greeting.txt").write_text(os.environ.get("DRIFTLINE_GREETING", "(unset)"))
print(f"counted {len(rows)} rows")
"""


TRAINING_SCRIPT = """
import json
import os
import sys

rows = open(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv")).read().splitlines()[1:]
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.json"), "w") as model:
    json.dump(
        {
            "rows": len(rows),
            "arguments": sys.argv[1:],
            "greeting": os.environ.get("DRIFTLINE_GREETING"),
            "package_cache": os.environ.get("DRIFTLINE_PACKAGE_CACHE"),
        },
        model,
    )
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


SLOW_SCRIPT = """
import time

print("working", flush=True)
time.sleep(300)
"""


APPLICATION_CODE = {
    "count.py": PROCESSING_SCRIPT,
    "slow.py": SLOW_SCRIPT,
    "train.py": TRAINING_SCRIPT,
    "fails.py": FAILING_TRAINING_SCRIPT,
    "jobs/__init__.py": 'DATA_FILE = "jan.csv"\n',
}
"""The application's ml/ folder in these tests: what the publisher ships and local jobs may run."""


def _tarball(files: dict[str, str]) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, text in sorted(files.items()):
            content = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return archive.getvalue()


@dataclass
class Emulator:
    endpoint_url: str
    runner: JobRunner
    s3: Any
    sagemaker: Any
    pwned: Path
    """Where the hostile commands in these tests would write if they ran."""

    @property
    def backend(self) -> SageMakerModelBackend:
        return sagemaker_backends[ACCOUNT_ID][REGION]

    def read(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        return sorted(item["Key"] for item in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))

    def publish(self, files: dict[str, str], prefix: str = "code/") -> None:
        """Ship code as the application's publisher does: one object per file and a sourcedir tarball."""
        for name, text in files.items():
            self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}src/{name}", Body=textwrap.dedent(text).encode())
        self.s3.put_object(Bucket=BUCKET, Key=f"{prefix}sourcedir.tar.gz", Body=_tarball(files))


@pytest.fixture
def emulator(tmp_path: Path, endpoint_url: str) -> Iterator[Emulator]:
    for name, text in APPLICATION_CODE.items():
        (tmp_path / "ml" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "ml" / name).write_text(textwrap.dedent(text))
    moto_api_backend.reset()
    runner = JobRunner(
        jobs_dir=tmp_path / "jobs",
        endpoint_url=endpoint_url,
        region=REGION,
        console=Console(io.StringIO()),
        code_dir=tmp_path / "ml",
    )
    sagemaker.install(runner)
    s3 = boto3.client(
        "s3", endpoint_url=endpoint_url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )
    api = boto3.client(
        "sagemaker",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.create_bucket(Bucket=BUCKET)
    emulator = Emulator(endpoint_url, runner, s3, api, tmp_path / "pwned")
    emulator.publish(APPLICATION_CODE)
    emulator.s3.put_object(Bucket=BUCKET, Key="runs/r1/input/jan.csv", Body=b"income,default\n1,0\n2,1\n3,0\n")
    try:
        yield emulator
    finally:
        runner.wait(timeout=30)
        seams.restore()
        moto_api_backend.reset()


def _start_processing_job(
    emulator: Emulator,
    name: str,
    entrypoint: list[str],
    *,
    code_uri: str = f"s3://{BUCKET}/code/src/",
    data_uri: str = f"s3://{BUCKET}/runs/r1/input/",
    environment: dict[str, str] | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    """CreateProcessingJob through the emulator's API, as a client sends it; the finished job's description."""
    emulator.sagemaker.create_processing_job(
        ProcessingJobName=name,
        RoleArn=ROLE_ARN,
        AppSpecification={
            "ImageUri": "sklearn",
            "ContainerEntrypoint": entrypoint,
            "ContainerArguments": [
                "--data-dir",
                "/opt/ml/processing/input/data",
                "--output-dir",
                "/opt/ml/processing/output",
            ],
        },
        ProcessingResources={"ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1}},
        ProcessingInputs=[
            {"InputName": "code", "S3Input": _s3_input(code_uri, "/opt/ml/processing/input/code")},
            {"InputName": "data", "S3Input": _s3_input(data_uri, "/opt/ml/processing/input/data")},
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/runs/r1/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        **({"Environment": environment} if environment is not None else {}),
    )
    if wait:
        emulator.runner.wait()
    return dict(emulator.sagemaker.describe_processing_job(ProcessingJobName=name))


def _s3_input(uri: str, local_path: str) -> dict[str, str]:
    return {"S3Uri": uri, "LocalPath": local_path, "S3DataType": "S3Prefix", "S3InputMode": "File"}


APPLICATION_ENTRYPOINT = ["python3", "/opt/ml/processing/input/code/count.py"]


def test_a_processing_job_runs_its_script_and_uploads_its_outputs(emulator: Emulator, tmp_path: Path) -> None:
    description = _start_processing_job(emulator, "credit-count", APPLICATION_ENTRYPOINT)

    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason")
    assert emulator.keys("runs/r1/credit-count/") == [
        "runs/r1/credit-count/summary/greeting.txt",
        "runs/r1/credit-count/summary/rows.txt",
    ]
    assert emulator.read("runs/r1/credit-count/summary/rows.txt") == b"3"
    assert "counted 3 rows" in (tmp_path / "jobs" / "credit-count" / "job.log").read_text()


def test_a_processing_job_s_environment_reaches_its_script_and_its_description(emulator: Emulator) -> None:
    description = _start_processing_job(
        emulator, "credit-greets", APPLICATION_ENTRYPOINT, environment={"DRIFTLINE_GREETING": "hello from the request"}
    )

    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason")
    assert emulator.read("runs/r1/credit-greets/summary/greeting.txt") == b"hello from the request"
    assert description["Environment"] == {"DRIFTLINE_GREETING": "hello from the request"}


def test_a_container_path_in_a_jobs_environment_names_the_same_place_in_its_local_folder(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Model Monitor hands its analyzer the baseline's files as container paths in the environment."""
    description = _start_processing_job(
        emulator,
        "credit-paths",
        APPLICATION_ENTRYPOINT,
        environment={"DRIFTLINE_GREETING": "/opt/ml/processing/baseline/stats/statistics.json"},
    )

    assert description["ProcessingJobStatus"] == "Completed", description.get("FailureReason")
    seen = emulator.read("runs/r1/credit-paths/summary/greeting.txt").decode()
    assert seen == str(tmp_path / "jobs" / "credit-paths" / "processing" / "baseline" / "stats" / "statistics.json")
    assert description["Environment"] == {"DRIFTLINE_GREETING": "/opt/ml/processing/baseline/stats/statistics.json"}


def test_a_container_path_climbing_out_of_opt_ml_in_a_jobs_environment_fails_the_job(emulator: Emulator) -> None:
    description = _start_processing_job(
        emulator,
        "credit-climbs",
        APPLICATION_ENTRYPOINT,
        environment={"DRIFTLINE_GREETING": "/opt/ml/../../etc/passwd"},
    )

    assert description["ProcessingJobStatus"] == "Failed"
    assert "climbs out of /opt/ml/" in description["FailureReason"]


# -- local jobs run only the application's own ml/ code ------------------------------------------


@pytest.mark.parametrize(
    ("entrypoint", "reason"),
    [
        (["/bin/sh", "-c", "id > {pwned}"], "local mode runs a processing job only as python3"),
        (["python3", "-c", "open('{pwned}', 'w')"], "local mode runs a processing job only as python3"),
        (["python3", "-I", "/opt/ml/processing/input/code/count.py"], "local mode runs a processing job only as"),
        (["/usr/bin/env", "python3", "/opt/ml/processing/input/code/count.py"], "only as python3"),
        (["python3", "/opt/ml/processing/input/code/evil.py"], 'ContainerEntrypoint names "evil.py"'),
    ],
    ids=["shell", "interpreter-code", "interpreter-flag", "other-program", "script-not-in-ml"],
)
def test_a_processing_job_asking_to_run_anything_else_fails_and_runs_nothing(
    emulator: Emulator, entrypoint: list[str], reason: str
) -> None:
    emulator.s3.put_object(Bucket=BUCKET, Key="code/src/evil.py", Body=f"open({str(emulator.pwned)!r}, 'w')\n".encode())
    command = [part.format(pwned=emulator.pwned) for part in entrypoint]

    description = _start_processing_job(emulator, "credit-hostile", command)

    assert description["ProcessingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith("ClientError: ")
    assert reason in description["FailureReason"]
    assert "count.py" in description["FailureReason"]  # names what it may run instead
    assert not emulator.pwned.exists()


def test_a_processing_script_whose_content_differs_from_ml_fails_and_runs_nothing(emulator: Emulator) -> None:
    emulator.s3.put_object(
        Bucket=BUCKET, Key="impostor/count.py", Body=f"open({str(emulator.pwned)!r}, 'w')\n".encode()
    )
    emulator.s3.put_object(Bucket=BUCKET, Key="impostor/jobs/__init__.py", Body=b'DATA_FILE = "jan.csv"\n')

    description = _start_processing_job(
        emulator, "credit-impostor", APPLICATION_ENTRYPOINT, code_uri=f"s3://{BUCKET}/impostor/"
    )

    assert description["ProcessingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        "ClientError: /opt/ml/processing/input/code/count.py differs from the application's ml/count.py; "
        "local mode runs only the job code the application published (after editing ml/, restart local mode)."
    )
    assert not emulator.pwned.exists()


def test_a_processing_code_folder_with_a_module_not_in_ml_fails_and_runs_nothing(emulator: Emulator) -> None:
    """The genuine script would import a planted module from its own folder: the folder must hold only ml/ files."""
    emulator.s3.put_object(
        Bucket=BUCKET, Key="code/src/argparse.py", Body=f"open({str(emulator.pwned)!r}, 'w')\n".encode()
    )

    description = _start_processing_job(emulator, "credit-planted", APPLICATION_ENTRYPOINT)

    assert description["ProcessingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith(
        "ClientError: /opt/ml/processing/input/code holds argparse.py, which is not one of the application's ml/ files"
    )
    assert not emulator.pwned.exists()


def test_an_input_object_whose_key_climbs_out_of_the_job_folder_fails_the_job(
    emulator: Emulator, tmp_path: Path
) -> None:
    emulator.s3.put_object(Bucket=BUCKET, Key="runs/r2/input/jan.csv", Body=b"income,default\n1,0\n")
    emulator.s3.put_object(Bucket=BUCKET, Key="runs/r2/input/../../../../../../climbed.csv", Body=b"x\n")

    description = _start_processing_job(
        emulator, "credit-climbs", APPLICATION_ENTRYPOINT, data_uri=f"s3://{BUCKET}/runs/r2/input/"
    )

    assert description["ProcessingJobStatus"] == "Failed"
    assert "would land outside the job's input folder" in description["FailureReason"]
    assert list(tmp_path.rglob("climbed.csv")) == []


@pytest.mark.parametrize(
    "variable",
    [
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_PROFILE",
        "SM_MODEL_DIR",
        "LD_PRELOAD",
        "PYTHONPATH",
        "HTTPS_PROXY",
        "PIP_INDEX_URL",
        "PIP_TARGET",
    ],
)
def test_a_job_environment_cannot_replace_the_container_contract_or_load_other_code(
    emulator: Emulator, variable: str
) -> None:
    description = _start_processing_job(
        emulator, "credit-escapes", APPLICATION_ENTRYPOINT, environment={variable: str(emulator.pwned)}
    )

    assert description["ProcessingJobStatus"] == "Failed"
    assert description["FailureReason"].startswith(
        f"ClientError: local mode does not let a job set {variable} in its Environment"
    )
    assert emulator.keys("runs/r1/credit-escapes/") == []


# -- training ----------------------------------------------------------------------------------------


def _start_training_job(
    emulator: Emulator,
    name: str,
    program: str,
    *,
    submit_uri: str = f"s3://{BUCKET}/code/sourcedir.tar.gz",
    environment: dict[str, str] | None = None,
    wait: bool = True,
) -> dict[str, Any]:
    emulator.s3.put_object(Bucket=BUCKET, Key="runs/r1/train/train.csv", Body=b"income,default\n1,0\n2,1\n")
    emulator.sagemaker.create_training_job(
        TrainingJobName=name,
        HyperParameters={
            "sagemaker_program": json.dumps(program),
            "sagemaker_submit_directory": json.dumps(submit_uri),
            "max_iter": "200",
            "solver": "lbfgs",
        },
        AlgorithmSpecification={"TrainingImage": "sklearn", "TrainingInputMode": "File"},
        RoleArn=ROLE_ARN,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/runs/r1/train/"}},
                "ContentType": "text/csv",
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/runs/r1/models"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 60},
        **({"Environment": environment} if environment is not None else {}),
    )
    if wait:
        emulator.runner.wait()
    return dict(emulator.sagemaker.describe_training_job(TrainingJobName=name))


def test_a_training_job_runs_in_script_mode_and_uploads_model_tar_gz(emulator: Emulator, tmp_path: Path) -> None:
    description = _start_training_job(
        emulator, "credit-train", "train.py", environment={"DRIFTLINE_GREETING": "hello from the request"}
    )

    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    model_uri = f"s3://{BUCKET}/runs/r1/models/credit-train/output/model.tar.gz"
    assert description["ModelArtifacts"] == {"S3ModelArtifacts": model_uri}
    assert description["Environment"] == {"DRIFTLINE_GREETING": "hello from the request"}
    with tarfile.open(fileobj=io.BytesIO(emulator.read("runs/r1/models/credit-train/output/model.tar.gz"))) as tar:
        model_file = tar.extractfile("model.json")
        assert model_file is not None
        model = json.loads(model_file.read())
    assert model == {
        "rows": 2,
        "arguments": ["--max_iter", "200", "--solver", "lbfgs"],
        "greeting": "hello from the request",
        "package_cache": str(tmp_path / "model-packages"),
    }
    assert "trained on 2 rows" in (tmp_path / "jobs" / "credit-train" / "job.log").read_text()


def test_a_job_environment_cannot_move_where_local_mode_keeps_installed_requirements(
    emulator: Emulator, tmp_path: Path
) -> None:
    description = _start_training_job(
        emulator, "credit-moves-cache", "train.py", environment={"DRIFTLINE_PACKAGE_CACHE": str(emulator.pwned)}
    )

    assert description["TrainingJobStatus"] == "Completed", description.get("FailureReason")
    with tarfile.open(
        fileobj=io.BytesIO(emulator.read("runs/r1/models/credit-moves-cache/output/model.tar.gz"))
    ) as tar:
        model_file = tar.extractfile("model.json")
        assert model_file is not None
        assert json.loads(model_file.read())["package_cache"] == str(tmp_path / "model-packages")


def test_a_training_script_s_failure_file_becomes_the_failure_reason(emulator: Emulator) -> None:
    description = _start_training_job(emulator, "credit-train-fails", "fails.py")

    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == "AlgorithmError: learning_rate must be a number"
    assert emulator.keys("runs/r1/models/") == []


def test_a_training_program_not_in_ml_fails_and_runs_nothing(emulator: Emulator) -> None:
    emulator.publish({**APPLICATION_CODE, "evil.py": f"open({str(emulator.pwned)!r}, 'w')\n"}, prefix="evil/")

    description = _start_training_job(
        emulator, "credit-train-evil", "evil.py", submit_uri=f"s3://{BUCKET}/evil/sourcedir.tar.gz"
    )

    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        'ClientError: sagemaker_program names "evil.py", which is not one of the application\'s job scripts '
        "(count.py, fails.py, slow.py, train.py); local mode runs only the application's own ml/ code."
    )
    assert not emulator.pwned.exists()


def test_a_training_source_directory_whose_script_differs_from_ml_fails_and_runs_nothing(emulator: Emulator) -> None:
    emulator.publish({**APPLICATION_CODE, "train.py": f"open({str(emulator.pwned)!r}, 'w')\n"}, prefix="impostor/")

    description = _start_training_job(
        emulator, "credit-train-impostor", "train.py", submit_uri=f"s3://{BUCKET}/impostor/sourcedir.tar.gz"
    )

    assert description["TrainingJobStatus"] == "Failed"
    assert description["FailureReason"] == (
        f"ClientError: sagemaker_submit_directory s3://{BUCKET}/impostor/sourcedir.tar.gz/train.py differs from "
        "the application's ml/train.py; local mode runs only the job code the application published "
        "(after editing ml/, restart local mode)."
    )
    assert not emulator.pwned.exists()


def test_stopping_local_jobs_ends_a_running_job_stopped_with_its_process_gone_and_nothing_on_stderr(
    emulator: Emulator, capfd: pytest.CaptureFixture[str]
) -> None:
    _start_processing_job(emulator, "credit-slow", ["python3", "/opt/ml/processing/input/code/slow.py"], wait=False)
    deadline = time.time() + 30
    while time.time() < deadline and "credit-slow" not in emulator.runner._processes:
        time.sleep(0.05)
    process = emulator.runner._processes["credit-slow"]

    emulator.runner.stop(timeout=30)

    description = emulator.sagemaker.describe_processing_job(ProcessingJobName="credit-slow")
    assert description["ProcessingJobStatus"] == "Stopped"
    assert description["FailureReason"] == sagemaker.STOPPED_WITH_LOCAL_MODE
    # What the run's failure notification says, read from the job as on AWS.
    assert failure_cause("Processing", "credit-slow", "Stopped", description) == (
        "Processing job credit-slow Stopped: local mode stopped while the job ran, and stopping local mode stops its "
        "running jobs as StopProcessingJob and StopTrainingJob would. A job does not carry on across a restart "
        "(local mode keeps its models, endpoints and data, not its running jobs): start it again (driftline local "
        "up) and upload the data again to run the pipeline from the start."
    )
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)  # type: ignore[attr-defined]
    assert [thread.name for thread in threading.enumerate() if thread.name.startswith("job-")] == []
    assert "Traceback" not in capfd.readouterr().err


def test_stopping_local_jobs_ends_a_running_training_job_stopped_saying_why(emulator: Emulator) -> None:
    _start_training_job(emulator, "credit-train-slow", "slow.py", wait=False)
    deadline = time.time() + 30
    while time.time() < deadline and "credit-train-slow" not in emulator.runner._processes:
        time.sleep(0.05)

    emulator.runner.stop(timeout=30)

    description = emulator.sagemaker.describe_training_job(TrainingJobName="credit-train-slow")
    assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == ("Stopped", "Stopped")
    assert description["FailureReason"] == sagemaker.STOPPED_WITH_LOCAL_MODE
    assert failure_cause("Training", "credit-train-slow", "Stopped", description).startswith(
        "Training job credit-train-slow Stopped: local mode stopped while the job ran"
    )
