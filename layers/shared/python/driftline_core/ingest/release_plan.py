"""The release plan of a run: whether its candidate goes through staging, and whether it is tried in an A/B trial.

Decided once, by Validate, from the stack's parameters and the dataset's ``ab_test``, so every later state reads
the same plan from ``$.validation.release``.
"""

from __future__ import annotations

from driftline_core.ingest.dataset_config import ABTestConfig
from driftline_core.payloads import ABTestPlan, ReleasePlan
from driftline_core.settings import ReleaseSettings

DEFAULT_SIGNIFICANCE = 0.05


def release_plan(declared: ABTestConfig | None, settings: ReleaseSettings) -> ReleasePlan:
    """The stack's defaults, with the dataset's ``ab_test`` fields over them."""
    return ReleasePlan(staging=settings.staging_endpoint == "Enabled", ab_test=ab_test_plan(declared, settings))


def ab_test_plan(declared: ABTestConfig | None, settings: ReleaseSettings) -> ABTestPlan | None:
    given = declared or ABTestConfig()
    mode = given.mode or settings.ab_test_mode.lower()
    if mode not in ("split", "shadow"):
        return None
    return ABTestPlan(
        mode="shadow" if mode == "shadow" else "split",
        challenger_share=given.challenger_share
        if given.challenger_share is not None
        else settings.ab_test_challenger_share,
        trial_minutes=given.trial_minutes or settings.ab_test_trial_minutes,
        min_labelled_rows=given.min_labelled_rows or settings.ab_test_min_labelled_rows,
        significance=given.significance or DEFAULT_SIGNIFICANCE,
        promotion=given.promotion or ("automatic" if settings.ab_test_promotion == "Automatic" else "approval"),
    )
