"""The Notify function's role allows what pricing a run's jobs calls, on the names the code builds, and no more."""

from __future__ import annotations

from typing import Any

import pytest

from driftline_core import layout
from driftline_core.training.jobs import JOB_API_BY_STEP
from tests.infra.test_resource_name_permissions import iam_allows
from tests.infra.transformed_template import load_template
from tests.resource_names import DATASETS, STACKS, run_names

SAGEMAKER = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def statements() -> list[dict[str, Any]]:
    policies = load_template()["Resources"]["NotifyFunction"]["Properties"]["Policies"]
    return [statement for policy in policies if isinstance(policy, dict) for statement in policy.get("Statement", [])]


@pytest.mark.parametrize("stack", [STACKS[1], STACKS[-3]])
def test_notify_may_describe_every_job_of_every_run(statements: list[dict[str, Any]], stack: str) -> None:
    for dataset in DATASETS:
        for execution in run_names(dataset):
            for step, api in JOB_API_BY_STEP.items():
                name = layout.job_name(execution, step).lower()  # SageMaker writes names in ARNs in lowercase
                kind = f"{api.job_type}-job"
                action = f"sagemaker:Describe{api.label}Job"
                assert iam_allows(statements, action, f"{SAGEMAKER}:{kind}/{name}", stack), (action, name)


def test_notify_may_read_prices_and_nothing_else_on_every_resource(statements: list[dict[str, Any]]) -> None:
    assert iam_allows(statements, "pricing:GetProducts", "*", "driftline")
    everywhere = [statement for statement in statements if statement.get("Resource") == "*"]
    assert [statement["Action"] for statement in everywhere] == ["pricing:GetProducts"]


def test_notify_may_not_start_or_stop_jobs(statements: list[dict[str, Any]]) -> None:
    job = f"{SAGEMAKER}:training-job/credit-5e4f54c7bade-train"
    for action in ("sagemaker:CreateTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:DescribeEndpoint"):
        assert not iam_allows(statements, action, job, "driftline"), action
