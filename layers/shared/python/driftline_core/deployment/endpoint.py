"""Deploying an approved model to the dataset's endpoint: created the first time, blue/green updated afterwards.

One endpoint per dataset, named like its Model Registry group. Each approved model version gets its own
SageMaker Model (from the model package) and EndpointConfig (with data capture into the artifact bucket);
the endpoint is created on the first deployment and updated blue/green afterwards, with CloudWatch alarms
on the new fleet's errors and latency that roll the update back. Deploy stores the run's task token under
the endpoint's name and starts the create or update; the endpoint's "SageMaker Endpoint State Change"
event (or the reconciler, when that event is lost) describes the endpoint and resumes the run: InService on
the new configuration is success, InService on the old one is a rolled-back update, Failed is a failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import (
    error_code,
    error_message,
    is_already_exists,
    is_not_found,
    transient_aws_errors,
)
from driftline_core.aws.instance_storage import has_instance_storage
from driftline_core.aws.sagemaker import ENDPOINT_IN_PROGRESS, describe_endpoint, endpoint_status
from driftline_core.aws.task_tokens import (
    NOT_OURS,
    RESUMED_FAILURE,
    RESUMED_SUCCESS,
    STILL_RUNNING,
    StoredTaskToken,
    hand_back,
    put_token,
    send_task_failure,
    send_task_success,
    take_token,
)
from driftline_core.aws.times import iso_utc
from driftline_core.errors import DEPLOYMENT_FAILED_ERROR, DeploymentFailed, EndpointBusy
from driftline_core.layout import (
    VARIANT_NAME,
    alarm_names,
    data_capture_prefix,
    endpoint_name,
    s3_uri,
    scaling_resource_id,
    versioned_name,
    versioned_name_base,
    versioned_name_version,
)
from driftline_core.payloads import DeployInput, DeploymentResult, DeploymentStarted
from driftline_core.settings import DeploymentSettings, Settings

logger = Logger(child=True)

DEPLOY_STEP = "deploy"
"""The step of a token stored under an endpoint's name: a deployment waiting for the endpoint to settle."""

CAPTURE_CONTENT_TYPES = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}

# Names ------------------------------------------------------------------------------------------------


def package_version(model_package_arn: str) -> int:
    version = model_package_arn.rsplit("/", 1)[-1]
    if not version.isdigit():
        raise DeploymentFailed(
            f"{model_package_arn} is not a versioned model package ARN (…/<group>/<version>); only packages "
            "registered in a model package group can be deployed."
        )
    return int(version)


# Requests ---------------------------------------------------------------------------------------------


def build_model_request(name: str, model_package_arn: str, settings: Settings, dataset: str) -> dict[str, Any]:
    """CreateModel from the package, as SageMaker's SDK builds it (``ModelPackage``): one ``PrimaryContainer``
    naming the package, whose image, model data and serving environment come from the registry.

    A ``Containers`` list makes an inference pipeline even with one entry, which serverless endpoints do not
    serve; ``PrimaryContainer`` is valid on provisioned and serverless endpoints alike.
    """
    return {
        "ModelName": name,
        "PrimaryContainer": {"ModelPackageName": model_package_arn},
        "ExecutionRoleArn": settings.sagemaker_role_arn,
        "Tags": [{"Key": "driftline:dataset", "Value": dataset}],
    }


def build_endpoint_config_request(
    name: str,
    dataset: str,
    settings: Settings,
    deployment: DeploymentSettings,
    *,
    model_name: str | None = None,
    capture: bool = True,
) -> dict[str, Any]:
    """CreateEndpointConfig: one variant, data capture into ``capture/<dataset>/`` (provisioned endpoints only).

    The model is named like the config unless ``model_name`` says otherwise (a staging config serves the model the
    production config of the same version will); a staging endpoint captures nothing (``capture=False``): its
    test traffic is no one's data.
    """
    variant: dict[str, Any] = {
        "VariantName": VARIANT_NAME,
        "ModelName": model_name or name,
        "InitialVariantWeight": 1.0,
    }
    request: dict[str, Any] = {
        "EndpointConfigName": name,
        "ProductionVariants": [variant],
        "Tags": [{"Key": "driftline:dataset", "Value": dataset}],
    }
    if deployment.endpoint_type == "Serverless":
        # Serverless endpoints support no data capture: the per-upload drift report is the signal there.
        variant["ServerlessConfig"] = {
            "MemorySizeInMB": deployment.serverless_memory_mb,
            "MaxConcurrency": deployment.serverless_max_concurrency,
        }
        return request
    variant["InstanceType"] = deployment.endpoint_instance_type
    variant["InitialInstanceCount"] = deployment.endpoint_instance_count
    if not capture:
        if settings.kms_key_arn and not has_instance_storage(deployment.endpoint_instance_type):
            request["KmsKeyId"] = settings.kms_key_arn
        return request
    capture_config: dict[str, Any] = {
        "EnableCapture": True,
        "InitialSamplingPercentage": deployment.data_capture_sampling_percentage,
        "DestinationS3Uri": capture_uri(settings, dataset),
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
        "CaptureContentTypeHeader": CAPTURE_CONTENT_TYPES,
    }
    if settings.kms_key_arn:
        capture_config["KmsKeyId"] = settings.kms_key_arn
        if not has_instance_storage(deployment.endpoint_instance_type):
            request["KmsKeyId"] = settings.kms_key_arn
    request["DataCaptureConfig"] = capture_config
    return request


def capture_uri(settings: Settings, dataset: str) -> str:
    return s3_uri(settings.artifact_bucket, data_capture_prefix(dataset)).rstrip("/")


ROLLBACK_ALLOWANCE_SECONDS = 600
"""How much longer than SageMaker's limit on an update a run waits: the rollback and its event arrive in it."""
PROVISIONING_MINIMUM_SECONDS = 1800
"""The least time an update leaves SageMaker to provision the new fleet and pass its health checks."""
MAX_UPDATE_TIMEOUT_SECONDS = 28800
"""BlueGreenUpdatePolicy.MaximumExecutionTimeoutInSeconds: 600 to 28800 (UpdateEndpoint's API reference)."""
MIN_UPDATE_TIMEOUT_SECONDS = 600


def update_timeout_seconds(deployment: DeploymentSettings) -> int:
    """MaximumExecutionTimeoutInSeconds of a blue/green update: what the run's wait leaves once a rollback fits.

    SageMaker ends every update within this limit (completed, or rolled back to the old fleet), so the run,
    which waits ``deploy_timeout_seconds``, always hears how it ended. Provisioning, the bake period and the
    old fleet's termination wait all count against it; DeploymentFailed is raised when they cannot fit.
    """
    limit = min(MAX_UPDATE_TIMEOUT_SECONDS, deployment.deploy_timeout_seconds - ROLLBACK_ALLOWANCE_SECONDS)
    needed = PROVISIONING_MINIMUM_SECONDS + deployment.bake_seconds + deployment.old_fleet_termination_wait_seconds
    if limit < max(needed, MIN_UPDATE_TIMEOUT_SECONDS):
        raise DeploymentFailed(
            f"DeployTimeoutSeconds ({deployment.deploy_timeout_seconds} s) leaves a blue/green update {limit} s, "
            f"less than provisioning ({PROVISIONING_MINIMUM_SECONDS} s) plus DeploymentBakeSeconds "
            f"({deployment.bake_seconds} s) plus the old fleet's termination wait "
            f"({deployment.old_fleet_termination_wait_seconds} s) and a rollback ({ROLLBACK_ALLOWANCE_SECONDS} s): "
            f"raise DeployTimeoutSeconds to at least {needed + ROLLBACK_ALLOWANCE_SECONDS} or lower "
            "DeploymentBakeSeconds. The endpoint was not touched."
        )
    return limit


def build_deployment_config(endpoint: str, deployment: DeploymentSettings) -> dict[str, Any]:
    """UpdateEndpoint's blue/green policy: all traffic at once to the new fleet, baked under the rollback alarms.

    ALL_AT_ONCE rather than CANARY: a canary must be at most half the new fleet, which a one-instance
    endpoint (the default, and every serverless endpoint) does not have. The bake period gives the
    alarms the whole traffic to judge the new model on, and any alarm in it rolls everything back.
    """
    return {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": deployment.bake_seconds},
            "TerminationWaitInSeconds": deployment.old_fleet_termination_wait_seconds,
            "MaximumExecutionTimeoutInSeconds": update_timeout_seconds(deployment),
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": name} for name in alarm_names(endpoint)]},
    }


ALARM_EVALUATION_PERIODS = 3
ALARM_DATAPOINTS = 2
"""Both rollback alarms need 2 bad minutes of the last 3: one bad minute, such as a server error from the old
fleet while the update starts, does not roll back a healthy model."""


def build_alarm_requests(endpoint: str, deployment: DeploymentSettings) -> list[dict[str, Any]]:
    """PutMetricAlarm for the rollback alarms: the variant's server-error rate, and its p99 model latency.

    Both watch the variant (``EndpointName`` and ``VariantName``), so they see the old and the new fleet of a
    blue/green update together. The error alarm is on a rate (metric math: 5xx errors per invocation), not
    on any error, and both need several bad minutes.
    """
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": VARIANT_NAME}]
    errors_name, latency_name = alarm_names(endpoint)
    common = {
        "ComparisonOperator": "GreaterThanThreshold",
        "EvaluationPeriods": ALARM_EVALUATION_PERIODS,
        "DatapointsToAlarm": ALARM_DATAPOINTS,
        "TreatMissingData": "notBreaching",
        "ActionsEnabled": False,
    }

    def metric(query_id: str, name: str, statistic: str) -> dict[str, Any]:
        return {
            "Id": query_id,
            "MetricStat": {
                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": name, "Dimensions": dimensions},
                "Period": 60,
                "Stat": statistic,
            },
            "ReturnData": False,
        }

    rate = deployment.error_rate_alarm_percent
    return [
        {
            **common,
            "AlarmName": errors_name,
            "AlarmDescription": (
                f"More than {rate:g}% of the requests to endpoint {endpoint} got a server error from the model "
                f"(Invocation5XXErrors per Invocations) in {ALARM_DATAPOINTS} of {ALARM_EVALUATION_PERIODS} "
                "minutes; during a blue/green update this rolls the endpoint back to its previous model."
            ),
            "Metrics": [
                metric("errors", "Invocation5XXErrors", "Sum"),
                metric("invocations", "Invocations", "Sum"),
                {
                    "Id": "error_rate",
                    "Expression": "100 * errors / invocations",
                    "Label": "5XX error rate (%)",
                    "ReturnData": True,
                },
            ],
            "Threshold": float(rate),
        },
        {
            **common,
            "AlarmName": latency_name,
            "AlarmDescription": (
                f"p99 model latency of endpoint {endpoint} above {deployment.latency_alarm_p99_milliseconds} ms "
                f"for {ALARM_DATAPOINTS} of {ALARM_EVALUATION_PERIODS} minutes; during a blue/green update this "
                "rolls the endpoint back."
            ),
            "Namespace": "AWS/SageMaker",
            "Dimensions": dimensions,
            "Period": 60,
            "MetricName": "ModelLatency",
            "ExtendedStatistic": "p99",
            # ModelLatency is reported in microseconds.
            "Threshold": float(deployment.latency_alarm_p99_milliseconds * 1000),
        },
    ]


# Deploy -----------------------------------------------------------------------------------------------


def start_deployment(
    step: DeployInput, settings: Settings, deployment: DeploymentSettings, *, guarded: bool = True
) -> DeploymentStarted:
    """Create the model and config of the approved version, start the endpoint's create or update, wait on its token.

    ``guarded=False`` updates without the rollback alarms' policy: the endpoint serves a config of other variants (an
    ended trial's), which deployment guardrails refuse to update from.

    Every call is safe to repeat: a retried Deploy reuses the model and config it created, and finds an
    endpoint already serving the version done. The token is stored after the create or update started and
    the endpoint is described once more, so an endpoint that settled before the token was stored (its
    event found no token) still resumes the run here.
    """
    package_arn = step.registration.model_package_arn
    endpoint = endpoint_name(settings.model_package_group_prefix, step.dataset)
    target = versioned_name(endpoint, package_version(package_arn), stack=settings.model_package_group_prefix)
    update_timeout_seconds(deployment)  # a configuration no update fits in fails before anything is touched
    with transient_aws_errors():
        put_rollback_alarms(endpoint, deployment)
        ensure_model(target, package_arn, settings, step.dataset)
        ensure_endpoint_config(build_endpoint_config_request(target, step.dataset, settings, deployment))
        current = describe_endpoint(endpoint)
        previous = str(current["EndpointConfigName"]) if current else None
        if current is None:
            remove_old_versions(
                endpoint,
                stack=settings.model_package_group_prefix,
                keep={target},
                retained=deployment.endpoint_configs_retained,
            )
            get_client("sagemaker").create_endpoint(
                EndpointName=endpoint,
                EndpointConfigName=target,
                Tags=[{"Key": "driftline:dataset", "Value": step.dataset}],
            )
            action: Literal["created", "updated", "unchanged"] = "created"
        else:
            status = endpoint_status(current)
            if status in ENDPOINT_IN_PROGRESS or status == "Deleting":
                raise EndpointBusy(
                    f"Endpoint {endpoint} is {status}; Driftline deploys {target} once it has settled (the step "
                    "retries)."
                )
            if status in {"Failed", "UpdateRollbackFailed", "OutOfService"}:
                # DeleteEndpoint is the only call a failed endpoint takes; the retry creates it afresh.
                get_client("sagemaker").delete_endpoint(EndpointName=endpoint)
                raise EndpointBusy(
                    f"Endpoint {endpoint} was {status} ({current.get('FailureReason') or 'no reason given'}); "
                    "it is being deleted and the step retries to create it again."
                )
            if previous == target:
                action = "unchanged"
            else:
                serving = _serving_variant(previous)
                _refuse_switch_to_serverless(endpoint, previous, serving, deployment)
                remove_old_versions(
                    endpoint,
                    stack=settings.model_package_group_prefix,
                    keep={target, previous or ""},
                    retained=deployment.endpoint_configs_retained,
                )
                _release_scaling_if_instance_type_changes(endpoint, serving, deployment)
                update_endpoint(endpoint, target, deployment if guarded else None)
                action = "updated"
        context = {
            "endpoint_config_name": target,
            "model_package_arn": package_arn,
            "action": action,
            "previous_endpoint_config_name": previous if action == "updated" else None,
            "endpoint_type": deployment.endpoint_type,
            "data_capture_uri": capture_uri(settings, step.dataset)
            if deployment.endpoint_type == "Provisioned"
            else None,
        }
        logger.info(
            "Deployment started",
            extra={
                "endpoint_name": endpoint,
                "endpoint_config_name": target,
                "action": action,
                "previous_endpoint_config_name": previous,
            },
        )
        wait_for_endpoint(endpoint, step, settings, context)
    return DeploymentStarted(endpoint_name=endpoint, endpoint_config_name=target, action=action)


def wait_for_endpoint(endpoint: str, step: DeployInput, settings: Settings, context: Mapping[str, Any]) -> None:
    """Store the run's token under the endpoint's name with what the deployment expects of it (``context``); an
    endpoint that settled before the token was stored (its event found no token) resumes the run here."""
    put_token(
        endpoint,
        step.task_token,
        execution_id=step.execution_id,
        step=DEPLOY_STEP,
        settings=settings,
        context=json.dumps(context),
    )
    settled = describe_endpoint(endpoint)
    if settled is None or endpoint_status(settled) not in ENDPOINT_IN_PROGRESS:
        resume_deployment(endpoint, settled, settings)


def update_endpoint(endpoint: str, config: str, deployment: DeploymentSettings | None) -> None:
    """UpdateEndpoint: blue/green under the rollback alarms with ``deployment``'s policy, or with no policy (SageMaker's
    plain all-at-once blue/green) when ``deployment`` is None, as an update that adds or removes a variant must go:
    deployment guardrails need the new config to keep the old one's variant names. An update another run started
    first makes SageMaker refuse this one as in progress: EndpointBusy, so the step retries once it has settled."""
    policy = {"DeploymentConfig": build_deployment_config(endpoint, deployment)} if deployment else {}
    try:
        get_client("sagemaker").update_endpoint(EndpointName=endpoint, EndpointConfigName=config, **policy)
    except ClientError as error:
        if error_code(error) == "ValidationException" and "in-progress" in error_message(error):
            raise EndpointBusy(
                f"Endpoint {endpoint} is being updated by another deployment; {config} waits until it has settled "
                "(the step retries)."
            ) from error
        raise


def put_rollback_alarms(endpoint: str, deployment: DeploymentSettings) -> None:
    cloudwatch = get_client("cloudwatch")
    for request in build_alarm_requests(endpoint, deployment):
        cloudwatch.put_metric_alarm(**request)


def ensure_model(name: str, package_arn: str, settings: Settings, dataset: str) -> None:
    sagemaker = get_client("sagemaker")
    try:
        sagemaker.describe_model(ModelName=name)
        return
    except ClientError as error:
        if not is_not_found(error):
            raise
    try:
        sagemaker.create_model(**build_model_request(name, package_arn, settings, dataset))
    except ClientError as error:
        if not is_already_exists(error):
            raise


def ensure_endpoint_config(request: dict[str, Any]) -> None:
    """CreateEndpointConfig unless a config of that name exists: a config cannot change, so a retry reuses it."""
    sagemaker = get_client("sagemaker")
    name = str(request["EndpointConfigName"])
    try:
        sagemaker.describe_endpoint_config(EndpointConfigName=name)
        return
    except ClientError as error:
        if not is_not_found(error):
            raise
    try:
        sagemaker.create_endpoint_config(**request)
    except ClientError as error:
        if not is_already_exists(error):
            raise


def _serving_variant(previous: str | None) -> dict[str, Any]:
    """The production variant of the config the endpoint serves now; empty when that config is gone."""
    if previous is None:
        return {}
    try:
        config = get_client("sagemaker").describe_endpoint_config(EndpointConfigName=previous)
    except ClientError as error:
        if is_not_found(error):
            return {}
        raise
    return dict((config.get("ProductionVariants") or [{}])[0])


def _refuse_switch_to_serverless(
    endpoint: str, previous: str | None, serving: dict[str, Any], deployment: DeploymentSettings
) -> None:
    """SageMaker cannot update an instance-based endpoint to a serverless one (the developer guide's "Update a
    serverless endpoint"): say so, and how to switch, before the endpoint is touched."""
    if deployment.endpoint_type != "Serverless" or serving.get("ServerlessConfig") or not serving.get("InstanceType"):
        return
    raise DeploymentFailed(
        f"Endpoint {endpoint} runs on instances ({serving['InstanceType']}, config {previous}) and EndpointType "
        "is now Serverless, but SageMaker cannot update an instance-based endpoint to serverless. The endpoint "
        f"was not touched and still serves {previous}. To keep serving on instances, set EndpointType back to "
        "Provisioned and deploy the stack. To switch to serverless, delete the endpoint (aws sagemaker "
        f"delete-endpoint --endpoint-name {endpoint}; nothing serves until a run creates it again): the next run "
        "whose model passes the quality gate creates it serverless."
    )


def _release_scaling_if_instance_type_changes(
    endpoint: str, serving: dict[str, Any], deployment: DeploymentSettings
) -> None:
    """SageMaker refuses an update that changes the instance type of a variant registered for autoscaling."""
    if deployment.endpoint_type != "Provisioned" or serving.get("InstanceType") in (
        None,
        deployment.endpoint_instance_type,
    ):
        return
    try:
        get_client("application-autoscaling").deregister_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=scaling_resource_id(endpoint),
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        )
    except ClientError as error:
        if not is_not_found(error):
            raise


# Retention --------------------------------------------------------------------------------------------


def remove_old_versions(endpoint: str, *, stack: str, keep: set[str], retained: int) -> list[str]:
    """Delete this endpoint's configs and models beyond the newest ``retained`` versions; returns the names deleted.

    ``keep`` holds the configuration being deployed and the one in service, which are never deleted.
    """
    base = versioned_name_base(endpoint, stack=stack)
    versions: dict[str, int] = {}
    pages = get_client("sagemaker").get_paginator("list_endpoint_configs").paginate(NameContains=base)
    for page in pages:
        for summary in page.get("EndpointConfigs", []):
            name = str(summary["EndpointConfigName"])
            version = versioned_name_version(endpoint, name, stack=stack)
            if version is not None:
                versions[name] = version
    newest_first = sorted(versions, key=lambda name: versions[name], reverse=True)
    doomed = [name for name in newest_first[max(retained, 0) :] if name not in keep]
    sagemaker = get_client("sagemaker")
    for name in doomed:
        for delete, argument in (
            (sagemaker.delete_endpoint_config, "EndpointConfigName"),
            (sagemaker.delete_model, "ModelName"),
        ):
            try:
                delete(**{argument: name})
            except ClientError as error:
                if not is_not_found(error):
                    raise
    if doomed:
        logger.info("Deleted old endpoint configs and models", extra={"deleted": doomed})
    return doomed


# Resuming the run -------------------------------------------------------------------------------------


def trial_times(trial: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A trial's start (now: the endpoint serves both variants) and end, once; a repeated resume keeps them."""
    started = now or datetime.now(UTC)
    ended = started + timedelta(minutes=int(trial["trial_minutes"]))
    return {
        **trial,
        "started_at": trial.get("started_at") or iso_utc(started),
        "ends_at": trial.get("ends_at") or iso_utc(ended),
    }


def resume_from_endpoint_event(detail: Mapping[str, Any], *, settings: Settings) -> str:
    """An endpoint's state change: resume the deployment waiting on it once the endpoint has settled."""
    name = str(detail.get("EndpointName") or "")
    if not name:
        logger.warning("Ignoring an endpoint state change without an endpoint name")
        return NOT_OURS
    if endpoint_status(detail) in ENDPOINT_IN_PROGRESS:
        return STILL_RUNNING
    # The event is only a wake-up call: the description says where the endpoint stands now.
    with transient_aws_errors():
        description = describe_endpoint(name)
        if description is not None and endpoint_status(description) in ENDPOINT_IN_PROGRESS:
            return STILL_RUNNING
        return resume_deployment(name, description, settings)


def reconcile_endpoint(name: str, *, settings: Settings) -> str:
    """The reconciler's check of an endpoint a deployment waits on, for when its event was lost."""
    description = describe_endpoint(name)
    if description is not None and endpoint_status(description) in ENDPOINT_IN_PROGRESS:
        return STILL_RUNNING
    return resume_deployment(name, description, settings)


def resume_deployment(name: str, description: Mapping[str, Any] | None, settings: Settings) -> str:
    stored = take_token(name, settings=settings)
    if stored is None:
        logger.info("No deployment waits on this endpoint; ignoring it", extra={"endpoint_name": name})
        return NOT_OURS
    status = endpoint_status(description) if description else "Deleted"
    log_keys = {"endpoint_name": name, "endpoint_status": status, "execution_id": stored.execution_id}

    def send() -> str:
        outcome = deployment_outcome(name, description, stored)
        if isinstance(outcome, DeploymentResult):
            send_task_success(stored, outcome.model_dump_json())
            logger.info("Resumed the run: the endpoint serves the new model", extra=log_keys)
            return RESUMED_SUCCESS
        send_task_failure(stored, DEPLOYMENT_FAILED_ERROR, outcome)
        logger.info("Resumed the run with the deployment's failure", extra=log_keys)
        return RESUMED_FAILURE

    return hand_back(stored, send, settings=settings, log_keys=log_keys)


def deployment_outcome(
    name: str, description: Mapping[str, Any] | None, stored: StoredTaskToken
) -> DeploymentResult | str:
    """What a settled endpoint means for the deployment: its result, or the failure's cause in a sentence."""
    context = json.loads(stored.context)
    target = str(context["endpoint_config_name"])
    if description is None:
        return f"Endpoint {name} no longer exists: it was deleted while {target} was being deployed."
    status = endpoint_status(description)
    reason = str(description.get("FailureReason") or "").strip()
    serving = str(description.get("EndpointConfigName") or "")
    trial = context.get("trial")
    if status == "InService" and serving == target:
        if trial is not None and context["action"] == "trial":
            trial = trial_times(trial)
        return DeploymentResult(
            endpoint_name=name,
            endpoint_arn=str(description.get("EndpointArn") or ""),
            endpoint_config_name=target,
            model_name=str(context.get("model_name") or target),
            model_package_arn=str(context["model_package_arn"]),
            action=context["action"],
            endpoint_type=context["endpoint_type"],
            previous_endpoint_config_name=context.get("previous_endpoint_config_name"),
            data_capture_uri=context.get("data_capture_uri"),
            alarms=alarm_names(name) if context.get("rollback_alarms", True) else [],
            trial=trial,
        )
    if status == "InService":
        why = reason or "SageMaker rolled the update back (a rollback alarm went off or the new fleet was unhealthy)"
        if trial is not None and context["action"] == "trial":
            return (
                f"The challenger ({trial['challenger_model_name']}) could not join endpoint {name} for its A/B trial; "
                f"the endpoint still serves {serving}, unchanged: {why}"
            )
        return f"Endpoint {name}: update to {target} failed, previous model still serving ({serving}): {why}"
    why = (
        reason
        or "SageMaker gave no reason; see the endpoint's logs in CloudWatch (/aws/sagemaker/Endpoints/" + name + ")"
    )
    return f"Endpoint {name} is {status} after deploying {target}: {why}"


# After InService ---------------------------------------------------------------------------------------
