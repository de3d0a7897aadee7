"""The statistics of an A/B trial: each variant's metric with its interval, the significance test that suits the
metric and the trial's mode, and the decision it supports.

The champion is the model the endpoint serves; the challenger is tried beside it. In a ``split`` trial each variant
answers its own share of requests, so the two samples are independent; in a ``shadow`` trial the challenger
answers copies of the champion's requests, so the rows come in pairs (one request, two answers, one label) and
the tests are paired, which needs far fewer rows to see the same difference.

Tests, all two-sided, for the difference challenger minus champion:

- accuracy: the two-proportion z-test with the pooled standard error (split); McNemar's exact test with the
  mid-p correction on the requests only one variant got right (shadow), which keeps close to the nominal level
  where the plain exact test is conservative (Fagerland, Lydersen and Laake 2013);
- mse, rmse and mae: Welch's t-test on the rows' squared errors (mse, rmse: a difference in rmse is one in mse)
  or absolute errors (mae) (split); the paired t-test on their differences (shadow);
- any other metric (auc, precision, recall, f1, the weighted ones, r2), which is not a mean over rows: a
  permutation test with a fixed seed, shuffling which variant each row belongs to (split) or swapping the two
  answers of each request (shadow); its p-value is (1 + permutations at least as extreme) / (1 + permutations).

Intervals are at the level ``1 - alpha``: Wilson's for accuracy, Student's t for a mean error (rmse as the square
root of the mse interval), the bootstrap percentile interval for the others; the difference's interval is Wald's
(accuracy), Welch's or the paired t (mean errors) or a bootstrap (the others, rmse included).

Classification rows hold class codes (for binary problems code 1 is the positive class, as in ``metrics.py``);
regression rows hold numbers. numpy and scipy only, in versions the SageMaker scikit-learn 1.2-1 container has
(numpy 1.24, scipy 1.8, Python 3.9); the metrics are computed here with numpy, as scikit-learn computes them
(``metrics.compute_metrics``; a test holds them to it), because a permutation test recomputes them thousands
of times.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from driftline_ml.metrics import METRIC_NAMES, higher_is_better

SPLIT = "split"
SHADOW = "shadow"
MODES = (SPLIT, SHADOW)
CHAMPION = "champion"
CHALLENGER = "challenger"
NOT_ENOUGH_EVIDENCE = "not_enough_evidence"
DECISIONS = (CHALLENGER, CHAMPION, NOT_ENOUGH_EVIDENCE)
CHALLENGER_BETTER = "challenger_better"
CHAMPION_BETTER = "champion_better"
NO_SIGNIFICANT_DIFFERENCE = "no_significant_difference"
FINDINGS = (CHALLENGER_BETTER, CHAMPION_BETTER, NO_SIGNIFICANT_DIFFERENCE, NOT_ENOUGH_EVIDENCE)

DEFAULT_ALPHA = 0.05
DEFAULT_MIN_LABELLED_ROWS = 200
"""The stack's default for ``ab_test.min_labelled_rows`` (ABTestMinLabelledRows)."""
DEFAULT_RESAMPLES = 2000
"""Permutations of a permutation test and resamples of a bootstrap interval: a p-value's resolution is 1/2001."""
DEFAULT_SEED = 0

TWO_PROPORTION_Z = "two_proportion_z_test"
MCNEMAR_MID_P = "mcnemar_mid_p_test"
WELCH_T = "welch_t_test"
PAIRED_T = "paired_t_test"
PERMUTATION = "permutation_test"
PAIRED_PERMUTATION = "paired_permutation_test"
TEST_DESCRIPTIONS = {
    TWO_PROPORTION_Z: "two-proportion z-test (pooled standard error) on the rows each variant got right",
    MCNEMAR_MID_P: "McNemar's exact test, mid-p, on the requests only one of the variants got right",
    WELCH_T: "Welch's t-test on the rows' {errors}",
    PAIRED_T: "paired t-test on the differences between the two variants' {errors} for the same requests",
    PERMUTATION: "permutation test: {resamples:,} random reassignments of the rows between the variants",
    PAIRED_PERMUTATION: "paired permutation test: {resamples:,} random swaps of the two answers to each request",
}

TEST_LABELS = {
    TWO_PROPORTION_Z: "two-proportion z-test",
    MCNEMAR_MID_P: "McNemar mid-p test",
    WELCH_T: "Welch's t-test",
    PAIRED_T: "paired t-test",
    PERMUTATION: "permutation test",
    PAIRED_PERMUTATION: "paired permutation test",
}
"""Each test's short name, as sentences and the report quote it."""

MEAN_ERRORS = {"mse": "squared errors", "rmse": "squared errors", "mae": "absolute errors"}
"""Metrics that are a mean (or its square root) over rows, and what each row contributes."""


@dataclass(frozen=True)
class Rows:
    """One variant's labelled rows: the true values, its answers and, for binary classifiers, its score for the
    positive class (None when it gave none). In a shadow trial both variants' rows are in the same request order."""

    truth: np.ndarray
    predicted: np.ndarray
    scores: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.truth)

    def take(self, index: np.ndarray) -> Rows:
        return Rows(self.truth[index], self.predicted[index], None if self.scores is None else self.scores[index])


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float
    method: str

    def as_dict(self) -> dict[str, Any]:
        return {"low": _finite(self.low), "high": _finite(self.high), "level": self.level, "method": self.method}


@dataclass(frozen=True)
class Score:
    """A variant's metric on the rows compared, with its interval (None where the rows cannot give one)."""

    rows: int
    value: float | None
    interval: Interval | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "interval": None if self.interval is None else self.interval.as_dict(),
        }


@dataclass(frozen=True)
class SignificanceTest:
    """A two-sided test of the difference challenger minus champion."""

    name: str
    description: str
    statistic: float
    statistic_name: str
    p_value: float
    difference: float
    """The challenger's metric minus the champion's, in the metric's units."""
    challenger_better: bool
    """Whether the difference points the challenger's way (up for accuracy, down for an error)."""
    difference_interval: Interval | None
    details: dict[str, Any] = field(default_factory=dict)

    def significant(self, alpha: float) -> bool:
        return self.p_value < alpha

    def as_dict(self, alpha: float) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "statistic": _finite(self.statistic),
            "statistic_name": self.statistic_name,
            "p_value": _finite(self.p_value),
            "significant": self.significant(alpha),
            "difference": self.difference,
            "challenger_better": self.challenger_better,
            "difference_interval": None if self.difference_interval is None else self.difference_interval.as_dict(),
            "details": self.details,
        }


@dataclass(frozen=True)
class Decision:
    decision: str
    """``challenger`` (promote it), ``champion`` (it keeps serving) or ``not_enough_evidence`` (decides nothing)."""
    finding: str
    """Why: ``challenger_better``, ``champion_better``, ``no_significant_difference`` or ``not_enough_evidence``."""
    reason: str


@dataclass(frozen=True)
class TrialOutcome:
    metric: str
    mode: str
    alpha: float
    min_labelled_rows: int
    champion: Score
    challenger: Score
    test: SignificanceTest | None
    """None when the trial lacks the rows to test (the decision says why)."""
    decision: Decision


# -- metrics --------------------------------------------------------------------------------------------------


def metric_value(metric: str, rows: Rows) -> float:
    """The metric on the rows, as ``metrics.compute_metrics`` computes it; NaN where it is undefined (no rows; auc
    without both classes or without scores; r2 on a constant target)."""
    truth, predicted = rows.truth, rows.predicted
    if not len(truth):
        return math.nan
    if metric == "accuracy":
        return float(np.mean(truth == predicted))
    if metric in ("precision", "recall", "f1"):
        actual, said = truth == 1, predicted == 1
        true_positive = int(np.count_nonzero(actual & said))
        false_positive = int(np.count_nonzero(said)) - true_positive
        false_negative = int(np.count_nonzero(actual)) - true_positive
        if metric == "precision":
            return _ratio(true_positive, true_positive + false_positive)
        if metric == "recall":
            return _ratio(true_positive, true_positive + false_negative)
        return _ratio(2 * true_positive, 2 * true_positive + false_positive + false_negative)
    if metric == "auc":
        return _auc(truth == 1, rows.scores)
    if metric.startswith("weighted_"):
        return _weighted(metric, truth, predicted)
    errors = np.asarray(predicted, dtype=np.float64) - np.asarray(truth, dtype=np.float64)
    if metric == "mse":
        return float(np.mean(errors**2))
    if metric == "rmse":
        return math.sqrt(float(np.mean(errors**2)))
    if metric == "mae":
        return float(np.mean(np.abs(errors)))
    if metric == "r2":
        spread = float(np.sum((truth - np.mean(truth)) ** 2))
        return 1.0 - float(np.sum(errors**2)) / spread if len(truth) >= 2 and spread > 0 else math.nan
    raise ValueError(f"unknown metric {metric!r}")


def _ratio(numerator: int, denominator: int) -> float:
    """scikit-learn's ``zero_division=0``: a ratio with nothing to count is 0."""
    return numerator / denominator if denominator else 0.0


def _auc(positive: np.ndarray, scores: np.ndarray | None) -> float:
    """The area under the ROC curve as the Mann-Whitney statistic (ties count a half, as in roc_auc_score)."""
    positives = int(np.count_nonzero(positive))
    negatives = len(positive) - positives
    if scores is None or not positives or not negatives or np.isnan(scores).any():
        return math.nan
    ranks = stats.rankdata(scores)
    return float((ranks[positive].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _weighted(metric: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    """Per-class precision, recall or f1 over the classes either side names, weighted by each class's true rows."""
    classes = np.unique(np.concatenate([truth, predicted]))
    k = len(classes)
    confusion = np.bincount(
        np.searchsorted(classes, truth) * k + np.searchsorted(classes, predicted), minlength=k * k
    ).reshape(k, k)
    hits = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1).astype(np.float64)
    said = confusion.sum(axis=0).astype(np.float64)
    if metric == "weighted_precision":
        per_class = np.divide(hits, said, out=np.zeros(k), where=said > 0)
    elif metric == "weighted_recall":
        per_class = np.divide(hits, support, out=np.zeros(k), where=support > 0)
    elif metric == "weighted_f1":
        per_class = np.divide(2 * hits, support + said, out=np.zeros(k), where=support + said > 0)
    else:
        raise ValueError(f"unknown metric {metric!r}")
    return float(np.sum(per_class * support) / np.sum(support))


def row_values(metric: str, rows: Rows) -> np.ndarray | None:
    """What each row contributes to a metric that is a mean over rows: 1 for a right answer (accuracy), the
    squared error (mse, rmse) or the absolute error (mae); None for the other metrics."""
    if metric == "accuracy":
        return (rows.truth == rows.predicted).astype(np.float64)
    if metric in MEAN_ERRORS:
        errors = np.asarray(rows.predicted, dtype=np.float64) - np.asarray(rows.truth, dtype=np.float64)
        return errors**2 if MEAN_ERRORS[metric] == "squared errors" else np.abs(errors)
    return None


def check_metric(metric: str, problem_type: str) -> None:
    if metric not in METRIC_NAMES.get(problem_type, ()):
        known = ", ".join(METRIC_NAMES.get(problem_type, ())) or "none: unknown problem type"
        raise ValueError(f"metric {metric!r} is not one of {problem_type}'s metrics ({known})")


# -- tests on counts and means ----------------------------------------------------------------------------------


def two_proportion_z_test(successes_a: int, rows_a: int, successes_b: int, rows_b: int) -> tuple[float, float]:
    """z for b's proportion minus a's, with the pooled standard error, and its two-sided p-value."""
    pooled = (successes_a + successes_b) / (rows_a + rows_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / rows_a + 1 / rows_b))
    difference = successes_b / rows_b - successes_a / rows_a
    if spread == 0:  # both all right or all wrong: no difference to see
        return 0.0, 1.0
    z = difference / spread
    return z, float(2 * stats.norm.sf(abs(z)))


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """McNemar's exact two-sided p-value from the discordant pairs: ``only_a`` requests only a got right,
    ``only_b`` only b."""
    discordant = only_a + only_b
    if not discordant:
        return 1.0
    return min(1.0, float(2 * stats.binom.cdf(min(only_a, only_b), discordant, 0.5)))


def mcnemar_mid_p(only_a: int, only_b: int) -> float:
    """McNemar's exact test with the mid-p correction: the exact p-value less the probability of the observed
    split itself (half of it on each side)."""
    discordant = only_a + only_b
    if not discordant:
        return 1.0
    fewer = min(only_a, only_b)
    exact = 2 * stats.binom.cdf(fewer, discordant, 0.5)
    return min(1.0, float(exact - stats.binom.pmf(fewer, discordant, 0.5)))


def welch_t_test(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Welch's t for mean(b) - mean(a), its Welch-Satterthwaite degrees of freedom and two-sided p-value (as
    ``scipy.stats.ttest_ind(b, a, equal_var=False)``); two constant samples give t 0 and p 1 when their means
    agree, an infinite t and p 0 when they do not."""
    share_a, share_b = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    spread = math.sqrt(share_a + share_b)
    difference = float(np.mean(b) - np.mean(a))
    if spread == 0:
        return _degenerate(difference, len(a) + len(b) - 2)
    freedom = (share_a + share_b) ** 2 / (share_a**2 / (len(a) - 1) + share_b**2 / (len(b) - 1))
    t = difference / spread
    return t, float(freedom), float(2 * stats.t.sf(abs(t), freedom))


def paired_t_test(differences: np.ndarray) -> tuple[float, float, float]:
    """The paired t for the mean of ``differences``, its degrees of freedom and two-sided p-value (as
    ``scipy.stats.ttest_rel``)."""
    rows = len(differences)
    spread = float(np.std(differences, ddof=1)) / math.sqrt(rows)
    mean = float(np.mean(differences))
    if spread == 0:
        return _degenerate(mean, rows - 1)
    t = mean / spread
    return t, float(rows - 1), float(2 * stats.t.sf(abs(t), rows - 1))


def _degenerate(difference: float, freedom: float) -> tuple[float, float, float]:
    if difference == 0:
        return 0.0, float(freedom), 1.0
    return math.copysign(math.inf, difference), float(freedom), 0.0


# -- intervals ---------------------------------------------------------------------------------------------------


def wilson_interval(successes: int, rows: int, level: float) -> Interval:
    """Wilson's score interval for a proportion: inside [0, 1] and sound near 0 and 1, where Wald's is not."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    share = successes / rows
    centre = (share + z * z / (2 * rows)) / (1 + z * z / rows)
    half = z * math.sqrt(share * (1 - share) / rows + z * z / (4 * rows * rows)) / (1 + z * z / rows)
    return Interval(max(0.0, centre - half), min(1.0, centre + half), level, "wilson")


def mean_interval(values: np.ndarray, level: float) -> Interval:
    """Student's t interval for a mean."""
    rows = len(values)
    half = float(stats.t.ppf(0.5 + level / 2, rows - 1)) * float(np.std(values, ddof=1)) / math.sqrt(rows)
    mean = float(np.mean(values))
    return Interval(mean - half, mean + half, level, "student_t")


def bootstrap_interval(
    measure: Callable[[np.ndarray], float], rows: int, level: float, resamples: int, rng: np.random.Generator
) -> Interval | None:
    """The percentile bootstrap interval of ``measure(index)`` over ``rows`` rows resampled with replacement;
    None when the measure is undefined on most resamples."""
    values = np.array([measure(rng.integers(0, rows, size=rows)) for _ in range(resamples)])
    values = values[np.isfinite(values)]
    if len(values) < resamples / 2:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), level, "bootstrap_percentile")


def variant_score(metric: str, rows: Rows, level: float, resamples: int, seed: int) -> Score:
    value = metric_value(metric, rows)
    count = len(rows)
    if not math.isfinite(value):
        return Score(count, None, None)
    if count < 2:
        return Score(count, value, None)
    contributions = row_values(metric, rows)
    interval: Interval | None
    if metric == "accuracy":
        assert contributions is not None
        interval = wilson_interval(int(contributions.sum()), count, level)
    elif contributions is not None:
        errors = mean_interval(contributions, level)
        low, high = max(0.0, errors.low), max(0.0, errors.high)
        if metric == "rmse":
            low, high = math.sqrt(low), math.sqrt(high)
        interval = Interval(low, high, level, errors.method)
    else:
        rng = np.random.default_rng(seed)
        interval = bootstrap_interval(
            lambda index: metric_value(metric, rows.take(index)), count, level, resamples, rng
        )
    return Score(count, value, interval)


# -- the comparison ----------------------------------------------------------------------------------------------


def suited_test(metric: str, mode: str) -> str:
    """The test that suits the metric and the mode."""
    paired = mode == SHADOW
    if metric == "accuracy":
        return MCNEMAR_MID_P if paired else TWO_PROPORTION_Z
    if metric in MEAN_ERRORS:
        return PAIRED_T if paired else WELCH_T
    return PAIRED_PERMUTATION if paired else PERMUTATION


def compare(
    metric: str,
    mode: str,
    champion: Rows,
    challenger: Rows,
    *,
    alpha: float = DEFAULT_ALPHA,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> SignificanceTest:
    """The test of challenger minus champion that suits the metric and the mode. Each variant needs two rows or
    more; in shadow mode the two variants' rows are the same requests in the same order."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r} is neither split nor shadow")
    if len(champion) < 2 or len(challenger) < 2:
        raise ValueError("each variant needs at least two rows to compare")
    if mode == SHADOW and (len(champion) != len(challenger) or not np.array_equal(champion.truth, challenger.truth)):
        raise ValueError("a shadow trial compares the two variants' answers to the same requests, in the same order")
    name = suited_test(metric, mode)
    level = 1 - alpha
    difference = metric_value(metric, challenger) - metric_value(metric, champion)
    better = difference > 0 if higher_is_better(metric) else difference < 0
    description = TEST_DESCRIPTIONS[name].format(errors=MEAN_ERRORS.get(metric, ""), resamples=resamples)
    rng = np.random.default_rng(seed)
    common: dict[str, Any] = {
        "name": name,
        "description": description,
        "difference": difference,
        "challenger_better": better,
    }

    if name == TWO_PROPORTION_Z:
        right_a, right_b = (
            int(np.sum(champion.truth == champion.predicted)),
            int(np.sum(challenger.truth == challenger.predicted)),
        )
        z, p = two_proportion_z_test(right_a, len(champion), right_b, len(challenger))
        share_a, share_b = right_a / len(champion), right_b / len(challenger)
        spread = math.sqrt(share_a * (1 - share_a) / len(champion) + share_b * (1 - share_b) / len(challenger))
        return SignificanceTest(
            **common,
            statistic=z,
            statistic_name="z",
            p_value=p,
            difference_interval=_around(difference, spread, level, "wald"),
            details={"champion_right": right_a, "challenger_right": right_b},
        )
    if name == MCNEMAR_MID_P:
        right_a, right_b = champion.truth == champion.predicted, challenger.truth == challenger.predicted
        only_a, only_b = int(np.sum(right_a & ~right_b)), int(np.sum(right_b & ~right_a))
        rows = len(champion)
        discordant = only_a + only_b
        chi_square = (only_b - only_a) ** 2 / discordant if discordant else 0.0
        spread = math.sqrt(max(discordant - (only_b - only_a) ** 2 / rows, 0.0)) / rows
        return SignificanceTest(
            **common,
            statistic=chi_square,
            statistic_name="McNemar chi-square (difference of the discordant counts squared, over their sum)",
            p_value=mcnemar_mid_p(only_a, only_b),
            difference_interval=_around(difference, spread, level, "paired_wald"),
            details={
                "champion_only_right": only_a,
                "challenger_only_right": only_b,
                "both_right": int(np.sum(right_a & right_b)),
                "both_wrong": int(np.sum(~right_a & ~right_b)),
                "exact_p_value": mcnemar_exact(only_a, only_b),
            },
        )
    if name in (WELCH_T, PAIRED_T):
        errors_a, errors_b = row_values(metric, champion), row_values(metric, challenger)
        assert errors_a is not None and errors_b is not None
        if name == WELCH_T:
            t, freedom, p = welch_t_test(errors_a, errors_b)
            spread = math.sqrt(np.var(errors_a, ddof=1) / len(errors_a) + np.var(errors_b, ddof=1) / len(errors_b))
        else:
            t, freedom, p = paired_t_test(errors_b - errors_a)
            spread = float(np.std(errors_b - errors_a, ddof=1)) / math.sqrt(len(errors_a))
        if metric == "rmse":  # the test is on the mean squared errors; rmse's own difference gets a bootstrap
            interval = _bootstrap_difference(metric, mode, champion, challenger, level, resamples, rng)
        else:
            mean_difference = float(np.mean(errors_b) - np.mean(errors_a))
            interval = _around(mean_difference, spread, level, "student_t", freedom)
        return SignificanceTest(
            **common,
            statistic=t,
            statistic_name="t",
            p_value=p,
            difference_interval=interval,
            details={
                "degrees_of_freedom": freedom,
                "mean_champion_error": float(np.mean(errors_a)),
                "mean_challenger_error": float(np.mean(errors_b)),
                "errors": MEAN_ERRORS[metric],
            },
        )
    p = _permutation_p_value(metric, mode, champion, challenger, difference, resamples, rng)
    return SignificanceTest(
        **common,
        statistic=difference,
        statistic_name=f"difference in {metric}",
        p_value=p,
        difference_interval=_bootstrap_difference(metric, mode, champion, challenger, level, resamples, rng),
        details={"permutations": resamples, "seed": seed},
    )


def _around(centre: float, spread: float, level: float, method: str, freedom: float | None = None) -> Interval:
    quantile = stats.norm.ppf(0.5 + level / 2) if freedom is None else stats.t.ppf(0.5 + level / 2, freedom)
    half = float(quantile) * spread
    return Interval(centre - half, centre + half, level, method)


def _permutation_p_value(
    metric: str,
    mode: str,
    champion: Rows,
    challenger: Rows,
    observed: float,
    resamples: int,
    rng: np.random.Generator,
) -> float:
    """Two-sided: the share of relabellings whose difference is at least as far from 0 as the observed one, the
    observed labelling counted among them. A relabelling whose metric is undefined counts as extreme."""
    if not math.isfinite(observed):
        return math.nan
    differences = np.empty(resamples)
    if mode == SPLIT:
        pooled = _concatenate(champion, challenger)
        first = len(champion)
        for i in range(resamples):
            order = rng.permutation(len(pooled))
            differences[i] = metric_value(metric, pooled.take(order[first:])) - metric_value(
                metric, pooled.take(order[:first])
            )
    else:
        for i in range(resamples):
            swap = rng.random(len(champion)) < 0.5
            a, b = _swapped(champion, challenger, swap), _swapped(challenger, champion, swap)
            differences[i] = metric_value(metric, b) - metric_value(metric, a)
    threshold = abs(observed) * (1 - 1e-9) - 1e-12
    extreme = int(np.count_nonzero(~(np.abs(differences) < threshold)))
    return (1 + extreme) / (1 + resamples)


def _bootstrap_difference(
    metric: str,
    mode: str,
    champion: Rows,
    challenger: Rows,
    level: float,
    resamples: int,
    rng: np.random.Generator,
) -> Interval | None:
    """The difference's percentile bootstrap interval: the variants resampled apart (split) or by request
    (shadow)."""
    values = np.empty(resamples)
    for i in range(resamples):
        a_index = rng.integers(0, len(champion), size=len(champion))
        b_index = a_index if mode == SHADOW else rng.integers(0, len(challenger), size=len(challenger))
        values[i] = metric_value(metric, challenger.take(b_index)) - metric_value(metric, champion.take(a_index))
    values = values[np.isfinite(values)]
    if len(values) < resamples / 2:
        return None
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return Interval(float(low), float(high), level, "bootstrap_percentile")


def _concatenate(a: Rows, b: Rows) -> Rows:
    scores = None if a.scores is None or b.scores is None else np.concatenate([a.scores, b.scores])
    return Rows(np.concatenate([a.truth, b.truth]), np.concatenate([a.predicted, b.predicted]), scores)


def _swapped(own: Rows, other: Rows, swap: np.ndarray) -> Rows:
    """``own``'s answers, with ``other``'s where ``swap`` is set (the same requests, the same truth)."""
    scores = None if own.scores is None or other.scores is None else np.where(swap, other.scores, own.scores)
    return Rows(own.truth, np.where(swap, other.predicted, own.predicted), scores)


# -- the decision ------------------------------------------------------------------------------------------------


def analyse(
    metric: str,
    mode: str,
    champion: Rows,
    challenger: Rows,
    *,
    alpha: float = DEFAULT_ALPHA,
    min_labelled_rows: int = DEFAULT_MIN_LABELLED_ROWS,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    names: tuple[str, str] | None = None,
) -> TrialOutcome:
    """Each variant's score, the test when both have the rows it needs, and the decision. ``names`` (champion's,
    challenger's variant names) are quoted in the reason."""
    if not 0 < alpha < 1:
        raise ValueError(f"the significance level must be between 0 and 1, not {alpha}")
    level = 1 - alpha
    champion_score = variant_score(metric, champion, level, resamples, seed)
    challenger_score = variant_score(metric, challenger, level, resamples, seed + 1)
    shortage = _shortage(mode, len(champion), len(challenger), min_labelled_rows, names)
    if shortage is None:
        shortage = _undefined(metric, champion_score, challenger_score, names)
    test = None
    if shortage is not None:
        decision = Decision(NOT_ENOUGH_EVIDENCE, NOT_ENOUGH_EVIDENCE, f"Not enough evidence: {shortage}.")
    else:
        test = compare(metric, mode, champion, challenger, alpha=alpha, resamples=resamples, seed=seed)
        decision = decide(metric, test, champion_score, challenger_score, alpha, names)
    return TrialOutcome(metric, mode, alpha, min_labelled_rows, champion_score, challenger_score, test, decision)


def _named(role: str, names: tuple[str, str] | None) -> str:
    if names is None:
        return f"the {role}"
    return f"the {role} ({names[0] if role == CHAMPION else names[1]})"


def _shortage(
    mode: str, champion_rows: int, challenger_rows: int, needed: int, names: tuple[str, str] | None
) -> str | None:
    """Why the rows are too few to decide, naming the numbers; None when both variants have enough."""
    needed = max(needed, 2)
    if mode == SHADOW:
        if champion_rows >= needed:
            return None
        return f"{champion_rows:,} labelled requests were answered by both variants, {needed:,} needed"
    short = [(role, rows) for role, rows in ((CHAMPION, champion_rows), (CHALLENGER, challenger_rows)) if rows < needed]
    if not short:
        return None
    if len(short) == 2:
        return (
            f"{_named(CHAMPION, names)} has {champion_rows:,} labelled rows and {_named(CHALLENGER, names)} "
            f"{challenger_rows:,}, {needed:,} needed each"
        )
    role, rows = short[0]
    return f"{_named(role, names)} has {rows:,} labelled rows, {needed:,} needed"


def _undefined(metric: str, champion: Score, challenger: Score, names: tuple[str, str] | None) -> str | None:
    for role, score in ((CHAMPION, champion), (CHALLENGER, challenger)):
        if score.value is None:
            hint = (
                " (auc needs both classes among the labels, and a score with every answer)" if metric == "auc" else ""
            )
            if metric == "r2":
                hint = " (r2 needs labels that are not all the same)"
            return f"{_named(role, names)}'s {metric} is undefined on its {score.rows:,} labelled rows{hint}"
    return None


UNDEFINED_HINTS = {
    "auc": " (auc needs both classes among the labels, and a positive-class score with every answer)",
    "r2": " (r2 needs labels that are not all the same)",
}


def decide(
    metric: str,
    test: SignificanceTest,
    champion: Score,
    challenger: Score,
    alpha: float,
    names: tuple[str, str] | None = None,
) -> Decision:
    """Promote the challenger only when it is significantly better; otherwise the champion keeps serving, and the
    finding says whether it was significantly better or no difference could be seen."""
    figures = (
        f"{metric} {_figure(challenger.value)} for {_named(CHALLENGER, names)} against {_figure(champion.value)} for "
        f"{_named(CHAMPION, names)}, difference {test.difference:+.4g}, p = {_p(test.p_value)}"
    )
    test_words = f"{TEST_LABELS[test.name]}, alpha {alpha:g}"
    if not math.isfinite(test.p_value) or not test.significant(alpha):
        return Decision(
            CHAMPION,
            NO_SIGNIFICANT_DIFFERENCE,
            f"No significant difference: {figures} (not below {alpha:g}; {test_words}). The champion keeps serving.",
        )
    if test.challenger_better:
        return Decision(
            CHALLENGER,
            CHALLENGER_BETTER,
            f"The challenger is significantly better: {figures} ({test_words}). Promote the challenger.",
        )
    return Decision(
        CHAMPION,
        CHAMPION_BETTER,
        f"The champion is significantly better: {figures} ({test_words}). The champion keeps serving.",
    )


def _figure(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def _p(value: float) -> str:
    if not math.isfinite(value):
        return "undefined"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def _finite(value: float) -> float | str:
    """JSON has no infinity: an infinite statistic (two constant samples that differ) is written as text."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
