"""The metric catalogue: each problem type's quality metrics, which way is better, and their default thresholds.

``dataset.json`` names a metric from it, the evaluation job writes them, and the quality gate compares them.
"""

from __future__ import annotations

from dataclasses import dataclass

from driftline_core.payloads import ProblemType


@dataclass(frozen=True)
class MetricSpec:
    name: str
    higher_is_better: bool
    default_threshold: float | None
    """None where a sensible bar depends on the target's scale (errors such as rmse): it must be declared."""
    lowest: float | None
    highest: float | None
    """The range a value (and so a threshold) can take; None where unbounded."""


def _score(name: str, default_threshold: float) -> MetricSpec:
    """A metric in [0, 1] where higher is better (auc, accuracy, precision, recall, f1)."""
    return MetricSpec(name, higher_is_better=True, default_threshold=default_threshold, lowest=0.0, highest=1.0)


def _error(name: str) -> MetricSpec:
    """A non-negative error where lower is better; its scale is the target's, so no default threshold."""
    return MetricSpec(name, higher_is_better=False, default_threshold=None, lowest=0.0, highest=None)


def _by_name(*specs: MetricSpec) -> dict[str, MetricSpec]:
    return {spec.name: spec for spec in specs}


METRICS: dict[ProblemType, dict[str, MetricSpec]] = {
    "binary_classification": _by_name(
        _score("auc", 0.7),
        _score("accuracy", 0.7),
        _score("precision", 0.7),
        _score("recall", 0.7),
        _score("f1", 0.7),
    ),
    "multiclass_classification": _by_name(
        _score("accuracy", 0.6),
        _score("weighted_precision", 0.6),
        _score("weighted_recall", 0.6),
        _score("weighted_f1", 0.6),
    ),
    "regression": _by_name(
        MetricSpec("r2", higher_is_better=True, default_threshold=0.5, lowest=None, highest=1.0),
        _error("mse"),
        _error("rmse"),
        _error("mae"),
    ),
}
"""The metrics the evaluation report holds, per problem type."""


DEFAULT_METRICS: dict[ProblemType, str] = {
    "binary_classification": "auc",
    "multiclass_classification": "accuracy",
    "regression": "r2",
}


REPORT_SECTIONS: dict[ProblemType, str] = {
    "binary_classification": "binary_classification_metrics",
    "multiclass_classification": "multiclass_classification_metrics",
    "regression": "regression_metrics",
}
"""The top-level key of Model Monitor's model-quality statistics for each problem type."""


def metric_names(problem_type: ProblemType) -> list[str]:
    return list(METRICS[problem_type])


def find_metric(problem_type: ProblemType, metric: str) -> MetricSpec | None:
    return METRICS[problem_type].get(metric)


def problem_types_with_metric(metric: str) -> list[ProblemType]:
    return [problem_type for problem_type, specs in METRICS.items() if metric in specs]


def is_higher_better(metric: str) -> bool:
    """The direction of a metric, whatever the problem type (a name means the same thing in every section)."""
    for specs in METRICS.values():
        if metric in specs:
            return specs[metric].higher_is_better
    raise KeyError(metric)
