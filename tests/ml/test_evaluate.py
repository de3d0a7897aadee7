"""The evaluation script on a model trained by the real preprocessing and training scripts.

Each chain runs preprocess -> train -> evaluate as subprocesses, handing files over the way SageMaker
does (the model folder travels as ``model.tar.gz``).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from driftline.datasets import write_breast_cancer_csv

ML_DIR = Path(__file__).resolve().parents[2] / "ml"


def job_env(**overrides: str) -> dict[str, str]:
    """This environment minus any ``SM_*``; one OpenMP thread, since the scenarios run side by side."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    return {**inherited, "OMP_NUM_THREADS": "1", **overrides}


def run_script(script: str, args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(
        [sys.executable, str(ML_DIR / script), *args],
        env=job_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def start_evaluation(root: Path, config: dict[str, Any], name: str) -> subprocess.Popen[str]:
    """Start evaluate.py on ``root``'s model and test split with ``config`` as the run config."""
    config_dir = root / f"{name}-config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text(json.dumps(config))
    args = [
        "--model-dir",
        str(root / "model-input"),
        "--test-dir",
        str(root / "out" / "test"),
        "--config-dir",
        str(config_dir),
        "--output-dir",
        str(root / name),
        "--message-file",
        str(root / f"{name}-message"),
    ]
    return subprocess.Popen(
        [sys.executable, str(ML_DIR / "evaluate.py"), *args],
        env=job_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def train_model(root: Path, config: dict[str, Any], hyperparameters: list[str]) -> None:
    """Preprocess ``root/data`` and train on it; leave ``model-input/model.tar.gz`` as SageMaker would."""
    (root / "config").mkdir()
    (root / "config" / "config.json").write_text(json.dumps(config))
    out = root / "out"
    run_script(
        "preprocess.py",
        ["--data-dir", str(root / "data"), "--config-dir", str(root / "config")]
        + [arg for name in ("train", "validation", "test", "metadata") for arg in (f"--{name}-dir", str(out / name))]
        + ["--message-file", str(root / "preprocess-message")],
    )
    run_script(
        "train.py",
        hyperparameters,
        {
            "SM_MODEL_DIR": str(root / "model"),
            "SM_CHANNEL_TRAIN": str(out / "train"),
            "SM_CHANNEL_VALIDATION": str(out / "validation"),
            "SM_CHANNEL_METADATA": str(out / "metadata"),
            "SM_OUTPUT_DIR": str(root / "output"),
        },
    )
    (root / "model-input").mkdir()
    with tarfile.open(root / "model-input" / "model.tar.gz", "w:gz") as archive:
        for file in sorted((root / "model").iterdir()):
            archive.add(file, arcname=file.name)


def binary_chain(root: Path) -> dict[str, tuple[int, str]]:
    (root / "data").mkdir(parents=True)
    write_breast_cancer_csv(root / "data" / "breast-cancer.csv")
    config = {"target": "diagnosis", "problem_type": "binary_classification", "metric": "auc", "seed": 42}
    train_model(root, {**config, "split": {"train": 0.7, "validation": 0.15, "test": 0.15}}, ["--max_iter", "60"])
    processes = {
        "evaluation": start_evaluation(root, config, "evaluation"),
        "wrong_metric": start_evaluation(root, {**config, "metric": "log_loss"}, "wrong_metric"),
    }
    return {name: finish(process) for name, process in processes.items()}


def regression_chain(root: Path) -> dict[str, tuple[int, str]]:
    rng = np.random.default_rng(9)
    size = rng.uniform(30, 200, 300)
    city = rng.choice(["lyon", "paris", "nantes"], 300)
    price = size * 3000 + np.where(city == "paris", 150_000, 0) + rng.normal(0, 20_000, 300)
    (root / "data").mkdir(parents=True)
    pd.DataFrame({"size_m2": size, "city": city, "price": price}).to_csv(root / "data" / "homes.csv", index=False)
    config = {"target": "price", "problem_type": "regression", "metric": "rmse", "seed": 1}
    train_model(root, config, ["--max_iter", "80", "--min_samples_leaf", "5"])
    return {"evaluation": finish(start_evaluation(root, config, "evaluation"))}


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    stdout, stderr = process.communicate(timeout=120)
    return process.returncode, stdout + stderr


@pytest.fixture(scope="module")
def chains(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, tuple[int, str]]]]:
    base = tmp_path_factory.mktemp("evaluate")
    with ThreadPoolExecutor(max_workers=2) as pool:
        binary = pool.submit(binary_chain, base / "binary")
        regression = pool.submit(regression_chain, base / "regression")
        return {
            "binary": (base / "binary", binary.result()),
            "regression": (base / "regression", regression.result()),
        }


def read_report(root: Path, runs: dict[str, tuple[int, str]]) -> dict[str, Any]:
    code, log = runs["evaluation"]
    assert code == 0, log
    report: dict[str, Any] = json.loads((root / "evaluation" / "evaluation.json").read_text())
    return report


def test_binary_report_uses_model_monitor_format_with_a_plausible_auc(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    report = read_report(root, runs)

    metrics = report["binary_classification_metrics"]
    assert set(metrics) == {"auc", "accuracy", "precision", "recall", "f1"}
    assert metrics["auc"]["value"] > 0.95
    for entry in metrics.values():
        assert set(entry) == {"value", "standard_deviation"}
        assert 0.0 <= entry["value"] <= 1.0
        assert isinstance(entry["standard_deviation"], float) and 0.0 <= entry["standard_deviation"] < 0.2


def test_driftline_block_names_the_gate_metric_and_test_rows(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    report = read_report(root, runs)
    preprocessing = json.loads((root / "out" / "metadata" / "preprocessing.json").read_text())

    assert report["driftline"]["problem_type"] == "binary_classification"
    assert report["driftline"]["metric"] == "auc"
    assert report["driftline"]["higher_is_better"] is True
    assert report["driftline"]["target"] == "diagnosis"
    assert report["driftline"]["test_rows"] == preprocessing["rows"]["test"] == 85
    assert report["driftline"]["class_labels"] == ["benign", "malignant"]


def test_regression_report_holds_error_metrics_and_r2(chains: dict[str, Any]) -> None:
    root, runs = chains["regression"]
    report = read_report(root, runs)

    metrics = report["regression_metrics"]
    assert set(metrics) == {"mse", "rmse", "mae", "r2"}
    assert math.isclose(metrics["rmse"]["value"], math.sqrt(metrics["mse"]["value"]))
    assert metrics["r2"]["value"] > 0.7
    assert report["driftline"]["metric"] == "rmse"
    assert report["driftline"]["higher_is_better"] is False


def test_metric_not_reported_for_the_problem_fails_with_the_choices(chains: dict[str, Any]) -> None:
    root, runs = chains["binary"]
    code, _ = runs["wrong_metric"]

    assert code == 1
    reason = (root / "wrong_metric-message").read_text()
    assert "'log_loss'" in reason and "auc" in reason
    assert not (root / "wrong_metric" / "evaluation.json").exists()
