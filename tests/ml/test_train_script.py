"""A dataset's own training script run as SageMaker's framework container runs the job: ``python train_script.py
--model_script <name> --<hyperparameter> <value>`` with the channels and the model folder in ``SM_*`` variables; the
model folder it leaves is the one serving reads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.ml.test_train import ML_DIR, job_env, write_channels


def run_script(
    root: Path, *args: str, hps: dict[str, str] | None = None, code: Path = ML_DIR
) -> subprocess.CompletedProcess[str]:
    (root / "output").mkdir(parents=True, exist_ok=True)
    env = job_env(
        SM_MODEL_DIR=str(root / "model"),
        SM_CHANNEL_TRAIN=str(root / "train"),
        SM_CHANNEL_VALIDATION=str(root / "validation"),
        SM_CHANNEL_METADATA=str(root / "metadata"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_HPS=json.dumps(hps or {}),
    )
    return subprocess.run(
        [sys.executable, str(code / "train_script.py"), *args],
        env=env,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.parametrize("problem_type", ["binary_classification", "regression"])
def test_the_worked_example_trains_a_model_that_serving_loads_and_answers_with(
    tmp_path: Path, problem_type: str
) -> None:
    sys.path.insert(0, str(ML_DIR))
    from driftline_ml.serving import load_serving_model, predict

    write_channels(tmp_path, problem_type)
    hps = {"C": "0.5", "target": "label", "problem_type": problem_type, "model_script": "logistic_regression"}

    done = run_script(tmp_path, "--model_script", "logistic_regression", "--C", "0.5", hps=hps)

    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "model" / "model_metadata.json").read_text())
    assert metadata["model_script"] == "logistic_regression"
    assert metadata["hyperparameters"] == {"C": "0.5"}
    assert metadata["estimator"] == "Pipeline"
    metric = "accuracy" if problem_type != "regression" else "rmse"
    assert re.search(rf"^validation:{metric}=[0-9.]+$", done.stdout, re.MULTILINE), done.stdout
    model = load_serving_model(tmp_path / "model")
    answer = predict(model, np.array([[0.3, np.nan, 2.0], [-2.0, 1.0, np.nan]]))
    if problem_type == "regression":
        assert answer["values"].shape == (2,)
    else:
        assert answer["class_labels"] == ["no", "yes"] and answer["probabilities"].shape == (2, 2)
        assert metadata["validation_metrics"]["accuracy"] > 0.75


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../train", "is not a model folder's name"),
        ("Logistic", "is not a model folder's name"),
        ("no_such_model", "there is no training script models/no_such_model/train.py"),
        ("", "is not a model folder's name"),
    ],
)
def test_a_script_name_that_is_not_a_model_folder_fails_the_job_with_the_reason(
    tmp_path: Path, name: str, says: str
) -> None:
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", name)

    assert done.returncode == 1
    assert says in (tmp_path / "output" / "failure").read_text()
    assert not (tmp_path / "model").exists()


def test_a_script_whose_train_returns_no_estimator_fails_saying_what_it_returned(tmp_path: Path) -> None:
    code = tmp_path / "code"
    shutil.copytree(ML_DIR, code, ignore=shutil.ignore_patterns("__pycache__"))
    (code / "models" / "returns_nothing").mkdir()
    (code / "models" / "returns_nothing" / "train.py").write_text(
        "import sys\nfrom driftline_ml.model_script import run\nsys.exit(run(lambda data: None))\n"
    )
    write_channels(tmp_path, "binary_classification")

    done = run_script(tmp_path, "--model_script", "returns_nothing", code=code)

    assert done.returncode == 1
    reason = (tmp_path / "output" / "failure").read_text()
    assert "train() returned a NoneType, which has no predict or predict_proba" in reason
