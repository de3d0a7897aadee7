"""The preprocessed split files and their metadata: one definition the training and evaluation jobs share.

A split file is a CSV with a header: the target first (class codes 0..k-1 for classification, numbers for
regression), then the feature columns in ``preprocessing.json``'s order, categorical features as ordinal
codes and missing values empty. Beside the test split, ``test_features.csv`` keeps the same rows' feature
values as the upload holds them, so a model with other encodings (the approved one) can be scored on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from driftline_ml.jobs import JobInputError, find_input_file

PROBLEM_TYPES = ("binary_classification", "multiclass_classification", "regression")
PREPROCESSING_FILE = "preprocessing.json"
MODEL_FILE = "model.joblib"
MODEL_METADATA_FILE = "model_metadata.json"
SPLIT_FILES = {"train": "train.csv", "validation": "validation.csv", "test": "test.csv"}
RAW_TEST_FILE = "test_features.csv"
"""The test split's feature values as uploaded (text), in the rows' order of ``test.csv``."""


def is_classification(problem_type: str) -> bool:
    return problem_type != "regression"


def check_metadata(metadata: Any, source: str) -> dict[str, Any]:
    """Fail with a clear reason when a metadata document lacks what the jobs rely on."""
    if not isinstance(metadata, dict):
        raise JobInputError(f"{source} must be a JSON object")
    missing = [key for key in ("target", "problem_type", "feature_columns") if key not in metadata]
    if missing:
        raise JobInputError(f"{source} lacks {', '.join(missing)}; rerun the preprocessing step")
    if metadata["problem_type"] not in PROBLEM_TYPES:
        raise JobInputError(
            f"{source} names problem type {metadata['problem_type']!r}; expected one of {', '.join(PROBLEM_TYPES)}"
        )
    if is_classification(metadata["problem_type"]) and len(metadata.get("class_labels") or []) < 2:
        raise JobInputError(f"{source} lists fewer than two class labels for a classification problem")
    return metadata


def split_files(folder: Path, split: str) -> list[Path]:
    """The split's file by its own name (the test folder also holds the raw feature values); its parts in order when
    several preprocessing instances wrote it (``train-00000.csv``, ``train-00001.csv``...); else its one CSV."""
    named = folder / SPLIT_FILES[split]
    if named.is_file():
        return [named]
    return part_files(folder, SPLIT_FILES[split]) or [find_input_file(folder, ".csv", split)]


def part_files(folder: Path, file_name: str) -> list[Path]:
    """The parts of ``file_name`` that several preprocessing instances wrote, in the order of their rows."""
    stem, suffix = file_name.rsplit(".", 1)
    return sorted(folder.glob(f"{stem}-[0-9][0-9][0-9][0-9][0-9].{suffix}"))


def files_name(paths: list[Path]) -> str:
    """How a message names a split read from one file or from parts."""
    return paths[0].name if len(paths) == 1 else f"{paths[0].name} and its {len(paths) - 1} other part(s)"


def load_split(folder: Path, split: str, metadata: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Features as a float matrix (NaN for missing or unknown values) and the target as a vector."""
    paths = split_files(folder, split)
    name = files_name(paths)
    try:
        frames = [pd.read_csv(path) for path in paths]
    except pd.errors.EmptyDataError as error:
        raise JobInputError(f"the {split} file {name} is empty") from error
    if any(list(part.columns) != list(frames[0].columns) for part in frames):
        raise JobInputError(f"the {split} file {name} has parts with other columns; rerun the preprocessing step")
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    target = metadata["target"]
    features = list(metadata["feature_columns"])
    missing = [column for column in [target, *features] if column not in frame.columns]
    if missing:
        raise JobInputError(
            f"the {split} file {name} lacks column(s) {', '.join(map(repr, missing))} that the "
            "preprocessing metadata names; rerun the preprocessing step"
        )
    if frame.empty:
        raise JobInputError(f"the {split} file {name} has no rows")
    try:
        x = frame[features].apply(pd.to_numeric, errors="raise").to_numpy(dtype=np.float64)
        y = pd.to_numeric(frame[target], errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise JobInputError(
            f"the {split} file {name} holds non-numeric values ({error}); it must come from the preprocessing step"
        ) from error
    if np.isnan(y).any():
        raise JobInputError(f"the {split} file {name} has rows without a target value")
    if is_classification(metadata["problem_type"]):
        classes = len(metadata["class_labels"])
        if not np.all((y >= 0) & (y < classes) & (y == np.round(y))):
            raise JobInputError(f"the {split} file {name} holds target values outside the class codes 0..{classes - 1}")
        return x, y.astype(np.int64)
    return x, y


def write_model(folder: Path, estimator: Any, metadata: dict[str, Any]) -> None:
    """The model folder serving and evaluation read: ``model.joblib`` and ``model_metadata.json`` (the
    preprocessing metadata, how the model was trained, and the scikit-learn version that can load it)."""
    import joblib
    import sklearn

    from driftline_ml.jobs import write_json

    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(estimator, folder / MODEL_FILE)
    write_json(
        folder / MODEL_METADATA_FILE,
        {**metadata, "model_file": MODEL_FILE, "sklearn_version": str(sklearn.__version__)},
    )
    print(f"Saved {MODEL_FILE} and {MODEL_METADATA_FILE} to {folder}")
