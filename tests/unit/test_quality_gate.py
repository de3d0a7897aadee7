"""The quality gate's metric catalogue, report reading and decision (pure, no AWS)."""

from __future__ import annotations

from typing import Any

import pytest

from driftline_core.errors import EvaluationReportInvalid
from driftline_core.metrics import DEFAULT_METRICS, METRICS, is_higher_better
from driftline_core.payloads import JobResult
from driftline_core.training.quality_gate import (
    Incumbent,
    decide,
    evaluation_report_uri,
    incumbent_from_report,
    read_metric,
)
from driftline_core.training.registry import ApprovedModel, ModelToBeat

EVALUATION_URI = "s3://artifacts/runs/credit-1/evaluate/evaluation/evaluation.json"
APPROVED_ARN = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"


def metric(value: Any) -> dict[str, Any]:
    return {"value": value, "standard_deviation": "NaN"}


BINARY_REPORT = {
    "binary_classification_metrics": {
        "auc": metric(0.91),
        "accuracy": metric(0.85),
        "precision": metric(0.8),
        "recall": metric(0.7),
        "f1": metric(0.75),
    },
    "driftline": {"problem_type": "binary_classification", "metric": "auc", "test_rows": 150, "target": "y"},
}
REGRESSION_REPORT = {
    "regression_metrics": {"mse": metric(9.0), "rmse": metric(3), "mae": metric(2.1), "r2": metric(0.64)}
}


def gate(value: float, **options: Any):
    arguments: dict[str, Any] = {
        "metric": "auc",
        "threshold": 0.7,
        "higher_is_better": True,
        "evaluation_uri": EVALUATION_URI,
    }
    arguments.update(options)
    return decide(value=value, **arguments)


# --- catalogue -----------------------------------------------------------------------------------------


def test_only_error_metrics_are_lower_is_better() -> None:
    lower = {name for specs in METRICS.values() for name, spec in specs.items() if not spec.higher_is_better}
    assert lower == {"mse", "rmse", "mae"}
    assert is_higher_better("auc") and is_higher_better("r2") and not is_higher_better("rmse")


def test_each_problem_type_has_its_model_monitor_metrics() -> None:
    assert set(METRICS["binary_classification"]) == {"auc", "accuracy", "precision", "recall", "f1"}
    assert set(METRICS["multiclass_classification"]) == {
        "accuracy",
        "weighted_precision",
        "weighted_recall",
        "weighted_f1",
    }
    assert set(METRICS["regression"]) == {"mse", "rmse", "mae", "r2"}
    assert DEFAULT_METRICS == {
        "binary_classification": "auc",
        "multiclass_classification": "accuracy",
        "regression": "r2",
    }


def test_the_report_is_evaluation_json_under_the_evaluation_output() -> None:
    job = JobResult(
        job_name="credit-1-evaluate",
        job_type="processing",
        status="Completed",
        outputs={"evaluation": "s3://artifacts/runs/credit-1/evaluate/evaluation/"},
    )
    assert evaluation_report_uri(job) == EVALUATION_URI
    job.outputs["evaluation"] = "s3://artifacts/runs/credit-1/evaluate/evaluation"
    assert evaluation_report_uri(job) == EVALUATION_URI


def test_an_evaluation_without_its_output_is_reported() -> None:
    job = JobResult(job_name="credit-1-evaluate", job_type="processing", status="Completed", outputs={})
    with pytest.raises(EvaluationReportInvalid, match="credit-1-evaluate reported no 'evaluation' output"):
        evaluation_report_uri(job)


# --- reading the report --------------------------------------------------------------------------------


def test_metrics_are_read_from_the_problem_types_section() -> None:
    assert read_metric(BINARY_REPORT, "binary_classification", "auc") == 0.91
    assert read_metric(REGRESSION_REPORT, "regression", "rmse") == 3.0
    multiclass = {"multiclass_classification_metrics": {"weighted_f1": metric(0.66)}}
    assert read_metric(multiclass, "multiclass_classification", "weighted_f1") == 0.66


def test_a_report_for_another_problem_type_is_reported() -> None:
    with pytest.raises(EvaluationReportInvalid) as caught:
        read_metric(REGRESSION_REPORT, "binary_classification", "auc")
    message = str(caught.value)
    assert "no 'binary_classification_metrics'" in message
    assert "it has regression_metrics" in message


def test_a_missing_metric_lists_the_ones_there_are() -> None:
    report = {"binary_classification_metrics": {"accuracy": metric(0.8), "f1": metric(0.7)}}
    with pytest.raises(EvaluationReportInvalid, match=r"has no 'auc' \(it has: accuracy, f1\)"):
        read_metric(report, "binary_classification", "auc")


@pytest.mark.parametrize("value", ["0.9", None, True, float("nan"), float("inf")])
def test_a_value_that_is_not_a_finite_number_is_reported(value: Any) -> None:
    report = {"binary_classification_metrics": {"auc": metric(value)}}
    with pytest.raises(EvaluationReportInvalid, match=r"auc\.value is .*not a finite number"):
        read_metric(report, "binary_classification", "auc")


def test_a_report_that_is_not_an_object_is_reported() -> None:
    with pytest.raises(EvaluationReportInvalid, match="JSON list"):
        read_metric([1, 2], "binary_classification", "auc")


# --- deciding ------------------------------------------------------------------------------------------


def test_a_candidate_above_the_threshold_passes_when_nothing_is_approved() -> None:
    result = gate(0.82)
    assert result.passed
    assert (result.metric, result.value, result.threshold, result.higher_is_better) == (
        "auc",
        0.82,
        0.7,
        True,
    )
    assert result.incumbent_model_package_arn is None and result.incumbent_value is None
    assert result.evaluation_uri == EVALUATION_URI
    assert result.reasons == [
        "auc 0.82 meets the threshold 0.7 (higher is better).",
        "No model of this dataset is approved yet, so the threshold alone decides.",
    ]


def test_a_candidate_exactly_at_the_threshold_passes() -> None:
    assert gate(0.7).passed


def test_a_candidate_below_the_threshold_fails() -> None:
    result = gate(0.65)
    assert not result.passed
    assert result.reasons[0] == (
        "auc 0.65 is below the threshold 0.7 (higher is better); the candidate is not good enough to register."
    )


def test_a_candidate_worse_than_the_approved_model_fails() -> None:
    result = gate(0.82, incumbent=Incumbent(APPROVED_ARN, 0.88))
    assert not result.passed
    assert result.incumbent_model_package_arn == APPROVED_ARN
    assert result.incumbent_value == 0.88
    assert result.reasons[1] == (
        f"auc 0.82 is no better than the approved model {APPROVED_ARN} (0.88 on the same test split): "
        "the candidate must be strictly better."
    )


def test_a_candidate_better_than_the_approved_model_passes() -> None:
    result = gate(0.9, incumbent=Incumbent(APPROVED_ARN, 0.85))
    assert result.passed
    assert result.reasons[1] == (
        f"auc 0.9 beats the approved model {APPROVED_ARN} (0.85 on the same test split) by 0.05, strictly better."
    )


def test_a_candidate_equal_to_the_approved_model_fails() -> None:
    assert not gate(0.85, incumbent=Incumbent(APPROVED_ARN, 0.85)).passed


def test_the_required_improvement_must_be_exceeded() -> None:
    small = gate(0.87, incumbent=Incumbent(APPROVED_ARN, 0.85), min_improvement=0.05)
    assert not small.passed
    assert "does not improve enough on the approved model" in small.reasons[1]
    assert "more than the required 0.05" in small.reasons[1]
    assert gate(0.95, incumbent=Incumbent(APPROVED_ARN, 0.85), min_improvement=0.05).passed


def test_a_candidate_below_the_threshold_fails_even_when_it_beats_the_approved_model() -> None:
    result = gate(0.6, incumbent=Incumbent(APPROVED_ARN, 0.5))
    assert not result.passed
    assert "below the threshold" in result.reasons[0]
    assert "beats the approved model" in result.reasons[1]


def test_an_approved_model_without_the_metric_leaves_the_threshold_to_decide() -> None:
    result = gate(0.75, incumbent=Incumbent(APPROVED_ARN, None))
    assert result.passed
    assert result.incumbent_model_package_arn == APPROVED_ARN
    assert result.incumbent_value is None
    assert "has no auc on this run's test split" in result.reasons[1]


def test_lower_is_better_metrics_pass_at_or_below_the_threshold() -> None:
    options = {"metric": "rmse", "threshold": 4.0, "higher_is_better": False}
    assert gate(3.2, **options).passed
    assert gate(4.0, **options).passed
    above = gate(4.5, **options)
    assert not above.passed
    assert above.reasons[0].startswith("rmse 4.5 is above the threshold 4 (lower is better)")


def test_lower_is_better_metrics_must_be_lower_than_the_approved_model() -> None:
    options = {"metric": "rmse", "threshold": 4.0, "higher_is_better": False}
    assert gate(3.0, incumbent=Incumbent(APPROVED_ARN, 3.5), **options).passed
    worse = gate(3.2, incumbent=Incumbent(APPROVED_ARN, 3.0), **options)
    assert not worse.passed
    assert "rmse 3.2 is no better than the approved model" in worse.reasons[1]


def test_an_approved_model_that_could_not_be_scored_is_named_and_the_threshold_decides() -> None:
    unscored = Incumbent(APPROVED_ARN, None, unreadable="its model artifact no longer exists.")
    passing = gate(0.75, incumbent=unscored)
    failing = gate(0.65, incumbent=unscored)
    assert passing.passed
    assert not failing.passed
    assert passing.incumbent_model_package_arn == APPROVED_ARN
    assert passing.reasons[1] == (
        f"The approved model {APPROVED_ARN} was not compared: its model artifact no longer exists. "
        "The threshold alone decides."
    )


# --- the approved model as the evaluation job scored it -------------------------------------------------

APPROVED = ApprovedModel(
    model_package_arn=APPROVED_ARN,
    evaluation_uri="s3://artifacts/runs/credit-0/evaluate/evaluation/evaluation.json",
    model_data_url="s3://artifacts/runs/credit-0/train/credit-0-train/output/model.tar.gz",
)
APPROVED_WITHOUT_ENDPOINT = ModelToBeat(APPROVED, serving_on=None)


def with_incumbent(section: dict[str, Any]) -> dict[str, Any]:
    return {**BINARY_REPORT, "incumbent": section}


def test_the_approved_models_value_is_its_score_on_the_candidates_test_split() -> None:
    report = with_incumbent(
        {
            "model_package_arn": APPROVED_ARN,
            "scored": True,
            "binary_classification_metrics": {"auc": metric(0.93), "accuracy": metric(0.8)},
            "test_rows": 150,
        }
    )
    assert incumbent_from_report(APPROVED_WITHOUT_ENDPOINT, report, "binary_classification", "auc") == Incumbent(
        APPROVED_ARN, 0.93
    )
    # The candidate's 0.91 on the same rows loses to the approved model's 0.93.
    result = gate(
        0.91, incumbent=incumbent_from_report(APPROVED_WITHOUT_ENDPOINT, report, "binary_classification", "auc")
    )
    assert not result.passed
    assert result.incumbent_value == 0.93


def test_an_approved_model_the_job_could_not_score_gives_the_jobs_reason() -> None:
    report = with_incumbent(
        {
            "model_package_arn": APPROVED_ARN,
            "scored": False,
            "reason": "it takes feature column(s) 'region' that this run's data does not have",
        }
    )
    incumbent = incumbent_from_report(APPROVED_WITHOUT_ENDPOINT, report, "binary_classification", "auc")
    assert incumbent == Incumbent(
        APPROVED_ARN,
        None,
        unreadable="the evaluation job could not score it on this run's test split: it takes feature column(s) "
        "'region' that this run's data does not have.",
    )


@pytest.mark.parametrize(
    "report",
    [BINARY_REPORT, with_incumbent({"model_package_arn": APPROVED_ARN.replace("/3", "/2"), "scored": True})],
    ids=["no incumbent section", "another approved model"],
)
def test_a_model_approved_after_the_evaluation_started_is_not_compared(report: dict[str, Any]) -> None:
    incumbent = incumbent_from_report(APPROVED_WITHOUT_ENDPOINT, report, "binary_classification", "auc")
    assert incumbent is not None and incumbent.value is None
    assert incumbent.unreadable == (
        "it was approved after this run's evaluation job started, so it was not scored on this run's test split."
    )


def test_without_an_approved_model_there_is_nothing_to_compare() -> None:
    assert incumbent_from_report(ModelToBeat(None, None), BINARY_REPORT, "binary_classification", "auc") is None


# --- the model the endpoint serves ------------------------------------------------------------------------

NEWER_ARN = APPROVED_ARN.replace("/3", "/4")
SERVING = ModelToBeat(
    APPROVED,
    serving_on="driftline-credit",
    approved_not_serving=ApprovedModel(model_package_arn=NEWER_ARN, evaluation_uri=None),
)
SCORED = with_incumbent(
    {"model_package_arn": APPROVED_ARN, "scored": True, "binary_classification_metrics": {"auc": metric(0.93)}}
)


def test_the_serving_model_is_named_by_its_endpoint_and_version_and_a_newer_approved_one_is_said_not_to_serve() -> None:
    result = gate(0.91, incumbent=incumbent_from_report(SERVING, SCORED, "binary_classification", "auc"))
    assert not result.passed
    assert result.incumbent_model_package_arn == APPROVED_ARN
    assert result.reasons[1:] == [
        "auc 0.91 is no better than the model serving on driftline-credit (version 3, 0.93 on the same test split): "
        "the candidate must be strictly better.",
        "Version 4 is Approved but does not serve on driftline-credit (its deployment did not complete, or has not "
        "finished yet), so it is not the model compared with.",
    ]


def test_a_candidate_beating_the_serving_model_passes_and_no_note_when_the_newest_approved_serves() -> None:
    serving = ModelToBeat(APPROVED, serving_on="driftline-credit")
    result = gate(0.95, incumbent=incumbent_from_report(serving, SCORED, "binary_classification", "auc"))
    assert result.passed
    assert result.reasons[1:] == [
        "auc 0.95 beats the model serving on driftline-credit (version 3, 0.93 on the same test split) by 0.02, "
        "strictly better."
    ]


def test_a_model_that_began_serving_after_the_evaluation_started_is_not_compared() -> None:
    incumbent = incumbent_from_report(SERVING, BINARY_REPORT, "binary_classification", "auc")
    result = gate(0.75, incumbent=incumbent)
    assert result.passed
    assert result.reasons[1] == (
        "The model serving on driftline-credit (version 3) was not compared: it began serving after this run's "
        "evaluation job started, so it was not scored on this run's test split. The threshold alone decides."
    )


def test_an_endpoint_whose_model_cannot_be_read_is_said_so_and_the_threshold_decides() -> None:
    unreadable = ModelToBeat(
        None,
        serving_on="driftline-credit",
        unreadable="its model driftline-credit-v3 no longer exists, so which model package it serves is unknown.",
    )
    incumbent = incumbent_from_report(unreadable, BINARY_REPORT, "binary_classification", "auc")
    result = gate(0.75, incumbent=incumbent)
    assert result.passed
    assert result.incumbent_model_package_arn is None
    assert result.reasons[1] == (
        "What driftline-credit serves cannot be read, so no model was compared: its model driftline-credit-v3 no "
        "longer exists, so which model package it serves is unknown. The threshold alone decides."
    )
