"""Asking for approval: store the approval record with the run's task token, then email the two links with the
candidate's metrics beside the approved model's, both measured on the run's test split."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core.approval.decisions import (
    PENDING,
    RECORD_RETENTION_SECONDS,
    ApprovalRecord,
    get_record,
    send_outcome,
)
from driftline_core.approval.links import iso_time, link_url, signing_key
from driftline_core.approval.signatures import approval_id_for, promotion_approval_id, sign_link
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_condition_failed
from driftline_core.aws.s3io import read_json
from driftline_core.notifications.messages import (
    DriftlineCommand,
    MetricComparison,
    approval_request,
    promotion_request,
)
from driftline_core.notifications.publish import publish_notification
from driftline_core.payloads import ApprovalRequested, ApprovalRequestInput, PromotionRequestInput
from driftline_core.settings import ApprovalSettings, get_settings
from driftline_core.training.quality_gate import INCUMBENT_SECTION

logger = Logger(child=True)


@dataclass(frozen=True)
class ApprovalLinks:
    approve: str
    reject: str
    expires_at: int


def request_approval(step: ApprovalRequestInput, settings: ApprovalSettings) -> tuple[ApprovalRequested, ApprovalLinks]:
    """Store the run's token under the package's approval id and sign the two links."""
    package_arn = step.registration.model_package_arn
    summary = (
        f"{step.dataset} model version {package_arn.rsplit('/', 1)[-1]}: "
        f"{step.gate.metric} {step.gate.value:.4f} (threshold {step.gate.threshold:.4f})"
    )
    return _store_and_sign(
        ApprovalRecord(
            approval_id=approval_id_for(package_arn),
            task_token=step.task_token,
            execution_id=step.execution_id,
            model_package_arn=package_arn,
            dataset=step.dataset,
            summary=summary,
            expires_at=int(time.time()) + settings.approval_timeout_seconds,
        ),
        settings,
    )


def request_promotion(
    step: PromotionRequestInput, settings: ApprovalSettings
) -> tuple[ApprovalRequested, ApprovalLinks]:
    """Store the run's token under the promotion's own approval id and sign its two links."""
    package_arn = step.registration.model_package_arn
    version = package_arn.rsplit("/", 1)[-1]
    return _store_and_sign(
        ApprovalRecord(
            approval_id=promotion_approval_id(package_arn),
            task_token=step.task_token,
            execution_id=step.execution_id,
            model_package_arn=package_arn,
            dataset=step.dataset,
            summary=f"{step.dataset} model version {version} won its A/B trial: {step.trial.reason}",
            expires_at=int(time.time()) + settings.approval_timeout_seconds,
            kind="promotion",
        ),
        settings,
    )


def _store_and_sign(record: ApprovalRecord, settings: ApprovalSettings) -> tuple[ApprovalRequested, ApprovalLinks]:
    """Store the pending record and sign its links.

    A retried step replaces the token of a pending record; when the record is already decided (the
    decision came while the step was retrying), the run is resumed here with that decision.
    """
    approval_id = record.approval_id
    expires_at = record.expires_at
    item = {
        "approval_id": {"S": approval_id},
        "task_token": {"S": record.task_token},
        "execution_id": {"S": record.execution_id},
        "model_package_arn": {"S": record.model_package_arn},
        "dataset": {"S": record.dataset},
        "summary": {"S": record.summary},
        "expires_at": {"N": str(expires_at)},
        "purge_at": {"N": str(expires_at + RECORD_RETENTION_SECONDS)},
        "status": {"S": PENDING},
        "kind": {"S": record.kind},
    }
    dynamodb = get_client("dynamodb")
    try:
        dynamodb.put_item(
            TableName=settings.approvals_table,
            Item=item,
            ConditionExpression="attribute_not_exists(approval_id) OR #status = :pending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":pending": {"S": PENDING}},
        )
    except ClientError as error:
        if not is_condition_failed(error):
            raise
        decided = get_record(approval_id, settings)
        if decided is not None:
            logger.info(
                "Approval already decided; resuming the retried step with it", extra={"approval_id": approval_id}
            )
            send_outcome(record.task_token, decided)
            expires_at = decided.expires_at
    key = signing_key(settings.approval_secret_arn)
    links = ApprovalLinks(
        approve=link_url(settings.approval_api_url, sign_link(approval_id, "approve", expires_at, key)),
        reject=link_url(settings.approval_api_url, sign_link(approval_id, "reject", expires_at, key)),
        expires_at=expires_at,
    )
    requested = ApprovalRequested(
        approval_id=approval_id, model_package_arn=record.model_package_arn, expires_at=expires_at
    )
    return requested, links


def compare_metrics(step: ApprovalRequestInput) -> MetricComparison:
    """The candidate's metrics beside the approved model's on the same rows: both from this run's evaluation
    report, whose ``incumbent`` section scored the approved model on the candidate's test split.

    When the gate did not compare the two on that split, the approved model's own registered figures are
    added, labelled as figures from other rows.
    """
    report = _read_report(step.gate.evaluation_uri)
    candidate = _metric_values(report)
    incumbent = step.gate.incumbent_model_package_arn
    compared = incumbent is not None and step.gate.incumbent_value is not None
    approved: dict[str, float] = {}
    if compared:
        section = report.get(INCUMBENT_SECTION)
        if isinstance(section, dict) and section.get("model_package_arn") == incumbent:
            approved = _metric_values(section)
    if not candidate:
        candidate = {step.gate.metric: step.gate.value}
    if compared and step.gate.incumbent_value is not None:
        approved[step.gate.metric] = step.gate.incumbent_value  # the figure the gate judged on, whatever else
    registered: tuple[tuple[str, float], ...] = ()
    note = ""
    if incumbent and not compared:
        registered, note = _registered_metrics(incumbent)
    driftline = report.get("driftline")
    test_rows = driftline.get("test_rows") if isinstance(driftline, dict) else None
    return MetricComparison(
        rows=[(name, value, approved.get(name)) for name, value in candidate.items()],
        test_rows=test_rows if isinstance(test_rows, int) and not isinstance(test_rows, bool) else None,
        approved_model=incumbent,
        compared=compared,
        registered=registered,
        registered_note=note,
    )


def _registered_metrics(package_arn: str) -> tuple[tuple[tuple[str, float], ...], str]:
    """The approved model's figures as registered with it (its own run's test split), or why there are none."""
    try:
        described = get_client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        return (), f"could not be read ({error_code(error)})"
    uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
    values = _metric_values(_read_report(uri)) if uri else {}
    return tuple(values.items()), "" if values else "none registered with it"


def _read_report(uri: str) -> dict[str, Any]:
    """A model-quality report; empty when it cannot be read (the email then shows the gate's own figures)."""
    try:
        report = read_json(uri)
    except (ClientError, ValueError):
        return {}
    return report if isinstance(report, dict) else {}


def _metric_values(report: dict[str, Any]) -> dict[str, float]:
    """``{metric: value}`` of a report's (or its incumbent section's) ``*_metrics`` blocks."""
    values: dict[str, float] = {}
    for section, metrics in report.items():
        if not section.endswith("_metrics") or not isinstance(metrics, dict):
            continue
        for name, entry in metrics.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[name] = float(value)
    return values


def driftline_command(settings: ApprovalSettings) -> DriftlineCommand:
    """How the emails' ``driftline approve`` / ``reject`` lines name this stack and where to run them."""
    return DriftlineCommand(
        stack_name=settings.stack_name, region=get_client("sns").meta.region_name, note=settings.driftline_command_note
    )


def ask_for_approval(step: ApprovalRequestInput, settings: ApprovalSettings) -> ApprovalRequested:
    """Store the approval, then email the approver the model, its metrics, its data and the two links."""
    requested, links = request_approval(step, settings)
    notification = approval_request(
        step,
        approve_url=links.approve,
        reject_url=links.reject,
        expires_at=iso_time(links.expires_at),
        comparison=compare_metrics(step),
        command=driftline_command(settings),
    )
    publish_notification(notification, get_settings())
    return requested


def ask_for_promotion(step: PromotionRequestInput, settings: ApprovalSettings) -> ApprovalRequested:
    """Store the promotion's approval, then email the approver the trial's figures, its report and the two links."""
    requested, links = request_promotion(step, settings)
    notification = promotion_request(
        step,
        approve_url=links.approve,
        reject_url=links.reject,
        expires_at=iso_time(links.expires_at),
        command=driftline_command(settings),
    )
    publish_notification(notification, get_settings())
    return requested
