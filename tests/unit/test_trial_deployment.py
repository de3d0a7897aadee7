"""A/B trials: the trial's endpoint config as SageMaker takes it, its times, and the emails that start and end it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from driftline_core.deployment.endpoint import trial_times
from driftline_core.deployment.trial import build_trial_config_request, is_trial_config
from driftline_core.notifications.messages import build_notification
from driftline_core.payloads import ABTestPlan, NotifyInput
from driftline_core.settings import DeploymentSettings, Settings
from tests.conftest import load_event
from tests.request_shapes import assert_valid_request

SETTINGS = Settings(artifact_bucket="artifacts", sagemaker_role_arn="arn:aws:iam::123456789012:role/r")
CHAMPION = {
    "VariantName": "AllTraffic",
    "ModelName": "driftline-credit-v1",
    "InitialVariantWeight": 1.0,
    "InstanceType": "ml.c5.xlarge",
    "InitialInstanceCount": 2,
}


def plan(mode: str, share: float = 0.2) -> ABTestPlan:
    return ABTestPlan(mode=mode, challenger_share=share, trial_minutes=90, min_labelled_rows=100, significance=0.05)  # type: ignore[arg-type]


def trial_config(mode: str) -> dict[str, Any]:
    return build_trial_config_request(
        "driftline-credit--trial-v2",
        "credit",
        SETTINGS,
        DeploymentSettings(endpoint_instance_type="ml.m5.large", endpoint_instance_count=1),
        champion=CHAMPION,
        challenger_model="driftline-credit-v2",
        challenger_variant="Challenger-v2",
        plan=plan(mode),
    )


def test_a_split_trial_weights_the_serving_variant_as_it_serves_and_the_challenger_by_its_share() -> None:
    request = trial_config("split")
    assert_valid_request("sagemaker", "CreateEndpointConfig", request)
    serving, challenger = request["ProductionVariants"]
    assert serving == {**CHAMPION, "InitialVariantWeight": 0.8}
    assert challenger == {
        "VariantName": "Challenger-v2",
        "ModelName": "driftline-credit-v2",
        "InitialVariantWeight": 0.2,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    # Both variants are captured, each into its own folder, as the production config's capture does.
    assert request["DataCaptureConfig"]["DestinationS3Uri"] == "s3://artifacts/capture/credit"
    assert "ShadowProductionVariants" not in request
    assert is_trial_config(request)


def test_a_shadow_trial_keeps_one_production_variant_and_copies_the_share_to_the_challenger() -> None:
    request = trial_config("shadow")
    assert_valid_request("sagemaker", "CreateEndpointConfig", request)
    assert request["ProductionVariants"] == [{**CHAMPION, "InitialVariantWeight": 1.0}]
    (shadow,) = request["ShadowProductionVariants"]
    assert (shadow["VariantName"], shadow["ModelName"], shadow["InitialVariantWeight"]) == (
        "Challenger-v2",
        "driftline-credit-v2",
        0.2,
    )
    assert is_trial_config(request)
    assert not is_trial_config({"ProductionVariants": [CHAMPION]})


def test_a_trial_ends_its_minutes_after_the_endpoint_served_both_variants_in_the_wait_states_format() -> None:
    times = trial_times({"trial_minutes": 90}, now=datetime(2026, 12, 7, 23, 0, 30, tzinfo=UTC))
    assert (times["started_at"], times["ends_at"]) == ("2026-12-07T23:00:30Z", "2026-12-08T00:30:30Z")
    # A repeated resume keeps the times the first one set.
    assert trial_times(times, now=datetime(2027, 1, 1, tzinfo=UTC)) == times


TRIAL = {
    "mode": "split",
    "champion_variant": "AllTraffic",
    "challenger_variant": "Challenger-v2",
    "champion_endpoint_config_name": "driftline-credit-v1",
    "champion_model_name": "driftline-credit-v1",
    "champion_model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/1",
    "challenger_model_name": "driftline-credit-v2",
    "challenger_model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/2",
    "challenger_share": 0.2,
    "trial_minutes": 1440,
    "min_labelled_rows": 200,
    "significance": 0.05,
    "started_at": "2026-12-07T10:00:00Z",
    "ends_at": "2026-12-08T10:00:00Z",
}


def deployment(action: str, config: str, **trial: Any) -> dict[str, Any]:
    return {
        "endpoint_name": "driftline-credit",
        "endpoint_arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-credit",
        "endpoint_config_name": config,
        "model_name": "driftline-credit-v2",
        "model_package_arn": TRIAL["challenger_model_package_arn"],
        "action": action,
        "endpoint_type": "Provisioned",
        "data_capture_uri": "s3://artifacts/capture/credit",
        "trial": {**TRIAL, **trial},
    }


def email(outcome: str, run: dict[str, Any]) -> Any:
    return build_notification(
        NotifyInput(outcome=outcome, execution_id="arn:x", execution_name="credit-2", run=load_event("deploy") | run)  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("mode", ["split", "shadow"])
def test_the_trial_started_email_says_who_answers_what_until_when_and_where_the_labels_go(mode: str) -> None:
    notification = email("trial_started", {"deployment": deployment("trial", "driftline-credit--trial-v2", mode=mode)})
    assert notification.subject == "Driftline: credit A/B trial of model version 2 started"
    message = notification.message
    assert "20% of the requests to endpoint driftline-credit" in message
    assert "from 2026-12-07T10:00:00Z to 2026-12-08T10:00:00Z" in message
    assert "ground-truth/credit/" in message and "inference_id" in message and "InferenceId" in message
    assert "at least 200 per variant" in message
    assert ("never returned" in message) is (mode == "shadow")
    assert notification.error == ""


def decision(decided: str, winner: str, reason: str) -> dict[str, Any]:
    return {
        "decision": decided,
        "winner": winner,
        "reason": reason,
        "metric": "accuracy",
        "champion_value": 0.81,
        "challenger_value": 0.86,
        "champion_rows": 812,
        "challenger_rows": 203,
        "p_value": 0.012,
        "test": "two-proportion z-test",
        "trial_uri": "s3://artifacts/runs/credit-2/trial/trial.json",
        "report_uri": "s3://artifacts/runs/credit-2/trial/trial_report.html",
    }


@pytest.mark.parametrize(
    ("decided", "winner", "config", "subject", "says"),
    [
        (
            "challenger",
            "challenger",
            "driftline-credit-v2",
            "Driftline: credit model version 2 won its A/B trial and is live",
            "now serves alone on endpoint driftline-credit",
        ),
        (
            "champion",
            "champion",
            "driftline-credit-v1",
            "Driftline: credit A/B trial of model version 2: the serving model stays",
            "did not beat the serving model",
        ),
        (
            "not_enough_evidence",
            "champion",
            "driftline-credit-v1",
            "Driftline: credit A/B trial of model version 2: not enough evidence",
            "decided nothing",
        ),
    ],
)
def test_the_email_at_a_trials_end_says_who_serves_why_with_the_figures_and_the_report(
    decided: str, winner: str, config: str, subject: str, says: str
) -> None:
    reason = "Not enough evidence: the challenger (Challenger-v2) has 37 labelled rows, 200 needed."
    notification = email(
        "deployed", {"deployment": deployment("concluded", config), "trial": decision(decided, winner, reason)}
    )
    assert notification.subject == subject
    assert says in notification.message
    assert reason in notification.message
    assert "serving model 0.8100 on 812 rows, challenger 0.8600 on 203 rows" in notification.message
    assert "p = 0.012" in notification.message
    assert "trial_report.html" in notification.message
    assert ("invoke-endpoint" in notification.message) is (winner == "challenger")


def test_the_email_of_a_promoted_winner_says_who_promoted_it() -> None:
    promotion = {
        "approval_id": "p",
        "decision": "approved",
        "decided_by": "carol@example.com",
        "decided_at": "2026-12-08T11:00:00Z",
        "source": "link",
        "reason": "clear win",
    }
    notification = email(
        "deployed",
        {
            "deployment": deployment("concluded", "driftline-credit-v2"),
            "trial": decision("challenger", "challenger", "better"),
            "promotion": promotion,
        },
    )
    assert notification.subject == "Driftline: credit model version 2 won its A/B trial and is live"
    assert "Promoted by:     carol@example.com at 2026-12-08T11:00:00Z: clear win" in notification.message


@pytest.mark.parametrize(
    ("error", "says"),
    [
        (
            {
                "Error": "ApprovalRejected",
                "Cause": "The promotion of credit model version 2 was rejected by sam at 2026-12-08T11:00:00Z "
                "through the approval link: too few fraud cases",
            },
            "but was not promoted: The promotion of credit model version 2 was rejected by sam at "
            "2026-12-08T11:00:00Z through the approval link: too few fraud cases.",
        ),
        (
            {"Error": "States.Timeout", "Cause": "The task timed out"},
            "but was not promoted: nobody decided on its promotion before the approval expired.",
        ),
    ],
)
def test_the_email_of_a_winner_not_promoted_says_why_and_that_the_serving_model_stays(
    error: dict[str, str], says: str
) -> None:
    notification = email(
        "deployed",
        {
            "deployment": deployment("concluded", "driftline-credit-v1"),
            "trial": decision("challenger", "champion", "better"),
            "promotion_error": error,
        },
    )
    assert (
        notification.subject
        == "Driftline: credit A/B trial of model version 2: won, not promoted; the serving model stays"
    )
    assert says in notification.message
    assert "The serving model stays alone on endpoint driftline-credit." in notification.message
    assert "invoke-endpoint" not in notification.message and "Promoted by" not in notification.message
