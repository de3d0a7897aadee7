"""What subscribers read when an approval ends: approved, rejected by a person, or expired unanswered."""

from __future__ import annotations

from typing import Any

from driftline_core.notifications.messages import build_notification
from driftline_core.payloads import NotifyInput
from tests.conftest import load_event

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"


def _notify(outcome: str, **extra: Any) -> NotifyInput:
    sample = load_event("notify_registered")
    run = dict(sample["run"])
    run["registration"] = {
        "model_package_arn": PACKAGE,
        "model_package_group": "driftline-credit",
        "approval_status": "PendingManualApproval",
    }
    run.update(extra.pop("run", {}))
    return NotifyInput.model_validate({**sample, "outcome": outcome, "run": run, **extra})


def test_an_approved_model_names_who_approved_it_where_and_when() -> None:
    approval = {
        "approval_id": "a",
        "decision": "approved",
        "decided_by": "maria-lopez",
        "decided_at": "2026-11-23T10:20:31Z",
        "source": "registry",
    }
    notification = build_notification(_notify("approved", run={"approval": approval}))

    assert notification.subject == "Driftline: credit model approved"
    assert "credit model version 3" in notification.message
    assert "approved by maria-lopez at 2026-11-23T10:20:31Z (in the SageMaker Model Registry)" in notification.message
    assert notification.error == ""


def test_a_rejected_model_carries_who_rejected_it_and_why_into_the_run_failure() -> None:
    cause = (
        "credit model version 3 was rejected by sam at 2026-11-23T10:20:31Z through the approval link: recall too low"
    )
    notification = build_notification(_notify("approval_rejected", error={"Error": "ApprovalRejected", "Cause": cause}))

    assert notification.subject == "Driftline: credit model rejected by the approver"
    assert f"Rejection: {cause}" in notification.message
    assert "No endpoint was changed." in notification.message
    assert notification.error == "ApprovalRejected"
    assert notification.cause.startswith(cause)


def test_an_expired_approval_says_the_package_stays_pending_and_what_to_do() -> None:
    notification = build_notification(_notify("approval_expired", error={"Error": "States.Timeout", "Cause": ""}))

    assert notification.subject == "Driftline: credit approval expired"
    assert "still PendingManualApproval; approving it now does not resume this run" in notification.message
    assert "Upload the data again" in notification.message
    assert notification.error == "ApprovalExpired"
    assert notification.attributes == {"outcome": "approval-expired", "dataset": "credit", "run": "credit-5e4f54c7bade"}
