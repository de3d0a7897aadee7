"""Every settings group is read the same way, and one reset forgets them all."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from driftline_core.settings import (
    forgotten_on_reset,
    get_approval_settings,
    get_deployment_settings,
    get_monitoring_settings,
    get_settings,
    reset_settings,
)


@pytest.fixture(autouse=True)
def _forget_after() -> Iterator[None]:
    yield
    reset_settings()  # the variables this module sets are gone with the test; so is what was read of them


def test_each_group_reads_its_fields_from_the_upper_cased_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARTIFACT_BUCKET", "artifacts")
    monkeypatch.setenv("APPROVAL_TIMEOUT_SECONDS", "60")
    monkeypatch.setenv("ENDPOINT_MAX_INSTANCES", "5")
    monkeypatch.setenv("MONITOR_MAX_INSTANCES", "3")
    reset_settings()

    assert get_settings().artifact_bucket == "artifacts"
    assert get_approval_settings().approval_timeout_seconds == 60
    assert get_deployment_settings().endpoint_max_instances == 5
    assert get_monitoring_settings().monitor_max_instances == 3


def test_an_empty_variable_leaves_the_default_in_every_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """CloudFormation passes an unset optional parameter as an empty string; a number field must not choke on it."""
    for name in (
        "TRAINING_INSTANCE_TYPE",
        "APPROVAL_TIMEOUT_SECONDS",
        "ENDPOINT_INSTANCE_COUNT",
        "MONITOR_MAX_INSTANCES",
    ):
        monkeypatch.setenv(name, "")
    reset_settings()

    assert get_settings().training_instance_type == "ml.m5.large"
    assert get_approval_settings().approval_timeout_seconds == 7 * 24 * 3600
    assert get_deployment_settings().endpoint_instance_count == 1
    assert get_monitoring_settings().monitor_max_instances == 4


def test_one_reset_forgets_every_group_and_every_registered_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []

    @forgotten_on_reset
    def secret(arn: str) -> str:
        reads.append(arn)
        return f"key of {arn}"

    monkeypatch.setenv("APPROVALS_TABLE", "first")
    monkeypatch.setenv("ENDPOINT_TYPE", "Provisioned")
    reset_settings()
    assert (get_approval_settings().approvals_table, get_deployment_settings().endpoint_type) == (
        "first",
        "Provisioned",
    )
    secret("arn:1")
    secret("arn:1")
    assert reads == ["arn:1"]

    monkeypatch.setenv("APPROVALS_TABLE", "second")
    monkeypatch.setenv("ENDPOINT_TYPE", "Serverless")
    assert get_approval_settings().approvals_table == "first"  # cached until the reset
    reset_settings()

    assert (get_approval_settings().approvals_table, get_deployment_settings().endpoint_type) == (
        "second",
        "Serverless",
    )
    secret("arn:1")
    assert reads == ["arn:1", "arn:1"]
