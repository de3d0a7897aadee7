"""The drift statistics module: sketched distances against scipy's exact KS statistic, merging, file formats."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pytest
from scipy.stats import ks_2samp

from driftline_ml.drift import (
    DEFAULT_MONITORING_CONFIG,
    MAX_KEYS,
    OTHER_KEYS,
    CategoricalFeature,
    NumericFeature,
    WindowSummary,
    categorical_distance,
    compare,
    constraints_document,
    distance_error_bound,
    kll_levels,
    numeric_distance,
    robust_margin,
    statistics_document,
    summary_from_statistics,
    unrepresentable_statistics,
)
from driftline_ml.drift_report import render


def numeric(values: np.ndarray, name: str = "x") -> NumericFeature:
    feature = NumericFeature(name)
    feature.add(values)
    return feature


def test_the_sketch_size_keeps_the_distance_error_far_below_the_default_threshold() -> None:
    threshold = DEFAULT_MONITORING_CONFIG["distribution_constraints"]["comparison_threshold"]
    assert distance_error_bound() < threshold / 10


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3, 1.0])
def test_sketched_distance_agrees_with_scipys_exact_ks_statistic_within_the_bound(shift: float) -> None:
    rng = np.random.default_rng(11)
    baseline, current = rng.normal(0, 1, 200_000), rng.normal(shift, 1, 150_000)
    exact = ks_2samp(baseline, current).statistic
    sketched = numeric_distance(numeric(baseline), numeric(current))
    assert abs(sketched - exact) <= distance_error_bound()


def test_small_samples_are_kept_whole_so_the_distance_is_exact() -> None:
    rng = np.random.default_rng(3)
    baseline, current = rng.exponential(1, 400), rng.exponential(1.3, 300)
    assert numeric_distance(numeric(baseline), numeric(current)) == pytest.approx(
        ks_2samp(baseline, current).statistic, abs=1e-12
    )


def test_three_merged_shards_give_the_single_summarys_counts_moments_and_distance() -> None:
    rng = np.random.default_rng(5)
    baseline_values = rng.normal(0, 1, 100_000)
    current = rng.normal(0.2, 1.1, 90_000)
    whole = numeric(current)
    merged = NumericFeature("x")
    for shard in np.array_split(current, 3):
        part = NumericFeature("x")
        part.add(shard, missing=2, non_numeric=1)
        merged.merge(part)
    assert merged.present == whole.present == 90_000
    assert (merged.missing, merged.non_numeric) == (6, 3)
    assert merged.mean == pytest.approx(current.mean(), rel=1e-12)
    assert merged.std_dev == pytest.approx(current.std(), rel=1e-9)
    assert (merged.minimum, merged.maximum) == (current.min(), current.max())
    exact = ks_2samp(baseline_values, current).statistic
    baseline = numeric(baseline_values)
    assert abs(numeric_distance(baseline, merged) - exact) <= distance_error_bound()
    assert abs(numeric_distance(baseline, whole) - exact) <= distance_error_bound()


def test_categorical_distance_is_the_largest_gap_between_normalised_frequencies() -> None:
    baseline = CategoricalFeature("plan", {"basic": 50, "plus": 30, "pro": 20})
    current = CategoricalFeature("plan", {"basic": 10, "plus": 30, "pro": 50, "gold": 10})
    # shares: basic .5 -> .1, plus .3 -> .3, pro .2 -> .5, gold 0 -> .1
    assert categorical_distance(baseline, current) == pytest.approx(0.4)


def test_robust_comparison_subtracts_model_monitors_sampling_margin() -> None:
    assert robust_margin(1000, 400) == pytest.approx(1.8 * np.sqrt(1400 / 400_000))


def test_kll_levels_in_statistics_weigh_up_to_the_number_of_values() -> None:
    feature = numeric(np.random.default_rng(1).normal(0, 1, 50_000))
    levels = kll_levels(feature.sketch)
    assert len(levels) > 1
    assert sum(len(level) * 2**i for i, level in enumerate(levels)) == 50_000
    assert feature.sketch.get_min_value() <= min(min(level) for level in levels if level)


def test_statistics_round_trip_through_json_keeps_what_merging_and_comparing_need() -> None:
    rng = np.random.default_rng(2)
    summary = WindowSummary.empty_like([("income", "numeric"), ("plan", "categorical")])
    summary.features[0].add(rng.normal(0, 1, 5000), missing=7)
    summary.features[1].add({"basic": 3, "pro": 4}, missing=1)
    summary.rows, summary.records = 5007, 5007
    summary.note_malformed("not a JSON object", "a.jsonl line 3")
    again = summary_from_statistics(json.loads(json.dumps(statistics_document(summary))))
    assert again.specs == summary.specs
    assert (again.rows, again.malformed) == (5007, {"not a JSON object": 1})
    assert again.features[0].sketch.n == 5000 and again.features[0].missing == 7
    assert again.features[0].std_dev == pytest.approx(summary.features[0].std_dev)
    assert again.features[1].counts == {"basic": 3, "pro": 4}
    assert numeric_distance(again.features[0], summary.features[0]) == 0.0


def test_a_constraint_check_flags_only_the_features_that_moved() -> None:
    rng = np.random.default_rng(8)
    specs = [("steady", "numeric"), ("moved", "numeric"), ("plan", "categorical")]
    baseline = WindowSummary.empty_like(specs)
    current = WindowSummary.empty_like(specs)
    baseline.features[0].add(rng.normal(0, 1, 4000))
    baseline.features[1].add(rng.normal(0, 1, 4000))
    baseline.features[2].add({"a": 2000, "b": 2000})
    current.features[0].add(rng.normal(0, 1, 3000))
    current.features[1].add(rng.normal(0.8, 1, 3000))
    current.features[2].add({"a": 1500, "b": 1500})
    baseline.rows, current.rows = 4000, 3000
    analysis = compare(baseline, constraints_document(baseline), current)
    assert analysis.drifted_features == ["moved"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in analysis.violations] == [
        ("moved", "baseline_drift_check")
    ]


# Values at the edge of a double ------------------------------------------------------------------------

HUGE = np.array([1e308, 1e308, -1e308, 5.0, -3.5, 1.7976931348623157e308])


def strict_json(document: object) -> Any:
    """The document through a JSON writer and reader that refuse NaN and Infinity, as JSON itself does."""

    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(json.dumps(document, allow_nan=False), parse_constant=refuse)


def test_values_near_the_largest_double_give_a_finite_mean_and_spread() -> None:
    feature = numeric(HUGE)

    exact = np.ldexp(HUGE, -1024)  # the same values scaled exactly, where nothing overflows
    assert feature.mean == pytest.approx(np.ldexp(exact.mean(), 1024), rel=1e-12)
    assert feature.std_dev == pytest.approx(np.ldexp(exact.std(), 1024), rel=1e-12)
    assert (feature.minimum, feature.maximum) == (-1e308, HUGE.max())


def test_shards_of_huge_values_merge_to_the_whole_mean_and_spread() -> None:
    values = np.concatenate([HUGE, np.random.default_rng(4).normal(0, 1e307, 1000)])
    whole = numeric(values)
    merged = NumericFeature("x")
    for shard in np.array_split(values, 4):
        merged.merge(numeric(shard))

    assert merged.mean == pytest.approx(whole.mean, rel=1e-9)
    assert merged.std_dev == pytest.approx(whole.std_dev, rel=1e-9)
    assert np.isfinite([merged.mean, merged.std_dev]).all()


def test_statistics_of_huge_values_are_json_and_name_the_sum_no_number_holds() -> None:
    summary = WindowSummary.empty_like([("amount", "numeric"), ("small", "numeric")])
    summary.features[0].add(HUGE)
    summary.features[1].add(np.array([1.0, 2.0]))
    summary.rows = summary.records = len(HUGE)

    document = strict_json(statistics_document(summary))

    amount, small = document["features"]
    assert amount["numerical_statistics"]["sum"] is None
    assert small["numerical_statistics"]["sum"] == 3.0
    assert np.isfinite(amount["numerical_statistics"]["std_dev"])
    bounds = [b[k] for b in amount["numerical_statistics"]["distribution"]["kll"]["buckets"] for k in b]
    assert np.isfinite(bounds).all()
    assert document["driftline"]["unrepresentable_statistics"] == [
        "amount: sum is beyond the largest number JSON can hold (about 1.8e308)"
    ]
    again = summary_from_statistics(document)
    assert again.features[0].std_dev == pytest.approx(summary.features[0].std_dev)
    assert unrepresentable_statistics(again) == unrepresentable_statistics(summary)


def test_the_report_says_which_statistic_statistics_json_cannot_hold() -> None:
    baseline = WindowSummary.empty_like([("amount", "numeric")])
    baseline.features[0].add(np.random.default_rng(6).normal(0, 1e307, 2000))
    baseline.rows = 2000
    current = WindowSummary.empty_like([("amount", "numeric")])
    current.features[0].add(HUGE)
    current.rows = current.records = len(HUGE)

    report = render(compare(baseline, constraints_document(baseline), current), baseline, current)

    assert "amount: sum is beyond the largest number JSON can hold" in report
    ranges = re.findall(r"<title>(\S+) to (\S+):", report)
    shapes = re.findall(r" (?:x|y|width|height)='([^']*)'", report)
    assert ranges and shapes
    assert not re.search(r"nan|inf", " ".join(value for pair in ranges for value in pair))
    assert np.isfinite([float(value) for value in shapes]).all()


# Bounded summaries -------------------------------------------------------------------------------------


def test_reasons_past_the_bound_are_counted_together_so_a_summary_stays_small() -> None:
    summary = WindowSummary.empty_like([("x", "numeric")])
    for number in range(3 * MAX_KEYS):
        summary.note_malformed(f"unsupported content type 'a/{number}'", f"c.jsonl line {number + 1}")
    other = WindowSummary.empty_like([("x", "numeric")])
    other.note_malformed("not a JSON object", "d.jsonl line 1")

    summary.merge(other)

    assert len(summary.malformed) == MAX_KEYS + 1
    assert summary.malformed[OTHER_KEYS] == 2 * MAX_KEYS + 1
    assert sum(summary.malformed.values()) == 3 * MAX_KEYS + 1
