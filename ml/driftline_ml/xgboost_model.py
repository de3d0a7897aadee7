"""Models trained by SageMaker's XGBoost algorithm, as evaluation and serving use them.

The algorithm's ``model.tar.gz`` holds only the booster (``xgboost-model``, XGBoost's own format). The evaluation
job packs it with the preprocessing metadata into the model the run registers (``pack_model``), and serving and
evaluation load that as they load a scikit-learn model: ``BoosterEstimator`` answers ``predict`` and
``predict_proba`` as an estimator does, so the encodings, answers, capture and drift stay one code path. XGBoost is
imported only here, on first use: the scikit-learn image has none, and needs none for the other models.
"""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.jobs import JobInputError, write_json
from driftline_ml.tabular import MODEL_METADATA_FILE, is_classification

BOOSTER_FILE = "xgboost-model"
"""The name SageMaker's XGBoost algorithm saves its booster under."""
MODEL_FORMAT = "xgboost"
"""``model_format`` in ``model_metadata.json`` of a packed XGBoost model (a scikit-learn model has none)."""
PACKED_MODEL_FILE = "model.tar.gz"


class BoosterEstimator:
    """A booster with a scikit-learn estimator's answers: class codes 0..k-1 and their probabilities, or values."""

    def __init__(self, booster: Any, problem_type: str, class_count: int) -> None:
        self.booster = booster
        self.problem_type = problem_type
        self.classes_ = np.arange(class_count) if is_classification(problem_type) else np.arange(0)

    def _raw(self, x: np.ndarray) -> np.ndarray:
        # Missing and unknown values are NaN, which XGBoost reads as missing, as the algorithm read empty fields.
        return np.asarray(self.booster.inplace_predict(np.asarray(x, dtype=np.float32), missing=np.nan))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        raw = self._raw(x)
        if self.problem_type == "binary_classification":
            positive = raw.reshape(-1)
            return np.column_stack([1.0 - positive, positive])
        return raw.reshape(len(x), len(self.classes_))

    def predict(self, x: np.ndarray) -> np.ndarray:
        if is_classification(self.problem_type):
            return np.asarray(self.predict_proba(x).argmax(axis=1), dtype=np.int64)
        return self._raw(x).reshape(-1).astype(np.float64)


def load_booster(path: Path, metadata: dict[str, Any]) -> BoosterEstimator:
    """The booster in ``path`` as an estimator for the metadata's problem; a missing XGBoost is named."""
    try:
        import xgboost
    except ImportError as error:
        raise JobInputError(
            "this model was trained by SageMaker's XGBoost algorithm and needs XGBoost to load, which this "
            "container lacks; evaluate and serve it on SageMaker's XGBoost image"
        ) from error
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except xgboost.core.XGBoostError as error:
        raise JobInputError(f"{path.name} is not a model XGBoost {xgboost.__version__} can load ({error})") from error
    classes = len(metadata.get("class_labels") or [])
    expected = len(metadata["feature_columns"])
    if booster.num_features() != expected:
        raise JobInputError(
            f"{path.name} was trained on {booster.num_features()} features but the preprocessing metadata names "
            f"{expected}; the model and the metadata come from different runs"
        )
    return BoosterEstimator(booster, str(metadata["problem_type"]), classes)


def pack_model(booster_file: Path, metadata: dict[str, Any], folder: Path) -> Path:
    """``model.tar.gz`` with the booster and ``model_metadata.json``: the model serving and later evaluations load."""
    import xgboost

    folder.mkdir(parents=True, exist_ok=True)
    metadata_file = folder / MODEL_METADATA_FILE
    write_json(
        metadata_file,
        {
            **metadata,
            "model_file": BOOSTER_FILE,
            "model_format": MODEL_FORMAT,
            "xgboost_version": str(xgboost.__version__),
            "trained_by": "SageMaker's XGBoost algorithm",
        },
    )
    archive = folder / PACKED_MODEL_FILE
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(booster_file, arcname=BOOSTER_FILE)
        tar.add(metadata_file, arcname=MODEL_METADATA_FILE)
    metadata_file.unlink()
    print(f"Packed {BOOSTER_FILE} and {MODEL_METADATA_FILE} into {archive.name}, the model the run registers")
    return archive
