"""The approver's email: one comparison on one split, labelled once, and commands that reach the right stack."""

from __future__ import annotations

import re

from driftline_core.notifications.messages import DriftlineCommand, MetricComparison, approval_request
from driftline_core.payloads import ApprovalRequestInput, StagingTestResult
from tests.conftest import load_event

INCUMBENT = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1"
AWS = DriftlineCommand(stack_name="driftline", region="us-east-1")


def _email(
    comparison: MetricComparison, command: DriftlineCommand = AWS, staging_test: StagingTestResult | None = None
) -> str:
    step = ApprovalRequestInput.model_validate({**load_event("request_approval"), "staging_test": staging_test})
    return approval_request(
        step,
        approve_url="https://example.test/approve",
        reject_url="https://example.test/reject",
        expires_at="2026-11-05T10:00:00Z",
        comparison=comparison,
        command=command,
    ).message


def test_both_models_figures_come_from_the_same_rows_and_the_split_is_named_once() -> None:
    message = _email(
        MetricComparison(
            rows=[("accuracy", 0.861, 0.842), ("auc", 0.9132, 0.8874)],
            test_rows=200,
            approved_model=INCUMBENT,
            compared=True,
        )
    )

    assert "On this run's test split (200 rows), both models scored on the same rows:" in message
    assert re.search(r"metric\s+this model\s+approved model\n", message)
    assert re.search(r"auc\s+0\.9132\s+0\.8874\n", message)
    assert f"Approved model:  {INCUMBENT}\n" in message
    assert message.count("test split") == 1
    assert "registered figures" not in message


def test_an_approved_model_not_scored_on_these_rows_shows_its_registered_figures_apart_and_labelled() -> None:
    message = _email(
        MetricComparison(
            rows=[("auc", 0.9132, None)],
            test_rows=200,
            approved_model=INCUMBENT,
            compared=False,
            registered=(("auc", 0.9876),),
        )
    )

    assert re.search(r"metric\s+this model\n\s+auc\s+0\.9132\n", message)
    assert "The approved model was not scored on these rows (the quality gate's reasons say why)." in message
    assert "Its registered figures, from its own run's test split (other rows): auc 0.9876" in message


def test_without_an_approved_model_the_table_has_one_column() -> None:
    message = _email(
        MetricComparison(rows=[("auc", 0.9132, None)], test_rows=None, approved_model=None, compared=False)
    )

    assert "Approved model:  none approved yet" in message
    assert "On this run's test split:\n  metric" in message
    assert "registered figures" not in message


def test_the_terminal_commands_name_the_region_and_a_stack_other_than_the_default() -> None:
    comparison = MetricComparison(rows=[("auc", 0.9, None)], test_rows=None, approved_model=None, compared=False)

    default = _email(comparison)
    assert "or, with AWS credentials for this account:\n" in default
    assert "  driftline approve credit-5e4f54c7bade --region us-east-1\n" in default
    assert '  driftline reject credit-5e4f54c7bade --region us-east-1 --reason "<why>"\n' in default

    named = _email(comparison, DriftlineCommand(stack_name="fraud-prod", region="eu-west-1"))
    assert "  driftline approve credit-5e4f54c7bade --stack-name fraud-prod --region eu-west-1\n" in named


def test_local_mode_says_where_to_run_the_commands_instead_of_a_region() -> None:
    note = "from the folder local mode runs in, or add --local --state-dir <its .driftline folder>"
    comparison = MetricComparison(rows=[("auc", 0.9, None)], test_rows=None, approved_model=None, compared=False)

    message = _email(comparison, DriftlineCommand(stack_name="driftline", region="us-east-1", note=note))

    assert f"or, {note}:\n  driftline approve credit-5e4f54c7bade\n" in message
    assert "--region" not in message


STAGING_REPORT = "s3://driftline-artifacts-123456789012-us-east-1/runs/credit-5e4f54c7bade/staging/staging_test.json"


def test_a_candidate_tested_on_staging_shows_what_it_answered_and_how_fast() -> None:
    comparison = MetricComparison(rows=[("auc", 0.9, None)], test_rows=None, approved_model=None, compared=False)
    staging = StagingTestResult.model_validate(
        {
            "endpoint_name": "driftline-credit--staging-v3",
            "smoke": {"rows": 200, "mismatches": 0, "passed": True},
            "load": {
                "requests_per_second": 5.0,
                "seconds": 30,
                "requests": 150,
                "errors": 0,
                "p50_milliseconds": 12.5,
                "p99_milliseconds": 48.0,
                "max_p99_milliseconds": 1000.0,
                "passed": True,
            },
            "report_uri": STAGING_REPORT,
        }
    )

    message = _email(comparison, staging_test=staging)

    assert (
        "Staging:         endpoint driftline-credit--staging-v3\n"
        "  smoke test:    200 held-out rows, 0 answered differently from the evaluation\n"
        "  load test:     5 requests/s x 30 s: 150 requests, p50 12.5 ms, p99 48 ms (limit 1000 ms), 0 errors\n"
        f"  results:       {STAGING_REPORT}\n\nTrained on:\n"
    ) in message


def test_without_a_staging_endpoint_the_email_has_no_staging_section() -> None:
    comparison = MetricComparison(rows=[("auc", 0.9, None)], test_rows=None, approved_model=None, compared=False)

    message = _email(comparison)

    assert "Staging" not in message and "smoke test" not in message


def test_with_an_ab_plan_the_email_says_approving_starts_a_trial_instead_of_replacing_the_serving_model() -> None:
    comparison = MetricComparison(rows=[("auc", 0.9, 0.85)], test_rows=120, approved_model=INCUMBENT, compared=True)
    event = load_event("request_approval")
    plan = {
        "mode": "shadow",
        "challenger_share": 0.25,
        "trial_minutes": 720,
        "min_labelled_rows": 150,
        "significance": 0.05,
    }
    event["validation"]["release"] = {"staging": False, "ab_test": plan}
    step = ApprovalRequestInput.model_validate(event)
    message = approval_request(
        step,
        approve_url="https://example.test/approve",
        reject_url="https://example.test/reject",
        expires_at="2026-11-05T10:00:00Z",
        comparison=comparison,
        command=AWS,
    ).message
    assert "approving does not replace the serving model" in message
    assert "a copy of 25% of the requests in shadow mode" in message
    assert "for 720 minutes" in message and "at least 150 per variant" in message
    assert "A/B trial" not in _email(comparison)
