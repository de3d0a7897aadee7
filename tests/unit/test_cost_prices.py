"""Prices: the shipped snapshot's schema and date, reading the Price List API's products, and the snapshot standing
in, saying why, when the API does not answer. The API is a botocore Stubber, which checks each request against the
``pricing`` service model."""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from driftline.cost import load_template, template_defaults
from driftline_core.costs import prices
from driftline_core.costs.prices import (
    COMPONENTS,
    LIVE_SOURCE,
    SNAPSHOT_SOURCE,
    UNIT_PRICES,
    Price,
    PriceUnknown,
    instance_hour_prices,
    load_snapshot,
    snapshot_problems,
)

SHIPPED_REGIONS = {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"}


def price_list_product(
    usage_type: str,
    usd: str,
    *,
    service_code: str = "AmazonSageMaker",
    region: str = "us-east-1",
    published: str = "2026-12-05T10:00:00Z",
    instance: str | None = None,
    tiers: list[tuple[str, str]] | None = None,
) -> str:
    """One product as GetProducts lists it: a JSON string in the Price List format (``aws_v1``)."""
    attributes = {"servicecode": service_code, "regionCode": region, "usagetype": usage_type}
    if instance:
        attributes["instanceName"] = instance
    dimensions = {
        f"SKU.JRTCKXETXF.{index}": {"unit": "Hrs", "beginRange": begin, "pricePerUnit": {"USD": price}}
        for index, (begin, price) in enumerate(tiers or [("0", usd)])
    }
    return json.dumps(
        {
            "product": {"productFamily": "ML Instance", "attributes": attributes, "sku": "SKU"},
            "serviceCode": service_code,
            "terms": {"OnDemand": {"SKU.JRTCKXETXF": {"priceDimensions": dimensions, "offerTermCode": "JRTCKXETXF"}}},
            "version": "20261205100000",
            "publicationDate": published,
        }
    )


def pricing_client() -> Any:
    return boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


def instance_request(region: str, instance_type: str) -> dict[str, Any]:
    return {
        "ServiceCode": "AmazonSageMaker",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "TERM_MATCH", "Field": "instanceName", "Value": instance_type},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


# The shipped snapshot ---------------------------------------------------------------------------------------


def test_the_shipped_snapshot_follows_the_schema_and_says_its_date_and_source() -> None:
    document = json.loads(prices.SNAPSHOT_PATH.read_text())
    assert snapshot_problems(document) == []
    snapshot = load_snapshot()
    assert date.fromisoformat(snapshot.date) <= date.today()
    assert "Price List API" in snapshot.source and snapshot.date in snapshot.source
    assert "driftline cost --refresh-prices" in snapshot.source
    assert set(snapshot.regions) >= SHIPPED_REGIONS


def test_the_shipped_snapshot_prices_the_templates_default_instance_types_for_every_use_in_every_region() -> None:
    defaults = template_defaults(load_template())
    snapshot = load_snapshot()
    wanted = {
        "training": defaults["TrainingInstanceType"],
        "processing": defaults["ProcessingInstanceType"],
        "hosting": defaults["EndpointInstanceType"],
    }
    for region in SHIPPED_REGIONS:
        for component, instance_type in wanted.items():
            price = snapshot.instance_hour(region, component, instance_type)  # type: ignore[arg-type]
            assert price is not None and 0.01 < price.usd < 10, (region, component, instance_type)
            assert price.source == SNAPSHOT_SOURCE and price.as_of == snapshot.date
        assert all(snapshot.unit(region, unit.key) is not None for unit in UNIT_PRICES)


def test_the_shipped_snapshot_stays_small() -> None:
    assert prices.SNAPSHOT_PATH.stat().st_size < 16_000


def test_a_snapshot_that_breaks_the_schema_is_refused_naming_each_problem() -> None:
    document = json.loads(prices.SNAPSHOT_PATH.read_text())
    broken = copy.deepcopy(document)
    broken["date"] = "7 December"
    broken["regions"]["us-east-1"]["sagemaker_instance_hour"]["training"]["ml.m5.large"] = 0
    del broken["regions"]["eu-west-1"]["unit"]["lambda_request"]
    broken["kept"] = {"us-east-1/unit/sns_email": "last week"}

    assert snapshot_problems(broken) == [
        "'date' must be the date of its prices, YYYY-MM-DD",
        "'kept' must map price paths to the YYYY-MM-DD date of each price",
        "us-east-1: training ml.m5.large needs a positive hourly price",
        "eu-west-1: 'unit' lacks lambda_request",
    ]


# Reading the Price List ---------------------------------------------------------------------------------------


def test_a_products_on_demand_price_is_its_first_paid_tier() -> None:
    product = json.loads(
        price_list_product("CW:AlarmMonitorUsage", "", tiers=[("10", "0.1000000000"), ("0", "0.0000000000")])
    )
    assert prices.on_demand_usd(product) == 0.1
    assert prices.on_demand_usd({"terms": {}}) is None


def test_usage_types_are_read_with_or_without_their_region_prefix() -> None:
    assert prices.sagemaker_instance_use("USE1-Train:ml.m5.large") == ("Train", "ml.m5.large")
    assert prices.sagemaker_instance_use("EU-Host:ml.c5.xlarge") == ("Host", "ml.c5.xlarge")
    assert prices.sagemaker_instance_use("USE1-Train-Spot:ml.m5.large") is None
    assert prices.usage_type_is("Request", "Request") and prices.usage_type_is("USW2-Request", "Request")
    assert not prices.usage_type_is("USW2-Request-ARM", "Request")
    assert not prices.usage_type_is("Lambda-Request", "Request")


def test_the_price_list_api_is_asked_at_its_nearest_endpoint() -> None:
    assert prices.price_list_region("us-east-1") == "us-east-1"
    assert prices.price_list_region("us-west-2") == "us-east-1"
    assert prices.price_list_region("eu-west-1") == "eu-central-1"
    assert prices.price_list_region("ap-southeast-2") == "ap-south-1"
    assert prices.price_list_region("ap-south-1") == "ap-south-1"


def test_one_query_prices_every_use_of_an_instance_type_at_the_lists_prices_and_date() -> None:
    client = pricing_client()
    with Stubber(client) as price_list:
        price_list.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [
                    price_list_product("USE1-Train:ml.m5.large", "0.1150000000", instance="ml.m5.large"),
                    price_list_product("USE1-Train-Spot:ml.m5.large", "0.0345000000", instance="ml.m5.large"),
                    price_list_product("USE1-Processing:ml.m5.large", "0.1160000000", instance="ml.m5.large"),
                ],
            },
            instance_request("us-east-1", "ml.m5.large"),
        )

        found = instance_hour_prices(
            "us-east-1", "ml.m5.large", ["training", "processing"], client=client, snapshot=load_snapshot()
        )

    assert found == {
        "training": Price(0.115, LIVE_SOURCE, "2026-12-05"),
        "processing": Price(0.116, LIVE_SOURCE, "2026-12-05"),
    }
    assert found["training"].described == "on-demand prices of 2026-12-05 (AWS Price List API)"


def test_when_the_price_list_api_does_not_answer_the_snapshot_prices_and_says_why() -> None:
    client = pricing_client()
    snapshot = load_snapshot()
    with Stubber(client) as price_list:
        price_list.add_client_error("get_products", "AccessDeniedException", http_status_code=400)

        [price] = instance_hour_prices(
            "eu-west-1", "ml.m5.large", ["hosting"], client=client, snapshot=snapshot
        ).values()

    stored = snapshot.instance_hour("eu-west-1", "hosting", "ml.m5.large")
    assert stored is not None
    assert price == Price(
        stored.usd, SNAPSHOT_SOURCE, snapshot.date, "the Price List API did not answer (AccessDeniedException)"
    )
    assert price.described == (
        f"on-demand prices of {snapshot.date} (Driftline's price snapshot: the Price List API did not answer "
        "(AccessDeniedException))"
    )


def test_a_use_the_price_list_does_not_list_is_priced_from_the_snapshot_saying_so() -> None:
    client = pricing_client()
    with Stubber(client) as price_list:
        price_list.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []})

        price = instance_hour_prices("us-west-2", "ml.m5.large", ["hosting"], client=client, snapshot=load_snapshot())

    assert price["hosting"].source == SNAPSHOT_SOURCE
    assert price["hosting"].note == "the Price List API lists no on-demand hosting price of ml.m5.large in us-west-2"


def test_a_price_neither_the_api_nor_the_snapshot_has_is_refused_with_the_command_that_adds_it() -> None:
    with pytest.raises(PriceUnknown) as unknown:
        instance_hour_prices("ap-southeast-2", "ml.p3.2xlarge", ["training"], client=None, snapshot=load_snapshot())
    assert str(unknown.value) == (
        f"no training price of ml.p3.2xlarge in ap-southeast-2: the Price List API was not asked, and the price "
        f"snapshot of {load_snapshot().date} has none (it covers eu-central-1, eu-west-1, us-east-1, us-west-2). Run "
        "`driftline cost --refresh-prices --region ap-southeast-2 --instance-types ml.p3.2xlarge` with AWS "
        "credentials to add it."
    )


def test_a_unit_price_is_read_from_its_services_usage_type_in_the_region() -> None:
    client = pricing_client()
    request = {
        "ServiceCode": "AWSLambda",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-west-2"},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": "Request"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    with Stubber(client) as price_list:
        price_list.add_response(
            "get_products",
            {
                "FormatVersion": "aws_v1",
                "PriceList": [
                    price_list_product("USW2-Request-ARM", "0.0000002", service_code="AWSLambda", region="us-west-2"),
                    price_list_product("USW2-Request", "0.0000002100", service_code="AWSLambda", region="us-west-2"),
                ],
            },
            request,
        )

        price = prices.unit_price("us-west-2", "lambda_request", client=client, snapshot=load_snapshot())

    assert price == Price(0.00000021, LIVE_SOURCE, "2026-12-05")


def test_products_local_mode_serves_from_the_snapshot_are_labelled_as_the_snapshots() -> None:
    product = json.loads(price_list_product("USE1-Host:ml.m5.large", "0.115", instance="ml.m5.large"))
    assert prices.product_source(product) == LIVE_SOURCE
    product["version"] = f"{prices.SNAPSHOT_VERSION_PREFIX}2026-12-07"
    assert prices.product_source(product) == SNAPSHOT_SOURCE


def test_amounts_are_never_shown_as_zero_when_they_are_not() -> None:
    assert prices.usd_amount(83.95) == "$83.95"
    assert prices.usd_amount(1234.5) == "$1,234.50"
    assert prices.usd_amount(0.0046) == "$0.0046"
    assert prices.usd_amount(0.000028) == "$0.000028"
    assert prices.usd_amount(0.000008) == "$0.000008"
    assert prices.usd_amount(0) == "$0.00"
    assert prices.unit_amount(0.115) == "$0.115"
    assert prices.unit_amount(0.23) == "$0.23"
    assert prices.unit_amount(1.0) == "$1.00"
    assert set(COMPONENTS) == {"training", "processing", "hosting"}
