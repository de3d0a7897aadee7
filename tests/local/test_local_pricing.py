"""Local mode's Price List API on the wire: GetProducts answers from the shipped snapshot in botocore's shape, filters
and pages as documented, and a role's call passes or is refused by IAM as on AWS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.moto_api._internal.models import moto_api_backend

from driftline.local import iam, pricing, request_constraints, seams
from driftline.local.clients import emulator_client
from driftline.local.http_guard import GuardedMotoServer
from driftline_core.costs import prices
from driftline_core.costs.prices import load_snapshot

REGION = "us-east-1"


@pytest.fixture
def endpoint() -> Iterator[str]:
    """Local mode's own server, started as local mode starts it: after the Price List API is installed."""
    moto_api_backend.reset()
    pricing.install()
    request_constraints.install()
    iam.install()
    server = GuardedMotoServer("127.0.0.1", 0)
    server.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.stop()
        seams.restore()
        moto_api_backend.reset()


def _client(endpoint: str, **credentials: str) -> Any:
    return boto3.client(
        "pricing",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=credentials.get("key", "local"),
        aws_secret_access_key=credentials.get("secret", "local"),
        aws_session_token=credentials.get("token"),
    )


def _term(field: str, value: str, kind: str = "TERM_MATCH") -> dict[str, str]:
    return {"Type": kind, "Field": field, "Value": value}


def test_get_products_answers_in_the_price_list_format_at_the_snapshots_prices(endpoint: str) -> None:
    answer = _client(endpoint).get_products(
        ServiceCode="AmazonSageMaker",
        Filters=[_term("regionCode", "eu-central-1"), _term("instanceName", "ml.m5.large")],
        FormatVersion="aws_v1",
    )

    assert answer["FormatVersion"] == "aws_v1" and "NextToken" not in answer
    products = [json.loads(item) for item in answer["PriceList"]]  # the model's PriceList: JSON strings
    assert sorted(p["product"]["attributes"]["usagetype"] for p in products) == [
        "EUC1-Host:ml.m5.large",
        "EUC1-Processing:ml.m5.large",
        "EUC1-Train:ml.m5.large",
    ]
    snapshot = load_snapshot()
    for product in products:
        attributes = product["product"]["attributes"]
        assert attributes["servicecode"] == "AmazonSageMaker" and attributes["regionCode"] == "eu-central-1"
        [term] = product["terms"]["OnDemand"].values()
        [dimension] = term["priceDimensions"].values()
        component = prices.COMPONENT_BY_USAGE[attributes["usagetype"].split("-", 1)[1].split(":")[0]]
        stored = snapshot.instance_hour("eu-central-1", component, "ml.m5.large")
        assert stored is not None
        assert (dimension["unit"], float(dimension["pricePerUnit"]["USD"])) == ("Hrs", stored.usd)
        assert product["publicationDate"] == f"{snapshot.date}T00:00:00Z"
        assert prices.product_source(product) == prices.SNAPSHOT_SOURCE


def test_the_layers_price_lookup_reads_the_local_answer_as_the_snapshots_prices(endpoint: str) -> None:
    client = _client(endpoint)
    snapshot = load_snapshot()

    found = prices.instance_hour_prices("us-west-2", "ml.m5.large", prices.COMPONENTS, client=client, snapshot=snapshot)
    unit = prices.unit_price("eu-west-1", "lambda_gb_second", client=client, snapshot=snapshot)

    assert found == {component: snapshot.instance_hour("us-west-2", component, "ml.m5.large") for component in found}
    assert set(found) == set(prices.COMPONENTS)
    assert unit == snapshot.unit("eu-west-1", "lambda_gb_second")


def test_filters_match_as_their_types_are_documented(endpoint: str) -> None:
    client = _client(endpoint)

    def usage_types(*filters: dict[str, str]) -> list[str]:
        listed = client.get_products(ServiceCode="AWSLambda", Filters=list(filters))["PriceList"]
        return sorted(json.loads(item)["product"]["attributes"]["usagetype"] for item in listed)

    assert usage_types(_term("usagetype", "Request", "CONTAINS"), _term("regionCode", "us-east-1")) == ["Request"]
    assert usage_types(_term("usagetype", "USW2-Request,EU-Request", "ANY_OF")) == ["EU-Request", "USW2-Request"]
    assert usage_types(_term("regionCode", "us-east-1,us-west-2,eu-west-1", "NONE_OF")) == [
        "EUC1-Lambda-GB-Second",
        "EUC1-Request",
    ]
    assert usage_types(_term("regionCode", "sa-east-1")) == []


def test_pages_hold_every_product_once_and_a_token_belongs_to_its_query(endpoint: str) -> None:
    client = _client(endpoint)
    everything = client.get_products(ServiceCode="AmazonSageMaker")["PriceList"]
    paged = [
        item
        for page in client.get_paginator("get_products").paginate(
            ServiceCode="AmazonSageMaker", PaginationConfig={"PageSize": 7}
        )
        for item in page["PriceList"]
    ]
    assert paged == everything and len(everything) > 7

    token = client.get_products(ServiceCode="AmazonSageMaker", MaxResults=7)["NextToken"]
    with pytest.raises(ClientError) as refused:
        client.get_products(ServiceCode="AWSLambda", NextToken=token)
    assert refused.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_requests_the_service_model_refuses_are_refused(endpoint: str) -> None:
    client = _client(endpoint)
    with pytest.raises(ClientError) as refused:
        client.get_products(ServiceCode="AmazonSageMaker", FormatVersion="aws_v2")
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"


def _role_session(endpoint: str, name: str, *statements: dict[str, Any]) -> iam.RoleSession:
    admin = emulator_client("iam", endpoint, REGION)
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "*"}]}
    arn = admin.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    admin.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return iam.role_session(arn, "fn")


def test_a_roles_get_products_is_allowed_on_star_and_refused_without_it_in_awss_words(endpoint: str) -> None:
    allowed = _role_session(
        endpoint, "driftline-Notify", {"Effect": "Allow", "Action": "pricing:GetProducts", "Resource": "*"}
    )
    refused = _role_session(
        endpoint, "driftline-Train", {"Effect": "Allow", "Action": "sagemaker:DescribeTrainingJob", "Resource": "*"}
    )

    def as_role(session: iam.RoleSession) -> Any:
        return _client(
            endpoint, key=session.access_key_id, secret=session.secret_access_key, token=session.session_token
        )

    assert as_role(allowed).get_products(ServiceCode="AmazonSageMaker", MaxResults=1)["PriceList"]
    with pytest.raises(ClientError) as denied:
        as_role(refused).get_products(ServiceCode="AmazonSageMaker", MaxResults=1)
    assert denied.value.response["Error"] == {
        "Code": "AccessDeniedException",
        "Message": "User: arn:aws:sts::123456789012:assumed-role/driftline-Train/fn is not authorized to perform: "
        "pricing:GetProducts on resource: * because no identity-based policy allows the pricing:GetProducts action",
    }
