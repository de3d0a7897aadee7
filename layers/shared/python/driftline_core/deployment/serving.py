"""What an endpoint in service needs once a deployment succeeds: autoscaling, then its drift monitor."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import transient_aws_errors
from driftline_core.deployment.endpoint import package_version
from driftline_core.drift.baseline import start_baseline_job
from driftline_core.drift.setup import set_up_drift_monitoring
from driftline_core.layout import VARIANT_NAME, scaling_resource_id
from driftline_core.payloads import MonitoringSetup, ServingSetup, ServingSetupInput
from driftline_core.settings import DeploymentSettings, get_monitoring_settings, get_settings

logger = Logger(child=True)


def finish_deployment(step: ServingSetupInput, deployment: DeploymentSettings) -> ServingSetup:
    """Set up what needs an endpoint in service: autoscaling now, the monitoring schedule next.

    Registering the variant again on every deployment is safe: RegisterScalableTarget updates an existing
    target and PutScalingPolicy replaces the policy of the same name.
    """
    result = step.deployment
    if result.endpoint_type == "Serverless":
        autoscaling = "none: a serverless endpoint scales itself up to its MaxConcurrency"
    else:
        autoscaling = _register_autoscaling(result.endpoint_name, deployment)
    watch_for_drift(step)
    return ServingSetup(autoscaling=autoscaling)


def watch_for_drift(step: ServingSetupInput) -> MonitoringSetup | None:
    """Attach the drift monitor to the endpoint now serving the approved model: its baseline job, its schedule
    and its alarm (``driftline_core.drift.setup``). A serverless endpoint captures no requests, so it gets only the
    baseline, with which each later run compares its uploaded rows: its drift signal."""
    result = step.deployment
    if result.endpoint_type != "Provisioned" or not result.data_capture_uri:
        with transient_aws_errors():
            job_name, _ = start_baseline_job(
                dataset=step.dataset,
                endpoint=result.endpoint_name,
                model_version=package_version(result.model_package_arn),
                execution_name=step.execution_name,
                settings=get_settings(),
            )
        logger.info(
            "No drift schedule: a serverless endpoint captures no requests; runs compare their data with the "
            "model's baseline",
            extra={"baseline_job_name": job_name},
        )
        return None
    with transient_aws_errors():
        return set_up_drift_monitoring(
            dataset=step.dataset,
            endpoint=result.endpoint_name,
            variant=VARIANT_NAME,
            model_package_arn=result.model_package_arn,
            model_version=package_version(result.model_package_arn),
            execution_name=step.execution_name,
            settings=get_settings(),
            monitoring=get_monitoring_settings(),
        )


def build_scaling_requests(endpoint: str, deployment: DeploymentSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    """RegisterScalableTarget and the target-tracking PutScalingPolicy on invocations per instance."""
    target = {
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(endpoint),
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "MinCapacity": deployment.endpoint_min_instances,
        "MaxCapacity": max(deployment.endpoint_max_instances, deployment.endpoint_min_instances),
    }
    policy = {
        "PolicyName": f"{endpoint}-invocations-per-instance",
        "ServiceNamespace": "sagemaker",
        "ResourceId": scaling_resource_id(endpoint),
        "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "PolicyType": "TargetTrackingScaling",
        "TargetTrackingScalingPolicyConfiguration": {
            "TargetValue": float(deployment.endpoint_invocations_per_instance),
            "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            "ScaleInCooldown": 300,
            "ScaleOutCooldown": 60,
        },
    }
    return target, policy


def _register_autoscaling(endpoint: str, deployment: DeploymentSettings) -> str:
    target, policy = build_scaling_requests(endpoint, deployment)
    with transient_aws_errors():
        autoscaling = get_client("application-autoscaling")
        autoscaling.register_scalable_target(**target)
        autoscaling.put_scaling_policy(**policy)
    return (
        f"{target['MinCapacity']} to {target['MaxCapacity']} instances, tracking "
        f"{deployment.endpoint_invocations_per_instance:g} invocations per instance per minute"
    )
