"""Training job: fit a histogram gradient-boosting model on the preprocessed splits.

Runs in SageMaker's scikit-learn container in script mode: the container calls ``python train.py --name
value ...`` for each hyperparameter and names the data channels and the model folder in ``SM_*`` variables.
Validation metrics are printed as ``validation:<metric>=<value>`` lines for SageMaker metric definitions.
The model folder receives ``model.joblib`` and ``model_metadata.json`` (everything needed to decode inputs
and outputs); on any error a readable reason goes to ``<SM_OUTPUT_DIR>/failure`` and the job exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import numpy as np

from driftline_ml.jobs import JobInputError, find_input_file, output_dir, read_json, run_job
from driftline_ml.metrics import compute_metrics
from driftline_ml.tabular import (
    PREPROCESSING_FILE,
    check_metadata,
    is_classification,
    load_split,
    write_model,
)

HYPERPARAMETER_DEFAULTS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.1,
    "max_depth": None,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 20,
    "l2_regularization": 0.0,
    "early_stopping": "auto",
    "random_state": None,
}
"""``random_state`` None means the run's split seed, so one run config always trains the same model."""
MAX_RANDOM_STATE = 2**32 - 1
"""The largest seed scikit-learn accepts."""
MAX_NATIVE_CATEGORIES = 255
"""The estimator's default ``max_bins``: categorical features with more categories are used as plain codes."""
HOW_TO_FIX = 'set it under "hyperparameters" in the dataset config'


def parse_args(argv: list[str] | None = None) -> tuple[argparse.Namespace, list[str]]:
    """Hyperparameters as SageMaker passes them (``--max_iter 200``); unknown ones are ignored, not fatal."""
    return build_parser().parse_known_args(argv)


def build_parser() -> argparse.ArgumentParser:
    """Every option the script takes: the hyperparameters (either spelling), the pipeline's target and problem
    type, and its own folders, which a hyperparameter of the same name would redirect."""
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    for name in [*HYPERPARAMETER_DEFAULTS, "target", "problem_type"]:
        spellings = list(dict.fromkeys([f"--{name}", f"--{name.replace('_', '-')}"]))
        parser.add_argument(*spellings, dest=name, default=None)
    environ = os.environ
    parser.add_argument("--model-dir", type=Path, default=Path(environ.get("SM_MODEL_DIR", "/opt/ml/model")))
    parser.add_argument(
        "--train-dir", type=Path, default=Path(environ.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    )
    parser.add_argument(
        "--validation-dir",
        type=Path,
        default=Path(environ.get("SM_CHANNEL_VALIDATION", "/opt/ml/input/data/validation")),
    )
    parser.add_argument(
        "--metadata-dir",
        type=Path,
        default=Path(environ.get("SM_CHANNEL_METADATA", "/opt/ml/input/data/metadata")),
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    reason_file = output_dir() / "failure"
    args, ignored = parse_args(argv)
    if ignored:
        print(f"Ignoring arguments this script does not use: {' '.join(ignored)}")
    return run_job(lambda: train(args), what="Training", reason_file=reason_file)


def train(args: argparse.Namespace) -> None:
    metadata = check_metadata(read_json(find_input_file(args.metadata_dir, ".json", "metadata")), PREPROCESSING_FILE)
    for name in ("target", "problem_type"):
        given = decode_value(getattr(args, name))
        if given is not None and given != metadata[name]:
            raise JobInputError(
                f"hyperparameter {name}={given!r} disagrees with the preprocessed data ({metadata[name]!r}); "
                "start a new run so every step uses the same dataset config"
            )
    hyperparameters = resolve_hyperparameters(args, metadata)
    x_train, y_train = load_split(args.train_dir, "train", metadata)
    x_validation, y_validation = load_split(args.validation_dir, "validation", metadata)
    problem_type = metadata["problem_type"]
    if is_classification(problem_type) and len(np.unique(y_train)) < 2:
        raise JobInputError("the training split holds a single class; upload more rows of the other classes")
    print(f"Training on {len(y_train)} rows, validating on {len(y_validation)} rows, {x_train.shape[1]} features")

    native_categorical = [
        name
        for name, categories in (metadata.get("categorical") or {}).items()
        if name in metadata["feature_columns"] and 0 < len(categories) <= MAX_NATIVE_CATEGORIES
    ]
    model = build_model(problem_type, hyperparameters, metadata["feature_columns"], native_categorical)
    model.fit(x_train, y_train)

    predictions = model.predict(x_validation)
    scores = positive_class_scores(model, x_validation) if problem_type == "binary_classification" else None
    validation_metrics = compute_metrics(problem_type, y_validation, predictions, scores)
    for name, value in validation_metrics.items():
        print(f"validation:{name}={value:.6f}")

    write_model(
        args.model_dir,
        model,
        {
            **metadata,
            "estimator": type(model).__name__,
            "hyperparameters": hyperparameters,
            "native_categorical_features": native_categorical,
            "python_version": platform.python_version(),
            "validation_metrics": validation_metrics,
        },
    )


def build_model(
    problem_type: str, hyperparameters: dict[str, Any], features: list[str], native_categorical: list[str]
) -> Any:
    """The estimator; categorical features are flagged by position, which every supported version accepts."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    mask = [name in native_categorical for name in features]
    estimator = HistGradientBoostingClassifier if is_classification(problem_type) else HistGradientBoostingRegressor
    return estimator(categorical_features=mask if any(mask) else None, **hyperparameters)


def positive_class_scores(model: Any, x: np.ndarray) -> np.ndarray:
    """Probability of class code 1, the positive class (zero when the model never saw it)."""
    classes = list(model.classes_)
    if 1 not in classes:
        return np.zeros(len(x))
    return np.asarray(model.predict_proba(x)[:, classes.index(1)])


def resolve_hyperparameters(args: argparse.Namespace, metadata: dict[str, Any]) -> dict[str, Any]:
    """Arguments first, then ``SM_HPS``, then defaults; each checked so a bad value names itself."""
    from_environment = json.loads(os.environ.get("SM_HPS") or "{}")
    from_environment = {key.replace("-", "_"): value for key, value in from_environment.items()}
    resolved: dict[str, Any] = {}
    for name, default in HYPERPARAMETER_DEFAULTS.items():
        raw = decode_value(getattr(args, name))
        if raw is None:
            raw = from_environment.get(name)
        resolved[name] = default if raw is None else convert(name, raw)
    if resolved["random_state"] is None:
        resolved["random_state"] = int(metadata.get("seed", 42))
    return resolved


def decode_value(value: Any) -> Any:
    """Values may arrive JSON-encoded as the SageMaker SDK writes them (``'"auto"'``); unwrap those."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def convert(name: str, raw: Any) -> Any:
    text = str(raw).strip()
    if name == "early_stopping":
        choices = {"auto": "auto", "true": True, "false": False, "1": True, "0": False}
        if text.lower() not in choices:
            raise JobInputError(
                f"hyperparameter early_stopping must be auto, true or false, got {text!r}; {HOW_TO_FIX}"
            )
        return choices[text.lower()]
    if name in ("learning_rate", "l2_regularization"):
        try:
            number = float(text)
        except ValueError:
            number = float("nan")
        minimum_ok = number > 0 if name == "learning_rate" else number >= 0
        if not (np.isfinite(number) and minimum_ok):
            limit = "a number above 0" if name == "learning_rate" else "a number of at least 0"
            raise JobInputError(f"hyperparameter {name} must be {limit}, got {text!r}; {HOW_TO_FIX}")
        return number
    if name in ("max_depth", "max_leaf_nodes") and text.lower() in ("", "none", "null"):
        return None
    minimum = {"max_iter": 1, "max_depth": 1, "max_leaf_nodes": 2, "min_samples_leaf": 1, "random_state": 0}[name]
    maximum = MAX_RANDOM_STATE if name == "random_state" else None
    try:
        number = float(text)
        whole = int(number) if number.is_integer() else None
    except (ValueError, OverflowError):
        whole = None
    if whole is None or whole < minimum or (maximum is not None and whole > maximum):
        limit = f"from {minimum} to {maximum}" if maximum is not None else f"of at least {minimum}"
        raise JobInputError(f"hyperparameter {name} must be a whole number {limit}, got {text!r}; {HOW_TO_FIX}")
    return whole


if __name__ == "__main__":
    sys.exit(main())
