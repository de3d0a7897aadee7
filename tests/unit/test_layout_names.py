"""Resource names (``driftline_core.layout``) for every accepted stack and dataset name: within AWS's length and
pattern, starting with ``<stack>-``, unique, known again by what reads them, and unchanged where they already worked.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import code_publisher
import pytest

from driftline_core import layout
from driftline_core.drift.job_events import drift_job_kind
from tests.resource_names import (
    DATASETS,
    KINDS,
    LONGEST_STACK,
    NAME_KINDS,
    STACKS,
    VERSIONS,
    WINDOW_ENDS,
    NameKind,
    name_rule,
)


def test_the_longest_stack_name_here_is_the_longest_the_deploy_accepts() -> None:
    code_publisher.check_stack_name(LONGEST_STACK)
    with pytest.raises(ValueError, match=f"at most {layout.MAX_PREFIX_LENGTH}"):
        code_publisher.check_stack_name(LONGEST_STACK + "x")
    with pytest.raises(ValueError, match=f"at most {layout.MAX_PREFIX_LENGTH} characters"):
        layout.schedule_name(f"{LONGEST_STACK}x-credit", stack=LONGEST_STACK + "x")


@pytest.mark.parametrize("kind", NAME_KINDS, ids=lambda kind: kind.label)
@pytest.mark.parametrize("stack", STACKS)
def test_every_name_fits_its_aws_length_and_pattern_and_starts_with_the_stack_prefix(
    kind: NameKind, stack: str
) -> None:
    rule = name_rule(kind.service, kind.operation, kind.member)
    for dataset in DATASETS:
        for name in kind.build(stack, dataset):
            assert rule.min_length <= len(name) <= rule.max_length, (dataset, name, len(name))
            assert rule.pattern is None or rule.pattern.fullmatch(name), (dataset, name)
            assert name.startswith(f"{stack}-"), (dataset, name)
            assert not kind.lowercase or name == name.lower(), (dataset, name)


@pytest.mark.parametrize("kind", NAME_KINDS, ids=lambda kind: kind.label)
@pytest.mark.parametrize("stack", STACKS)
def test_no_two_datasets_windows_or_versions_share_a_name(kind: NameKind, stack: str) -> None:
    names = [name for dataset in DATASETS for name in kind.build(stack, dataset)]
    assert len(set(names)) == len(names)


@pytest.mark.parametrize("stack", STACKS)
def test_drift_jobs_are_known_by_their_names_and_pipeline_jobs_are_not(stack: str) -> None:
    for dataset in DATASETS:
        endpoint = layout.endpoint_name(stack, dataset)
        for end in WINDOW_ENDS:
            assert drift_job_kind(layout.monitor_job_name(endpoint, end), stack) == "monitor"
            assert drift_job_kind(layout.merge_job_name(endpoint, end), stack) == "merge"
        for version in VERSIONS:
            assert drift_job_kind(layout.baseline_job_name(endpoint, version, stack=stack), stack) == "baseline"
        # A dataset named like the stack's names: its pipeline's jobs start with <stack>- and are still no drift job.
        execution = layout.execution_name_for_object(f"{stack}-{dataset}"[:40].rstrip("-"), "b", "k", None)
        for step in ("preprocess", "train", "evaluate"):
            assert drift_job_kind(layout.job_name(execution, step), stack) is None


@pytest.mark.parametrize("stack", STACKS)
def test_model_and_config_names_start_with_the_endpoints_base_and_give_back_their_version(stack: str) -> None:
    endpoints = [layout.endpoint_name(stack, dataset) for dataset in DATASETS]
    for endpoint, other in zip(endpoints, endpoints[1:] + endpoints[:1], strict=True):
        base = layout.versioned_name_base(endpoint, stack=stack)
        for version in VERSIONS:
            name = layout.versioned_name(endpoint, version, stack=stack)
            assert name.startswith(base)
            assert layout.versioned_name_version(endpoint, name, stack=stack) == version
            assert layout.versioned_name_version(other, name, stack=stack) is None
        assert layout.versioned_name_version(endpoint, f"{base}-v0", stack=stack) is None


def test_a_version_beyond_nine_digits_is_refused() -> None:
    with pytest.raises(ValueError, match="999999999"):
        layout.versioned_name("driftline-credit", layout.MAX_MODEL_VERSION + 1, stack="driftline")


def _old_bounded_name(base: str, tail: str, limit: int) -> str:
    """How names were shortened before the stack prefix was kept for every stack name (commit 5b1d919)."""
    if len(base) + len(tail) <= limit:
        return base + tail
    digest = hashlib.sha256(base.encode()).hexdigest()[:8]
    room = limit - len(tail) - len(digest) - 2
    return f"{base[:room].rstrip('-')}--{digest}{tail}"


def _old_names(endpoint: str) -> dict[str, list[str]]:
    versioned = [f"{_old_bounded_name(endpoint, '', 52)}-v{version}" for version in VERSIONS]
    return {
        "model": versioned,
        "endpoint config": versioned,
        "scheduler schedule": [_old_bounded_name(endpoint, "-drift-monitor", 64)],
        "monitoring schedule": [_old_bounded_name(endpoint, "-drift-monitor", 63)],
        "job definition": [_old_bounded_name(endpoint, f"-data-quality-v{version}", 63) for version in VERSIONS],
        "baseline job": [_old_bounded_name(endpoint, f"-baseline-v{version}", 63) for version in VERSIONS],
    }


@pytest.mark.parametrize("stack", STACKS)
def test_names_that_already_kept_the_stack_prefix_keep_their_names(stack: str) -> None:
    """Schedules, job definitions, models and configs outlive a deploy: a new name would leave the old one behind."""
    kept = 0
    for dataset in DATASETS:
        endpoint = layout.endpoint_name(stack, dataset)
        for label, old_names in _old_names(endpoint).items():
            for old, new in zip(old_names, KINDS[label].build(stack, dataset), strict=True):
                if old.startswith(f"{stack}-"):
                    assert new == old, (label, dataset)
                    kept += 1
    assert kept


def test_a_long_stack_names_drift_jobs_keep_its_prefix_where_the_old_names_lost_it() -> None:
    endpoint = layout.endpoint_name(LONGEST_STACK, "customer-churn-predictions-for-region-1")
    end = datetime(2026, 11, 23, 15, tzinfo=UTC)
    old = _old_bounded_name(endpoint, "-monitor-202611231500-merge", 63)
    new = layout.merge_job_name(endpoint, end)
    assert not old.startswith(f"{LONGEST_STACK}-")
    assert new.startswith(f"{LONGEST_STACK}-") and new.endswith(layout.MERGE_JOB_MARK) and len(new) <= 63
    assert new != layout.merge_job_name(endpoint, end.replace(hour=16))
