"""IAM policy evaluation: explicit deny wins, allow needs a match, conditions as AWS documents them."""

from __future__ import annotations

from typing import Any

import pytest

from driftline.local.iam_policies import AuthorizationRequest, UnsupportedPolicy, evaluate

BUCKET = "arn:aws:s3:::driftline-artifacts"


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action: Any, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def decide(documents: list[dict[str, Any]], action: str, resource: str, **context: list[str]) -> str:
    return evaluate(documents, AuthorizationRequest(action, resource, context)).kind


def test_no_matching_statement_is_an_implicit_deny() -> None:
    documents = [policy(allow("s3:GetObject", f"{BUCKET}/runs/*"))]
    assert decide(documents, "s3:GetObject", f"{BUCKET}/runs/a/model.tar.gz") == "allowed"
    assert decide(documents, "s3:GetObject", f"{BUCKET}/code/app.py") == "implicit-deny"
    assert decide(documents, "s3:PutObject", f"{BUCKET}/runs/a") == "implicit-deny"


def test_an_explicit_deny_wins_over_any_allow_in_any_policy() -> None:
    documents = [
        policy(allow("s3:*", "*")),
        policy({"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*", "Sid": "KeepArtifacts"}),
    ]
    decision = evaluate(documents, AuthorizationRequest("s3:DeleteObject", f"{BUCKET}/runs/a", {}))
    assert (decision.kind, decision.statement) == ("explicit-deny", "KeepArtifacts")
    assert decide(documents, "s3:GetObject", f"{BUCKET}/runs/a") == "allowed"


def test_actions_match_without_case_and_resources_with_case() -> None:
    documents = [policy(allow("SageMaker:Describe*", "arn:aws:sagemaker:us-east-1:123456789012:endpoint/Stack-*"))]
    endpoint = "arn:aws:sagemaker:us-east-1:123456789012:endpoint/Stack-credit"
    assert decide(documents, "sagemaker:DescribeEndpoint", endpoint) == "allowed"
    assert decide(documents, "sagemaker:DescribeEndpoint", endpoint.lower()) == "implicit-deny"


def test_question_mark_matches_exactly_one_character() -> None:
    documents = [policy(allow("logs:PutLogEvents", "arn:aws:logs:*:*:log-group:/aws/lambda/fn-?"))]
    assert decide(documents, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/fn-a") == "allowed"
    assert decide(documents, "logs:PutLogEvents", "arn:aws:logs:us-east-1:1:log-group:/aws/lambda/fn-ab") == (
        "implicit-deny"
    )


def test_not_action_and_not_resource_match_everything_else() -> None:
    documents = [{"Statement": {"Effect": "Allow", "NotAction": "iam:*", "NotResource": f"{BUCKET}/code/*"}}]
    assert decide(documents, "s3:GetObject", f"{BUCKET}/runs/a") == "allowed"
    assert decide(documents, "s3:GetObject", f"{BUCKET}/code/a") == "implicit-deny"
    assert decide(documents, "iam:PassRole", "arn:aws:iam::1:role/r") == "implicit-deny"


def test_a_string_like_prefix_condition_needs_the_key_in_the_request() -> None:
    documents = [policy(allow("s3:ListBucket", BUCKET, Condition={"StringLike": {"s3:prefix": ["runs/*", "code/*"]}}))]
    assert decide(documents, "s3:ListBucket", BUCKET, **{"s3:prefix": ["runs/a/"]}) == "allowed"
    assert decide(documents, "s3:ListBucket", BUCKET, **{"s3:prefix": ["datasets/"]}) == "implicit-deny"
    assert decide(documents, "s3:ListBucket", BUCKET) == "implicit-deny"


def test_pass_role_is_allowed_only_to_the_named_service() -> None:
    role = "arn:aws:iam::123456789012:role/driftline-sagemaker"
    documents = [
        policy(
            allow(
                "iam:PassRole",
                role,
                Condition={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
    ]
    assert decide(documents, "iam:PassRole", role, **{"iam:passedtoservice": ["sagemaker.amazonaws.com"]}) == "allowed"
    assert decide(documents, "iam:PassRole", role, **{"iam:passedtoservice": ["lambda.amazonaws.com"]}) == (
        "implicit-deny"
    )


def test_a_deny_on_insecure_transport_holds_only_when_the_request_is_insecure() -> None:
    documents = [
        policy(allow("s3:*", "*")),
        policy(
            {
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ),
    ]
    assert decide(documents, "s3:GetObject", f"{BUCKET}/a", **{"aws:securetransport": ["true"]}) == "allowed"
    assert decide(documents, "s3:GetObject", f"{BUCKET}/a", **{"aws:securetransport": ["false"]}) == "explicit-deny"


def test_arn_like_compares_each_part_of_the_arn() -> None:
    condition = {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:driftline-*"}}
    documents = [policy(allow("sns:Publish", "*", Condition=condition))]
    alarm = "arn:aws:cloudwatch:us-east-1:123456789012:alarm:driftline-drift-credit"
    assert decide(documents, "sns:Publish", "t", **{"aws:sourcearn": [alarm]}) == "allowed"
    other_account = alarm.replace("123456789012", "999999999999")
    assert decide(documents, "sns:Publish", "t", **{"aws:sourcearn": [other_account]}) == "implicit-deny"


def test_negated_and_if_exists_operators_hold_when_the_key_is_absent() -> None:
    documents = [
        policy(
            allow(
                "cloudwatch:PutMetricData",
                "*",
                Condition={
                    "StringNotEquals": {"cloudwatch:namespace": "AWS/SageMaker"},
                    "StringLikeIfExists": {"aws:RequestTag/team": "ml-*"},
                },
            )
        )
    ]
    assert decide(documents, "cloudwatch:PutMetricData", "*") == "allowed"
    assert decide(documents, "cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": ["AWS/SageMaker"]}) == (
        "implicit-deny"
    )
    assert decide(documents, "cloudwatch:PutMetricData", "*", **{"aws:requesttag/team": ["web"]}) == "implicit-deny"


def test_for_all_values_needs_every_request_value_among_the_allowed() -> None:
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["dataset", "run"]}}
    documents = [policy(allow("sagemaker:AddTags", "*", Condition=condition))]
    assert decide(documents, "sagemaker:AddTags", "x", **{"aws:tagkeys": ["dataset"]}) == "allowed"
    assert decide(documents, "sagemaker:AddTags", "x", **{"aws:tagkeys": ["dataset", "owner"]}) == "implicit-deny"


def test_null_tests_whether_the_key_is_present() -> None:
    documents = [policy(allow("s3:PutObject", "*", Condition={"Null": {"s3:x-amz-server-side-encryption": "false"}}))]
    assert decide(documents, "s3:PutObject", "x", **{"s3:x-amz-server-side-encryption": ["aws:kms"]}) == "allowed"
    assert decide(documents, "s3:PutObject", "x") == "implicit-deny"


def test_an_operator_the_evaluator_does_not_know_fails_loudly() -> None:
    documents = [policy(allow("s3:GetObject", "*", Condition={"DateGreaterThan": {"aws:CurrentTime": "2026-01-01"}}))]
    with pytest.raises(UnsupportedPolicy, match="DateGreaterThan"):
        decide(documents, "s3:GetObject", "x", **{"aws:currenttime": ["2026-12-07"]})
