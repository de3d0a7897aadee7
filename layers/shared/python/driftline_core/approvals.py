"""Manual approval of a registered model: signed links, the approval record, and the one decision.

A run that registered a model waits on a task token. RequestApproval stores that token in an approval
record (DynamoDB, keyed by an id derived from the model package ARN) and emails two links, Approve and
Reject. A link carries only ``<approval id>.<decision>.<expiry>.<signature>``: an HMAC-SHA256 over the
rest with a key kept in Secrets Manager, so a link can be neither forged nor altered, and it stops
working at the approval's expiry. ``decide`` is the single way a decision is made, whether it comes
from a link or from the model package's status set in the Model Registry (Studio, the AWS CLI,
``driftline approve``): one conditional update moves the record from ``pending`` to its decision, so
a second click, a replayed link or the registry event that follows a link's own status change finds the
record decided and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import BaseModel

from driftline_core.clients import get_client
from driftline_core.models import ApprovalDecision, ApprovalRequested, ApprovalRequestInput

logger = Logger(child=True)

Decision = Literal["approve", "reject"]
DECISIONS: tuple[Decision, ...] = ("approve", "reject")
PACKAGE_STATUS: dict[Decision, str] = {"approve": "Approved", "reject": "Rejected"}
RECORD_STATUS: dict[Decision, str] = {"approve": "approved", "reject": "rejected"}
PENDING = "pending"
REJECTED_ERROR = "ApprovalRejected"
"""The error a rejection fails the waiting task with; the state machine's Catch routes on it."""
APPROVAL_DESCRIPTION_MAX = 1024
RECORD_RETENTION_SECONDS = 30 * 24 * 3600
"""How long a record outlives its expiry (DynamoDB TTL), so a late click is told what was decided."""
_RUN_NOT_WAITING_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_LINK_VERSION = "v1"


class ApprovalSettings(BaseModel):
    """The approval functions' environment (names upper-cased), read on first use."""

    approvals_table: str = ""
    approval_secret_arn: str = ""
    """The signing key's secret; the key itself is read with GetSecretValue, never from the environment."""
    approval_api_url: str = ""
    approval_timeout_seconds: int = 7 * 24 * 3600
    notification_topic_arn: str = ""


@lru_cache(maxsize=1)
def get_approval_settings() -> ApprovalSettings:
    values = {name: os.environ[name.upper()] for name in ApprovalSettings.model_fields if name.upper() in os.environ}
    return ApprovalSettings.model_validate(values)


@lru_cache(maxsize=4)
def signing_key(secret_arn: str) -> bytes:
    """The HMAC key, read once per container from Secrets Manager."""
    if not secret_arn:
        raise RuntimeError("APPROVAL_SECRET_ARN is not set: the template gives it to every approval function.")
    secret = get_client("secretsmanager").get_secret_value(SecretId=secret_arn)
    return str(secret["SecretString"]).encode()


def reset_approval_settings() -> None:
    """Forget cached settings and keys (tests call this when they switch emulators)."""
    get_approval_settings.cache_clear()
    signing_key.cache_clear()


# Links ----------------------------------------------------------------------------------------------


class LinkRefused(Exception):
    """A link that must not decide anything; ``status`` is the HTTP status its page answers with."""

    status = 403


class LinkInvalid(LinkRefused):
    """Forged, altered or malformed."""


class LinkExpired(LinkRefused):
    status = 410


@dataclass(frozen=True)
class SignedLink:
    approval_id: str
    decision: Decision
    expires_at: int


def approval_id_for(model_package_arn: str) -> str:
    """One approval per model package, so the registry event (which names only the package) finds it."""
    return hashlib.sha256(model_package_arn.encode()).hexdigest()[:32]


def sign_link(approval_id: str, decision: Decision, expires_at: int, key: bytes) -> str:
    """The URL path segment of a link: readable fields and their signature, all URL-safe."""
    payload = f"{approval_id}.{decision}.{expires_at}"
    return f"{payload}.{_signature(payload, key)}"


def verify_link(link: str, key: bytes, *, now: float | None = None) -> SignedLink:
    """The link's fields when its signature holds and it has not expired; raises ``LinkRefused`` otherwise."""
    parts = link.split(".")
    if len(parts) != 4:
        raise LinkInvalid("This approval link is incomplete or malformed. Open the link from the email as it is.")
    approval_id, decision, expiry, signature = parts
    expected = _signature(f"{approval_id}.{decision}.{expiry}", key)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise LinkInvalid(
            "This approval link is not valid: its signature does not match. Open the link from the email as it is; "
            "a link that was changed or made up decides nothing."
        )
    if decision not in DECISIONS or not expiry.isdigit():
        raise LinkInvalid("This approval link names no decision Driftline knows.")
    expires_at = int(expiry)
    if (time.time() if now is None else now) >= expires_at:
        raise LinkExpired(
            f"This approval link expired at {iso_time(expires_at)}: the run stopped waiting for a decision then. "
            "Upload the data again to start a new run."
        )
    return SignedLink(approval_id=approval_id, decision=decision, expires_at=expires_at)


def link_url(api_url: str, link: str) -> str:
    return f"{api_url.rstrip('/')}/approvals/{link}"


def _signature(payload: str, key: bytes) -> str:
    digest = hmac.new(key, f"{_LINK_VERSION}.{payload}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


# The record ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalRecord:
    approval_id: str
    task_token: str = field(repr=False)
    """Kept out of ``repr`` so a token never reaches a log line by accident."""
    execution_id: str
    model_package_arn: str
    dataset: str
    summary: str
    """One line for the confirmation page: the model version and its gate metric."""
    expires_at: int
    status: str = PENDING
    decided_by: str = ""
    decided_at: str = ""
    reason: str = ""
    source: str = ""

    @property
    def version(self) -> str:
        return self.model_package_arn.rsplit("/", 1)[-1]


def get_record(approval_id: str, settings: ApprovalSettings) -> ApprovalRecord | None:
    item = (
        get_client("dynamodb")
        .get_item(TableName=settings.approvals_table, Key={"approval_id": {"S": approval_id}}, ConsistentRead=True)
        .get("Item")
    )
    return _record(item) if item else None


def _record(item: dict[str, Any]) -> ApprovalRecord:
    def text(name: str) -> str:
        return str(item.get(name, {}).get("S", ""))

    return ApprovalRecord(
        approval_id=text("approval_id"),
        task_token=text("task_token"),
        execution_id=text("execution_id"),
        model_package_arn=text("model_package_arn"),
        dataset=text("dataset"),
        summary=text("summary"),
        expires_at=int(item.get("expires_at", {}).get("N", "0")),
        status=text("status") or PENDING,
        decided_by=text("decided_by"),
        decided_at=text("decided_at"),
        reason=text("reason"),
        source=text("source"),
    )


# Requesting ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalLinks:
    approve: str
    reject: str
    expires_at: int


def request_approval(step: ApprovalRequestInput, settings: ApprovalSettings) -> tuple[ApprovalRequested, ApprovalLinks]:
    """Store the run's token under the package's approval id and sign the two links.

    A retried step replaces the token of a pending record; when the record is already decided (the
    decision came while the step was retrying), the run is resumed here with that decision.
    """
    package_arn = step.registration.model_package_arn
    approval_id = approval_id_for(package_arn)
    expires_at = int(time.time()) + settings.approval_timeout_seconds
    summary = (
        f"{step.dataset} model version {package_arn.rsplit('/', 1)[-1]}: "
        f"{step.gate.metric} {step.gate.value:.4f} (threshold {step.gate.threshold:.4f})"
    )
    item = {
        "approval_id": {"S": approval_id},
        "task_token": {"S": step.task_token},
        "execution_id": {"S": step.execution_id},
        "model_package_arn": {"S": package_arn},
        "dataset": {"S": step.dataset},
        "summary": {"S": summary},
        "expires_at": {"N": str(expires_at)},
        "purge_at": {"N": str(expires_at + RECORD_RETENTION_SECONDS)},
        "status": {"S": PENDING},
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
        if _code(error) != "ConditionalCheckFailedException":
            raise
        decided = get_record(approval_id, settings)
        if decided is not None:
            logger.info(
                "Approval already decided; resuming the retried step with it", extra={"approval_id": approval_id}
            )
            _send_outcome(step.task_token, decided)
            expires_at = decided.expires_at
    key = signing_key(settings.approval_secret_arn)
    links = ApprovalLinks(
        approve=link_url(settings.approval_api_url, sign_link(approval_id, "approve", expires_at, key)),
        reject=link_url(settings.approval_api_url, sign_link(approval_id, "reject", expires_at, key)),
        expires_at=expires_at,
    )
    requested = ApprovalRequested(approval_id=approval_id, model_package_arn=package_arn, expires_at=expires_at)
    return requested, links


@dataclass(frozen=True)
class MetricRow:
    name: str
    candidate: float
    approved: float | None


def compare_metrics(step: ApprovalRequestInput) -> tuple[list[MetricRow], str]:
    """The candidate's metrics beside the approved model's, from their registered evaluation reports.

    Returns the rows and a phrase saying which approved model they compare with (or why none).
    """
    candidate = _report_metrics(step.gate.evaluation_uri)
    approved: dict[str, float] = {}
    incumbent = step.gate.incumbent_model_package_arn
    if not incumbent:
        note = "no model of this dataset is approved yet"
    else:
        note = incumbent
        try:
            described = get_client("sagemaker").describe_model_package(ModelPackageName=incumbent)
            uri = described.get("ModelMetrics", {}).get("ModelQuality", {}).get("Statistics", {}).get("S3Uri")
            approved = _report_metrics(uri) if uri else {}
        except ClientError as error:
            note = f"{incumbent} (its metrics could not be read: {_code(error)})"
    if not candidate:
        candidate = {step.gate.metric: step.gate.value}
        if step.gate.incumbent_value is not None:
            approved.setdefault(step.gate.metric, step.gate.incumbent_value)
    rows = [MetricRow(name, value, approved.get(name)) for name, value in candidate.items()]
    return rows, note


def _report_metrics(uri: str) -> dict[str, float]:
    """``{metric: value}`` from a model-quality report; empty when it cannot be read."""
    from driftline_core.s3io import read_json

    try:
        report = read_json(uri)
    except (ClientError, ValueError):
        return {}
    values: dict[str, float] = {}
    for section, metrics in report.items() if isinstance(report, dict) else []:
        if not section.endswith("_metrics") or not isinstance(metrics, dict):
            continue
        for name, entry in metrics.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                values[name] = float(value)
    return values


def ask_for_approval(step: ApprovalRequestInput, settings: ApprovalSettings) -> ApprovalRequested:
    """Store the approval, then email the approver the model, its metrics, its data and the two links."""
    from driftline_core.notifications import approval_request, publish_notification
    from driftline_core.settings import get_settings

    requested, links = request_approval(step, settings)
    rows, compared_with = compare_metrics(step)
    notification = approval_request(
        step,
        approve_url=links.approve,
        reject_url=links.reject,
        expires_at=iso_time(links.expires_at),
        metrics=[(row.name, row.candidate, row.approved) for row in rows],
        compared_with=compared_with,
    )
    publish_notification(notification, get_settings())
    return requested


# Deciding --------------------------------------------------------------------------------------------

Outcome = Literal["decided", "already_decided", "expired", "run_ended", "unknown"]


@dataclass(frozen=True)
class DecisionResult:
    outcome: Outcome
    record: ApprovalRecord | None
    message: str
    """A sentence for the person who asked, naming what happened and what to do next."""


def decide(
    approval_id: str,
    decision: Decision,
    *,
    decided_by: str,
    reason: str = "",
    source: Literal["link", "registry"],
    settings: ApprovalSettings,
    now: float | None = None,
) -> DecisionResult:
    """Make the decision once: record it, set the package's status (links only), resume the run.

    Nothing changes for a record that is unknown, already decided, expired, or whose run no longer waits.
    """
    moment = time.time() if now is None else now
    record = get_record(approval_id, settings)
    if record is None:
        return DecisionResult("unknown", None, "Driftline has no approval waiting under this link.")
    if record.status != PENDING:
        return _already_decided(record)
    if moment >= record.expires_at:
        return _expired(record)
    if not _run_is_waiting(record):
        return _run_ended(record)
    decided_at = iso_time(moment)
    try:
        get_client("dynamodb").update_item(
            TableName=settings.approvals_table,
            Key={"approval_id": {"S": approval_id}},
            UpdateExpression=(
                "SET #status = :decided, decided_by = :by, decided_at = :at, reason = :reason, #source = :source"
            ),
            ConditionExpression="#status = :pending AND expires_at > :now",
            ExpressionAttributeNames={"#status": "status", "#source": "source"},
            ExpressionAttributeValues={
                ":decided": {"S": RECORD_STATUS[decision]},
                ":pending": {"S": PENDING},
                ":by": {"S": decided_by},
                ":at": {"S": decided_at},
                ":reason": {"S": reason},
                ":source": {"S": source},
                ":now": {"N": str(int(moment))},
            },
        )
    except ClientError as error:
        if _code(error) != "ConditionalCheckFailedException":
            raise
        # Another decision won the race (or the record expired meanwhile): report what is there now.
        current = get_record(approval_id, settings) or record
        return _already_decided(current) if current.status != PENDING else _expired(current)
    decided = ApprovalRecord(
        **{
            **record.__dict__,
            "status": RECORD_STATUS[decision],
            "decided_by": decided_by,
            "decided_at": decided_at,
            "reason": reason,
            "source": source,
        }
    )
    try:
        if source == "link":
            get_client("sagemaker").update_model_package(
                ModelPackageArn=record.model_package_arn,
                ModelApprovalStatus=PACKAGE_STATUS[decision],
                ApprovalDescription=approval_description(decided),
            )
    except Exception:
        _reopen(decided, settings)
        raise
    log_keys = {"approval_id": approval_id, "decision": decision, "source": source, "execution_id": record.execution_id}
    try:
        _send_outcome(record.task_token, decided)
    except ClientError as error:
        if _code(error) in _RUN_NOT_WAITING_CODES:
            logger.warning("The run stopped waiting before the decision reached it", extra=log_keys)
            return _run_ended(decided)
        raise
    logger.info("Approval decided; the run resumes", extra=log_keys)
    verb = "approved" if decision == "approve" else "rejected"
    follow = (
        "The run continues with this model."
        if decision == "approve"
        else "The run ends here and this model is not deployed."
    )
    return DecisionResult(
        "decided", decided, f"{record.dataset} model version {record.version} is {verb} by {decided_by}. {follow}"
    )


def approval_description(record: ApprovalRecord) -> str:
    """What the Model Registry shows as the package's ApprovalDescription: who, when, and why."""
    verb = "Approved" if record.status == "approved" else "Rejected"
    text = f"{verb} by {record.decided_by} at {record.decided_at} via Driftline's approval link"
    if record.reason:
        text += f": {record.reason}"
    return text[:APPROVAL_DESCRIPTION_MAX]


def decision_output(record: ApprovalRecord) -> ApprovalDecision:
    return ApprovalDecision(
        approval_id=record.approval_id,
        decision="approved" if record.status == "approved" else "rejected",
        decided_by=record.decided_by,
        decided_at=record.decided_at,
        source="registry" if record.source == "registry" else "link",
        reason=record.reason,
    )


def rejection_cause(record: ApprovalRecord) -> str:
    where = "in the SageMaker Model Registry" if record.source == "registry" else "through the approval link"
    because = f": {record.reason}" if record.reason else " (no reason given)"
    return (
        f"{record.dataset} model version {record.version} was rejected by {record.decided_by} "
        f"at {record.decided_at} {where}{because}"
    )


def _send_outcome(task_token: str, record: ApprovalRecord) -> None:
    sfn = get_client("stepfunctions")
    if record.status == "approved":
        sfn.send_task_success(taskToken=task_token, output=decision_output(record).model_dump_json())
    else:
        sfn.send_task_failure(taskToken=task_token, error=REJECTED_ERROR, cause=rejection_cause(record)[:32768])


def _reopen(record: ApprovalRecord, settings: ApprovalSettings) -> None:
    """Put a decision back to pending when the package's status could not be set, so it can be made again."""
    try:
        get_client("dynamodb").update_item(
            TableName=settings.approvals_table,
            Key={"approval_id": {"S": record.approval_id}},
            UpdateExpression="SET #status = :pending REMOVE decided_by, decided_at, reason, #source",
            ConditionExpression="#status = :decided AND decided_at = :at",
            ExpressionAttributeNames={"#status": "status", "#source": "source"},
            ExpressionAttributeValues={
                ":pending": {"S": PENDING},
                ":decided": {"S": record.status},
                ":at": {"S": record.decided_at},
            },
        )
    except ClientError:
        logger.exception(
            "Could not reopen an approval after a failed status update", extra={"approval_id": record.approval_id}
        )


def _run_is_waiting(record: ApprovalRecord) -> bool:
    try:
        described = get_client("stepfunctions").describe_execution(executionArn=record.execution_id)
    except ClientError as error:
        if _code(error) == "ExecutionDoesNotExist":
            return False
        raise
    return str(described.get("status")) == "RUNNING"


def _already_decided(record: ApprovalRecord) -> DecisionResult:
    where = "in the SageMaker Model Registry" if record.source == "registry" else "through an approval link"
    return DecisionResult(
        "already_decided",
        record,
        f"{record.dataset} model version {record.version} was already {record.status} by {record.decided_by} "
        f"at {record.decided_at} {where}. This link changes nothing.",
    )


def _expired(record: ApprovalRecord) -> DecisionResult:
    return DecisionResult(
        "expired",
        record,
        f"The approval of {record.dataset} model version {record.version} expired at {iso_time(record.expires_at)}; "
        "the run stopped waiting and nothing was changed. Upload the data again to start a new run.",
    )


def _run_ended(record: ApprovalRecord) -> DecisionResult:
    return DecisionResult(
        "run_ended",
        record,
        f"The run that registered {record.dataset} model version {record.version} has already ended, so this "
        "decision cannot resume it. Upload the data again to start a new run.",
    )


# The Model Registry's status-change event -----------------------------------------------------------


def decide_from_registry_event(detail: dict[str, Any], settings: ApprovalSettings) -> DecisionResult | None:
    """A package's status set in the registry (Studio, CLI, API) decides its pending approval.

    Returns None for events that decide nothing: a status still pending, or no package ARN.
    """
    package_arn = str(detail.get("ModelPackageArn") or "")
    status = str(detail.get("ModelApprovalStatus") or "")
    decision: Decision | None = {"Approved": "approve", "Rejected": "reject"}.get(status)  # type: ignore[assignment]
    if not package_arn or decision is None:
        return None
    modified_by = detail.get("LastModifiedBy") or {}
    who = (
        modified_by.get("UserProfileName")
        or (modified_by.get("IamIdentity") or {}).get("Arn")
        or "someone in the SageMaker Model Registry"
    )
    return decide(
        approval_id_for(package_arn),
        decision,
        decided_by=str(who),
        reason=str(detail.get("ApprovalDescription") or ""),
        source="registry",
        settings=settings,
    )


def iso_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
