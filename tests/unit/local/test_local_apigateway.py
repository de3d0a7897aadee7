"""Local HTTP APIs: routes match as API Gateway matches them, and events have the payload 2.0 shape."""

from __future__ import annotations

import base64

from driftline.local.apigateway import build_event, function_arn_of, route_pattern
from driftline.local.secretsmanager import generate_secret_string
from tests.conftest import load_event


def test_a_route_key_matches_its_method_and_captures_path_parameters() -> None:
    method, pattern = route_pattern("POST /approvals/{link}")

    match = pattern.match("/approvals/abc.approve.1.sig")
    assert method == "POST"
    assert match is not None and match.groupdict() == {"link": "abc.approve.1.sig"}
    assert pattern.match("/approvals/a/b") is None
    assert route_pattern("GET /files/{path+}")[1].match("/files/a/b")


def test_the_integration_uri_names_the_function() -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:driftline-ApprovalApiFunction-x"
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    assert function_arn_of(uri) == arn


def test_a_form_post_becomes_an_event_shaped_like_the_documented_sample() -> None:
    sample = load_event("approval_page_post")
    event = build_event(
        api_id="a1b2c3d4e5",
        account_id="123456789012",
        route_key="POST /approvals/{link}",
        method="POST",
        path="/approvals/x",
        query="",
        headers=[("Host", "127.0.0.1:5000"), ("Content-Type", "application/x-www-form-urlencoded")],
        body=b"token=x&approver=a",
        source_ip="127.0.0.1",
        path_parameters={"link": "x"},
    )

    assert set(event) == set(sample)
    assert set(event["requestContext"]) == set(sample["requestContext"])
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"token=x&approver=a"
    assert event["headers"]["content-type"] == "application/x-www-form-urlencoded"


def test_a_generated_secret_follows_its_length_and_excluded_characters() -> None:
    value = generate_secret_string({"PasswordLength": 64, "ExcludePunctuation": True})
    assert len(value) == 64 and value.isalnum()
