"""Manual approval of a registered model: the approval record and the one decision.

A run that registered a model waits on a task token. RequestApproval stores that token in an approval
record (DynamoDB, keyed by an id derived from the model package ARN) and emails two links, Approve and
Reject. A link carries only ``<approval id>.<decision>.<expiry>.<signature>``: an HMAC-SHA256 over the
rest with a key kept in Secrets Manager, so a link can be neither forged nor altered, and it stops
working at the approval's expiry. ``decide`` is the single way a decision is made, whether it comes
from a link or from the model package's status set in the Model Registry (Studio, the AWS CLI,
``driftline approve``): one conditional update moves the record from ``pending`` to its decision, so
a second click, a replayed link or the registry event that follows a link's own status change finds the
record decided and changes nothing.

The record is the decision; the registry and the run are made to agree with it, whatever the order in
which the two sources act:

- a link finds a status already set in the registry (its event still on the way): that status came first
  and is the decision;
- a registry status that contradicts a recorded decision (set after a link's, or overwritten by it in the
  instant between the link's check and its write) is set back, with an ApprovalDescription saying why;
- a model is Approved only while its run will deploy it: a decision for a run that can no longer continue
  (stopped, timed out, failed) is refused with the package left as it was, and an approval that reaches a
  run which ended in the meantime is taken back.

A challenger that won its A/B trial may wait for a second decision, its promotion to all of the endpoint's
traffic. That record (kind ``promotion``) is decided the same way, by its links or ``driftline approve``, but
never through the registry: the package is Approved already (it serves in the trial), and its status stays as
it is whatever the promotion's outcome.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from driftline_core.approval.links import iso_time
from driftline_core.approval.signatures import Decision, approval_id_for
from driftline_core.aws.clients import get_client
from driftline_core.aws.error_codes import error_code, is_condition_failed, is_not_found, is_run_not_waiting
from driftline_core.errors import APPROVAL_REJECTED_ERROR
from driftline_core.notifications.text import sentence_start
from driftline_core.payloads import ApprovalDecision
from driftline_core.settings import ApprovalSettings

logger = Logger(child=True)

PACKAGE_STATUS: dict[Decision, str] = {"approve": "Approved", "reject": "Rejected"}
RECORD_STATUS: dict[Decision, str] = {"approve": "approved", "reject": "rejected"}
PENDING = "pending"
RUN_ENDED = "run_ended"
"""A record whose run ended before a decision could reach it: nothing can decide it any more."""
REGISTRY_PENDING = "PendingManualApproval"
APPROVAL_DESCRIPTION_MAX = 1024
RECORD_RETENTION_SECONDS = 30 * 24 * 3600
"""How long a record outlives its expiry (DynamoDB TTL), so a late click is told what was decided."""
ApprovalKind = Literal["model", "promotion"]
"""model: a registered model's approval, mirrored in the registry; promotion: a trial winner's, never mirrored."""


# Links ----------------------------------------------------------------------------------------------


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
    kind: ApprovalKind = "model"

    @property
    def version(self) -> str:
        return self.model_package_arn.rsplit("/", 1)[-1]

    @property
    def subject(self) -> str:
        """What is decided, as the pages and messages name it."""
        model = f"{self.dataset} model version {self.version}"
        return f"the promotion of {model}" if self.kind == "promotion" else model

    @property
    def mirrored_in_registry(self) -> bool:
        """Whether the package's registry status is this record's decision (a model's approval, not a promotion)."""
        return self.kind == "model"


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
        kind="promotion" if text("kind") == "promotion" else "model",
    )


# Requesting ------------------------------------------------------------------------------------------


# Deciding --------------------------------------------------------------------------------------------

DecisionOutcome = Literal["decided", "already_decided", "expired", "run_ended", "unknown", "restored"]


@dataclass(frozen=True)
class DecisionResult:
    outcome: DecisionOutcome
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
    A link that finds the package already Approved or Rejected in the registry records that decision instead.
    """
    moment = time.time() if now is None else now
    record = get_record(approval_id, settings)
    if record is None:
        return DecisionResult("unknown", None, "Driftline has no approval waiting under this link.")
    if record.status == RUN_ENDED:
        return _run_ended(record)
    if record.status != PENDING:
        return _already_decided(record)
    if moment >= record.expires_at:
        if source == "registry" and decision == "approve" and record.mirrored_in_registry:
            _take_back_approval(record)  # the run's wait timed out: it will not deploy this model
        return _expired(record)
    first: RegistryStatus | None = None
    if source == "link" and record.mirrored_in_registry:
        first = registry_status(record.model_package_arn)
        if first is not None and first.decision is not None:
            # Set in the registry before this link was used: the registry's decision came first.
            decision, decided_by, reason, source = first.decision, first.modified_by, first.reason, "registry"
    if not _run_is_waiting(record):
        ended = _close_for_ended_run(record, settings)
        if ended.status != RUN_ENDED:
            # The other source decided while this one looked: that decision ended the run, and it is the answer.
            return _already_decided(ended)
        if source == "registry" and decision == "approve" and record.mirrored_in_registry:
            _take_back_approval(ended)
        return _run_ended(ended)
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
        if not is_condition_failed(error):
            raise
        # Another decision won the race (or the record expired meanwhile): report what is there now.
        current = get_record(approval_id, settings) or record
        if current.status == RUN_ENDED:
            return _run_ended(current)
        if current.status == PENDING:
            return _expired(current)
        if source == "registry" and current.mirrored_in_registry:
            restore_recorded_decision(current)
        return _already_decided(current)
    decided = replace(
        record,
        status=RECORD_STATUS[decision],
        decided_by=decided_by,
        decided_at=decided_at,
        reason=reason,
        source=source,
    )
    try:
        if source == "link" and decided.mirrored_in_registry:
            set_package_status(decided, PACKAGE_STATUS[decision], approval_description(decided))
    except Exception:
        _reopen(decided, settings)
        raise
    log_keys = {"approval_id": approval_id, "decision": decision, "source": source, "execution_id": record.execution_id}
    try:
        send_outcome(record.task_token, decided)
    except ClientError as error:
        if not is_run_not_waiting(error):
            raise
        # The run ended between the check above and now: the decision reaches nothing, so it is taken back.
        logger.warning("The run stopped waiting before the decision reached it", extra=log_keys)
        ended = _close_for_ended_run(decided, settings)
        if ended.mirrored_in_registry and source == "link":
            set_package_status(ended, REGISTRY_PENDING, _ended_description(ended))
        elif ended.mirrored_in_registry and decision == "approve":
            _take_back_approval(ended)
        return _run_ended(ended)
    logger.info("Approval decided; the run resumes", extra=log_keys)
    if first is not None and first.decision is not None:
        return _already_decided(decided)
    verb = "approved" if decision == "approve" else "rejected"
    return DecisionResult(
        "decided", decided, f"{sentence_start(record.subject)} is {verb} by {decided_by}. {_follow(decided)}"
    )


def _follow(record: ApprovalRecord) -> str:
    """What the decision does to the run."""
    approved = record.status == "approved"
    if record.kind == "promotion":
        if approved:
            return f"Model version {record.version} takes all of the endpoint's traffic and its trial ends."
        return f"The serving model keeps all of the endpoint's traffic and model version {record.version} leaves it."
    return "The run continues with this model." if approved else "The run ends here and this model is not deployed."


def approval_description(record: ApprovalRecord) -> str:
    """What the Model Registry shows as the package's ApprovalDescription: who, when, and why."""
    verb = "Approved" if record.status == "approved" else "Rejected"
    text = f"{verb} by {record.decided_by} at {record.decided_at} via Driftline's approval link"
    if record.reason:
        text += f": {record.reason}"
    # The field's pattern is '.*' in Java's sense: no line terminator may appear. A reason typed on several
    # lines keeps its lines, joined with ' / ', in the registry; the run and the emails keep it as typed.
    return _one_line(text)[:APPROVAL_DESCRIPTION_MAX]


_LINE_BREAKS = re.compile("\\s*[\\n\\r\\u0085\\u2028\\u2029]+\\s*")


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
        f"{sentence_start(record.subject)} was rejected by {record.decided_by} at {record.decided_at} {where}{because}"
    )


def send_outcome(task_token: str, record: ApprovalRecord) -> None:
    sfn = get_client("stepfunctions")
    if record.status == "approved":
        sfn.send_task_success(taskToken=task_token, output=decision_output(record).model_dump_json())
    else:
        sfn.send_task_failure(
            taskToken=task_token, error=APPROVAL_REJECTED_ERROR, cause=rejection_cause(record)[:32768]
        )


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


@dataclass(frozen=True)
class RegistryStatus:
    """A model package's approval status in the registry now, and who set it."""

    status: str
    modified_by: str
    """Who set it, by ``approver``'s rule."""
    reason: str
    """Why, as the approver gave it (the ApprovalDescription, less what Driftline wrote around it)."""

    @property
    def decision(self) -> Decision | None:
        return {"Approved": "approve", "Rejected": "reject"}.get(self.status)  # type: ignore[return-value]


def registry_status(package_arn: str, event_detail: dict[str, Any] | None = None) -> RegistryStatus | None:
    """The package's status now (an event's detail may be stale); None when the package is gone."""
    try:
        described = get_client("sagemaker").describe_model_package(ModelPackageName=package_arn)
    except ClientError as error:
        if is_not_found(error):
            return None
        raise
    status = str(described.get("ModelApprovalStatus") or "")
    detail = event_detail or {}
    # Who set it: the event's account of it when it tells of this status, else the package's own.
    source = detail if str(detail.get("ModelApprovalStatus") or "") == status else described
    description = str(source.get("ApprovalDescription") or "")
    who, reason = approver(status, description, source.get("LastModifiedBy") or {})
    return RegistryStatus(status, who, reason)


UNKNOWN_APPROVER = "unknown"
_DRIFTLINE_DESCRIPTION = re.compile(
    r"(?P<verb>Approved|Rejected) by (?P<by>.+?) "
    r"(?:at \S+ via Driftline's approval link|with driftline (?:approve|reject))(?P<rest>.*)",
    re.DOTALL,
)
"""The ApprovalDescription Driftline writes: ``approval_description`` for a link, ``driftline approve`` /
``driftline reject`` (driftline/approvals_cli.py) from a terminal; ``: <reason>`` may follow."""


def approver(status: str, description: str, modified_by: dict[str, Any]) -> tuple[str, str]:
    """Who set a registry status, and why: the one rule every page, email and run output follows.

    The name Driftline wrote into the ApprovalDescription of this very status (a link's approver, the
    ``--by`` of ``driftline approve``); else the registry's LastModifiedBy: a Studio user's profile name,
    else the last part of the caller's IAM ARN (a user, or an assumed role's session); else ``unknown``.
    The reason is what the approver typed: a description Driftline wrote gives its text after ``: ``.
    """
    written = _DRIFTLINE_DESCRIPTION.match(description)
    if written is not None and PACKAGE_STATUS.get(_DECISION_BY_VERB[written["verb"]]) == status:
        rest = written["rest"]
        return written["by"].strip(), rest[2:].strip() if rest.startswith(": ") else ""
    arn = str((modified_by.get("IamIdentity") or {}).get("Arn") or "")
    name = str(modified_by.get("UserProfileName") or "") or _arn_principal_name(arn)
    return name or UNKNOWN_APPROVER, description


_DECISION_BY_VERB: dict[str, Decision] = {"Approved": "approve", "Rejected": "reject"}


def _arn_principal_name(arn: str) -> str:
    """``alice`` of ``...:user/alice``, a session of ``...:assumed-role/Role/alice@example.com``, ``root``."""
    return arn.rsplit("/", 1)[-1] if "/" in arn else arn.rsplit(":", 1)[-1]


def set_package_status(record: ApprovalRecord, status: str, description: str) -> None:
    get_client("sagemaker").update_model_package(
        ModelPackageArn=record.model_package_arn,
        ModelApprovalStatus=status,
        ApprovalDescription=_one_line(description)[:APPROVAL_DESCRIPTION_MAX],
    )


def restore_recorded_decision(record: ApprovalRecord, found: RegistryStatus | None = None) -> bool:
    """Set the package's status back to the recorded decision when the registry says otherwise; True if it did."""
    wanted = PACKAGE_STATUS["approve" if record.status == "approved" else "reject"]
    current = found or registry_status(record.model_package_arn)
    if current is None or current.status == wanted:
        return False
    set_package_status(
        record,
        wanted,
        f"{approval_description(record)}. Set back from {current.status} (by {current.modified_by}): a model "
        "version is decided once, and this decision had already reached its run",
    )
    logger.warning(
        "A registry status contradicting the recorded decision was set back",
        extra={"approval_id": record.approval_id, "found": current.status, "restored": wanted},
    )
    return True


def _take_back_approval(record: ApprovalRecord) -> None:
    """An Approved status set in the registry for a run that can no longer deploy it goes back to pending."""
    current = registry_status(record.model_package_arn)
    if current is not None and current.status == "Approved":
        set_package_status(record, REGISTRY_PENDING, _ended_description(record, by=current.modified_by))


def _ended_description(record: ApprovalRecord, by: str = "") -> str:
    who = f" by {by}" if by else ""
    return (
        f"Approval{who} taken back by Driftline: the run that registered this version ({record.execution_id}) had "
        "ended, so it will not be deployed. Upload the data again to start a new run"
    )


def _close_for_ended_run(record: ApprovalRecord, settings: ApprovalSettings) -> ApprovalRecord:
    """Mark the record as belonging to a run that ended (from pending, or from the decision that found it gone)."""
    try:
        get_client("dynamodb").update_item(
            TableName=settings.approvals_table,
            Key={"approval_id": {"S": record.approval_id}},
            UpdateExpression="SET #status = :ended",
            ConditionExpression="#status = :was",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":ended": {"S": RUN_ENDED}, ":was": {"S": record.status}},
        )
    except ClientError as error:
        if not is_condition_failed(error):
            raise
        # The record moved on meanwhile (a decision from the other source): it is what the record says now.
        return get_record(record.approval_id, settings) or replace(record, status=RUN_ENDED)
    return replace(record, status=RUN_ENDED)


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" / ", text.strip())


def _run_is_waiting(record: ApprovalRecord) -> bool:
    try:
        described = get_client("stepfunctions").describe_execution(executionArn=record.execution_id)
    except ClientError as error:
        if error_code(error) == "ExecutionDoesNotExist":
            return False
        raise
    return str(described.get("status")) == "RUNNING"


def settled(record: ApprovalRecord) -> DecisionResult:
    """What a link to a record no longer pending says: who decided, or that its run had ended."""
    return _run_ended(record) if record.status == RUN_ENDED else _already_decided(record)


def _already_decided(record: ApprovalRecord) -> DecisionResult:
    where = "in the SageMaker Model Registry" if record.source == "registry" else "through an approval link"
    return DecisionResult(
        "already_decided",
        record,
        f"{sentence_start(record.subject)} was already {record.status} by {record.decided_by} "
        f"at {record.decided_at} {where}. This link changes nothing.",
    )


def _expired(record: ApprovalRecord) -> DecisionResult:
    return DecisionResult(
        "expired",
        record,
        f"The approval of {record.subject} expired at {iso_time(record.expires_at)}; the run stopped waiting and "
        + (
            "the serving model keeps all of the endpoint's traffic."
            if record.kind == "promotion"
            else "nothing was changed. Upload the data again to start a new run."
        ),
    )


def _run_ended(record: ApprovalRecord) -> DecisionResult:
    return DecisionResult(
        "run_ended",
        record,
        (
            f"The run of the A/B trial of {record.dataset} model version {record.version} has already ended, so "
            "this decision cannot resume it; the endpoint stays as that run left it."
            if record.kind == "promotion"
            else f"The run that registered {record.dataset} model version {record.version} has already ended, so "
            "this decision cannot resume it. Upload the data again to start a new run."
        ),
    )


# The Model Registry's status-change event -----------------------------------------------------------


def decide_from_registry_event(detail: dict[str, Any], settings: ApprovalSettings) -> DecisionResult | None:
    """A package's status set in the registry (Studio, CLI, API) decides its pending approval, or is set back
    when it contradicts the decision already recorded.

    Returns None for events that decide nothing: a status still pending, or no package ARN. The package's
    status now is what counts: events may arrive late or out of order.
    """
    package_arn = str(detail.get("ModelPackageArn") or "")
    if not package_arn or str(detail.get("ModelApprovalStatus") or "") not in ("Approved", "Rejected"):
        return None
    record = get_record(approval_id_for(package_arn), settings)
    if record is None:
        return DecisionResult("unknown", None, "Driftline has no approval for this model package.")
    current = registry_status(package_arn, detail)
    if current is None or current.decision is None:
        return None
    if record.status in ("approved", "rejected"):
        if restore_recorded_decision(record, current):
            return DecisionResult("restored", record, f"{record.model_package_arn} set back to its recorded decision.")
        return _already_decided(record)
    if record.status == RUN_ENDED:
        if current.status == "Approved":
            _take_back_approval(record)
        return _run_ended(record)
    return decide(
        record.approval_id,
        current.decision,
        decided_by=current.modified_by,
        reason=current.reason,
        source="registry",
        settings=settings,
    )
