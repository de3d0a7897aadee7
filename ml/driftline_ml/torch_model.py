"""Models a training script builds with PyTorch, as evaluation and serving use them.

A script on SageMaker's PyTorch framework container may return a ``torch.nn.Module`` from ``train``: it takes the
features as a float32 tensor (rows x features, in ``feature_columns`` order, NaN where a value is missing or was not
seen in training) and returns one value per row for a regression, or one score (logit) per class for a
classification (a single column for a binary problem is the positive class's logit). ``save_module`` exports it
with ``torch.export`` (``model.pt2``: the graph and weights, so serving needs none of the script's code), and
``ModuleEstimator`` answers ``predict`` and ``predict_proba`` as a scikit-learn estimator does, so evaluation,
serving, capture and drift stay one code path. PyTorch is imported only here, on first use: the other images have
none.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.jobs import JobInputError
from driftline_ml.tabular import is_classification

MODULE_FILE = "model.pt2"
"""The exported program, as ``torch.export.save`` writes it."""
MODEL_FORMAT = "torch.export"
"""``model_format`` in ``model_metadata.json`` of an exported PyTorch module."""
ROWS_PER_CALL = 65_536
"""Rows the module is called on at once, so a large split is scored in bounded memory."""


def is_module(value: Any) -> bool:
    """Whether ``value`` is a PyTorch module, without importing PyTorch where the script did not."""
    import sys

    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.nn.Module)


class ModuleEstimator:
    """A module with a scikit-learn estimator's answers: class codes 0..k-1 and their probabilities, or values."""

    def __init__(self, module: Any, problem_type: str, class_count: int) -> None:
        self.module = module
        self.problem_type = problem_type
        self.classes_ = np.arange(class_count) if is_classification(problem_type) else np.arange(0)

    def _outputs(self, x: np.ndarray) -> np.ndarray:
        import torch

        matrix = np.asarray(x, dtype=np.float32)
        parts = []
        with torch.no_grad():
            for start in range(0, max(len(matrix), 1), ROWS_PER_CALL):
                chunk = torch.from_numpy(np.ascontiguousarray(matrix[start : start + ROWS_PER_CALL]))
                answer = self.module(chunk)
                if not isinstance(answer, torch.Tensor):
                    raise JobInputError(
                        f"the model's forward() returned a {type(answer).__name__}, not a tensor; return one value "
                        "per row, or one score per class"
                    )
                parts.append(answer.detach().to(torch.float64).cpu().numpy())
        return np.concatenate(parts) if parts else np.zeros((0,))

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        scores = self._outputs(x)
        classes = len(self.classes_)
        if scores.ndim == 1 or (scores.ndim == 2 and scores.shape[1] == 1 and classes == 2):
            positive = 1.0 / (1.0 + np.exp(-scores.reshape(-1)))
            return np.column_stack([1.0 - positive, positive])
        if scores.ndim != 2 or scores.shape[1] != classes:
            raise JobInputError(
                f"the model answered scores of shape {tuple(scores.shape)} for {len(x)} rows, but the problem has "
                f"{classes} classes; return one score per class (rows x {classes})"
            )
        shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
        return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))

    def predict(self, x: np.ndarray) -> np.ndarray:
        if is_classification(self.problem_type):
            return np.asarray(self.predict_proba(x).argmax(axis=1), dtype=np.int64)
        values = self._outputs(x)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values.reshape(-1)
        if values.ndim != 1 or len(values) != len(x):
            raise JobInputError(
                f"the model answered values of shape {tuple(values.shape)} for {len(x)} rows; a regression model "
                "returns one value per row"
            )
        return values.astype(np.float64)


def save_module(module: Any, example: np.ndarray, folder: Path) -> Path:
    """Export ``module`` (in eval mode) for any number of rows like ``example``; the path written."""
    import torch
    from torch.export import Dim, export

    module.eval()
    sample = torch.from_numpy(np.ascontiguousarray(np.asarray(example[:8], dtype=np.float32)))
    if len(sample) < 2:
        raise JobInputError("the validation split holds fewer than two rows, too few to export the model with")
    try:
        program = export(module, (sample,), dynamic_shapes=({0: Dim("rows")},))
    except Exception as error:
        raise JobInputError(
            f"torch.export could not export the model ({type(error).__name__}: {str(error).splitlines()[0]}); "
            "its forward() must take one float tensor of rows and avoid branching on the values"
        ) from error
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODULE_FILE
    torch.export.save(program, str(path))
    return path


def load_module(path: Path, metadata: dict[str, Any]) -> ModuleEstimator:
    """The exported module in ``path`` as an estimator for the metadata's problem; a missing PyTorch is named."""
    try:
        import torch
    except ImportError as error:
        raise JobInputError(
            "this model was trained with PyTorch and needs PyTorch to load, which this container lacks; evaluate "
            "and serve it on SageMaker's PyTorch images"
        ) from error
    try:
        module = torch.export.load(str(path)).module()
    except Exception as error:
        raise JobInputError(
            f"{path.name} is not a program PyTorch {torch.__version__} can load ({type(error).__name__}: {error})"
        ) from error
    classes = len(metadata.get("class_labels") or [])
    return ModuleEstimator(module, str(metadata["problem_type"]), classes)
