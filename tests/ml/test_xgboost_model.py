"""Models trained by SageMaker's XGBoost algorithm: the preprocessing job's shards for it, the evaluation job that
completes the booster into a servable model, and serving that model as any other."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost

from driftline.datasets import write_breast_cancer_csv
from tests.ml.test_evaluate import ML_DIR, job_env, preprocess_data

sys.path.insert(0, str(ML_DIR))

from driftline_ml.serving import CSV, format_prediction, load_serving_model, parse_request, predict

TARGET = "diagnosis"


def read_headerless(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(path, header=None) for path in sorted(folder.iterdir())], ignore_index=True)


def train_booster(out: Path, params: dict[str, Any], model_dir: Path) -> None:
    """Train on the shards as the algorithm does (label first, no header) and save ``xgboost-model`` as it does."""
    train = read_headerless(out / "xgboost" / "train")
    booster = xgboost.train(params, xgboost.DMatrix(train.iloc[:, 1:].to_numpy(), label=train.iloc[:, 0]), 30)
    model_dir.mkdir(parents=True)
    booster.save_model(str(model_dir / "xgboost-model"))
    with tarfile.open(model_dir / "model.tar.gz", "w:gz") as archive:
        archive.add(model_dir / "xgboost-model", arcname="xgboost-model")
    (model_dir / "xgboost-model").unlink()


def evaluate(
    root: Path, out: Path, config: dict[str, Any], model_dir: Path, name: str
) -> subprocess.CompletedProcess[str]:
    (root / f"{name}-config").mkdir()
    (root / f"{name}-config" / "config.json").write_text(json.dumps(config))
    return subprocess.run(
        [
            sys.executable,
            str(ML_DIR / "evaluate.py"),
            *("--model-dir", str(model_dir)),
            *("--test-dir", str(out / "test")),
            *("--config-dir", str(root / f"{name}-config")),
            *("--metadata-dir", str(out / "metadata")),
            *("--output-dir", str(root / name / "evaluation")),
            *("--packed-model-dir", str(root / name / "model")),
            *("--message-file", str(root / name / "message")),
            *("--incumbent-dir", str(root / "no-incumbent")),
        ],
        env=job_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def binary_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    root = tmp_path_factory.mktemp("xgboost-binary")
    (root / "data").mkdir()
    write_breast_cancer_csv(root / "data" / "cancer.csv")
    config = {
        "target": TARGET,
        "problem_type": "binary_classification",
        "metric": "accuracy",
        "model_algorithm": "xgboost",
        "instance_count": 3,
    }
    out = preprocess_data(root, config)
    train_booster(out, {"objective": "binary:logistic", "max_depth": 3}, root / "trained")
    result = evaluate(root, out, config, root / "trained", "evaluate")
    assert result.returncode == 0, result.stdout + result.stderr
    return root, out, config


def test_the_train_split_is_dealt_into_one_headerless_file_per_instance_with_the_target_first(
    binary_run: tuple[Path, Path, dict[str, Any]],
) -> None:
    _, out, _ = binary_run
    parts = sorted((out / "xgboost" / "train").iterdir())
    train = pd.read_csv(out / "train" / "train.csv")

    # One preprocessing instance (the first), one shard per training instance.
    assert [part.name for part in parts] == ["part-00000-00000.csv", "part-00000-00001.csv", "part-00000-00002.csv"]
    sizes = [len(pd.read_csv(part, header=None)) for part in parts]
    assert sum(sizes) == len(train) and max(sizes) - min(sizes) <= 1
    # The same rows, in the same columns (the target first), without the header.
    shards = read_headerless(out / "xgboost" / "train")
    assert sorted(map(tuple, shards.fillna(-1).to_numpy())) == sorted(map(tuple, train.fillna(-1).to_numpy()))
    first = parts[0].read_text().splitlines()[0]
    assert not any(character.isalpha() for character in first)
    validation = pd.read_csv(out / "xgboost" / "validation" / "part-00000.csv", header=None)
    assert len(validation) == len(pd.read_csv(out / "validation" / "validation.csv"))


def test_runs_trained_another_way_get_no_xgboost_files(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    write_breast_cancer_csv(tmp_path / "data" / "cancer.csv")
    out = preprocess_data(tmp_path, {"target": TARGET, "problem_type": "binary_classification"})

    assert not (out / "xgboost").exists()


def test_evaluation_scores_the_booster_and_packs_it_with_its_metadata(
    binary_run: tuple[Path, Path, dict[str, Any]],
) -> None:
    root, _, _ = binary_run
    report = json.loads((root / "evaluate" / "evaluation" / "evaluation.json").read_text())
    with tarfile.open(root / "evaluate" / "model" / "model.tar.gz") as archive:
        names = sorted(archive.getnames())
        member = archive.extractfile("model_metadata.json")
        assert member is not None
        metadata = json.loads(member.read())

    assert report["binary_classification_metrics"]["accuracy"]["value"] > 0.9
    assert names == ["model_metadata.json", "xgboost-model"]
    assert (metadata["model_format"], metadata["model_file"]) == ("xgboost", "xgboost-model")
    assert metadata["xgboost_version"] == xgboost.__version__
    assert metadata["class_labels"] == ["benign", "malignant"]


def test_the_packed_model_serves_raw_rows_as_the_predictions_file_says(
    binary_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    root, out, _ = binary_run
    with tarfile.open(root / "evaluate" / "model" / "model.tar.gz") as archive:
        archive.extractall(tmp_path, filter="data")
    model = load_serving_model(tmp_path)
    raw = (out / "test" / "test_features.csv").read_text()
    body, _ = format_prediction(predict(model, parse_request(model, raw.split("\n", 1)[1], CSV)), CSV)

    assert body == (root / "evaluate" / "evaluation" / "predictions.csv").read_text()
    answers = list(csv.reader(io.StringIO(body)))
    assert {answer[0] for answer in answers} == {"benign", "malignant"}
    assert all(abs(float(answer[1]) + float(answer[2]) - 1) < 1e-6 for answer in answers)


@pytest.mark.parametrize(
    ("problem_type", "params", "metric", "floor"),
    [
        ("multiclass_classification", {"objective": "multi:softprob", "num_class": 3}, "accuracy", 0.8),
        ("regression", {"objective": "reg:squarederror"}, "r2", 0.8),
    ],
)
def test_multiclass_and_regression_boosters_evaluate(
    tmp_path: Path, problem_type: str, params: dict[str, Any], metric: str, floor: float
) -> None:
    rng = np.random.default_rng(7)
    rows = 600
    x = rng.normal(size=(rows, 3))
    colour = rng.choice(["red", "green", "blue"], size=rows)
    score = x[:, 0] * 2 + x[:, 1] + (colour == "red") * 1.5
    target: Any = np.digitize(score, [-1, 1]) if problem_type != "regression" else score
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "colour": colour, "y": target})
    if problem_type != "regression":
        frame["y"] = frame["y"].map({0: "low", 1: "mid", 2: "high"})
    frame.loc[::17, "a"] = np.nan
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "table.csv", index=False)
    config = {"target": "y", "problem_type": problem_type, "metric": metric, "model_algorithm": "xgboost"}
    out = preprocess_data(tmp_path, config)
    train_booster(out, params, tmp_path / "trained")

    result = evaluate(tmp_path, out, config, tmp_path / "trained", "evaluate")

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "evaluate" / "evaluation" / "evaluation.json").read_text())
    block = report["regression_metrics" if problem_type == "regression" else "multiclass_classification_metrics"]
    assert block[metric]["value"] > floor


def test_a_booster_for_other_features_fails_the_evaluation_with_the_reason(
    binary_run: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    _, out, config = binary_run
    booster = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(np.zeros((10, 2)), label=[0, 1] * 5), 2)
    (tmp_path / "trained").mkdir()
    booster.save_model(str(tmp_path / "trained" / "xgboost-model"))

    result = evaluate(tmp_path, out, config, tmp_path / "trained", "evaluate")

    assert result.returncode == 1
    message = (tmp_path / "evaluate" / "message").read_text()
    assert "trained on 2 features" in message and "different runs" in message
