"""One check for the drift tests: two summaries of the same data agree (exactly, or within the sketch's bound)."""

from __future__ import annotations

import pytest

from driftline_ml.drift import WindowSummary, distance_error_bound, numeric_distance


def assert_same_summary(one: WindowSummary, other: WindowSummary) -> None:
    fields = (
        "records",
        "outside_window",
        "rows",
        "malformed",
        "malformed_examples",
        "missing_columns",
        "extra_columns",
    )
    for field in fields:
        assert getattr(one, field) == getattr(other, field), field
    assert one.rows_left_out == other.rows_left_out
    for mine, theirs in zip(one.features, other.features, strict=True):
        assert (mine.present, mine.missing) == (theirs.present, theirs.missing)
        if mine.kind == "numeric":
            assert mine.mean == pytest.approx(theirs.mean, rel=1e-12)
            assert mine.std_dev == pytest.approx(theirs.std_dev, rel=1e-9)
            assert (mine.minimum, mine.maximum) == (theirs.minimum, theirs.maximum)
            assert numeric_distance(mine, theirs) <= distance_error_bound()
        else:
            assert mine.counts == theirs.counts
