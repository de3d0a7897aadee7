"""Deployment's names, requests and messages: pure, checked against SageMaker's constraints in botocore's model."""

from __future__ import annotations

import re

import botocore.session
import pytest

from driftline_core.deployment.endpoint import (
    MAX_UPDATE_TIMEOUT_SECONDS,
    MIN_UPDATE_TIMEOUT_SECONDS,
    PROVISIONING_MINIMUM_SECONDS,
    ROLLBACK_ALLOWANCE_SECONDS,
    build_alarm_requests,
    build_deployment_config,
    build_endpoint_config_request,
    build_model_request,
    update_timeout_seconds,
)
from driftline_core.errors import DeploymentFailed
from driftline_core.layout import endpoint_name, is_valid_dataset_name, versioned_name
from driftline_core.notifications.messages import build_notification
from driftline_core.payloads import NotifyInput
from driftline_core.settings import DeploymentSettings, Settings
from tests.conftest import load_event

_SAGEMAKER = botocore.session.get_session().get_service_model("sagemaker")


def _pattern(shape: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{_SAGEMAKER.shape_for(shape).metadata['pattern']})$")


ENDPOINT_NAME = _pattern("EndpointName")
CONFIG_NAME = _pattern("EndpointConfigName")
MODEL_NAME = _pattern("ModelName")


@pytest.mark.parametrize(
    "dataset",
    ["credit", "a", "Credit-Risk", "x" * 40, "a--b", "churn-2026-q4-" + "z" * 26, "A1" * 20],
)
def test_every_dataset_name_validate_accepts_gives_valid_short_names_under_the_stack_prefix(dataset: str) -> None:
    assert is_valid_dataset_name(dataset)
    endpoint = endpoint_name("driftline-production-eu-central-1-team-a", dataset)
    version_name = versioned_name(endpoint, 999_999_999, stack="driftline-production-eu-central-1-team-a")
    assert ENDPOINT_NAME.match(endpoint) and len(endpoint) <= 63
    assert CONFIG_NAME.match(version_name) and MODEL_NAME.match(version_name) and len(version_name) <= 63
    assert endpoint.startswith("driftline-production-eu-central-1-team-a-")
    assert version_name.startswith("driftline-production-eu-central-1-team-a-")


def test_datasets_differing_only_in_letter_case_or_tail_get_different_endpoints_and_versions() -> None:
    prefix = "driftline-production-eu-central-1-team-a"
    names = {endpoint_name(prefix, dataset) for dataset in ("credit", "Credit", "x" * 39 + "a", "x" * 39 + "b")}
    assert len(names) == 4
    assert len({versioned_name(name, 3, stack=prefix) for name in names}) == 4


def test_provisioned_configs_capture_requests_and_answers_under_the_dataset_prefix_with_the_kms_key() -> None:
    settings = Settings(artifact_bucket="artifacts", kms_key_arn="arn:aws:kms:us-east-1:123456789012:key/k")
    request = build_endpoint_config_request("driftline-credit-v3", "credit", settings, DeploymentSettings())
    capture = request["DataCaptureConfig"]
    assert capture["DestinationS3Uri"] == "s3://artifacts/capture/credit"
    assert {option["CaptureMode"] for option in capture["CaptureOptions"]} == {"Input", "Output"}
    assert capture["KmsKeyId"] == request["KmsKeyId"] == settings.kms_key_arn


def test_serverless_configs_have_memory_and_concurrency_and_no_data_capture() -> None:
    deployment = DeploymentSettings(endpoint_type="Serverless", serverless_memory_mb=3072)
    request = build_endpoint_config_request("driftline-credit-v3", "credit", Settings(), deployment)
    variant = request["ProductionVariants"][0]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 5}
    assert "InstanceType" not in variant and "DataCaptureConfig" not in request


def test_updates_shift_all_traffic_at_once_after_a_bake_watched_by_the_error_and_latency_alarms() -> None:
    deployment = DeploymentSettings(bake_seconds=600, latency_alarm_p99_milliseconds=250)
    config = build_deployment_config("driftline-credit", deployment)
    policy = config["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"] == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600}
    alarms = {request["AlarmName"]: request for request in build_alarm_requests("driftline-credit", deployment)}
    assert [alarm["AlarmName"] for alarm in config["AutoRollbackConfiguration"]["Alarms"]] == list(alarms)
    latency = alarms["driftline-credit-model-latency-p99"]
    assert (latency["ExtendedStatistic"], latency["Threshold"]) == ("p99", 250_000.0)  # microseconds
    errors = alarms["driftline-credit-invocation-5xx-errors"]
    assert [query.get("Expression") for query in errors["Metrics"] if query["ReturnData"]] == [
        "100 * errors / invocations"
    ]
    for alarm in alarms.values():  # one bad minute (an old-fleet error as the update starts) never rolls back
        assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 3)


@pytest.mark.parametrize("bake", [0, 300, 3600])
@pytest.mark.parametrize("wait", [6000, 7200, 14400])
def test_an_update_ends_within_its_time_limit_and_the_run_waits_past_it_for_every_bake_and_wait_allowed(
    bake: int, wait: int
) -> None:
    deployment = DeploymentSettings(bake_seconds=bake, deploy_timeout_seconds=wait)
    limit = build_deployment_config("driftline-credit", deployment)["BlueGreenUpdatePolicy"][
        "MaximumExecutionTimeoutInSeconds"
    ]
    assert MIN_UPDATE_TIMEOUT_SECONDS <= limit <= MAX_UPDATE_TIMEOUT_SECONDS  # UpdateEndpoint's range
    assert limit >= PROVISIONING_MINIMUM_SECONDS + bake + deployment.old_fleet_termination_wait_seconds
    assert limit + ROLLBACK_ALLOWANCE_SECONDS <= wait


def test_a_wait_too_short_for_the_bake_is_refused_naming_both_parameters() -> None:
    with pytest.raises(
        DeploymentFailed, match="raise DeployTimeoutSeconds to at least 6000 or lower DeploymentBakeSeconds"
    ):
        update_timeout_seconds(DeploymentSettings(bake_seconds=3600, deploy_timeout_seconds=5000))


def test_models_are_built_from_the_package_as_one_primary_container() -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"
    request = build_model_request("driftline-credit-v3", arn, Settings(), "credit")
    assert request["PrimaryContainer"] == {"ModelPackageName": arn} and "Containers" not in request


def test_the_deployed_email_names_the_endpoint_and_how_to_invoke_it() -> None:
    run = load_event("deploy") | {
        "deployment": {
            "endpoint_name": "driftline-credit",
            "endpoint_arn": "arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-credit",
            "endpoint_config_name": "driftline-credit-v3",
            "model_name": "driftline-credit-v3",
            "model_package_arn": "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3",
            "action": "updated",
            "endpoint_type": "Provisioned",
            "previous_endpoint_config_name": "driftline-credit-v2",
            "data_capture_uri": "s3://artifacts/capture/credit",
            "alarms": ["driftline-credit-invocation-5xx-errors"],
        }
    }
    notification = build_notification(
        NotifyInput(outcome="deployed", execution_id="arn:x", execution_name="credit-1", run=run)
    )
    assert notification.subject == "Driftline: credit model deployed"
    assert "invoke-endpoint --endpoint-name driftline-credit" in notification.message
    assert "Previous config: driftline-credit-v2" in notification.message


def test_a_failed_deployment_says_the_previous_model_keeps_serving() -> None:
    cause = "Endpoint driftline-credit: update to driftline-credit-v3 failed, previous model still serving (v2): x"
    notification = build_notification(
        NotifyInput.model_validate(
            {
                "outcome": "failed",
                "execution_id": "arn:x",
                "execution_name": "credit-1",
                "run": load_event("register")
                | {key: load_event("deploy")[key] for key in ("registration", "approval")},
                "error": {"Error": "DeploymentFailed", "Cause": cause},
            }
        )
    )
    assert notification.subject == "Driftline: credit run failed at deployment"
    assert "keeps serving its previous model" in notification.cause
    assert cause in notification.message
