"""The training script run as SageMaker's framework container runs it: ``python train.py --name value``
with the channels and the model folder named in ``SM_*`` variables."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest

ML_DIR = Path(__file__).resolve().parents[2] / "ml"


def job_env(**overrides: str) -> dict[str, str]:
    """This environment minus any ``SM_*``; one OpenMP thread, since the scenarios run side by side."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return {**inherited, "OMP_NUM_THREADS": "1", **overrides}


def write_channels(root: Path, problem_type: str, features: list[str] | None = None) -> None:
    """Train, validation and metadata channels in the format the preprocessing job writes."""
    rng = np.random.default_rng(5)
    rows = 400
    x1 = rng.normal(size=rows)
    x2 = rng.normal(size=rows)
    x2[::25] = np.nan
    color = rng.integers(0, 3, size=rows).astype(float)
    color[::40] = np.nan
    signal = 1.5 * x1 + 1.2 * (color == 2) + rng.normal(0, 0.3, rows)
    if problem_type == "regression":
        target, labels, y = "price", None, 10 * signal + 50
    else:
        target, labels, y = "label", ["no", "yes"], (signal > 0.4).astype(int)
    frame = pd.DataFrame({target: y, "x1": x1, "x2": x2, "color": pd.array(color, dtype="Int64")})
    for channel, part in (("train", frame.iloc[:300]), ("validation", frame.iloc[300:])):
        (root / channel).mkdir(parents=True)
        part.to_csv(root / channel / f"{channel}.csv", index=False)
    (root / "metadata").mkdir()
    metadata = {
        "target": target,
        "problem_type": problem_type,
        "feature_columns": features or ["x1", "x2", "color"],
        "categorical": {"color": ["blue", "green", "red"]},
        "class_labels": labels,
        "rows": {"train": 300, "validation": 100, "test": 0},
        "seed": 3,
    }
    (root / "metadata" / "preprocessing.json").write_text(json.dumps(metadata))


def training_env(root: Path, **extra: str) -> dict[str, str]:
    """The training contract's variables for a job whose folders are under ``root``."""
    return job_env(
        SM_MODEL_DIR=str(root / "model"),
        SM_CHANNEL_TRAIN=str(root / "train"),
        SM_CHANNEL_VALIDATION=str(root / "validation"),
        SM_CHANNEL_METADATA=str(root / "metadata"),
        SM_OUTPUT_DIR=str(root / "output"),
        SM_OUTPUT_DATA_DIR=str(root / "output" / "data"),
        **extra,
    )


def start_training(root: Path, args: list[str], extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = training_env(root, **(extra_env or {}))
    (root / "output").mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, str(ML_DIR / "train.py"), *args],
        env=env,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, int, str]]:
    """Every scenario trains at once in its own process; tests read ``(folder, exit code, log)``."""
    base = tmp_path_factory.mktemp("train")
    scenarios: dict[str, tuple[str, list[str] | None, list[str], dict[str, str]]] = {
        "classifier": (
            "binary_classification",
            None,
            ["--max_iter", "60", "--min-samples-leaf", "5", "--learning_rate", "0.2", "--not_a_setting", "7"],
            {},
        ),
        "regressor": (
            "regression",
            None,
            ["--max_iter", '"40"', "--target", '"price"'],
            {"SM_HPS": json.dumps({"min_samples_leaf": "4"})},
        ),
        "missing_feature": ("binary_classification", ["x1", "income"], ["--max_iter", "10"], {}),
        "bad_setting": ("binary_classification", None, ["--max_iter", "many"], {}),
    }
    processes = {}
    for name, (problem_type, features, args, env) in scenarios.items():
        write_channels(base / name, problem_type, features)
        processes[name] = start_training(base / name, args, env)
    results = {}
    for name, process in processes.items():
        stdout, stderr = process.communicate(timeout=120)
        results[name] = (base / name, process.returncode, stdout + stderr)
    return results


def test_trained_classifier_loads_and_predicts_the_validation_rows(
    runs: dict[str, tuple[Path, int, str]],
) -> None:
    root, code, log = runs["classifier"]
    assert code == 0, log

    model = joblib.load(root / "model" / "model.joblib")
    validation = pd.read_csv(root / "validation" / "validation.csv")
    features = validation[["x1", "x2", "color"]].to_numpy(dtype=float)
    probabilities = model.predict_proba(features)

    assert probabilities.shape == (100, 2)
    assert (model.predict(features) == validation["label"]).mean() > 0.8


def test_validation_metrics_are_printed_for_metric_definitions(
    runs: dict[str, tuple[Path, int, str]],
) -> None:
    _, _, log = runs["classifier"]

    printed = dict(re.findall(r"^validation:(\w+)=(-?[0-9.]+)$", log, flags=re.MULTILINE))
    assert set(printed) == {"auc", "accuracy", "precision", "recall", "f1"}
    assert float(printed["auc"]) > 0.85


def test_model_metadata_records_what_serving_and_evaluation_need(
    runs: dict[str, tuple[Path, int, str]],
) -> None:
    root, _, _ = runs["classifier"]

    metadata: dict[str, Any] = json.loads((root / "model" / "model_metadata.json").read_text())

    assert metadata["class_labels"] == ["no", "yes"]
    assert metadata["feature_columns"] == ["x1", "x2", "color"]
    assert metadata["categorical"] == {"color": ["blue", "green", "red"]}
    assert metadata["hyperparameters"]["max_iter"] == 60
    assert metadata["hyperparameters"]["min_samples_leaf"] == 5
    assert metadata["hyperparameters"]["learning_rate"] == 0.2
    assert metadata["hyperparameters"]["random_state"] == 3
    assert metadata["estimator"] == "HistGradientBoostingClassifier"
    assert re.match(r"^\d+\.\d+", metadata["sklearn_version"])
    assert metadata["validation_metrics"]["auc"] > 0.85


def test_regressor_accepts_json_encoded_values_and_sm_hps(runs: dict[str, tuple[Path, int, str]]) -> None:
    root, code, log = runs["regressor"]
    assert code == 0, log

    metadata = json.loads((root / "model" / "model_metadata.json").read_text())

    assert metadata["estimator"] == "HistGradientBoostingRegressor"
    assert metadata["hyperparameters"]["max_iter"] == 40
    assert metadata["hyperparameters"]["min_samples_leaf"] == 4
    assert metadata["validation_metrics"]["r2"] > 0.8
    assert re.search(r"^validation:rmse=[0-9.]+$", log, flags=re.MULTILINE)


def test_missing_feature_column_writes_a_failure_reason(runs: dict[str, tuple[Path, int, str]]) -> None:
    root, code, _ = runs["missing_feature"]

    assert code == 1
    reason = (root / "output" / "failure").read_text()
    assert reason.startswith("Training failed:")
    assert "'income'" in reason
    assert not (root / "model" / "model.joblib").exists()


def test_invalid_hyperparameter_is_named_in_the_failure_reason(
    runs: dict[str, tuple[Path, int, str]],
) -> None:
    root, code, _ = runs["bad_setting"]

    assert code == 1
    reason = (root / "output" / "failure").read_text()
    assert "max_iter" in reason and "'many'" in reason
