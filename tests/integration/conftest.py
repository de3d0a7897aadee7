"""Fixtures the handler tests share: the resources and environment the template gives the job functions."""

from __future__ import annotations

import pytest

from tests.integration.pipeline_resources import create_pipeline_resources


@pytest.fixture
def pipeline(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Buckets, the job-token table, the run's config and the job functions' environment, under moto."""
    create_pipeline_resources(monkeypatch)
