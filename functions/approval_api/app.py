"""ApprovalApi: GET /approvals/{link} shows the confirmation page; its POST makes the decision."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.approval.page import answer_get, answer_post, page
from driftline_core.aws.events import HttpApiRequest
from driftline_core.handler_input import validated_event
from driftline_core.settings import get_approval_settings

logger = Logger()
metrics = Metrics()


# log_event=False: the path holds a signed link, which must not sit in the logs.
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@validated_event(HttpApiRequest)
def lambda_handler(event: HttpApiRequest, context: LambdaContext) -> dict[str, Any]:
    link = (event.path_parameters or {}).get("link", "")
    method = event.request_context.http.method.upper()
    settings = get_approval_settings()
    if method == "GET":
        response = answer_get(link, settings)
    elif method == "POST":
        response = answer_post(link, event.body, event.is_base64_encoded, settings)
    else:
        response = page(405, "Method not allowed", ["Open the link from the email in a browser."])
    logger.info("Approval page answered", extra={"method": method, "status": response["statusCode"]})
    metrics.add_metric(name=f"ApprovalPages{response['statusCode']}", unit=MetricUnit.Count, value=1)
    return response
