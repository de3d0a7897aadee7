"""IAM on the emulator's wire: a role session's requests are allowed or refused as AWS answers them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_api._internal.models import moto_api_backend

from driftline.local import iam, seams
from driftline.local.clients import emulator_client

REGION = "us-east-1"
BUCKET = "driftline-artifacts"


@pytest.fixture
def admin(endpoint_url: str) -> Iterator[dict[str, Any]]:
    moto_api_backend.reset()
    iam.install()
    clients = {name: emulator_client(name, endpoint_url, REGION) for name in ("iam", "s3", "sagemaker")}
    clients["s3"].create_bucket(Bucket=BUCKET)
    clients["s3"].put_object(Bucket=BUCKET, Key="runs/a/report.json", Body=b"{}")
    try:
        yield clients
    finally:
        seams.restore()
        moto_api_backend.reset()


def role(admin: dict[str, Any], name: str, *statements: dict[str, Any]) -> iam.RoleSession:
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "*"}]}
    arn = admin["iam"].create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    admin["iam"].put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return iam.role_session(arn, "fn")


def as_role(session: iam.RoleSession, service: str, endpoint_url: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=session.access_key_id,
        aws_secret_access_key=session.secret_access_key,
        aws_session_token=session.session_token,
    )


def test_a_denied_call_names_the_role_the_action_and_the_resource(admin: dict[str, Any], endpoint_url: str) -> None:
    session = role(
        admin,
        "driftline-Train",
        {"Effect": "Allow", "Action": "sagemaker:DescribeTrainingJob", "Resource": "*"},
    )
    sagemaker = as_role(session, "sagemaker", endpoint_url)
    with pytest.raises(ClientError) as denied:
        sagemaker.describe_endpoint(EndpointName="driftline-credit")
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert error["Message"] == (
        "User: arn:aws:sts::123456789012:assumed-role/driftline-Train/fn is not authorized to perform: "
        "sagemaker:DescribeEndpoint on resource: arn:aws:sagemaker:us-east-1:123456789012:endpoint/driftline-credit "
        "because no identity-based policy allows the sagemaker:DescribeEndpoint action"
    )


def test_the_users_own_credentials_are_not_checked(admin: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as missing:
        admin["sagemaker"].describe_endpoint(EndpointName="driftline-credit")
    assert missing.value.response["Error"]["Code"] == "ValidationException"  # served: the endpoint does not exist


def test_a_missing_object_is_access_denied_unless_the_role_may_list_the_bucket(
    admin: dict[str, Any], endpoint_url: str
) -> None:
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/runs/*"}
    reader = as_role(role(admin, "reader", read), "s3", endpoint_url)
    assert reader.get_object(Bucket=BUCKET, Key="runs/a/report.json")["Body"].read() == b"{}"
    with pytest.raises(ClientError) as denied:
        reader.get_object(Bucket=BUCKET, Key="runs/a/missing.json")
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    assert "s3:ListBucket on resource: arn:aws:s3:::driftline-artifacts" in denied.value.response["Error"]["Message"]

    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"}
    lister = as_role(role(admin, "lister", read, listing), "s3", endpoint_url)
    with pytest.raises(ClientError) as missing:
        lister.get_object(Bucket=BUCKET, Key="runs/a/missing.json")
    assert missing.value.response["Error"]["Code"] == "NoSuchKey"


def test_an_explicit_deny_wins_and_says_so(admin: dict[str, Any], endpoint_url: str) -> None:
    session = role(
        admin,
        "guarded",
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{BUCKET}/code/*"},
    )
    s3 = as_role(session, "s3", endpoint_url)
    s3.put_object(Bucket=BUCKET, Key="runs/b/out.json", Body=b"1")
    with pytest.raises(ClientError) as denied:
        s3.put_object(Bucket=BUCKET, Key="code/app.py", Body=b"print('other code')")
    assert "with an explicit deny in an identity-based policy" in denied.value.response["Error"]["Message"]
    assert admin["s3"].list_objects_v2(Bucket=BUCKET, Prefix="code/").get("KeyCount") == 0
