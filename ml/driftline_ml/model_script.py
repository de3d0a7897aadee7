"""What a dataset's own training script (``ml/models/<name>/train.py``) works with: the preprocessed splits in, a
model folder out that evaluation, the quality gate, serving, capture and drift monitoring read unchanged.

A script defines ``train(data: TrainingData)``, which returns a fitted scikit-learn-style estimator (``predict``;
classifiers ``predict_proba`` and ``classes_`` as well), and ends with ``sys.exit(run(train))``. ``run`` reads the
splits SageMaker's training contract hands the job (``SM_CHANNEL_*``), calls ``train``, scores the estimator on the
validation split, and writes ``model.joblib`` and ``model_metadata.json`` to ``SM_MODEL_DIR``, as ``ml/train.py``
does; a failure becomes the job's readable reason.

On SageMaker's PyTorch container ``train`` may return a ``torch.nn.Module`` instead (``driftline_ml.torch_model``
says what it takes and answers): ``run`` exports it to ``model.pt2``, scores the exported program, and puts the
serving code in the model folder's ``code/``, where the PyTorch serving container looks for it.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.jobs import JobInputError, find_input_file, output_dir, read_json, run_job, write_json
from driftline_ml.metrics import compute_metrics
from driftline_ml.model_packages import carry_into_model
from driftline_ml.tabular import (
    MODEL_METADATA_FILE,
    PREPROCESSING_FILE,
    check_metadata,
    is_classification,
    load_split,
    write_model,
)
from driftline_ml.torch_model import MODEL_FORMAT, MODULE_FILE, is_module, load_module, save_module

CODE_DIR = Path(__file__).resolve().parents[1]
"""The published ``ml/`` folder this job runs from."""
SERVING_CODE_DIR = "code"
"""Where SageMaker's PyTorch serving container imports ``SAGEMAKER_PROGRAM`` from: ``<model folder>/code``."""

PIPELINE_HYPERPARAMETERS = ("target", "problem_type", "model_script")
"""Hyperparameters the pipeline sets for itself; a script's own ones are the rest."""


@dataclass
class RunningScript:
    """The script ``train_script.py`` runs: set there, in this process, never read from the job's environment
    (which a job request chooses)."""

    name: str = ""
    packages: Path | None = None
    """Where its requirements were installed; carried into the model folder."""


RUNNING = RunningScript()


@dataclass(frozen=True)
class TrainingData:
    """The run's preprocessed data: features as float matrices (NaN where a value is missing or was not seen in
    training; categorical features as codes), targets as class codes 0..k-1 or numbers."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_validation: np.ndarray
    y_validation: np.ndarray
    metadata: dict[str, Any]
    """``preprocessing.json``: target, problem type, feature columns in order, class labels, categories."""
    hyperparameters: dict[str, str]
    """The dataset's ``hyperparameters`` as given in dataset.json, each a string (SageMaker's form)."""

    @property
    def problem_type(self) -> str:
        return str(self.metadata["problem_type"])

    @property
    def is_classification(self) -> bool:
        return is_classification(self.problem_type)

    @property
    def feature_columns(self) -> list[str]:
        return [str(name) for name in self.metadata["feature_columns"]]


def channel(name: str) -> Path:
    return Path(os.environ.get(f"SM_CHANNEL_{name.upper()}", f"/opt/ml/input/data/{name}"))


def model_dir() -> Path:
    return Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))


def script_hyperparameters() -> dict[str, str]:
    """``SM_HPS`` (every hyperparameter of the job), less the pipeline's own; values as strings."""
    given = json.loads(os.environ.get("SM_HPS") or "{}")
    return {
        str(name): value if isinstance(value, str) else json.dumps(value)
        for name, value in given.items()
        if name not in PIPELINE_HYPERPARAMETERS
    }


def load_training_data() -> TrainingData:
    metadata = check_metadata(read_json(find_input_file(channel("metadata"), ".json", "metadata")), PREPROCESSING_FILE)
    x_train, y_train = load_split(channel("train"), "train", metadata)
    x_validation, y_validation = load_split(channel("validation"), "validation", metadata)
    if is_classification(metadata["problem_type"]) and len(np.unique(y_train)) < 2:
        raise JobInputError("the training split holds a single class; upload more rows of the other classes")
    return TrainingData(x_train, y_train, x_validation, y_validation, metadata, script_hyperparameters())


def save_model(estimator: Any, data: TrainingData, script: RunningScript) -> dict[str, float]:
    """Score the estimator on the validation split (printed as ``validation:<metric>=<value>`` lines for SageMaker's
    metric definitions), then write the model folder serving and evaluation read."""
    module = estimator if is_module(estimator) else None
    if module is not None:
        estimator = load_module(save_module(module, data.x_validation, model_dir()), data.metadata)
    missing = [name for name in _needed_methods(data) if not callable(getattr(estimator, name, None))]
    if missing:
        raise JobInputError(
            f"the training script's train() returned a {type(estimator).__name__}, which has no "
            f"{' or '.join(missing)}; return a fitted estimator with scikit-learn's methods"
        )
    predictions = estimator.predict(data.x_validation)
    scores = None
    if data.problem_type == "binary_classification":
        classes = list(getattr(estimator, "classes_", []))
        probabilities = np.asarray(estimator.predict_proba(data.x_validation))
        scores = probabilities[:, classes.index(1)] if 1 in classes else np.zeros(len(data.y_validation))
    metrics = compute_metrics(data.problem_type, data.y_validation, predictions, scores)
    for name, value in metrics.items():
        print(f"validation:{name}={value:.6f}")
    if script.packages is not None:
        carry_into_model(script.packages, model_dir())
    metadata = {
        **data.metadata,
        "estimator": type(module if module is not None else estimator).__name__,
        "model_script": script.name,
        "hyperparameters": data.hyperparameters,
        "python_version": platform.python_version(),
        "validation_metrics": metrics,
    }
    if module is None:
        write_model(model_dir(), estimator, metadata)
    else:
        write_module_model(model_dir(), metadata)
    return metrics


def write_module_model(folder: Path, metadata: dict[str, Any]) -> None:
    """The model folder of an exported module: ``model.pt2`` (already written), ``model_metadata.json`` naming it,
    and the serving code under ``code/`` (``serve.py`` and ``driftline_ml``), which the PyTorch serving container
    runs from the model itself."""
    import torch

    write_json(
        folder / MODEL_METADATA_FILE,
        {**metadata, "model_file": MODULE_FILE, "model_format": MODEL_FORMAT, "torch_version": torch.__version__},
    )
    code = folder / SERVING_CODE_DIR
    code.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CODE_DIR / "serve.py", code / "serve.py")
    shutil.copytree(
        CODE_DIR / "driftline_ml",
        code / "driftline_ml",
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    print(f"Saved {MODULE_FILE}, {MODEL_METADATA_FILE} and the serving code ({SERVING_CODE_DIR}/) to {folder}")


def _needed_methods(data: TrainingData) -> list[str]:
    return ["predict", "predict_proba"] if data.is_classification else ["predict"]


def run(train: Callable[[TrainingData], Any]) -> int:
    """The job: load the data, ``train`` it, save what it returns; 0, or 1 with the reason written for SageMaker."""

    def job() -> None:
        data = load_training_data()
        print(
            f"Training {RUNNING.name or 'the model script'} on {len(data.y_train)} rows, validating on "
            f"{len(data.y_validation)} rows, {data.x_train.shape[1]} features"
        )
        save_model(train(data), data, RUNNING)

    return run_job(job, what="Training", reason_file=output_dir() / "failure")
