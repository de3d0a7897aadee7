"""Local mode answers only clients on this machine: web pages and rebound DNS names get a 403."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import pytest
from moto.moto_api._internal.models import moto_api_backend
from moto.s3.models import s3_backends

from driftline.local.http_guard import GuardedMotoServer
from driftline.local.settings import ACCOUNT_ID

EVIL = "http://evil.example"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: str


@dataclass
class Served:
    port: int

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> Response:
        """A raw HTTP request to the server, with exactly the headers a browser would send."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, body=body, headers={"Host": f"127.0.0.1:{self.port}", **headers})
            answer = connection.getresponse()
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode())
        finally:
            connection.close()


@pytest.fixture(scope="module")
def guarded_server() -> Iterator[GuardedMotoServer]:
    """The guarded server local mode runs, one for the module."""
    server = GuardedMotoServer("127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def served(guarded_server: GuardedMotoServer) -> Iterator[Served]:
    """The module's guarded server, its backends empty for each test."""
    moto_api_backend.reset()
    try:
        yield Served(guarded_server.port)
    finally:
        moto_api_backend.reset()


def _buckets() -> list[str]:
    return sorted(s3_backends[ACCOUNT_ID]["aws"].buckets)


def test_a_cors_preflight_from_another_origin_is_refused_without_cors_headers(served: Served) -> None:
    answer = served.request(
        "OPTIONS",
        "/",
        {
            "Origin": EVIL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-amz-target",
        },
    )

    assert answer.status == 403
    assert not any(name.startswith("access-control-") for name in answer.headers)
    assert f"this request came from the web page at {EVIL} (Origin header)" in answer.body
    assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{served.port}" in answer.body


def test_a_cross_origin_sagemaker_call_is_refused_and_starts_nothing(served: Served) -> None:
    """The request a hostile page would send with fetch(): a JSON-protocol call that names its target."""
    answer = served.request(
        "POST",
        "/",
        {
            "Origin": EVIL,
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.CreateProcessingJob",
        },
        body=json.dumps({"ProcessingJobName": "pwn", "AppSpecification": {"ImageUri": "x"}}).encode(),
    )

    assert answer.status == 403
    assert "access-control-allow-origin" not in answer.headers


def test_a_cross_origin_form_post_creates_no_bucket(served: Served) -> None:
    answer = served.request("PUT", "/planted-bucket", {"Origin": "null"})

    assert answer.status == 403
    assert _buckets() == []


def test_a_request_addressed_to_another_host_name_is_refused_as_dns_rebinding(served: Served) -> None:
    answer = served.request("PUT", "/planted-bucket", {"Host": f"evil.example:{served.port}"})

    assert answer.status == 403
    assert f"this request names the host 'evil.example:{served.port}' (Host header)" in answer.body
    assert _buckets() == []


def test_a_loopback_address_on_another_port_is_refused(served: Served) -> None:
    answer = served.request("PUT", "/planted-bucket", {"Host": f"127.0.0.1:{served.port + 1}"})

    assert answer.status == 403
    assert _buckets() == []


def test_a_cross_site_request_without_origin_is_refused(served: Served) -> None:
    """An <img> or link to local mode carries no Origin, but browsers mark it as sent by another site."""
    answer = served.request("GET", "/", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"})

    assert answer.status == 403
    assert "Sec-Fetch-Site: cross-site" in answer.body


@pytest.mark.parametrize("name", ["127.0.0.1", "localhost", "LocalHost", "[::1]"])
def test_every_loopback_name_of_the_served_port_is_answered(served: Served, name: str) -> None:
    answer = served.request("PUT", f"/bucket-{len(name)}", {"Host": f"{name}:{served.port}"})

    assert answer.status == 200, answer.body


def test_local_mode_s_own_origin_is_answered(served: Served) -> None:
    answer = served.request(
        "OPTIONS",
        "/",
        {"Origin": f"http://localhost:{served.port}", "Access-Control-Request-Method": "PUT"},
    )

    assert answer.status == 200
    assert answer.headers["access-control-allow-origin"] == f"http://localhost:{served.port}"


def test_aws_sdk_clients_pass_untouched(served: Served) -> None:
    s3 = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{served.port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    s3.create_bucket(Bucket="uploads")
    s3.put_object(Bucket="uploads", Key="data/credit/jan.csv", Body=b"a,b\n1,2\n")

    assert s3.get_object(Bucket="uploads", Key="data/credit/jan.csv")["Body"].read() == b"a,b\n1,2\n"
