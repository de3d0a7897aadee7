"""A/B trials on the dataset's endpoint: an approved challenger beside the serving model (the champion).

With an ``ab_test`` release plan and an endpoint already serving a model, Deploy does not replace the model: it
updates the endpoint to a trial config with two variants, the champion's
``AllTraffic`` unchanged and ``Challenger-v<version>``, with data capture on both:

- split: two production variants, weighted ``1 - share`` and ``share``; each answers its own requests;
- shadow: the champion is the only production variant and the challenger a shadow variant that gets a copy of
  ``share`` of the requests; its answers are captured and never returned.

Updates that add or remove a variant go without a deployment policy: SageMaker's deployment guardrails (the rollback
alarms, the bake period) need the new config to keep the old one's variant names, so these are SageMaker's plain
blue/green, all at once. A challenger whose variant fails to start fails that update: the endpoint keeps serving the
champion's config and the run fails saying so. The run then waits for the trial period (a Wait state, no polling),
the analysis job decides, and the trial ends in two steps SageMaker offers for it: in a split trial the winner
first takes all traffic (UpdateEndpointWeightsAndCapacities: weights only, no new fleet), then the endpoint is
updated to the winner's single-variant config, which removes the loser. The drift monitor keeps watching
``AllTraffic``, the champion, throughout: the challenger's variant has its own capture folder and never feeds the
drift alarm.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_not_found, transient_aws_errors
from driftline_core.aws.sagemaker import ENDPOINT_IN_PROGRESS, describe_endpoint, endpoint_status
from driftline_core.deployment.endpoint import (
    build_endpoint_config_request,
    capture_uri,
    ensure_endpoint_config,
    ensure_model,
    package_version,
    start_deployment,
    update_endpoint,
    update_timeout_seconds,
    wait_for_endpoint,
)
from driftline_core.errors import DeploymentFailed, EndpointBusy
from driftline_core.layout import (
    VARIANT_NAME,
    challenger_variant_name,
    endpoint_name,
    trial_config_name,
    versioned_name,
)
from driftline_core.payloads import ABTestPlan, DeployInput, DeploymentStarted, TrialDeployment
from driftline_core.settings import DeploymentSettings, Settings

logger = Logger(child=True)

TRIAL_EXECUTION_TAG = "driftline:execution"
"""On a trial's endpoint config: the run that waits for the trial's end."""
CHAMPION_CONFIG_TAG = "driftline:champion-config"
"""On a trial's endpoint config: the serving model's own config, which the trial started from."""


def is_trial_config(config: dict[str, Any]) -> bool:
    return len(config.get("ProductionVariants") or []) > 1 or bool(config.get("ShadowProductionVariants"))


def build_trial_config_request(
    name: str,
    dataset: str,
    settings: Settings,
    deployment: DeploymentSettings,
    *,
    champion: dict[str, Any],
    challenger_model: str,
    challenger_variant: str,
    plan: ABTestPlan,
) -> dict[str, Any]:
    """CreateEndpointConfig of a trial: the champion's variant as it serves (model, instances) and the challenger's,
    with the production config's data capture, which SageMaker writes per variant."""
    request = build_endpoint_config_request(name, dataset, settings, deployment, model_name=challenger_model)
    challenger = dict(request["ProductionVariants"][0])
    challenger["VariantName"] = challenger_variant
    kept = {key: champion[key] for key in ("InstanceType", "InitialInstanceCount") if champion.get(key)}
    serving = {"VariantName": VARIANT_NAME, "ModelName": str(champion["ModelName"]), **kept}
    if plan.mode == "split":
        serving["InitialVariantWeight"] = round(1 - plan.challenger_share, 6)
        challenger["InitialVariantWeight"] = plan.challenger_share
        request["ProductionVariants"] = [serving, challenger]
    else:
        # A shadow variant's weight relative to the production variant's is the share of requests copied to it.
        serving["InitialVariantWeight"] = 1.0
        challenger["InitialVariantWeight"] = plan.challenger_share
        request["ProductionVariants"] = [serving]
        request["ShadowProductionVariants"] = [challenger]
    return request


def start_release(step: DeployInput, settings: Settings, deployment: DeploymentSettings) -> DeploymentStarted:
    """An approved model's deployment: an A/B trial beside the serving model when the run's plan has one and the
    endpoint serves another model; else the usual create or blue/green update. Never over a trial in progress."""
    plan = step.release.ab_test if step.release else None
    stack = settings.model_package_group_prefix
    endpoint = endpoint_name(stack, step.dataset)
    target = versioned_name(endpoint, package_version(step.registration.model_package_arn), stack=stack)
    update_timeout_seconds(deployment)  # a configuration no update fits in fails before anything is touched
    champion_config = ""
    with transient_aws_errors():
        current = describe_endpoint(endpoint)
        serving = str(current["EndpointConfigName"]) if current else ""
        if serving and serving != target:
            champion_config = _champion_config(endpoint, serving, target)
            if plan is not None and endpoint_status(current or {}) == "InService":
                return start_trial(
                    step,
                    settings,
                    deployment,
                    endpoint=endpoint,
                    serving_config=serving,
                    champion_config=champion_config,
                    plan=plan,
                )
    # Replacing an ended trial's config changes the endpoint's variants: no deployment guardrails then.
    return start_deployment(step, settings, deployment, guarded=champion_config == serving)


def start_trial(
    step: DeployInput,
    settings: Settings,
    deployment: DeploymentSettings,
    *,
    endpoint: str,
    serving_config: str,
    champion_config: str,
    plan: ABTestPlan,
) -> DeploymentStarted:
    """Update the endpoint to the trial config of the approved version beside the model it serves; wait on its token.

    ``champion_config`` is the serving model's own config: the one serving, or, when the endpoint still serves the
    config of a trial whose run has ended, the config that trial was started from.
    """
    package_arn = step.registration.model_package_arn
    stack = settings.model_package_group_prefix
    version = package_version(package_arn)
    challenger_model = versioned_name(endpoint, version, stack=stack)
    trial_config = trial_config_name(endpoint, version, stack=stack)
    variant = challenger_variant_name(version)
    if deployment.endpoint_type != "Provisioned":
        raise DeploymentFailed(
            f"An A/B trial needs production variants with data capture, which serverless endpoints do not have; "
            f"endpoint {endpoint} was not touched. Set EndpointType to Provisioned, or turn the trial off "
            '("ab_test": false in dataset.json or ABTestMode Off)'
        )
    sagemaker = get_client("sagemaker")
    current = sagemaker.describe_endpoint_config(EndpointConfigName=serving_config)
    champion = dict(current["ProductionVariants"][0])
    champion_package = _model_package_of(str(champion["ModelName"]))
    ensure_model(challenger_model, package_arn, settings, step.dataset)
    request = build_trial_config_request(
        trial_config,
        step.dataset,
        settings,
        deployment,
        champion=champion,
        challenger_model=challenger_model,
        challenger_variant=variant,
        plan=plan,
    )
    # Who runs the trial and what it started from: a later deployment that finds the endpoint still in this trial
    # after its run ended (stopped, say) ends it rather than waiting forever (``_champion_config``).
    request["Tags"] += [
        {"Key": TRIAL_EXECUTION_TAG, "Value": step.execution_id},
        {"Key": CHAMPION_CONFIG_TAG, "Value": champion_config},
    ]
    ensure_endpoint_config(request)
    update_endpoint(endpoint, trial_config, None)
    trial = TrialDeployment(
        mode=plan.mode,
        champion_variant=VARIANT_NAME,
        challenger_variant=variant,
        champion_endpoint_config_name=champion_config,
        champion_model_name=str(champion["ModelName"]),
        champion_model_package_arn=champion_package,
        challenger_model_name=challenger_model,
        challenger_model_package_arn=package_arn,
        challenger_share=plan.challenger_share,
        trial_minutes=plan.trial_minutes,
        min_labelled_rows=plan.min_labelled_rows,
        significance=plan.significance,
    )
    _wait_on_endpoint(
        step,
        settings,
        endpoint=endpoint,
        target_config=trial_config,
        model_name=challenger_model,
        package_arn=package_arn,
        action="trial",
        previous=serving_config,
        trial=trial,
    )
    logger.info("A/B trial started", extra={"endpoint_name": endpoint, "trial_config": trial_config, "mode": plan.mode})
    return DeploymentStarted(endpoint_name=endpoint, endpoint_config_name=trial_config, action="trial")


def shift_traffic_to_winner(step: DeployInput, settings: Settings) -> DeploymentStarted:
    """A split trial's winner takes all traffic (weights 1 and 0) before the loser's variant is removed."""
    trial, winner = _trial_and_winner(step)
    endpoint = endpoint_name(settings.model_package_group_prefix, step.dataset)
    trial_config = _settled_config(endpoint)
    winning = trial.challenger_variant if winner == "challenger" else trial.champion_variant
    losing = trial.champion_variant if winner == "challenger" else trial.challenger_variant
    with transient_aws_errors():
        get_client("sagemaker").update_endpoint_weights_and_capacities(
            EndpointName=endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": winning, "DesiredWeight": 1.0},
                {"VariantName": losing, "DesiredWeight": 0.0},
            ],
        )
        _wait_on_endpoint(
            step,
            settings,
            endpoint=endpoint,
            target_config=trial_config,
            model_name=trial.challenger_model_name if winner == "challenger" else trial.champion_model_name,
            package_arn=_winner_package(trial, winner),
            action="trial",
            previous=None,
            trial=trial,
        )
    logger.info("Trial winner takes all traffic", extra={"endpoint_name": endpoint, "winner": winning})
    return DeploymentStarted(endpoint_name=endpoint, endpoint_config_name=trial_config, action="trial")


def conclude_trial(step: DeployInput, settings: Settings, deployment: DeploymentSettings) -> DeploymentStarted:
    """Update the endpoint to the winner's single-variant config: the loser's variant goes with the update."""
    trial, winner = _trial_and_winner(step)
    endpoint = endpoint_name(settings.model_package_group_prefix, step.dataset)
    serving = _settled_config(endpoint)
    if winner == "challenger":
        target = trial.challenger_model_name  # the version's own model and config name
        ensure_endpoint_config(build_endpoint_config_request(target, step.dataset, settings, deployment))
    else:
        target = trial.champion_endpoint_config_name
    with transient_aws_errors():
        if serving != target:
            update_endpoint(endpoint, target, None)
        _wait_on_endpoint(
            step,
            settings,
            endpoint=endpoint,
            target_config=target,
            model_name=trial.challenger_model_name if winner == "challenger" else trial.champion_model_name,
            package_arn=_winner_package(trial, winner),
            action="concluded",
            previous=serving,
            trial=trial,
        )
    logger.info("Trial concluded", extra={"endpoint_name": endpoint, "winner": winner, "endpoint_config": target})
    return DeploymentStarted(endpoint_name=endpoint, endpoint_config_name=target, action="concluded")


def _wait_on_endpoint(
    step: DeployInput,
    settings: Settings,
    *,
    endpoint: str,
    target_config: str,
    model_name: str,
    package_arn: str,
    action: str,
    previous: str | None,
    trial: TrialDeployment,
) -> None:
    context = {
        "endpoint_config_name": target_config,
        "model_name": model_name,
        "model_package_arn": package_arn,
        "action": action,
        "previous_endpoint_config_name": previous,
        "endpoint_type": "Provisioned",
        "data_capture_uri": capture_uri(settings, step.dataset),
        "trial": trial.model_dump(mode="json"),
    }
    wait_for_endpoint(endpoint, step, settings, context)


def _champion_config(endpoint: str, serving: str, target: str) -> str:
    """The serving model's own config: ``serving`` itself, unless the endpoint is in an A/B trial.

    A trial whose run still runs is never replaced: its run waits for the analysis (DeploymentFailed names it). A trial
    whose run has ended without ending it (stopped, or lost with local mode's state) is over: the config it started
    from, kept in its tags, is the serving model's, and this deployment replaces the trial's config.
    """
    sagemaker = get_client("sagemaker")
    try:
        config = sagemaker.describe_endpoint_config(EndpointConfigName=serving)
    except ClientError as error:
        if is_not_found(error):
            return serving
        raise
    if not is_trial_config(config):
        return serving
    tags = {
        str(tag["Key"]): str(tag["Value"])
        for tag in sagemaker.list_tags(ResourceArn=str(config["EndpointConfigArn"])).get("Tags", [])
    }
    execution = tags.get(TRIAL_EXECUTION_TAG, "")
    if execution and _is_running(execution):
        raise DeploymentFailed(
            f"Endpoint {endpoint} is in an A/B trial ({serving}) run by {execution.rsplit(':', 1)[-1]}; {target} was "
            "not deployed and the trial goes on. Upload the data again once the trial has ended (its run's email "
            "says when) to deploy this model."
        )
    champion = tags.get(CHAMPION_CONFIG_TAG)
    if not champion:
        raise DeploymentFailed(
            f"Endpoint {endpoint} serves the A/B trial config {serving}, which does not say what it was started from; "
            f"{target} was not deployed. Update the endpoint to the config it served before the trial (aws sagemaker "
            f"update-endpoint --endpoint-name {endpoint} --endpoint-config-name <config>), then upload again."
        )
    logger.info(
        "The endpoint is still in the config of a trial whose run ended; this deployment replaces it",
        extra={"endpoint_name": endpoint, "trial_config": serving, "champion_config": champion},
    )
    return champion


def _is_running(execution_arn: str) -> bool:
    try:
        status = get_client("stepfunctions").describe_execution(executionArn=execution_arn)["status"]
    except ClientError as error:
        if is_not_found(error) or error_code(error) == "ExecutionDoesNotExist":
            return False
        raise
    return bool(status == "RUNNING")


def _trial_and_winner(step: DeployInput) -> tuple[TrialDeployment, str]:
    if step.trial is None or step.winner is None:
        raise DeploymentFailed(f"Deploy target {step.target} needs the trial and its winner in its input.")
    return step.trial, step.winner


def _winner_package(trial: TrialDeployment, winner: str) -> str:
    if winner == "challenger":
        return trial.challenger_model_package_arn
    return trial.champion_model_package_arn or ""


def _settled_config(endpoint: str) -> str:
    description = describe_endpoint(endpoint)
    if description is None:
        raise DeploymentFailed(f"Endpoint {endpoint} no longer exists: it was deleted during its A/B trial.")
    status = endpoint_status(description)
    if status in ENDPOINT_IN_PROGRESS:
        raise EndpointBusy(f"Endpoint {endpoint} is {status}; the trial's end waits until it has settled.")
    return str(description["EndpointConfigName"])


def _model_package_of(model_name: str) -> str | None:
    """The registry version a SageMaker Model was created from (Deploy names it in ``PrimaryContainer``)."""
    try:
        model = get_client("sagemaker").describe_model(ModelName=model_name)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    return (model.get("PrimaryContainer") or {}).get("ModelPackageName")
