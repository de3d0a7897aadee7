"""The staging endpoint: where a registered candidate serves, and is tested, before anyone is asked to approve it.

Each candidate gets its own endpoint (``staging_endpoint_name``: one per model version, so two runs of a dataset
never share one), serving the same SageMaker Model the production endpoint will serve once the version is approved,
on the production endpoint's instance type, without data capture. Deploy creates it and the run waits, as for a
production deployment, for the endpoint's state change; a staging endpoint that cannot be created fails the run
with SageMaker's reason. RemoveStaging deletes it once the decision is made, whatever it was: after the production
endpoint serves the version (keeping the Model, which production now uses), after a rejection or an expired
approval, and before the notification of any failed run.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import is_not_found, transient_aws_errors
from driftline_core.aws.sagemaker import ENDPOINT_IN_PROGRESS, describe_endpoint, endpoint_status
from driftline_core.deployment.endpoint import (
    build_endpoint_config_request,
    ensure_endpoint_config,
    ensure_model,
    package_version,
    wait_for_endpoint,
)
from driftline_core.errors import EndpointBusy
from driftline_core.layout import endpoint_name, staging_endpoint_name, versioned_name
from driftline_core.payloads import DeployInput, DeploymentStarted, RemoveStagingInput, StagingRemoval
from driftline_core.settings import DeploymentSettings, Settings

logger = Logger(child=True)


def staging_names(model_package_arn: str, dataset: str, settings: Settings) -> tuple[str, str]:
    """The candidate's staging endpoint (also its config's name) and the Model it serves."""
    endpoint = endpoint_name(settings.model_package_group_prefix, dataset)
    version = package_version(model_package_arn)
    stack = settings.model_package_group_prefix
    return staging_endpoint_name(endpoint, version, stack=stack), versioned_name(endpoint, version, stack=stack)


def start_staging_deployment(
    step: DeployInput, settings: Settings, deployment: DeploymentSettings
) -> DeploymentStarted:
    """Create the candidate's staging endpoint and wait on its token; safe to repeat, like a production deployment."""
    package_arn = step.registration.model_package_arn
    staging, model = staging_names(package_arn, step.dataset, settings)
    with transient_aws_errors():
        ensure_model(model, package_arn, settings, step.dataset)
        ensure_endpoint_config(
            build_endpoint_config_request(staging, step.dataset, settings, deployment, model_name=model, capture=False)
        )
        current = describe_endpoint(staging)
        if current is None:
            get_client("sagemaker").create_endpoint(
                EndpointName=staging,
                EndpointConfigName=staging,
                Tags=[
                    {"Key": "driftline:dataset", "Value": step.dataset},
                    {"Key": "driftline:stage", "Value": "staging"},
                ],
            )
            action: Any = "created"
        else:
            status = endpoint_status(current)
            if status in ENDPOINT_IN_PROGRESS or status == "Deleting":
                raise EndpointBusy(f"Staging endpoint {staging} is {status}; the step retries once it has settled.")
            if status != "InService":
                get_client("sagemaker").delete_endpoint(EndpointName=staging)
                raise EndpointBusy(
                    f"Staging endpoint {staging} was {status} ({current.get('FailureReason') or 'no reason given'}); "
                    "it is being deleted and the step retries to create it again."
                )
            action = "unchanged"
        context = {
            "endpoint_config_name": staging,
            "model_name": model,
            "model_package_arn": package_arn,
            "action": action,
            "previous_endpoint_config_name": None,
            "endpoint_type": deployment.endpoint_type,
            "data_capture_uri": None,
            "rollback_alarms": False,
        }
        logger.info("Staging deployment started", extra={"endpoint_name": staging, "action": action})
        wait_for_endpoint(staging, step, settings, context)
    return DeploymentStarted(endpoint_name=staging, endpoint_config_name=staging, action=action)


def remove_staging(step: RemoveStagingInput, settings: Settings) -> StagingRemoval:
    """Delete the candidate's staging endpoint and config (and its Model unless production serves it).

    Nothing to do for a run that failed before registering, or whose staging endpoint never existed: every delete
    that finds nothing is fine, so the state may run on every path out of the run.
    """
    if step.registration is None or not step.staging:
        return StagingRemoval()
    staging, model = staging_names(step.registration.model_package_arn, step.dataset, settings)
    sagemaker = get_client("sagemaker")
    removed: list[str] = []
    deletes: list[tuple[str, Any, dict[str, str]]] = [
        ("endpoint", sagemaker.delete_endpoint, {"EndpointName": staging}),
        ("endpoint config", sagemaker.delete_endpoint_config, {"EndpointConfigName": staging}),
    ]
    if not step.keep_model:
        deletes.append(("model", sagemaker.delete_model, {"ModelName": model}))
    with transient_aws_errors():
        for kind, delete, arguments in deletes:
            try:
                delete(**arguments)
            except ClientError as error:
                if is_not_found(error):
                    continue
                raise
            removed.append(f"{kind} {next(iter(arguments.values()))}")
    if removed:
        logger.info("Removed the staging deployment", extra={"endpoint_name": staging, "removed": removed})
    return StagingRemoval(endpoint_name=staging, removed=removed)
