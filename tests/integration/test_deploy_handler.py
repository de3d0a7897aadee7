"""Deploy under moto: the approved package becomes a model, an endpoint config with data capture and an endpoint;
the endpoint's state change (or the reconciler) resumes the run with the deployment's result or its failure.

moto has no UpdateEndpoint; the tests that update an endpoint give moto's SageMaker one that marks the endpoint
Updating, as SageMaker does, and then settle it the way SageMaker would (the new config in service, or the old
one back with a FailureReason). Step Functions is stubbed: under moto, SendTask* record nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker.models import sagemaker_backends

from driftline_core.errors import DeploymentFailed, EndpointBusy
from driftline_core.payloads import DeployInput, DeploymentResult, RemoveStagingInput
from driftline_core.settings import reset_settings
from tests.conftest import REGION, FakeLambdaContext, load_event
from tests.integration.pipeline_resources import ARTIFACT_BUCKET, SKLEARN_IMAGE

TOKEN = "AQCEAAAAKgAAAAMAAAAAAAAAAdriftlineTaskTokenForTests"
ENDPOINT = "driftline-credit"
GROUP = "driftline-credit"


@pytest.fixture
def world(pipeline: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:

    monkeypatch.setenv("MODEL_PACKAGE_GROUP_PREFIX", "driftline")
    monkeypatch.setenv("DATA_CAPTURE_SAMPLING_PERCENTAGE", "50")
    monkeypatch.setenv("ENDPOINT_CONFIGS_RETAINED", "2")
    # FinishDeployment also schedules the drift monitor (tests/integration/test_drift_monitoring.py).
    monkeypatch.setenv("MONITORING_FUNCTION_ARN", "arn:aws:lambda:us-east-1:123456789012:function:driftline-monitor")
    monkeypatch.setenv("MONITORING_SCHEDULER_ROLE_ARN", "arn:aws:iam::123456789012:role/driftline-monitor-scheduler")
    reset_settings()
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName=GROUP)
    yield
    reset_settings()


@pytest.fixture
def stepfunctions() -> Iterator[Stubber]:
    from driftline_core.aws.clients import get_client

    with Stubber(get_client("stepfunctions")) as stub:
        yield stub
        stub.assert_no_pending_responses()


@pytest.fixture
def sent() -> Iterator[dict[str, list[dict[str, Any]]]]:
    from driftline_core.aws.clients import get_client

    requests: dict[str, list[dict[str, Any]]] = {}

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        requests.setdefault(model.name, []).append(json.loads(json.dumps(params)))

    events = get_client("sagemaker").meta.events
    events.register("provide-client-params.sagemaker.*", record)
    yield requests
    events.unregister("provide-client-params.sagemaker.*", record)


def register_version() -> str:
    """A new version in the group, as Register creates it (then approved)."""
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    arn = sagemaker.create_model_package(
        ModelPackageGroupName=GROUP,
        ModelApprovalStatus="Approved",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": SKLEARN_IMAGE,
                    "ModelDataUrl": f"s3://{ARTIFACT_BUCKET}/runs/x/train/x-train/output/model.tar.gz",
                    "Environment": {"SAGEMAKER_PROGRAM": "serve.py"},
                }
            ],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    return str(arn)


def deploy_event(package_arn: str) -> dict[str, Any]:
    event = load_event("deploy")
    event["registration"]["model_package_arn"] = package_arn
    return event | {"task_token": TOKEN}


def deploy(package_arn: str) -> dict[str, Any]:
    from functions.deploy import app

    result: dict[str, Any] = app.lambda_handler(deploy_event(package_arn), FakeLambdaContext())
    return result


def endpoint_event(status: str = "IN_SERVICE") -> dict[str, Any]:
    event = load_event("sagemaker_endpoint_in_service")
    event["detail"]["EndpointStatus"] = status
    return event


def job_events(event: dict[str, Any]) -> dict[str, Any]:
    from functions.job_events import app

    result: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    return result


def expect_success(stub: Stubber) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    class Output:
        def __eq__(self, other: object) -> bool:
            seen.update(json.loads(str(other)))
            return True

    stub.add_response("send_task_success", {}, {"taskToken": TOKEN, "output": Output()})
    return seen


def expect_failure(stub: Stubber) -> dict[str, str]:
    seen: dict[str, str] = {}

    class Cause:
        def __eq__(self, other: object) -> bool:
            seen["cause"] = str(other)
            return True

    stub.add_response("send_task_failure", {}, {"taskToken": TOKEN, "error": "DeploymentFailed", "cause": Cause()})
    return seen


def moto_endpoint() -> Any:
    return sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION].endpoints[ENDPOINT]


@pytest.fixture
def updatable(world: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """UpdateEndpoint in moto: the endpoint is Updating (SageMaker answers at once and works in the background)."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.responses import SageMakerResponse

    pending: list[str] = []

    def update_endpoint(self: SageMakerResponse) -> ActionResult:
        fake = self.sagemaker_backend.endpoints[self._get_param("EndpointName")]
        fake.endpoint_status = "Updating"
        pending.append(self._get_param("EndpointConfigName"))
        return ActionResult({"EndpointArn": fake.arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    return pending


def test_the_sample_deploy_and_endpoint_events_parse(aws_env: None) -> None:
    DeployInput.model_validate(load_event("deploy"))
    from functions.job_events.app import SageMakerJobStateChange

    SageMakerJobStateChange.model_validate(load_event("sagemaker_endpoint_in_service"))


def test_first_deployment_creates_model_config_with_capture_and_endpoint_and_resumes_the_run_in_service(
    world: None, stepfunctions: Stubber, sent: dict[str, list[dict[str, Any]]]
) -> None:
    package = register_version()
    seen = expect_success(stepfunctions)

    started = deploy(package)

    assert started == {"endpoint_name": ENDPOINT, "endpoint_config_name": f"{ENDPOINT}-v1", "action": "created"}
    # As SageMaker's SDK builds a model from a package: one primary container (valid on serverless endpoints).
    assert sent["CreateModel"][0]["PrimaryContainer"] == {"ModelPackageName": package}
    assert "Containers" not in sent["CreateModel"][0]
    assert sent["CreateModel"][0]["ExecutionRoleArn"].endswith(":role/driftline-sagemaker-execution")
    config = sent["CreateEndpointConfig"][0]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == f"s3://{ARTIFACT_BUCKET}/capture/credit"
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    assert config["ProductionVariants"][0]["ModelName"] == f"{ENDPOINT}-v1"
    # moto's endpoint is InService at once: Deploy itself saw it settled and resumed the run.
    result = DeploymentResult.model_validate(seen)
    assert (result.action, result.endpoint_config_name, result.model_package_arn) == (
        "created",
        f"{ENDPOINT}-v1",
        package,
    )
    alarms = boto3.client("cloudwatch", region_name=REGION).describe_alarms(AlarmNamePrefix=ENDPOINT)["MetricAlarms"]
    assert {alarm.get("MetricName") for alarm in alarms} == {None, "ModelLatency"}
    rate = next(alarm for alarm in alarms if "Metrics" in alarm)
    assert {query["MetricStat"]["Metric"]["MetricName"] for query in rate["Metrics"] if "MetricStat" in query} == {
        "Invocation5XXErrors",
        "Invocations",
    }


def test_a_second_version_updates_blue_green_with_rollback_alarms_and_the_event_resumes_the_run(
    updatable: list[str], stepfunctions: Stubber, sent: dict[str, list[dict[str, Any]]]
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    second = register_version()

    started = deploy(second)

    assert started["action"] == "updated"
    update = sent["UpdateEndpoint"][0]
    policy = update["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert policy["TrafficRoutingConfiguration"]["Type"] == "ALL_AT_ONCE"
    assert [alarm["AlarmName"] for alarm in update["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]] == [
        f"{ENDPOINT}-invocation-5xx-errors",
        f"{ENDPOINT}-model-latency-p99",
    ]
    assert job_events(endpoint_event("UPDATING")) == {"outcome": "still_running"}

    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", f"{ENDPOINT}-v2"
    seen = expect_success(stepfunctions)
    assert job_events(endpoint_event()) == {"outcome": "succeeded"}
    assert (seen["action"], seen["previous_endpoint_config_name"]) == ("updated", f"{ENDPOINT}-v1")


def test_an_update_that_rolled_back_fails_the_run_saying_the_previous_model_still_serves(
    updatable: list[str], stepfunctions: Stubber
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    deploy(register_version())
    fake = moto_endpoint()
    fake.endpoint_status, fake.failure_reason = "InService", "Alarm driftline-credit-invocation-5xx-errors went off"

    failure = expect_failure(stepfunctions)
    assert job_events(endpoint_event()) == {"outcome": "failed"}
    assert failure["cause"] == (
        f"Endpoint {ENDPOINT}: update to {ENDPOINT}-v2 failed, previous model still serving ({ENDPOINT}-v1): "
        "Alarm driftline-credit-invocation-5xx-errors went off"
    )


def test_switching_a_live_provisioned_endpoint_to_serverless_is_refused_before_the_endpoint_is_touched(
    updatable: list[str], stepfunctions: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    monkeypatch.setenv("ENDPOINT_TYPE", "Serverless")
    reset_settings()

    with pytest.raises(DeploymentFailed, match="cannot update an instance-based endpoint to serverless") as refused:
        deploy(register_version())

    assert "aws sagemaker delete-endpoint --endpoint-name driftline-credit" in str(refused.value)
    assert "set EndpointType back to Provisioned" in str(refused.value)
    assert updatable == []  # no UpdateEndpoint was sent
    assert (moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name) == ("InService", f"{ENDPOINT}-v1")


def test_a_deploy_timeout_no_update_fits_in_is_refused_before_the_endpoint_is_touched(
    updatable: list[str], stepfunctions: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    monkeypatch.setenv("DEPLOY_TIMEOUT_SECONDS", "3000")
    monkeypatch.setenv("BAKE_SECONDS", "1200")
    reset_settings()

    with pytest.raises(
        DeploymentFailed, match="raise DeployTimeoutSeconds to at least 3600 or lower DeploymentBakeSeconds"
    ):
        deploy(register_version())

    assert updatable == []
    assert moto_endpoint().endpoint_config_name == f"{ENDPOINT}-v1"


def test_a_lost_endpoint_event_is_covered_by_the_reconciler(updatable: list[str], stepfunctions: Stubber) -> None:
    from driftline_core.resume import resume_finished_jobs
    from driftline_core.settings import get_settings

    expect_success(stepfunctions)
    deploy(register_version())
    deploy(register_version())
    assert resume_finished_jobs(settings=get_settings()).outcomes == {"still_running": 1}

    moto_endpoint().endpoint_status = "Failed"
    moto_endpoint().failure_reason = "The primary container did not pass the ping health check."
    failure = expect_failure(stepfunctions)
    assert resume_finished_jobs(settings=get_settings()).outcomes == {"failed": 1}
    assert "is Failed after deploying driftline-credit-v2: The primary container did not pass" in failure["cause"]


def test_old_versions_beyond_the_retention_are_deleted_but_never_the_serving_or_new_one(
    updatable: list[str], stepfunctions: Stubber
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    for version in (2, 3, 4):
        deploy(register_version())
        moto_endpoint().endpoint_status = "InService"
        moto_endpoint().endpoint_config_name = f"{ENDPOINT}-v{version}"
        expect_success(stepfunctions)
        job_events(endpoint_event())

    sagemaker = boto3.client("sagemaker", region_name=REGION)
    configs = {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]}
    models = {m["ModelName"] for m in sagemaker.list_models()["Models"]}
    # Retention 2: v4 (serving) and v3 (the previous) stay; v1 and v2 went when v4 was deployed.
    assert configs == models == {f"{ENDPOINT}-v3", f"{ENDPOINT}-v4"}


def test_an_event_for_an_endpoint_no_run_waits_on_changes_nothing(world: None) -> None:
    assert job_events(endpoint_event()) == {"outcome": "not_ours"}


def test_finishing_registers_target_tracking_autoscaling_on_the_variant(world: None, stepfunctions: Stubber) -> None:
    from functions.finish_deployment import app

    seen = expect_success(stepfunctions)
    deploy(register_version())
    event = {k: load_event("deploy")[k] for k in ("execution_id", "execution_name", "dataset", "data")}

    context: Any = FakeLambdaContext()
    setup = app.lambda_handler(event | {"deployment": seen}, context)

    assert setup["autoscaling"].startswith("1 to 2 instances")
    autoscaling = boto3.client("application-autoscaling", region_name=REGION)
    policy = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"][0]
    assert policy["ResourceId"] == f"endpoint/{ENDPOINT}/variant/AllTraffic"
    spec = policy["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert spec["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"


# Staging: Deploy with target "staging", and RemoveStaging -------------------------------------------------------
#
# The candidate's own staging endpoint serves the model production will serve, captures nothing, resumes the run
# like a production deployment, and is deleted after the decision.

STAGING = f"{ENDPOINT}--staging-v1"


def deploy_to_staging(package_arn: str) -> dict[str, Any]:
    from functions.deploy import app

    event = deploy_event(package_arn) | {"target": "staging"}
    event.pop("approval")
    result: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    return result


def remove(package_arn: str | None, *, keep_model: bool = False, staging: bool = True) -> dict[str, Any]:
    from functions.remove_staging import app

    event = load_event("remove_staging") | {"keep_model": keep_model, "staging": staging}
    if package_arn is None:
        event.pop("registration")
    else:
        event["registration"]["model_package_arn"] = package_arn
    result: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
    return result


def names() -> dict[str, set[str]]:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    return {
        "endpoints": {e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]},
        "configs": {c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]},
        "models": {m["ModelName"] for m in sagemaker.list_models()["Models"]},
    }


def test_the_sample_remove_staging_event_parses(aws_env: None) -> None:
    RemoveStagingInput.model_validate(load_event("remove_staging"))


def test_a_candidate_goes_to_its_own_staging_endpoint_without_capture_and_resumes_the_run_in_service(
    world: None, stepfunctions: Stubber, sent: dict[str, list[dict[str, Any]]]
) -> None:
    package = register_version()
    seen = expect_success(stepfunctions)

    started = deploy_to_staging(package)

    assert started == {"endpoint_name": STAGING, "endpoint_config_name": STAGING, "action": "created"}
    config = sent["CreateEndpointConfig"][0]
    assert "DataCaptureConfig" not in config
    # The staging config serves the Model production will serve once the version is approved.
    assert config["ProductionVariants"][0]["ModelName"] == f"{ENDPOINT}-v1"
    result = DeploymentResult.model_validate(seen)
    assert (result.endpoint_name, result.model_name, result.alarms) == (STAGING, f"{ENDPOINT}-v1", [])
    # The production endpoint is not touched, nor are its rollback alarms created.
    assert ENDPOINT not in names()["endpoints"]
    assert "PutMetricAlarm" not in sent


def test_after_promotion_the_staging_endpoint_goes_and_the_model_production_serves_stays(
    world: None, stepfunctions: Stubber
) -> None:
    package = register_version()
    expect_success(stepfunctions)
    deploy_to_staging(package)
    expect_success(stepfunctions)
    deploy(package)

    removal = remove(package, keep_model=True)

    assert removal["endpoint_name"] == STAGING
    left = names()
    assert STAGING not in left["endpoints"] and STAGING not in left["configs"]
    assert f"{ENDPOINT}-v1" in left["models"] and ENDPOINT in left["endpoints"]


def test_a_rejected_candidate_loses_its_staging_endpoint_config_and_model(world: None, stepfunctions: Stubber) -> None:
    package = register_version()
    expect_success(stepfunctions)
    deploy_to_staging(package)

    removal = remove(package)

    assert sorted(removal["removed"]) == sorted(
        [f"endpoint {STAGING}", f"endpoint config {STAGING}", f"model {ENDPOINT}-v1"]
    )
    left = names()
    assert not left["endpoints"] and not left["configs"] and not left["models"]


@pytest.mark.parametrize(("package", "staging"), [(None, True), ("registered", False), ("registered", True)])
def test_removal_with_nothing_to_remove_succeeds_and_removes_nothing(
    world: None, package: str | None, staging: bool
) -> None:
    arn = register_version() if package else None
    assert remove(arn, staging=staging)["removed"] == []


# A/B trials: Deploy with an ab_test release plan, then the trial's end ------------------------------------------

SPLIT = {
    "staging": False,
    "ab_test": {
        "mode": "split",
        "challenger_share": 0.25,
        "trial_minutes": 30,
        "min_labelled_rows": 100,
        "significance": 0.05,
    },
}


def deploy_with(package_arn: str, **fields: Any) -> dict[str, Any]:
    from functions.deploy import app

    result: dict[str, Any] = app.lambda_handler(deploy_event(package_arn) | fields, FakeLambdaContext())
    return result


def test_an_approved_model_joins_the_serving_one_for_a_trial_and_the_run_waits_until_its_end_time(
    updatable: list[str], stepfunctions: Stubber, sent: dict[str, list[dict[str, Any]]]
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    challenger = register_version()

    started = deploy_with(challenger, release=SPLIT)

    trial_config = f"{ENDPOINT}--trial-v2"
    assert started == {"endpoint_name": ENDPOINT, "endpoint_config_name": trial_config, "action": "trial"}
    config = next(c for c in sent["CreateEndpointConfig"] if c["EndpointConfigName"] == trial_config)
    assert [(v["VariantName"], v["ModelName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("AllTraffic", f"{ENDPOINT}-v1", 0.75),
        ("Challenger-v2", f"{ENDPOINT}-v2", 0.25),
    ]
    assert updatable == [trial_config]
    # An update that adds a variant cannot take a deployment policy (guardrails need the same variant names); a
    # challenger that does not start still leaves v1 serving (next test).
    assert "DeploymentConfig" not in sent["UpdateEndpoint"][0]

    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", trial_config
    seen = expect_success(stepfunctions)
    assert job_events(endpoint_event()) == {"outcome": "succeeded"}
    result = DeploymentResult.model_validate(seen)
    assert result.action == "trial" and result.trial is not None
    assert (result.trial.champion_endpoint_config_name, result.trial.challenger_variant) == (
        f"{ENDPOINT}-v1",
        "Challenger-v2",
    )
    assert result.trial.champion_model_package_arn is not None
    assert result.trial.champion_model_package_arn.endswith("/1")
    started_at = datetime.strptime(result.trial.started_at, "%Y-%m-%dT%H:%M:%SZ")
    ends_at = datetime.strptime(result.trial.ends_at, "%Y-%m-%dT%H:%M:%SZ")
    assert ends_at - started_at == timedelta(minutes=30)


def test_a_challenger_that_fails_to_start_leaves_the_serving_model_alone_and_the_run_says_so(
    updatable: list[str], stepfunctions: Stubber
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    deploy_with(register_version(), release=SPLIT)
    fake = moto_endpoint()
    fake.endpoint_status, fake.failure_reason = "InService", "The variant Challenger-v2 failed its health check"

    failure = expect_failure(stepfunctions)
    assert job_events(endpoint_event()) == {"outcome": "failed"}
    assert failure["cause"] == (
        f"The challenger ({ENDPOINT}-v2) could not join endpoint {ENDPOINT} for its A/B trial; the endpoint still "
        f"serves {ENDPOINT}-v1, unchanged: The variant Challenger-v2 failed its health check"
    )
    assert moto_endpoint().endpoint_config_name == f"{ENDPOINT}-v1"


def _trial_run(stepfunctions: Stubber, status: str | None) -> None:
    """What Step Functions says of the run named in the sample Deploy event: running, stopped, or no such run."""
    execution = load_event("deploy")["execution_id"]
    if status is None:
        stepfunctions.add_client_error("describe_execution", service_error_code="ExecutionDoesNotExist")
        return
    stepfunctions.add_response(
        "describe_execution",
        {
            "executionArn": execution,
            "stateMachineArn": execution.replace(":execution:", ":stateMachine:").rsplit(":", 1)[0],
            "status": status,
            "startDate": datetime(2026, 12, 7),
        },
        {"executionArn": execution},
    )


def _in_trial(stepfunctions: Stubber) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    deploy_with(register_version(), release=SPLIT)
    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", f"{ENDPOINT}--trial-v2"
    expect_success(stepfunctions)
    job_events(endpoint_event())


def test_no_model_replaces_a_trial_whose_run_still_waits_for_it(updatable: list[str], stepfunctions: Stubber) -> None:
    _in_trial(stepfunctions)
    _trial_run(stepfunctions, "RUNNING")

    with pytest.raises(DeploymentFailed, match=r"is in an A/B trial .* run by credit-5e4f54c7bade"):
        deploy(register_version())
    assert updatable == [f"{ENDPOINT}--trial-v2"]


@pytest.mark.parametrize(("release", "run"), [(None, "ABORTED"), (SPLIT, "ABORTED"), (SPLIT, None)])
def test_a_trial_left_by_a_run_that_ended_is_replaced_from_the_config_it_started_from(
    updatable: list[str],
    stepfunctions: Stubber,
    sent: dict[str, list[dict[str, Any]]],
    release: dict[str, Any] | None,
    run: str | None,
) -> None:
    _in_trial(stepfunctions)
    _trial_run(stepfunctions, run)

    started = deploy_with(register_version(), release=release)

    if release is None:
        assert (started["action"], updatable[-1]) == ("updated", f"{ENDPOINT}-v3")
        # From the trial's two variants to one: guardrails need the same variant names, so no deployment policy.
        assert "DeploymentConfig" not in sent["UpdateEndpoint"][-1]
        return
    assert (started["action"], updatable[-1]) == ("trial", f"{ENDPOINT}--trial-v3")
    config = next(c for c in sent["CreateEndpointConfig"] if c["EndpointConfigName"] == f"{ENDPOINT}--trial-v3")
    assert [v["ModelName"] for v in config["ProductionVariants"]] == [f"{ENDPOINT}-v1", f"{ENDPOINT}-v3"]
    assert {"Key": "driftline:champion-config", "Value": f"{ENDPOINT}-v1"} in config["Tags"]
    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", f"{ENDPOINT}--trial-v3"
    seen = expect_success(stepfunctions)
    job_events(endpoint_event())
    # When the champion stays, the endpoint goes back to its own config, not to the abandoned trial's.
    assert seen["trial"]["champion_endpoint_config_name"] == f"{ENDPOINT}-v1"


def test_a_trial_on_a_serverless_endpoint_is_refused_before_the_endpoint_is_touched(
    updatable: list[str], stepfunctions: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    monkeypatch.setenv("ENDPOINT_TYPE", "Serverless")
    reset_settings()

    with pytest.raises(DeploymentFailed, match="serverless endpoints do not have"):
        deploy_with(register_version(), release=SPLIT)
    assert updatable == []


@pytest.mark.parametrize(("winner", "serves"), [("challenger", f"{ENDPOINT}-v2"), ("champion", f"{ENDPOINT}-v1")])
def test_a_trial_ends_with_the_winner_alone_on_its_own_config(
    updatable: list[str], stepfunctions: Stubber, sent: dict[str, list[dict[str, Any]]], winner: str, serves: str
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    deploy_with(register_version(), release=SPLIT)
    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", f"{ENDPOINT}--trial-v2"
    seen = expect_success(stepfunctions)
    job_events(endpoint_event())
    trial = DeploymentResult.model_validate(seen).trial
    assert trial is not None

    started = deploy_with(
        trial.challenger_model_package_arn, target="conclude", trial=trial.model_dump(mode="json"), winner=winner
    )

    assert started == {"endpoint_name": ENDPOINT, "endpoint_config_name": serves, "action": "concluded"}
    assert updatable[-1] == serves
    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", serves
    concluded = expect_success(stepfunctions)
    assert job_events(endpoint_event()) == {"outcome": "succeeded"}
    assert (concluded["action"], concluded["endpoint_config_name"]) == ("concluded", serves)
    assert concluded["model_package_arn"].endswith("/2" if winner == "challenger" else "/1")


@pytest.fixture
def one_update_at_a_time(world: None, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """UpdateEndpoint as SageMaker answers two at once: the second is refused while the first is in progress."""
    from moto.core.responses import ActionResult
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    started: list[str] = []
    lock = threading.Lock()

    def update_endpoint(self: SageMakerResponse) -> ActionResult:
        with lock:
            fake = self.sagemaker_backend.endpoints[self._get_param("EndpointName")]
            if fake.endpoint_status != "InService":
                raise ValidationError(f"Cannot update in-progress endpoint {fake.arn}.")
            fake.endpoint_status = "Updating"
            started.append(self._get_param("EndpointConfigName"))
        return ActionResult({"EndpointArn": fake.arn})

    monkeypatch.setattr(SageMakerResponse, "update_endpoint", update_endpoint, raising=False)
    return started


@pytest.mark.parametrize("attempt", range(8))
def test_two_approved_models_racing_for_one_endpoint_start_one_trial_and_the_other_waits_then_is_refused(
    one_update_at_a_time: list[str], stepfunctions: Stubber, attempt: int
) -> None:
    expect_success(stepfunctions)
    deploy(register_version())
    packages = [register_version(), register_version()]
    barrier = threading.Barrier(2)
    outcomes: dict[str, Any] = {}

    def approve(package: str) -> None:
        barrier.wait()
        try:
            outcomes[package] = deploy_with(package, release=SPLIT)
        except Exception as error:  # each run's outcome is compared below
            outcomes[package] = error

    threads = [threading.Thread(target=approve, args=(package,)) for package in packages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    started = [package for package, outcome in outcomes.items() if isinstance(outcome, dict)]
    waiting = [package for package, outcome in outcomes.items() if isinstance(outcome, EndpointBusy)]
    assert len(started) == 1 and len(waiting) == 1, outcomes
    (winner,), (loser,) = started, waiting
    version = winner.rsplit("/", 1)[-1]
    assert one_update_at_a_time == [f"{ENDPOINT}--trial-v{version}"]
    assert outcomes[winner]["endpoint_config_name"] == f"{ENDPOINT}--trial-v{version}"

    # The trial's endpoint settles: the run that started it resumes, and the other's retry is refused by name.
    moto_endpoint().endpoint_status, moto_endpoint().endpoint_config_name = "InService", f"{ENDPOINT}--trial-v{version}"
    seen = expect_success(stepfunctions)
    assert job_events(endpoint_event()) == {"outcome": "succeeded"}
    assert seen["trial"]["challenger_model_package_arn"] == winner
    _trial_run(stepfunctions, "RUNNING")
    with pytest.raises(DeploymentFailed, match="is in an A/B trial"):
        deploy_with(loser, release=SPLIT)
    assert len(one_update_at_a_time) == 1
