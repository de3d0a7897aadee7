"""The A/B trial's statistics on cases checkable by hand or against scipy and scikit-learn, and the decision they
support."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from driftline_ml.metrics import METRIC_NAMES, compute_metrics
from driftline_ml.trial_statistics import (
    CHALLENGER,
    CHALLENGER_BETTER,
    CHAMPION,
    CHAMPION_BETTER,
    MCNEMAR_MID_P,
    NO_SIGNIFICANT_DIFFERENCE,
    NOT_ENOUGH_EVIDENCE,
    PAIRED_PERMUTATION,
    PAIRED_T,
    PERMUTATION,
    TWO_PROPORTION_Z,
    WELCH_T,
    Rows,
    analyse,
    compare,
    mcnemar_exact,
    mcnemar_mid_p,
    metric_value,
    paired_t_test,
    suited_test,
    two_proportion_z_test,
    variant_score,
    welch_t_test,
    wilson_interval,
)


def classifier_rows(truth: list[int], right: list[bool]) -> Rows:
    """Binary rows whose answers are right where ``right`` says."""
    actual = np.array(truth)
    return Rows(actual, np.where(right, actual, 1 - actual))


def simulated(accuracy: float, rows: int, seed: int) -> Rows:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, rows)
    return Rows(truth, np.where(rng.random(rows) < accuracy, truth, 1 - truth))


def regression_rows(error_spread: float, rows: int, seed: int) -> Rows:
    rng = np.random.default_rng(seed)
    truth = rng.normal(50, 10, rows)
    return Rows(truth, truth + rng.normal(0, error_spread, rows))


# -- tests by hand ------------------------------------------------------------------------------------------------


def test_two_proportion_z_test_matches_the_hand_computed_value() -> None:
    # 80 of 100 against 90 of 100: pooled 0.85, standard error sqrt(0.85 * 0.15 * (1/100 + 1/100)) = 0.050498.
    z, p = two_proportion_z_test(80, 100, 90, 100)

    assert z == pytest.approx(0.10 / math.sqrt(0.85 * 0.15 * 0.02), rel=1e-12)
    assert z == pytest.approx(1.9803, abs=1e-4)
    assert p == pytest.approx(0.04767, abs=1e-5)
    assert two_proportion_z_test(90, 100, 80, 100) == pytest.approx((-z, p))


def test_two_proportion_z_test_of_two_perfect_variants_sees_no_difference() -> None:
    assert two_proportion_z_test(50, 50, 120, 120) == (0.0, 1.0)


def test_mcnemar_on_a_small_table() -> None:
    # 1 request only the champion got right, 6 only the challenger: X ~ Binomial(7, 1/2), P(X <= 1) = 8/128.
    assert mcnemar_exact(1, 6) == pytest.approx(16 / 128)
    # mid-p: the exact p-value less P(X = 1) = 7/128.
    assert mcnemar_mid_p(1, 6) == pytest.approx(9 / 128)
    assert mcnemar_mid_p(6, 1) == mcnemar_mid_p(1, 6)
    assert mcnemar_mid_p(0, 0) == 1.0
    assert mcnemar_mid_p(4, 4) == pytest.approx(1.0)


def test_welch_t_test_agrees_with_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(1.0, 1.0, 40), rng.normal(1.6, 2.5, 25)

    t, freedom, p = welch_t_test(a, b)
    expected = stats.ttest_ind(b, a, equal_var=False)

    assert t == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-10)
    share_a, share_b = a.var(ddof=1) / 40, b.var(ddof=1) / 25
    assert freedom == pytest.approx((share_a + share_b) ** 2 / (share_a**2 / 39 + share_b**2 / 24))


def test_paired_t_test_agrees_with_scipy() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(0, 1, 30)
    b = a + rng.normal(0.3, 0.5, 30)

    t, freedom, p = paired_t_test(b - a)
    expected = stats.ttest_rel(b, a)

    assert (t, p) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-10)
    assert freedom == 29


def test_welch_t_test_of_constant_samples() -> None:
    assert welch_t_test(np.ones(5), np.ones(7)) == (0.0, 10.0, 1.0)
    assert welch_t_test(np.ones(5), np.full(7, 2.0))[::2] == (math.inf, 0.0)


def test_wilson_interval_matches_the_hand_computed_value() -> None:
    interval = wilson_interval(8, 10, 0.95)

    assert (interval.low, interval.high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    # All right: the interval is [n / (n + z^2), 1].
    z = stats.norm.ppf(0.975)
    perfect = wilson_interval(10, 10, 0.95)
    assert (perfect.low, perfect.high) == pytest.approx((10 / (10 + z * z), 1.0))


# -- metrics as scikit-learn computes them ------------------------------------------------------------------------


@pytest.mark.parametrize("problem_type", sorted(METRIC_NAMES))
def test_every_metric_agrees_with_the_evaluation_jobs(problem_type: str) -> None:
    rng = np.random.default_rng(5)
    rows = 300
    truth: np.ndarray
    if problem_type == "regression":
        truth = rng.normal(10, 3, rows)
        predicted, scores = truth + rng.normal(0, 1.5, rows), None
    else:
        classes = 2 if problem_type == "binary_classification" else 4
        truth = rng.integers(0, classes, rows)
        predicted = np.where(rng.random(rows) < 0.7, truth, rng.integers(0, classes, rows))
        scores = np.clip(0.5 * (predicted == 1) + rng.random(rows) * 0.6, 0, 1) if classes == 2 else None

    expected = compute_metrics(problem_type, truth, predicted, scores)

    for metric in METRIC_NAMES[problem_type]:
        assert metric_value(metric, Rows(truth, predicted, scores)) == pytest.approx(expected[metric], rel=1e-12)


def test_undefined_metrics_are_nan() -> None:
    one_class = Rows(np.zeros(10, dtype=int), np.zeros(10, dtype=int), np.linspace(0, 1, 10))
    constant = Rows(np.full(10, 3.0), np.arange(10.0))

    assert math.isnan(metric_value("auc", one_class))
    assert math.isnan(metric_value("r2", constant))
    assert math.isnan(metric_value("accuracy", Rows(np.array([]), np.array([]))))


# -- the test for each metric and mode ----------------------------------------------------------------------------


def test_each_metric_gets_the_test_that_suits_it() -> None:
    assert suited_test("accuracy", "split") == TWO_PROPORTION_Z
    assert suited_test("accuracy", "shadow") == MCNEMAR_MID_P
    for metric in ("mse", "rmse", "mae"):
        assert suited_test(metric, "split") == WELCH_T
        assert suited_test(metric, "shadow") == PAIRED_T
    for metric in ("auc", "f1", "precision", "recall", "r2", "weighted_f1"):
        assert suited_test(metric, "split") == PERMUTATION
        assert suited_test(metric, "shadow") == PAIRED_PERMUTATION


def test_accuracy_in_a_shadow_trial_counts_the_requests_only_one_variant_got_right() -> None:
    truth = [0, 1] * 10
    champion = classifier_rows(truth, [True] * 13 + [False] * 7)
    # Same requests: the challenger fixes 6 of the champion's 7 errors and breaks 1 of its right answers.
    challenger = classifier_rows(truth, [True] * 12 + [False] + [True] * 6 + [False])

    result = compare("accuracy", "shadow", champion, challenger)

    assert result.name == MCNEMAR_MID_P
    assert result.details["champion_only_right"] == 1
    assert result.details["challenger_only_right"] == 6
    assert result.p_value == pytest.approx(9 / 128)
    assert result.difference == pytest.approx(0.25)
    assert result.challenger_better


def test_split_accuracy_is_the_z_test_on_the_rows_each_got_right() -> None:
    champion = classifier_rows([1] * 100, [True] * 80 + [False] * 20)
    challenger = classifier_rows([1] * 100, [True] * 90 + [False] * 10)

    result = compare("accuracy", "split", champion, challenger)

    assert (result.statistic, result.p_value) == pytest.approx(two_proportion_z_test(80, 100, 90, 100))
    assert result.difference == pytest.approx(0.10)
    assert result.difference_interval is not None
    assert result.difference_interval.low < 0.10 < result.difference_interval.high


@pytest.mark.parametrize("metric", ["rmse", "mse", "mae"])
def test_a_lower_error_is_the_challenger_being_better(metric: str) -> None:
    champion, challenger = regression_rows(2.0, 300, seed=6), regression_rows(1.5, 300, seed=7)

    result = compare(metric, "split", champion, challenger, resamples=200)

    assert result.difference < 0
    assert result.challenger_better
    assert result.p_value < 0.05
    worse = compare(metric, "split", challenger, champion, resamples=200)
    assert worse.difference > 0 and not worse.challenger_better


def test_welch_on_squared_errors_is_scipys_welch_test() -> None:
    champion, challenger = regression_rows(2.0, 80, seed=8), regression_rows(1.7, 60, seed=9)

    result = compare("rmse", "split", champion, challenger, resamples=200)

    squared = [(rows.predicted - rows.truth) ** 2 for rows in (champion, challenger)]
    expected = stats.ttest_ind(squared[1], squared[0], equal_var=False)
    assert (result.statistic, result.p_value) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-10)
    assert result.difference == pytest.approx(math.sqrt(squared[1].mean()) - math.sqrt(squared[0].mean()), rel=1e-12)


def test_paired_errors_in_a_shadow_trial_are_scipys_paired_test() -> None:
    rng = np.random.default_rng(10)
    truth = rng.normal(0, 5, 120)
    champion = Rows(truth, truth + rng.normal(0, 1.0, 120))
    challenger = Rows(truth, truth + rng.normal(0, 0.9, 120))

    result = compare("mae", "shadow", champion, challenger)

    absolute = [np.abs(rows.predicted - truth) for rows in (champion, challenger)]
    expected = stats.ttest_rel(absolute[1], absolute[0])
    assert result.name == PAIRED_T
    assert (result.statistic, result.p_value) == pytest.approx((expected.statistic, expected.pvalue), rel=1e-10)


def test_the_permutation_test_is_reproducible_and_sees_a_clear_difference_only() -> None:
    champion, better = simulated(0.70, 400, seed=11), simulated(0.88, 400, seed=12)
    same = simulated(0.70, 400, seed=13)

    first = compare("f1", "split", champion, better, resamples=300, seed=1)
    again = compare("f1", "split", champion, better, resamples=300, seed=1)
    null = compare("f1", "split", champion, same, resamples=300, seed=1)

    assert first == again
    assert first.name == PERMUTATION
    assert first.p_value == pytest.approx(1 / 301)  # no relabelling is as extreme: the smallest p it can give
    assert null.p_value > 0.05
    assert first.difference_interval is not None and first.difference_interval.low > 0


def test_the_paired_permutation_test_swaps_answers_of_the_same_requests() -> None:
    rng = np.random.default_rng(14)
    truth = rng.integers(0, 2, 300)
    scores_a = np.clip(truth * 0.3 + rng.random(300) * 0.7, 0, 1)
    scores_b = np.clip(truth * 0.6 + rng.random(300) * 0.4, 0, 1)
    champion = Rows(truth, (scores_a > 0.5).astype(int), scores_a)
    challenger = Rows(truth, (scores_b > 0.5).astype(int), scores_b)

    result = compare("auc", "shadow", champion, challenger, resamples=300)

    assert result.name == PAIRED_PERMUTATION
    assert result.challenger_better and result.p_value < 0.01
    with pytest.raises(ValueError, match="same requests"):
        compare("auc", "shadow", champion, challenger.take(np.arange(299)), resamples=300)


# -- intervals --------------------------------------------------------------------------------------------------


def test_variant_intervals_hold_the_value() -> None:
    rows = simulated(0.8, 500, seed=15)
    for metric in ("accuracy", "f1", "auc", "precision"):
        scored = Rows(rows.truth, rows.predicted, np.where(rows.predicted == 1, 0.8, 0.3))
        score = variant_score(metric, scored, 0.95, 300, seed=0)
        assert score.value is not None and score.interval is not None
        assert score.interval.low <= score.value <= score.interval.high, metric
    errors = regression_rows(2.0, 200, seed=16)
    rmse = variant_score("rmse", errors, 0.95, 300, seed=0)
    mse = variant_score("mse", errors, 0.95, 300, seed=0)
    assert rmse.interval is not None and mse.interval is not None
    assert rmse.interval.low == pytest.approx(math.sqrt(mse.interval.low))
    assert rmse.interval.low < rmse.value < rmse.interval.high  # type: ignore[operator]


# -- the decision -----------------------------------------------------------------------------------------------


def test_a_significantly_better_challenger_is_promoted() -> None:
    outcome = analyse("accuracy", "split", simulated(0.80, 1500, 20), simulated(0.88, 1500, 21))

    assert outcome.decision.decision == CHALLENGER
    assert outcome.decision.finding == CHALLENGER_BETTER
    assert "Promote the challenger" in outcome.decision.reason


def test_a_significantly_worse_challenger_leaves_the_champion_serving() -> None:
    outcome = analyse(
        "accuracy", "split", simulated(0.85, 1500, 22), simulated(0.78, 1500, 23), names=("AllTraffic", "v2")
    )

    assert outcome.decision.decision == CHAMPION
    assert outcome.decision.finding == CHAMPION_BETTER
    assert "the champion (AllTraffic)" in outcome.decision.reason


def test_no_significant_difference_leaves_the_champion_serving_and_says_so() -> None:
    outcome = analyse("accuracy", "split", simulated(0.80, 300, 24), simulated(0.80, 300, 25))

    assert outcome.decision.decision == CHAMPION
    assert outcome.decision.finding == NO_SIGNIFICANT_DIFFERENCE
    assert outcome.test is not None and outcome.test.p_value >= 0.05
    assert "No significant difference" in outcome.decision.reason


def test_too_few_labelled_rows_decide_nothing_and_name_the_numbers() -> None:
    outcome = analyse(
        "accuracy",
        "split",
        simulated(0.8, 150, 26),
        simulated(0.95, 37, 27),
        min_labelled_rows=100,
        names=("AllTraffic", "v2"),
    )

    assert outcome.decision.decision == NOT_ENOUGH_EVIDENCE
    assert outcome.test is None
    assert "the challenger (v2) has 37 labelled rows, 100 needed" in outcome.decision.reason
    both = analyse("accuracy", "split", simulated(0.8, 50, 28), simulated(0.8, 37, 29), min_labelled_rows=100)
    assert "the champion has 50 labelled rows and the challenger 37, 100 needed each" in both.decision.reason
    paired = analyse("accuracy", "shadow", simulated(0.8, 60, 30), simulated(0.8, 60, 30), min_labelled_rows=100)
    assert "60 labelled requests were answered by both variants, 100 needed" in paired.decision.reason


def test_an_undefined_metric_decides_nothing() -> None:
    one_class = Rows(np.zeros(300, dtype=int), np.zeros(300, dtype=int), np.linspace(0, 1, 300))

    both_classes = Rows(np.arange(300) % 2, np.arange(300) % 2, np.linspace(0, 1, 300))

    outcome = analyse("auc", "split", one_class, both_classes, resamples=200)

    assert outcome.decision.decision == NOT_ENOUGH_EVIDENCE
    assert "the champion's auc is undefined on its 300 labelled rows" in outcome.decision.reason


def test_the_outcome_is_json_even_with_an_infinite_statistic() -> None:
    truth = np.arange(300, dtype=np.float64)
    champion, challenger = Rows(truth, truth + 1.0), Rows(truth, truth + 2.0)

    outcome = analyse("mae", "split", champion, challenger)

    assert outcome.test is not None
    document = json.loads(json.dumps(outcome.test.as_dict(0.05), allow_nan=False))
    assert document["statistic"] == "Infinity"
    assert outcome.decision.decision == CHAMPION and outcome.decision.finding == CHAMPION_BETTER
