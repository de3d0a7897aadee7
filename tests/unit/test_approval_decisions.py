"""What a decision writes to the Model Registry: one line AWS accepts, whatever the approver typed."""

from __future__ import annotations

from driftline.local.request_constraints import check_operation
from driftline_core.approval.decisions import ApprovalRecord, approval_description

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
