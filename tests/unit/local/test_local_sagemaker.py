"""SageMaker in local mode, piece by piece: jobs map the container contract into their folder, and report as
SageMaker does (the jobs themselves run in tests/local/test_local_sagemaker_jobs.py)."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from driftline.local import sagemaker
from driftline.local.console import Console
from driftline.local.sagemaker import (
    JobFailed,
    JobRunner,
    _decode_hyperparameter,
    _failure_reason,
    _sm_variables,
)
from driftline.local.times import times_as_epoch_millis

REGION = "us-east-1"


def _runner(tmp_path: Path, endpoint_url: str = "http://127.0.0.1:4777", code_dir: Path | None = None) -> JobRunner:
    return JobRunner(
        jobs_dir=tmp_path / "jobs",
        endpoint_url=endpoint_url,
        region=REGION,
        console=Console(io.StringIO()),
        code_dir=code_dir or tmp_path / "ml",
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

    assert times_as_epoch_millis(description) == {
        "TrainingJobName": "credit-train",
        "TrainingStartTime": 1795435200250,
        "SecondaryStatusTransitions": [{"Status": "Starting", "StartTime": 1795435200250}],
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }


# -- local jobs run only the application's own ml/ code ------------------------------------------


def test_output_settings_and_the_application_s_own_variables_are_allowed_in_a_job_environment() -> None:
    assert (
        sagemaker.refused_environment(
            {"PYTHONUNBUFFERED": "1", "PYTHONHASHSEED": "0", "DRIFTLINE_EXECUTION_NAME": "x", "OMP_NUM_THREADS": "2"}
        )
        == []
    )
    assert sagemaker.refused_environment({"PYTHONSTARTUP": "x", "dyld_insert_libraries": "y", "aws_region": "z"}) == [
        "PYTHONSTARTUP",
        "aws_region",
        "dyld_insert_libraries",
    ]


def test_the_application_code_is_the_published_ml_folder_without_its_publisher(tmp_path: Path) -> None:
    runner = _runner(tmp_path, code_dir=sagemaker.ML_DIR)

    assert {"preprocess.py", "train.py", "evaluate.py"} <= set(runner.code.scripts)
    assert "code_publisher.py" not in runner.code.digests
    assert "driftline_ml/jobs.py" in runner.code.digests
    assert not any("__pycache__" in name for name in runner.code.digests)
