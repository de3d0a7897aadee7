"""``driftline cost --refresh-prices``: the snapshot rewritten from the Price List API with today's date.

The API is a botocore Stubber: each GetProducts request is checked against the ``pricing`` service model (the
client validates it before the stub answers) and against the request the refresh should send.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from driftline import cost, cost_cli
from driftline_core.costs import prices
from driftline_core.costs.prices import UNIT_PRICES, load_snapshot
from tests.unit.test_cost_prices import instance_request, price_list_product, pricing_client

OLD_DATE = "2026-11-02"


@pytest.fixture
def snapshot_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-region snapshot standing in for the shipped one."""
    path = tmp_path / "prices.json"
    document = {
        "date": OLD_DATE,
        "currency": "USD",
        "source": "the test's old prices",
        "kept": {},
        "regions": {
            "us-east-1": {
                "sagemaker_instance_hour": {
                    "training": {"ml.m5.large": 0.1},
                    "processing": {"ml.m5.large": 0.1},
                    "hosting": {"ml.m5.large": 0.1, "ml.t2.medium": 0.05},
                },
                "unit": {unit.key: 0.5 for unit in UNIT_PRICES},
            }
        },
    }
    path.write_text(json.dumps(document))
    monkeypatch.setattr(prices, "SNAPSHOT_PATH", path)
    return path


def _unit_request(unit: prices.UnitPrice) -> dict[str, Any]:
    return {
        "ServiceCode": unit.service_code,
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": unit.usage_type},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }


def _answered(*products: str, token: str | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": list(products)}
    if token:
        answer["NextToken"] = token
    return answer


def _stub_the_price_list(price_list: Stubber) -> None:
    m5 = "ml.m5.large"
    price_list.add_response(
        "get_products",
        _answered(
            price_list_product("USE1-Train:ml.m5.large", "0.1150000000", instance=m5),
            price_list_product("USE1-Processing:ml.m5.large", "0.1160000000", instance=m5),
            token="page-2",
        ),
        instance_request("us-east-1", m5),
    )
    price_list.add_response(
        "get_products",
        _answered(price_list_product("USE1-Host:ml.m5.large", "0.1170000000", instance=m5)),
        {**instance_request("us-east-1", m5), "NextToken": "page-2"},
    )
    price_list.add_response("get_products", _answered(), instance_request("us-east-1", "ml.t2.medium"))
    for number, unit in enumerate(UNIT_PRICES, start=1):
        listed = (
            []
            if unit.key == "sns_email"
            else [price_list_product(unit.usage_type, f"0.00{number:02d}", service_code=unit.service_code)]
        )
        price_list.add_response("get_products", _answered(*listed), _unit_request(unit))


def test_the_refresh_rewrites_the_snapshot_with_todays_date_and_keeps_what_the_list_lacks_with_its_own_date(
    snapshot_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = pricing_client()
    monkeypatch.setattr(cost, "price_list_client", lambda region, session=None: client)
    parser = argparse.ArgumentParser(prog="driftline")
    cost_cli.add_parser(parser.add_subparsers(dest="command"))

    with Stubber(client) as price_list:
        _stub_the_price_list(price_list)
        assert cost_cli.run(parser.parse_args(["cost", "--refresh-prices"])) == 0
        price_list.assert_no_pending_responses()

    refreshed = load_snapshot(snapshot_file)
    today = date.today().isoformat()
    assert refreshed.date == today
    assert "Price List API" in refreshed.source and today in refreshed.source
    assert refreshed.regions["us-east-1"]["sagemaker_instance_hour"] == {
        "training": {"ml.m5.large": 0.115},
        "processing": {"ml.m5.large": 0.116},
        "hosting": {"ml.m5.large": 0.117, "ml.t2.medium": 0.05},
    }
    assert refreshed.unit("us-east-1", "lambda_request") == prices.Price(0.0003, prices.SNAPSHOT_SOURCE, today)
    kept = refreshed.instance_hour("us-east-1", "hosting", "ml.t2.medium")
    assert kept == prices.Price(0.05, prices.SNAPSHOT_SOURCE, OLD_DATE)
    assert refreshed.unit("us-east-1", "sns_email") == prices.Price(0.5, prices.SNAPSHOT_SOURCE, OLD_DATE)
    printed = capsys.readouterr().out
    assert f"Rewrote {snapshot_file}: on-demand prices of {today} from the AWS Price List API for us-east-1." in printed
    assert "  kept: us-east-1 hosting ml.t2.medium (the Price List API lists none; price of 2026-11-02)" in printed
    assert "  kept: us-east-1 sns_email (the Price List API lists none; price of 2026-11-02)" in printed


def test_a_refresh_that_cannot_reach_the_price_list_writes_nothing(
    snapshot_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = pricing_client()
    monkeypatch.setattr(cost, "price_list_client", lambda region, session=None: client)
    before = snapshot_file.read_text()
    parser = argparse.ArgumentParser(prog="driftline")
    cost_cli.add_parser(parser.add_subparsers(dest="command"))

    with Stubber(client) as price_list:
        price_list.add_client_error(
            "get_products", "AccessDeniedException", "not authorized to perform: pricing:GetProducts"
        )
        assert cost_cli.run(parser.parse_args(["cost", "--refresh-prices"])) == 1

    assert snapshot_file.read_text() == before
