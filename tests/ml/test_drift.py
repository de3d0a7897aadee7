"""The drift statistics module: sketched distances against scipy's exact KS statistic, merging, file formats."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import ks_2samp

from driftline_ml.drift import (
    DEFAULT_MONITORING_CONFIG,
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
)


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
