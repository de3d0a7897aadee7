"""The served model's drift baseline: Model Monitor's statistics and constraints of its train split.

Every served model gets one, whatever watches its endpoint: the monitor compares windows with it, and each
later run of the dataset compares its uploaded rows with it (the drift signal where nothing is captured).
"""

from __future__ import annotations

from driftline_core import layout
from driftline_core.aws.sagemaker import start_processing_job_once
from driftline_core.settings import Settings
from driftline_core.training.job_requests import build_baseline_job_request


def start_baseline_job(
    *, dataset: str, endpoint: str, model_version: int, execution_name: str, settings: Settings
) -> tuple[str, str]:
    """Start the served model's baseline job (once: a repeat finds it); return its name and output URI.

    Every served model gets one, whatever watches its endpoint: the monitor compares windows with it, and each
    later run of the dataset compares its uploaded rows with it (the drift signal where nothing is captured).
    """
    baseline_uri = layout.s3_uri(settings.artifact_bucket, layout.baseline_prefix(execution_name))
    job_name = layout.baseline_job_name(endpoint, model_version, stack=settings.model_package_group_prefix)
    start_processing_job_once(
        build_baseline_job_request(
            job_name=job_name,
            execution_name=execution_name,
            dataset=dataset,
            endpoint=endpoint,
            output_uri=baseline_uri,
            settings=settings,
        )
    )
    return job_name, baseline_uri
