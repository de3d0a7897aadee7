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


_ENV_NAMES = {name: name.upper() for name in Settings.model_fields}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    values = {field: os.environ[env] for field, env in _ENV_NAMES.items() if env in os.environ}
    return Settings.model_validate(values)


def reset_settings() -> None:
    get_settings.cache_clear()
