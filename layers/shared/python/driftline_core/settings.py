"""Typed view of the environment the template gives each function; read on first use, not at import."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


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


_ENV_NAMES = {name: name.upper() for name in Settings.model_fields}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {field: os.environ[env] for field, env in _ENV_NAMES.items() if env in os.environ}
    return Settings.model_validate(values)


def reset_settings() -> None:
    get_settings.cache_clear()
