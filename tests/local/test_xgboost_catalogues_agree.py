"""What Validate lets through to SageMaker's XGBoost algorithm, the algorithm takes: the layer's catalogue of XGBoost
hyperparameters held to local mode's emulation of the container's own table, one accepted value at a time; and the
name of the packed model, which ``ml/`` (importing nothing of the layer) and the layer each write down."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from driftline.local.xgboost_algorithm import TrainingFailure, validate_hyperparameters
from driftline_core.ingest.hyperparameters import XGBOOST_EVAL_METRICS, XGBOOST_HYPERPARAMETERS, Hyperparameter
from driftline_core.training.job_requests import PACKED_MODEL_FILE, xgboost_hyperparameters

ML_DIR = Path(__file__).resolve().parents[2] / "ml"


def accepted_values(spec: Hyperparameter) -> list[Any]:
    """Values at the edges of what the layer accepts, and one inside."""
    if spec.kind == "choice":
        return list(spec.choices)
    if spec.minimum is None:
        return [1]
    low = spec.minimum + (1 if spec.minimum_excluded else 0) if spec.kind == "integer" else spec.minimum
    values: list[Any] = [] if spec.minimum_excluded and spec.kind == "number" else [low]
    if spec.maximum is not None:
        high = spec.maximum - (1 if spec.maximum_excluded else 0) if spec.kind == "integer" else spec.maximum
        values += [] if spec.maximum_excluded and spec.kind == "number" else [high]
        values.append(
            (spec.minimum + spec.maximum) / 2 if spec.kind == "number" else int(spec.minimum + spec.maximum) // 2
        )
    else:
        values.append(low + 3)
    return values


CASES = [
    pytest.param(name, value, id=f"{name}={value}")
    for name, spec in XGBOOST_HYPERPARAMETERS.items()
    if name != "eval_metric"
    for value in accepted_values(spec)
]


@pytest.mark.parametrize(("name", "value"), CASES)
def test_every_value_validate_accepts_the_algorithm_accepts(name: str, value: Any) -> None:
    config = {"problem_type": "binary_classification", "hyperparameters": {name: str(value)}}
    hyperparameters = xgboost_hyperparameters(config)

    try:
        validate_hyperparameters(hyperparameters)
    except TrainingFailure as refused:
        pytest.fail(f"Validate accepts {name}={value} but the algorithm refuses it: {refused}")


@pytest.mark.parametrize(
    ("metric", "problem_type"),
    [(metric, problem) for metric, problems in XGBOOST_EVAL_METRICS.items() for problem in problems],
)
def test_every_evaluation_metric_validate_accepts_the_algorithm_accepts_for_its_problem(
    metric: str, problem_type: str
) -> None:
    config = {"problem_type": problem_type, "hyperparameters": {"eval_metric": metric}}

    validate_hyperparameters(xgboost_hyperparameters(config, class_count=3))


def test_the_packed_model_s_name_is_the_one_ml_writes() -> None:
    sys.path.insert(0, str(ML_DIR))
    try:
        from driftline_ml.xgboost_model import PACKED_MODEL_FILE as written
    finally:
        sys.path.remove(str(ML_DIR))

    assert written == PACKED_MODEL_FILE
