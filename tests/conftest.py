"""Fixtures shared by every test layer.

``aws`` gives a fresh in-process AWS emulator (moto) with fake credentials; settings and clients that
the shared layer caches are reset inside it so each test sees its own environment. Like local mode, it
checks each request against the service model's constraints and refuses what AWS would refuse.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.loaders import Loader, create_loader

REPO_ROOT = Path(__file__).resolve().parent.parent
EVENTS_DIR = REPO_ROOT / "events"
REGION = "us-east-1"

# The template gives every function this service name, so modules always import with it; a module-level
# child logger imported without it would belong to no parent and its lines would go nowhere.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "driftline")


def load_event(name: str) -> dict[str, Any]:
    """Load ``events/<name>.json``: the same files drive ``sam local invoke -e`` and the tests."""
    return json.loads((EVENTS_DIR / f"{name}.json").read_text())


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that wait minutes on local mode's scaled schedules run first: with several test processes (``make
    test``) the other tests' work fills their waits, instead of the run ending on them."""
    items.sort(key=lambda item: item.get_closest_marker("waits_on_schedules") is None)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "Driftline")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "driftline")


@functools.cache
def _service_models() -> Loader:
    """One loader of botocore's service models for the whole session: each is read from its JSON file once."""
    return create_loader()


def _default_session_with_shared_models() -> None:
    """A fresh default boto3 session, as mock_aws gives each test, that reads service models from the shared loader
    instead of parsing each service's JSON again (the larger part of a test's time otherwise)."""
    session = botocore.session.get_session()
    session.register_component("data_loader", _service_models())
    boto3.setup_default_session(botocore_session=session)


@pytest.fixture
def aws(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    from driftline.local import dynamodb, model_monitor, request_constraints
    from driftline_core.aws.clients import reset_clients
    from driftline_core.settings import reset_settings

    with mock_aws():
        _default_session_with_shared_models()
        request_constraints.install()  # requests AWS would refuse fail here too, as they do in local mode
        model_monitor.install()  # SageMaker's monitoring-schedule actions, which moto lacks, as local mode has them
        dynamodb.install()  # conditional writes atomic, as on DynamoDB
        reset_clients()
        reset_settings()
        try:
            yield
        finally:
            model_monitor.uninstall()
            request_constraints.uninstall()
    reset_clients()
    reset_settings()


class FakeLambdaContext:
    """The attributes Powertools reads from a Lambda context object."""

    function_name = "driftline-test"
    function_version = "$LATEST"
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:driftline-test"
    memory_limit_in_mb = 256
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    log_group_name = "/aws/lambda/driftline-test"
    log_stream_name = "2026/11/23/[$LATEST]test"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture
def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext()


@pytest.fixture(scope="session")
def baseline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A drift baseline made by the real baseline job (``ml/baseline.py``), read by the monitor job's tests in
    ``ml/`` and ``local/``; built once, as it takes a job's run, and only read."""
    from tests.monitor_data import build_baseline

    return build_baseline(tmp_path_factory.mktemp("baseline"))
