"""What a decision writes to the Model Registry: one line AWS accepts, whatever the approver typed."""

from __future__ import annotations

from driftline.local.request_constraints import check_operation
from driftline_core.approval.decisions import ApprovalRecord, approval_description, approver

PACKAGE = "arn:aws:sagemaker:us-east-1:123456789012:model-package/driftline-credit/3"


def rejected(reason: str, decided_by: str = "reviewer@example.com") -> ApprovalRecord:
    return ApprovalRecord(
        approval_id="a1",
        task_token="token",
        execution_id="run-1",
        model_package_arn=PACKAGE,
        dataset="credit",
        summary="v3 auc 0.91",
        expires_at=0,
        status="rejected",
        decided_by=decided_by,
        decided_at="2026-12-07T10:00:00Z",
        reason=reason,
    )


def test_a_reason_typed_on_several_lines_is_one_line_the_registry_accepts() -> None:
    description = approval_description(rejected("Recall dropped.\r\nRetrain with March data.\u2028Thanks"))
    assert description.endswith(": Recall dropped. / Retrain with March data. / Thanks")
    update = {"ModelPackageArn": PACKAGE, "ModelApprovalStatus": "Rejected", "ApprovalDescription": description}
    assert check_operation("sagemaker", "UpdateModelPackage", update) == []


def test_the_raw_reason_would_be_refused_as_aws_refuses_it() -> None:
    update = {"ModelPackageArn": PACKAGE, "ModelApprovalStatus": "Rejected", "ApprovalDescription": "a\r\nb"}
    [violation] = check_operation("sagemaker", "UpdateModelPackage", update)
    assert "regular expression pattern: .*" in violation.constraint


STUDIO_USER = {
    "UserProfileArn": "arn:aws:sagemaker:us-east-1:123456789012:user-profile/d-abc123def456/maria-lopez",
    "UserProfileName": "maria-lopez",
    "DomainId": "d-abc123def456",
}


def test_a_link_decision_is_credited_to_the_approver_who_confirmed_it_not_to_the_function_that_wrote_it() -> None:
    record = rejected("recall too low", decided_by="sam@example.com")
    function = {"IamIdentity": {"Arn": "arn:aws:sts::123456789012:assumed-role/ApprovalApiRole/driftline-ApprovalApi"}}

    assert approver("Rejected", approval_description(record), function) == ("sam@example.com", "recall too low")


def test_a_terminal_decision_is_credited_to_its_by_and_keeps_only_the_typed_reason() -> None:
    assert approver("Approved", "Approved by maria with driftline approve", {}) == ("maria", "")
    assert approver("Rejected", "Rejected by root with driftline reject: drifted", {}) == ("root", "drifted")


def test_a_description_of_an_earlier_decision_does_not_name_who_set_the_status_now() -> None:
    found = approver("Rejected", "Approved by maria with driftline approve", STUDIO_USER)

    assert found == ("maria-lopez", "Approved by maria with driftline approve")


def test_without_a_driftline_description_the_registry_names_the_studio_user_then_the_iam_caller() -> None:
    assert approver("Approved", "ship it", STUDIO_USER) == ("maria-lopez", "ship it")
    for arn, name in (
        ("arn:aws:iam::123456789012:user/alice", "alice"),
        ("arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_1a2b/alice@example.com", "alice@example.com"),
        ("arn:aws:iam::123456789012:root", "root"),
    ):
        assert approver("Approved", "", {"IamIdentity": {"Arn": arn}}) == (name, "")
    assert approver("Approved", "", {}) == ("unknown", "")
