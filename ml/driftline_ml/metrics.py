"""Model-quality metrics under SageMaker Model Monitor's names, so reports read like Model Monitor's own.

Binary classification scores the positive class, class code 1 (the second label in sorted order).
scikit-learn is imported on first use: jobs check their inputs before paying for the import.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BLOCK_NAMES = {
    "binary_classification": "binary_classification_metrics",
    "multiclass_classification": "multiclass_classification_metrics",
    "regression": "regression_metrics",
}
METRIC_NAMES = {
    "binary_classification": ("auc", "accuracy", "precision", "recall", "f1"),
    "multiclass_classification": ("accuracy", "weighted_precision", "weighted_recall", "weighted_f1"),
    "regression": ("mse", "rmse", "mae", "r2"),
}
DEFAULT_METRIC = {"binary_classification": "auc", "multiclass_classification": "accuracy", "regression": "r2"}
LOWER_IS_BETTER = frozenset({"mse", "rmse", "mae"})


def higher_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def compute_metrics(
    problem_type: str, y_true: np.ndarray, y_pred: np.ndarray, positive_scores: np.ndarray | None = None
) -> dict[str, float]:
    """Every metric defined for these rows; a metric that is undefined (AUC on one class) is left out."""
    from sklearn import metrics as skm

    values: dict[str, float] = {}
    if problem_type == "regression":
        mse = float(skm.mean_squared_error(y_true, y_pred))
        values = {"mse": mse, "rmse": math.sqrt(mse), "mae": float(skm.mean_absolute_error(y_true, y_pred))}
        if len(y_true) >= 2 and np.ptp(y_true) > 0:
            values["r2"] = float(skm.r2_score(y_true, y_pred))
    elif problem_type == "binary_classification":
        values = {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "precision": float(skm.precision_score(y_true, y_pred, pos_label=1, zero_division=0)),
            "recall": float(skm.recall_score(y_true, y_pred, pos_label=1, zero_division=0)),
            "f1": float(skm.f1_score(y_true, y_pred, pos_label=1, zero_division=0)),
        }
        if positive_scores is not None and len(np.unique(y_true)) == 2:
            values["auc"] = float(skm.roc_auc_score(y_true, positive_scores))
    else:
        values = {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "weighted_precision": float(skm.precision_score(y_true, y_pred, average="weighted", zero_division=0)),
            "weighted_recall": float(skm.recall_score(y_true, y_pred, average="weighted", zero_division=0)),
            "weighted_f1": float(skm.f1_score(y_true, y_pred, average="weighted", zero_division=0)),
        }
    return {name: value for name, value in values.items() if math.isfinite(value)}


def bootstrap_standard_deviations(
    problem_type: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    positive_scores: np.ndarray | None = None,
    *,
    resamples: int = 20,
    seed: int = 0,
) -> dict[str, float | str]:
    """Spread of each metric over bootstrap resamples of the rows; "NaN" where it cannot be estimated."""
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {name: [] for name in METRIC_NAMES[problem_type]}
    rows = len(y_true)
    for _ in range(resamples if rows >= 2 else 0):
        index = rng.integers(0, rows, size=rows)
        scores = positive_scores[index] if positive_scores is not None else None
        for name, value in compute_metrics(problem_type, y_true[index], y_pred[index], scores).items():
            samples[name].append(value)
    return {name: float(np.std(values, ddof=1)) if len(values) >= 2 else "NaN" for name, values in samples.items()}


def model_quality_report(
    problem_type: str,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    positive_scores: np.ndarray | None = None,
    *,
    resamples: int = 20,
) -> dict[str, Any]:
    """Model Monitor model-quality statistics: ``{<block>: {metric: {value, standard_deviation}}}``."""
    values = compute_metrics(problem_type, y_true, y_pred, positive_scores)
    spreads = bootstrap_standard_deviations(problem_type, y_true, y_pred, positive_scores, resamples=resamples)
    block = {
        name: {"value": values[name], "standard_deviation": spreads.get(name, "NaN")}
        for name in METRIC_NAMES[problem_type]
        if name in values
    }
    return {BLOCK_NAMES[problem_type]: block}
