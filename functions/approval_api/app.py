"""ApprovalApi: GET /approvals/{link} shows the confirmation page; its POST makes the decision."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model
from aws_lambda_powertools.utilities.typing import LambdaContext

from driftline_core.approval_page import answer_get, answer_post, form_fields, page
from driftline_core.approvals import get_approval_settings

logger = Logger()
metrics = Metrics()


# log_event=False: the path holds a signed link, which must not sit in the logs.
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@event_parser(model=APIGatewayProxyEventV2Model)
def lambda_handler(event: APIGatewayProxyEventV2Model, context: LambdaContext) -> dict[str, Any]:
    link = (event.pathParameters or {}).get("link", "")
    method = event.requestContext.http.method.upper()
    settings = get_approval_settings()
    if method == "GET":
        response = answer_get(link, settings)
    elif method == "POST":
        body = event.body if isinstance(event.body, str) else None
        response = answer_post(link, form_fields(body, bool(event.isBase64Encoded)), settings)
    else:
        response = page(405, "Method not allowed", ["Open the link from the email in a browser."])
    logger.info("Approval page answered", extra={"method": method, "status": response["statusCode"]})
    metrics.add_metric(name=f"ApprovalPages{response['statusCode']}", unit=MetricUnit.Count, value=1)
    return response
