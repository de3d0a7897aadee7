"""StartRun: an upload to data/<dataset>/<file>.csv (or .csv.gz) starts one pipeline run."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.aws.events import S3ObjectCreatedEvent
from driftline_core.handler_input import validated_event
from driftline_core.ingest.uploads import start_run_for_upload
from driftline_core.settings import get_settings

logger = Logger()
metrics = Metrics()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.EVENT_BRIDGE)
@metrics.log_metrics
@validated_event(S3ObjectCreatedEvent)
def lambda_handler(event: S3ObjectCreatedEvent, context: LambdaContext) -> dict[str, Any]:
    detail = event.detail
    result = start_run_for_upload(
        bucket=detail.bucket.name,
        key=detail.object.key,
        version_id=detail.object.version_id,
        event_id=event.id,
        settings=get_settings(),
        sequencer=detail.object.sequencer,
        etag=detail.object.etag or None,
        size=detail.object.size,
    )
    logger.append_keys(dataset=result.dataset, execution_arn=result.execution_arn)
    logger.info(result.reason, extra={"started": result.started, "notified": result.notified})
    metric_name = "RunsStarted" if result.started else "UploadsSkipped"
    metrics.add_metric(name=metric_name, unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
