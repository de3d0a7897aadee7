"""Local CloudFormation: a list item whose Fn::If resolves to AWS::NoValue is left out, as CloudFormation does."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from tests.conftest import REGION

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


def policy(name: str) -> dict[str, object]:
    statement = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"}
    return {"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}


@pytest.fixture
def local_cloudformation(aws: None) -> Iterator[None]:
    from driftline.local import cloudformation, seams

    cloudformation.install("127.0.0.1:5000")
    yield
    seams.restore()


@pytest.mark.parametrize(("chosen", "policies"), [("yes", ["always", "sometimes"]), ("no", ["always"])])
def test_a_policy_attached_only_for_some_parameter_values_is_left_out_for_the_others(
    local_cloudformation: None, chosen: str, policies: list[str]
) -> None:
    template = {
        "Parameters": {"Choice": {"Type": "String"}},
        "Conditions": {"Chosen": {"Fn::Equals": [{"Ref": "Choice"}, "yes"]}},
        "Resources": {
            "Role": {
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "RoleName": "conditional-role",
                    "AssumeRolePolicyDocument": TRUST,
                    "Policies": [
                        {"Fn::If": ["Chosen", policy("sometimes"), {"Ref": "AWS::NoValue"}]},
                        policy("always"),
                    ],
                },
            }
        },
    }
    cloudformation = boto3.client("cloudformation", region_name=REGION)
    cloudformation.create_stack(
        StackName="conditions",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "Choice", "ParameterValue": chosen}],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )

    listed = boto3.client("iam", region_name=REGION).list_role_policies(RoleName="conditional-role")
    assert sorted(listed["PolicyNames"]) == policies
