"""RequestApproval: store the waiting run's approval and email the approver signed Approve/Reject links.

Two questions wait on a person: whether a registered model may be deployed, and (``"request": "promotion"``)
whether a challenger that won its A/B trial takes all of the endpoint's traffic.
"""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ConfigDict, Discriminator, RootModel, Tag

from driftline_core.approval.request import ask_for_approval, ask_for_promotion
from driftline_core.handler_input import validated_event
from driftline_core.payloads import ApprovalRequestInput, PromotionRequestInput
from driftline_core.settings import get_approval_settings

logger = Logger()
metrics = Metrics()


def _request_kind(event: Any) -> str:
    request = event.get("request") if isinstance(event, dict) else getattr(event, "request", None)
    return "promotion" if request == "promotion" else "model"


class ApprovalQuestion(RootModel[Any]):
    """A model's approval, or a trial winner's promotion."""

    model_config = ConfigDict(hide_input_in_errors=True)
    """Parse errors must not echo the payload: it carries the task token."""
    root: Annotated[
        Annotated[ApprovalRequestInput, Tag("model")] | Annotated[PromotionRequestInput, Tag("promotion")],
        Discriminator(_request_kind),
    ]


# log_event=False overrides POWERTOOLS_LOGGER_LOG_EVENT: the event carries the task token.
@logger.inject_lambda_context(correlation_id_path="execution_id", log_event=False)
@metrics.log_metrics
@validated_event(ApprovalQuestion)
def lambda_handler(event: ApprovalQuestion, context: LambdaContext) -> dict[str, Any]:
    settings = get_approval_settings()
    if isinstance(event.root, PromotionRequestInput):
        requested = ask_for_promotion(event.root, settings)
        metric = "PromotionsRequested"
    else:
        requested = ask_for_approval(event.root, settings)
        metric = "ApprovalsRequested"
    logger.append_keys(model_package_arn=requested.model_package_arn)
    logger.info("Approval requested", extra={"approval_id": requested.approval_id, "expires_at": requested.expires_at})
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return requested.model_dump(mode="json")
