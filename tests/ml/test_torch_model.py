"""PyTorch models a training script returns: exported by the training job, loaded by evaluation and serving as an
estimator, with the serving code in the model's own ``code/`` folder for SageMaker's PyTorch serving image."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from driftline_ml.jobs import JobInputError
from driftline_ml.serving import load_serving_model, predict
from driftline_ml.torch_model import MODEL_FORMAT, MODULE_FILE, ModuleEstimator, load_module, save_module
from tests.ml.test_train import ML_DIR, write_channels
from tests.ml.test_train_script import run_script


@pytest.mark.parametrize("problem_type", ["binary_classification", "regression"])
def test_the_pytorch_worked_example_exports_a_model_serving_loads_with_its_serving_code(
    tmp_path: Path, problem_type: str
) -> None:
    write_channels(tmp_path, problem_type)
    hps = {"epochs": "80", "target": "label", "problem_type": problem_type, "model_script": "torch_mlp"}

    done = run_script(tmp_path, "--model_script", "torch_mlp", "--epochs", "80", hps=hps)

    assert done.returncode == 0, done.stderr
    model_dir = tmp_path / "model"
    metadata = json.loads((model_dir / "model_metadata.json").read_text())
    assert (metadata["model_file"], metadata["model_format"]) == (MODULE_FILE, MODEL_FORMAT)
    assert (metadata["model_script"], metadata["estimator"]) == ("torch_mlp", "TabularMLP")
    assert not (model_dir / "model.joblib").exists()
    # SageMaker's PyTorch serving image imports SAGEMAKER_PROGRAM from code/ in the model: the published files.
    assert (model_dir / "code" / "serve.py").read_bytes() == (ML_DIR / "serve.py").read_bytes()
    published = ML_DIR / "driftline_ml" / "serving.py"
    assert (model_dir / "code" / "driftline_ml" / "serving.py").read_bytes() == published.read_bytes()
    assert (
        not list((model_dir / "code").rglob("__pycache__")) and not (model_dir / "code" / "requirements.txt").exists()
    )
    metric = "accuracy" if problem_type != "regression" else "rmse"
    assert re.search(rf"^validation:{metric}=[0-9.]+$", done.stdout, re.MULTILINE), done.stdout

    model = load_serving_model(model_dir)
    answer = predict(model, np.array([[0.3, np.nan, 2.0], [-2.0, 1.0, np.nan], [1.5, 0.2, 2.0]]))
    if problem_type == "regression":
        assert answer["values"].shape == (3,) and np.isfinite(answer["values"]).all()
        assert metadata["validation_metrics"]["r2"] > 0.6
    else:
        assert answer["class_labels"] == ["no", "yes"] and answer["probabilities"].shape == (3, 2)
        assert np.allclose(answer["probabilities"].sum(axis=1), 1.0)
        assert metadata["validation_metrics"]["accuracy"] > 0.75


class _Scores(torch.nn.Module):
    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.weights = torch.nn.Parameter(torch.arange(2 * outputs, dtype=torch.float32).reshape(2, outputs) / 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nan_to_num(x) @ self.weights


def test_an_exported_module_answers_as_the_module_for_any_number_of_rows(tmp_path: Path) -> None:
    module = _Scores(3).eval()
    rows = np.array([[1.0, 2.0], [np.nan, 1.0], [0.5, -1.0], [3.0, 0.0]], dtype=np.float32)

    path = save_module(module, rows, tmp_path)
    loaded = load_module(path, {"problem_type": "multiclass_classification", "class_labels": ["a", "b", "c"]})

    expected = torch.softmax(module(torch.from_numpy(rows)), dim=1).detach().numpy()
    assert np.allclose(loaded.predict_proba(rows), expected, atol=1e-6)
    assert loaded.predict(rows[:1]).tolist() == [int(expected[0].argmax())]
    assert loaded.predict_proba(np.repeat(rows, 50, axis=0)).shape == (200, 3)


def test_a_single_score_column_is_the_positive_class_s_logit() -> None:
    estimator = ModuleEstimator(_Scores(1).eval(), "binary_classification", 2)
    rows = np.array([[1.0, 2.0], [-3.0, 0.0]], dtype=np.float32)

    probabilities = estimator.predict_proba(rows)

    logits = rows @ np.array([[0.0], [0.1]], dtype=np.float32)
    assert np.allclose(probabilities[:, 1], 1 / (1 + np.exp(-logits.reshape(-1))))
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_scores_for_another_number_of_classes_are_refused_saying_what_to_return() -> None:
    estimator = ModuleEstimator(_Scores(2).eval(), "multiclass_classification", 3)

    with pytest.raises(JobInputError, match=r"shape \(2, 2\) for 2 rows, but the problem has 3 classes"):
        estimator.predict_proba(np.zeros((2, 2), dtype=np.float32))


def test_a_regression_module_answers_one_value_per_row_or_is_refused() -> None:
    rows = np.zeros((4, 2), dtype=np.float32)
    assert ModuleEstimator(_Scores(1).eval(), "regression", 0).predict(rows).shape == (4,)
    with pytest.raises(JobInputError, match="one value per row"):
        ModuleEstimator(_Scores(2).eval(), "regression", 0).predict(rows)


class _Branching(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.sum()) > 0:  # depends on the values: torch.export cannot capture it
            return x
        return -x


def test_a_module_torch_export_cannot_capture_fails_the_job_saying_why(tmp_path: Path) -> None:
    with pytest.raises(JobInputError, match=r"torch\.export could not export the model"):
        save_module(_Branching(), np.ones((4, 2), dtype=np.float32), tmp_path)
