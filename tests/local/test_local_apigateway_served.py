"""Local HTTP APIs served for real: a request reaches its route's function through the Lambda API, and a request
that function cannot be given is refused as AWS refuses it, before the function runs."""

from __future__ import annotations

import http.client
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_api._internal.models import moto_api_backend

from driftline.local import lambda_runtime, seams
from driftline.local.apigateway import HttpApiServer
from driftline.local.console import Console
from driftline.local.lambda_runtime import CodeRegistry, LambdaRuntime
from driftline.local.settings import ACCOUNT_ID

REGION = "us-east-1"
CODE_BUCKET = "driftline-code"
CODE_KEY = "code/approval-api.zip"
MB = 1024 * 1024

HANDLER = """
import base64
import os


def handler(event, context):
    with open(os.environ["RUNS_FILE"], "a") as runs:
        runs.write("ran\\n")
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    return {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": str(len(raw))}
"""


@dataclass
class Api:
    server: HttpApiServer
    function_name: str
    runs_file: Path
    endpoint_url: str

    def post(self, body: bytes) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
        try:
            connection.request(
                "POST",
                "/approvals/abc.approve.1.sig",
                body=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    def runs(self) -> int:
        return len(self.runs_file.read_text().splitlines()) if self.runs_file.exists() else 0


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint_url, region_name=REGION, aws_access_key_id="local", aws_secret_access_key="local"
    )


def _zipped(text: str) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", text)
    return archive.getvalue()


@pytest.fixture
def api(endpoint_url: str, tmp_path: Path) -> Iterator[Api]:
    """A function behind an HTTP API route, as the template wires the approval pages, on the module's server."""
    moto_api_backend.reset()
    folder = tmp_path / "approval_api"
    folder.mkdir()
    (folder / "app.py").write_text(HANDLER)
    registry = CodeRegistry()
    registry.register(CODE_BUCKET, CODE_KEY, folder)
    runtime = LambdaRuntime(endpoint_url=endpoint_url, region=REGION, code=registry, console=Console())
    lambda_runtime.install(runtime)
    s3 = _client("s3", endpoint_url)
    s3.create_bucket(Bucket=CODE_BUCKET)
    s3.put_object(Bucket=CODE_BUCKET, Key=CODE_KEY, Body=_zipped(HANDLER))
    role = _client("iam", endpoint_url).create_role(
        RoleName="approval-api",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
                ],
            }
        ),
    )["Role"]["Arn"]
    runs_file = tmp_path / "runs.txt"
    function_arn = _client("lambda", endpoint_url).create_function(
        FunctionName="driftline-ApprovalApiFunction",
        Runtime="python3.11",
        Role=role,
        Handler="app.handler",
        Code={"S3Bucket": CODE_BUCKET, "S3Key": CODE_KEY},
        Timeout=30,
        Environment={"Variables": {"RUNS_FILE": str(runs_file)}},
    )["FunctionArn"]
    gateway = _client("apigatewayv2", endpoint_url)
    api_id = gateway.create_api(Name="driftline-approvals", ProtocolType="HTTP")["ApiId"]
    integration = gateway.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=function_arn, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    gateway.create_route(ApiId=api_id, RouteKey="POST /approvals/{link}", Target=f"integrations/{integration}")
    server = HttpApiServer(
        api_id=api_id, account_id=ACCOUNT_ID, region=REGION, host="127.0.0.1", endpoint_url=endpoint_url
    )
    try:
        yield Api(server, "driftline-ApprovalApiFunction", runs_file, endpoint_url)
    finally:
        server.stop()
        runtime.stop()
        seams.restore()
        moto_api_backend.reset()


def test_a_form_post_reaches_the_routes_function(api: Api) -> None:
    status, body = api.post(b"approver=ana&comment=ok")

    assert (status, body) == (200, b"23")
    assert api.runs() == 1


@pytest.mark.parametrize("size", [9 * MB, 5 * MB], ids=["9 MB", "5 MB, over 6 MB once base64-encoded"])
def test_a_form_body_whose_event_is_over_lambdas_6_mb_is_refused_413_before_the_function_runs(
    api: Api, size: int
) -> None:
    status, body = api.post(b"comment=" + b"x" * size)

    assert status == 413
    assert json.loads(body) == {"message": "Request Entity Too Large"}
    assert api.runs() == 0


def test_lambda_refuses_an_invoke_payload_over_its_quota_in_its_own_words_and_runs_nothing(api: Api) -> None:
    functions = _client("lambda", api.endpoint_url)
    synchronous = json.dumps({"comment": "x" * (6 * MB)}).encode()
    asynchronous = json.dumps({"comment": "x" * (1 * MB)}).encode()

    with pytest.raises(ClientError) as refused:
        functions.invoke(FunctionName=api.function_name, Payload=synchronous)
    with pytest.raises(ClientError) as refused_event:
        functions.invoke(FunctionName=api.function_name, Payload=asynchronous, InvocationType="Event")

    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert refused.value.response["Error"] == {
        "Code": "RequestEntityTooLargeException",
        "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
    }
    assert refused_event.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert refused_event.value.response["Error"]["Message"] == (
        f"{len(asynchronous)} byte payload is too large for the Event invocation type (limit 1048576 bytes)"
    )
    assert api.runs() == 0
