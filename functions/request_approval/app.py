"""RequestApproval: store the waiting run's approval and email the approver signed Approve/Reject links."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.approval.request import ask_for_approval
from driftline_core.handler_input import validated_event
from driftline_core.payloads import ApprovalRequestInput
from driftline_core.settings import get_approval_settings

logger = Logger()
metrics = Metrics()


# log_event=False overrides POWERTOOLS_LOGGER_LOG_EVENT: the event carries the task token.
@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
@metrics.log_metrics
@validated_event(ApprovalRequestInput)
def lambda_handler(event: ApprovalRequestInput, context: LambdaContext) -> dict[str, Any]:
    requested = ask_for_approval(event, get_approval_settings())
    logger.append_keys(model_package_arn=requested.model_package_arn)
    logger.info("Approval requested", extra={"approval_id": requested.approval_id, "expires_at": requested.expires_at})
    metrics.add_metric(name="ApprovalsRequested", unit=MetricUnit.Count, value=1)
    return requested.model_dump(mode="json")
