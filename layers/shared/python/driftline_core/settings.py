"""Typed views of the environment the template gives each function; read on first use, not at import.

One reader for every group: a field ``x_y`` is the variable ``X_Y``, and a variable that is unset or empty
leaves the field's default. ``reset_settings`` forgets every group read so far and every cache registered
with ``forgotten_on_reset`` (tests call it when they switch emulators or environments).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any, Literal, ParamSpec, TypeVar, cast

from pydantic import BaseModel, Field


class Settings(BaseModel):
    data_bucket: str = ""
    artifact_bucket: str = ""
    job_tokens_table: str = ""
    state_machine_arn: str = ""
    notification_topic_arn: str = ""
    sagemaker_role_arn: str = ""
    ml_code_uri: str = ""
    """``s3://<artifact bucket>/code/<version>/``: scripts under ``src/``, the same as ``sourcedir.tar.gz``."""
    ml_code_version: str = ""
    training_image_uri: str = ""
    processing_image_uri: str = ""
    xgboost_image_uri: str = ""
    """SageMaker's XGBoost image: the algorithm that trains ``"algorithm": "xgboost"`` models, and the framework
    container their evaluation jobs and endpoints run ``ml/`` on."""
    pytorch_training_image_uri: str = ""
    """SageMaker's PyTorch 2.6.0 training image (CPU, Python 3.12): a ``"framework": "pytorch"`` dataset's own
    training script trains on it."""
    pytorch_inference_image_uri: str = ""
    """SageMaker's PyTorch 2.6.0 inference image (CPU, Python 3.12): such a dataset's models are evaluated and
    served on it."""
    max_training_instances: int = 4
    """The most instances a dataset's ``model.instance_count`` may ask for (the stack's MaxTrainingInstances)."""
    model_image_repositories: str = "driftline/"
    """The prefix of the ECR repositories a dataset's own container image may come from (ModelImageRepositories)."""
    training_instance_type: str = "ml.m5.large"
    processing_instance_type: str = "ml.m5.large"
    max_job_runtime_seconds: int = 3600
    model_package_group_prefix: str = "driftline"
    min_improvement: float = 0.0
    """How much better than the approved model a candidate's gate metric must be (0: strictly better)."""
    job_token_ttl_seconds: int = 7 * 24 * 3600
    drift_retrain_cooldown_minutes: int = 1440
    """After a drift retrain (or a no-new-data notice) of a dataset, drift alarms start nothing for this long."""
    kms_key_arn: str = ""
    """Customer-managed key for the SageMaker jobs' volumes and outputs; empty: AWS-managed keys."""
    vpc_subnet_ids: str = ""
    """Comma-separated subnets the SageMaker jobs run in; empty: no VPC."""
    vpc_security_group_ids: str = ""
    """Comma-separated security groups of the SageMaker jobs when they run in a VPC."""

    @property
    def job_vpc_config(self) -> dict[str, list[str]] | None:
        """SageMaker's ``VpcConfig`` for the jobs, or None when no subnets are configured."""
        subnets = _id_list(self.vpc_subnet_ids)
        if not subnets:
            return None
        groups = _id_list(self.vpc_security_group_ids)
        if not groups:
            raise ValueError(
                "VPC_SUBNET_IDS is set but VPC_SECURITY_GROUP_IDS is empty: SageMaker jobs in a VPC need at least "
                "one security group; deploy again with VpcSecurityGroupIds set."
            )
        return {"SecurityGroupIds": groups, "Subnets": subnets}


def _id_list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


DEFAULT_PREPROCESS_ROWS_PER_INSTANCE = 2_000_000
"""The template's PreprocessRowsPerInstance default (its Description says why)."""
MAX_PREPROCESS_INSTANCES = 20
"""The template's PreprocessMaxInstances ceiling."""


class PreprocessSettings(BaseModel):
    """Preprocess's settings (environment names upper-cased): how many instances a run's preprocessing job takes."""

    preprocess_rows_per_instance: int = Field(default=DEFAULT_PREPROCESS_ROWS_PER_INSTANCE, ge=1)
    """Rows one preprocessing instance encodes (the stack's PreprocessRowsPerInstance): more rows, more instances."""
    preprocess_max_instances: int = Field(default=4, ge=1, le=MAX_PREPROCESS_INSTANCES)
    """The most instances a run's preprocessing job runs on (the stack's PreprocessMaxInstances)."""


class ApprovalSettings(BaseModel):
    """The approval functions' environment (names upper-cased), read on first use."""

    approvals_table: str = ""
    approval_secret_arn: str = ""
    """The signing key's secret; the key itself is read with GetSecretValue, never from the environment."""
    approval_api_url: str = ""
    approval_timeout_seconds: int = 7 * 24 * 3600
    notification_topic_arn: str = ""
    stack_name: str = "driftline"
    """The stack the approval email's ``driftline approve`` names with ``--stack-name``."""
    driftline_command_note: str = ""
    """Where the email's ``driftline`` commands run (DriftlineCommandNote); empty: the stack's account and Region."""


class DeploymentSettings(BaseModel):
    """The Deploy and FinishDeployment functions' environment (names upper-cased), read on first use."""

    endpoint_type: Literal["Provisioned", "Serverless"] = "Provisioned"
    endpoint_instance_type: str = "ml.m5.large"
    endpoint_instance_count: int = 1
    endpoint_min_instances: int = 1
    endpoint_max_instances: int = 2
    endpoint_invocations_per_instance: float = 1000.0
    """Target of the target-tracking policy: SageMakerVariantInvocationsPerInstance (per minute)."""
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 5
    data_capture_sampling_percentage: int = 100
    latency_alarm_p99_milliseconds: int = 1000
    error_rate_alarm_percent: float = 5.0
    """A blue/green update rolls back when more than this share of requests get a server error."""
    bake_seconds: int = 300
    """How long the new fleet serves all traffic, watched by the alarms, before the update completes."""
    old_fleet_termination_wait_seconds: int = 0
    """How long the old fleet stays after the update, ready for a rollback the alarms did not catch in time."""
    deploy_timeout_seconds: int = 7200
    """How long a run waits for its endpoint to settle: the Deploy state's timeout (DeployTimeoutSeconds)."""
    endpoint_configs_retained: int = 3


MIN_TRIAL_MINUTES = 1
MAX_TRIAL_MINUTES = 43200
"""An A/B trial lasts at most 30 days: the run waits through it, inside Step Functions' one-year limit with room
for the approvals before and after."""


class ReleaseSettings(BaseModel):
    """Validate's release defaults (environment names upper-cased): the stack's StagingEndpoint and ABTest* parameters,
    which a dataset's ``ab_test`` overrides."""

    staging_endpoint: Literal["Enabled", "Disabled"] = "Disabled"
    ab_test_mode: Literal["Off", "Split", "Shadow"] = "Off"
    ab_test_challenger_share: float = Field(default=0.1, gt=0, lt=1)
    ab_test_trial_minutes: int = Field(default=1440, ge=MIN_TRIAL_MINUTES, le=MAX_TRIAL_MINUTES)
    ab_test_min_labelled_rows: int = Field(default=200, ge=1)
    ab_test_promotion: Literal["Approval", "Automatic"] = "Approval"


class StagingSettings(BaseModel):
    """TestStaging's limits (environment names upper-cased): what the candidate must show on the staging endpoint."""

    staging_load_test_requests_per_second: float = Field(default=5.0, gt=0, le=100)
    staging_load_test_seconds: int = Field(default=30, ge=1, le=600)
    staging_max_p99_milliseconds: int = Field(default=1000, ge=1)
    staging_smoke_test_max_rows: int = Field(default=10000, ge=1)
    """Held-out rows beyond this many are not sent (the smoke test says how many it sent)."""


MAX_CAPTURE_INPUTS = 8
"""A processing job takes at most 10 inputs; the code and the baseline use two, the window's hours the rest."""
MAX_PROCESSING_INSTANCES = 100
"""CreateProcessingJob's limit on InstanceCount."""
DEFAULT_BYTES_PER_INSTANCE = 10 * 1024**3
"""The template's MonitorBytesPerInstance default (its Description says why)."""
DEFAULT_NAMESPACE = "Driftline/DataDrift"
"""The drift monitor's namespace (its ``DRIFTLINE_METRICS_NAMESPACE``) unless the deploy step sets another."""


class MonitoringSettings(BaseModel):
    """The monitoring settings of FinishDeployment and StartMonitoring (environment names upper-cased)."""

    monitoring_function_arn: str = ""
    """StartMonitoring, the schedule's target."""
    monitoring_scheduler_role_arn: str = ""
    """The role EventBridge Scheduler assumes to invoke StartMonitoring, and nothing else."""
    monitoring_schedule_expression: str = "rate(1 hour)"
    monitoring_window_minutes: int = Field(default=60, ge=1, le=MAX_CAPTURE_INPUTS * 60 - 60)
    """How much captured traffic one monitoring job analyses: the whole minutes before the schedule's time."""
    drift_metrics_namespace: str = DEFAULT_NAMESPACE
    drift_monitor: Literal["Driftline", "ModelMonitor"] = "Driftline"
    """Whose monitor analyses the windows: Driftline's, or Model Monitor's (``driftline_core.drift.model_monitor``)."""
    model_monitor_image_uri: str = ""
    """The region's Model Monitor analyzer image, when ``drift_monitor`` is ModelMonitor."""
    monitor_bytes_per_instance: int = Field(default=DEFAULT_BYTES_PER_INSTANCE, ge=1)
    """Captured bytes one monitor instance analyses; a larger window runs on more instances."""
    monitor_max_instances: int = Field(default=4, ge=1, le=MAX_PROCESSING_INSTANCES)
    """The most instances one window's monitor job runs on."""


SettingsT = TypeVar("SettingsT", bound=BaseModel)
P = ParamSpec("P")
R = TypeVar("R")
_RESETS: list[Callable[[], None]] = []


@cache
def read_settings(group: type[SettingsT]) -> SettingsT:
    """The group's fields from the environment, once per container."""
    values = {name: os.environ[name.upper()] for name in group.model_fields if os.environ.get(name.upper())}
    return group.model_validate(values)


def get_settings() -> Settings:
    return read_settings(Settings)


def get_preprocess_settings() -> PreprocessSettings:
    return read_settings(PreprocessSettings)


def get_approval_settings() -> ApprovalSettings:
    return read_settings(ApprovalSettings)


def get_deployment_settings() -> DeploymentSettings:
    return read_settings(DeploymentSettings)


def get_monitoring_settings() -> MonitoringSettings:
    return read_settings(MonitoringSettings)


def get_release_settings() -> ReleaseSettings:
    return read_settings(ReleaseSettings)


def get_staging_settings() -> StagingSettings:
    return read_settings(StagingSettings)


def forgotten_on_reset(function: Callable[P, R]) -> Callable[P, R]:
    """Cache ``function``'s results (per arguments) until the next ``reset_settings``."""
    cached: Any = lru_cache(maxsize=8)(function)
    _RESETS.append(cached.cache_clear)
    return cast("Callable[P, R]", cached)


def reset_settings() -> None:
    read_settings.cache_clear()
    for reset in _RESETS:
        reset()
