"""On-demand prices of what Driftline runs: from the AWS Price List API, or from the dated snapshot beside this file.

The snapshot (``prices.json``) ships in the layer, so a notification can still price a run's jobs when the Price List
API does not answer, and ``driftline cost`` can estimate without AWS credentials. Every price carries its source and
its date, so a snapshot price is never shown as a live one; ``driftline cost --refresh-prices`` rewrites the snapshot
from the API.

This module imports nothing else of the layer: the ``driftline`` CLI and local mode, whose package does not include
the layer, load this very file (``driftline.layer_modules``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

SNAPSHOT_PATH = Path(__file__).with_name("prices.json")
HOURS_PER_MONTH = 730
"""AWS's pricing pages count a month as 730 hours."""
CURRENCY = "USD"
PRICE_LIST_FORMAT = "aws_v1"
SAGEMAKER_SERVICE_CODE = "AmazonSageMaker"
PRICE_LIST_API_REGIONS = ("us-east-1", "eu-central-1", "ap-south-1")
"""Where the Price List Query API has an endpoint (botocore's endpoint data for ``pricing``); it answers for every
region's prices from any of them."""
LIVE_SOURCE = "AWS Price List API"
SNAPSHOT_SOURCE = "Driftline's price snapshot"
NO_ANSWER = "the Price List API did not answer"
SNAPSHOT_VERSION_PREFIX = "driftline-snapshot-"
"""The ``version`` of products that are this snapshot served through the Price List API (local mode answers so):
their prices are labelled as the snapshot's, never as live ones."""

Component = Literal["training", "processing", "hosting"]
COMPONENTS: tuple[Component, ...] = ("training", "processing", "hosting")
USAGE_BY_COMPONENT: dict[Component, str] = {"training": "Train", "processing": "Processing", "hosting": "Host"}
"""How SageMaker's usage types name each use of an instance: ``USE1-Train:ml.m5.large``, ``EU-Host:ml.m5.large``."""
COMPONENT_BY_USAGE: dict[str, Component] = {usage: component for component, usage in USAGE_BY_COMPONENT.items()}
_SAGEMAKER_USAGE = re.compile(r"^(?:[A-Z0-9]+-)?(?P<use>[A-Za-z]+):(?P<instance>ml\.[a-z0-9]+\.[a-z0-9]+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class UnitPrice:
    """One price of a service other than SageMaker's instances, and how the Price List API names it."""

    key: str
    service_code: str
    usage_type: str
    """The usage type without its region prefix (``Request`` for ``USW2-Request``; us-east-1 often has none)."""
    unit: str
    """What one unit is, in the words of the estimate's table."""


UNIT_PRICES: tuple[UnitPrice, ...] = (
    UnitPrice("sagemaker_serverless_gb_second", SAGEMAKER_SERVICE_CODE, "ServerlessInf:Mem-1GB", "GB-second"),
    UnitPrice("step_functions_transition", "AmazonStates", "StateTransition", "state transition"),
    UnitPrice("lambda_request", "AWSLambda", "Request", "request"),
    UnitPrice("lambda_gb_second", "AWSLambda", "Lambda-GB-Second", "GB-second"),
    UnitPrice("sns_email", "AmazonSNS", "DeliveryAttempts-SMTP", "email"),
    UnitPrice("sns_publish", "AmazonSNS", "Requests-Tier1", "publish"),
    UnitPrice("dynamodb_write_request", "AmazonDynamoDB", "WriteRequestUnits", "write request"),
    UnitPrice("dynamodb_read_request", "AmazonDynamoDB", "ReadRequestUnits", "read request"),
    UnitPrice("http_api_request", "AmazonApiGateway", "ApiGatewayHttpRequest", "request"),
    UnitPrice("cloudwatch_alarm_metric_month", "AmazonCloudWatch", "CW:AlarmMonitorUsage", "alarm metric-month"),
    UnitPrice("cloudwatch_custom_metric_month", "AmazonCloudWatch", "CW:MetricMonitorUsage", "metric-month"),
    UnitPrice("kms_key_month", "awskms", "KMS-Keys", "key-month"),
    UnitPrice("secrets_manager_secret_month", "AWSSecretsManager", "AWSSecretsManager-Secrets", "secret-month"),
    UnitPrice("s3_standard_gb_month", "AmazonS3", "TimedStorage-ByteHrs", "GB-month"),
)
UNIT_PRICE_BY_KEY = {unit.key: unit for unit in UNIT_PRICES}


class PriceUnknown(LookupError):
    """Neither the Price List API nor the snapshot has a price that an estimate or a job needs."""


@dataclass(frozen=True)
class Price:
    """USD per unit, where it came from and the date it is of."""

    usd: float
    source: str
    """``LIVE_SOURCE`` or ``SNAPSHOT_SOURCE``."""
    as_of: str
    """The Price List's publication date, or the snapshot's date (an older one for a price a refresh kept)."""
    note: str = ""
    """Why the snapshot stood in where a live price was asked for."""

    @property
    def described(self) -> str:
        """``on-demand prices of 2026-12-07 (AWS Price List API)``: what every figure built on it says of it."""
        note = f": {self.note}" if self.note else ""
        return f"on-demand prices of {self.as_of} ({self.source}{note})"


@dataclass(frozen=True)
class PriceSnapshot:
    """The shipped prices: hourly SageMaker instance prices per region and use, and the few other unit prices."""

    date: str
    source: str
    regions: Mapping[str, Mapping[str, Any]]
    kept: Mapping[str, str] = field(default_factory=dict)
    """``<region>/<path>`` of prices the last refresh could not read, with the date they are of."""

    def instance_hour(self, region: str, component: Component, instance_type: str) -> Price | None:
        usd = self.regions.get(region, {}).get("sagemaker_instance_hour", {}).get(component, {}).get(instance_type)
        return None if usd is None else self._price(float(usd), f"{region}/{component}/{instance_type}")

    def unit(self, region: str, key: str) -> Price | None:
        usd = self.regions.get(region, {}).get("unit", {}).get(key)
        return None if usd is None else self._price(float(usd), f"{region}/unit/{key}")

    def instance_types(self, component: Component) -> list[str]:
        """Every instance type the snapshot prices for this use, in any region."""
        found = {name for prices in self.regions.values() for name in prices["sagemaker_instance_hour"][component]}
        return sorted(found)

    def _price(self, usd: float, path: str) -> Price:
        return Price(usd, SNAPSHOT_SOURCE, self.kept.get(path, self.date))


def load_snapshot(path: Path | None = None) -> PriceSnapshot:
    """The snapshot at ``path`` (default: the one shipped beside this module, ``SNAPSHOT_PATH``)."""
    path = path or SNAPSHOT_PATH
    document = json.loads(path.read_text())
    problems = snapshot_problems(document)
    if problems:
        raise ValueError(f"the price snapshot {path} is not usable: " + "; ".join(problems))
    return PriceSnapshot(document["date"], document["source"], document["regions"], document.get("kept", {}))


def snapshot_problems(document: Any) -> list[str]:
    """What makes a snapshot document unusable: the schema ``prices.json`` and every refresh follow."""
    if not isinstance(document, dict):
        return ["it is not a JSON object"]
    problems = []
    if not _DATE.match(str(document.get("date", ""))):
        problems.append("'date' must be the date of its prices, YYYY-MM-DD")
    if not isinstance(document.get("source"), str) or not document["source"].strip():
        problems.append("'source' must say where its prices come from")
    if document.get("currency") != CURRENCY:
        problems.append(f"'currency' must be {CURRENCY}")
    kept = document.get("kept", {})
    if not isinstance(kept, dict) or not all(_DATE.match(str(day)) for day in kept.values()):
        problems.append("'kept' must map price paths to the YYYY-MM-DD date of each price")
    regions = document.get("regions")
    if not isinstance(regions, dict) or not regions:
        return [*problems, "'regions' must hold the prices of at least one region"]
    for region, prices in regions.items():
        problems += _region_problems(region, prices)
    return problems


def _region_problems(region: str, prices: Any) -> list[str]:
    instances = prices.get("sagemaker_instance_hour") if isinstance(prices, dict) else None
    units = prices.get("unit") if isinstance(prices, dict) else None
    if not isinstance(instances, dict) or not isinstance(units, dict):
        return [f"{region}: needs 'sagemaker_instance_hour' and 'unit'"]
    problems = []
    for component in COMPONENTS:
        listed = instances.get(component)
        if not isinstance(listed, dict) or not listed:
            problems.append(f"{region}: 'sagemaker_instance_hour' needs the {component} price of an instance type")
            continue
        problems += [
            f"{region}: {component} {name} needs a positive hourly price"
            for name, usd in listed.items()
            if not name.startswith("ml.") or not _is_number(usd) or usd <= 0
        ]
    missing = [unit.key for unit in UNIT_PRICES if unit.key not in units]
    if missing:
        problems.append(f"{region}: 'unit' lacks {', '.join(missing)}")
    problems += [f"{region}: unit price {key} must be a number" for key, usd in units.items() if not _is_number(usd)]
    return problems


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def snapshot_document(snapshot: PriceSnapshot) -> dict[str, Any]:
    """The JSON document ``load_snapshot`` reads back as ``snapshot``."""
    return {
        "date": snapshot.date,
        "currency": CURRENCY,
        "source": snapshot.source,
        "kept": dict(sorted(snapshot.kept.items())),
        "regions": snapshot.regions,
    }


def write_snapshot(snapshot: PriceSnapshot, path: Path | None = None) -> Path:
    """Write ``snapshot`` where ``load_snapshot`` reads it; refuses one that breaks the schema."""
    path = path or SNAPSHOT_PATH
    document = snapshot_document(snapshot)
    problems = snapshot_problems(document)
    if problems:
        raise ValueError("refusing to write an unusable price snapshot: " + "; ".join(problems))
    path.write_text(json.dumps(document, indent=1) + "\n")
    return path


# The Price List API ------------------------------------------------------------------------------------------


def price_list_region(region: str) -> str:
    """The Price List API endpoint to ask from ``region``: the region itself where it has one, else the nearest."""
    if region in PRICE_LIST_API_REGIONS:
        return region
    if region.startswith(("eu-", "me-", "il-", "af-")):
        return "eu-central-1"
    if region.startswith("ap-"):
        return "ap-south-1"
    return "us-east-1"


def term(field_name: str, value: str) -> dict[str, str]:
    return {"Type": "TERM_MATCH", "Field": field_name, "Value": value}


def instance_filters(region: str, instance_type: str) -> list[dict[str, str]]:
    """GetProducts filters for every SageMaker product of one instance type in one region (all its uses)."""
    return [term("regionCode", region), term("instanceName", instance_type)]


def unit_filters(region: str, unit: UnitPrice) -> list[dict[str, str]]:
    """GetProducts filters for one unit price: the region's usage types that contain its name (with or without the
    region's prefix; ``usage_type_is`` picks the exact one)."""
    return [term("regionCode", region), {"Type": "CONTAINS", "Field": "usagetype", "Value": unit.usage_type}]


def usage_type_is(usage_type: str, wanted: str) -> bool:
    """``USW2-Request`` and ``Request`` are ``Request``; ``USW2-Request-ARM`` is not."""
    if usage_type == wanted:
        return True
    prefix, _, rest = usage_type.partition("-")
    return rest == wanted and bool(re.fullmatch(r"[A-Z]+[0-9]*", prefix))


def sagemaker_instance_use(usage_type: str) -> tuple[str, str] | None:
    """``("Train", "ml.m5.large")`` for ``USE1-Train:ml.m5.large``; None for other usage types."""
    match = _SAGEMAKER_USAGE.match(usage_type)
    return (match["use"], match["instance"]) if match else None


def on_demand_usd(product: Mapping[str, Any]) -> float | None:
    """The product's on-demand USD price per unit: its first tier with a price (free tiers are not applied)."""
    for offer in (product.get("terms", {}).get("OnDemand") or {}).values():
        dimensions = sorted(
            (offer.get("priceDimensions") or {}).values(), key=lambda dimension: float(dimension.get("beginRange", 0))
        )
        for dimension in dimensions:
            usd = float(dimension.get("pricePerUnit", {}).get(CURRENCY, 0) or 0)
            if usd > 0:
                return usd
    return None


def product_source(product: Mapping[str, Any]) -> str:
    return SNAPSHOT_SOURCE if str(product.get("version", "")).startswith(SNAPSHOT_VERSION_PREFIX) else LIVE_SOURCE


def publication_date(product: Mapping[str, Any]) -> str:
    published = str(product.get("publicationDate", ""))[:10]
    return published if _DATE.match(published) else date.today().isoformat()


def price_list_products(client: Any, service_code: str, filters: list[dict[str, str]]) -> Iterator[dict[str, Any]]:
    """Every product GetProducts lists for these filters, page after page, each decoded from its JSON string."""
    token: str | None = None
    while True:
        request: dict[str, Any] = {
            "ServiceCode": service_code,
            "Filters": filters,
            "FormatVersion": PRICE_LIST_FORMAT,
            "MaxResults": 100,
        }
        if token:
            request["NextToken"] = token
        page = client.get_products(**request)
        for item in page.get("PriceList", []):
            yield json.loads(item) if isinstance(item, str) else item
        token = page.get("NextToken")
        if not token:
            return


def listed_instance_hours(client: Any, region: str, instance_type: str) -> dict[Component, Price]:
    """The hourly on-demand price of each use of one SageMaker instance type in one region, as the API lists them."""
    found: dict[Component, Price] = {}
    for product in price_list_products(client, SAGEMAKER_SERVICE_CODE, instance_filters(region, instance_type)):
        attributes = product.get("product", {}).get("attributes", {})
        use = sagemaker_instance_use(str(attributes.get("usagetype", "")))
        usd = on_demand_usd(product)
        if use is None or use[1] != instance_type or use[0] not in COMPONENT_BY_USAGE or usd is None:
            continue
        found[COMPONENT_BY_USAGE[use[0]]] = Price(usd, product_source(product), publication_date(product))
    return found


def listed_unit(client: Any, region: str, unit: UnitPrice) -> Price | None:
    for product in price_list_products(client, unit.service_code, unit_filters(region, unit)):
        usage_type = str(product.get("product", {}).get("attributes", {}).get("usagetype", ""))
        usd = on_demand_usd(product)
        if usage_type_is(usage_type, unit.usage_type) and usd is not None:
            return Price(usd, product_source(product), publication_date(product))
    return None


def instance_hour_prices(
    region: str, instance_type: str, components: Iterable[Component], *, client: Any, snapshot: PriceSnapshot
) -> dict[Component, Price]:
    """The hourly price of each use of one instance type: live where the Price List API answers with it (one query
    for all its uses; ``client`` None: no API to ask), else the snapshot's, saying why; ``PriceUnknown`` when neither
    has one."""
    live: dict[Component, Price] = {}
    failure = ""
    if client is not None:
        try:
            live = listed_instance_hours(client, region, instance_type)
        except (BotoCoreError, ClientError) as error:
            failure = f"{NO_ANSWER} ({_error_name(error)})"
    found: dict[Component, Price] = {}
    for component in components:
        if component in live:
            found[component] = live[component]
            continue
        stored = snapshot.instance_hour(region, component, instance_type)
        if stored is None:
            asked = failure or (
                "the Price List API lists none" if client is not None else "the Price List API was not asked"
            )
            covered = ", ".join(sorted(snapshot.regions))
            raise PriceUnknown(
                f"no {component} price of {instance_type} in {region}: {asked}, and the price snapshot of "
                f"{snapshot.date} has none (it covers {covered}). Run `driftline cost --refresh-prices --region "
                f"{region} --instance-types {instance_type}` with AWS credentials to add it."
            )
        if client is not None:
            note = failure or f"the Price List API lists no on-demand {component} price of {instance_type} in {region}"
            stored = Price(stored.usd, stored.source, stored.as_of, note)
        found[component] = stored
    return found


def instance_hour_price(
    region: str, component: Component, instance_type: str, *, client: Any, snapshot: PriceSnapshot
) -> Price:
    """One use's hourly price of one instance type, as ``instance_hour_prices`` finds it."""
    return instance_hour_prices(region, instance_type, [component], client=client, snapshot=snapshot)[component]


def prices_described(prices: Iterable[Price]) -> str:
    """``on-demand prices of 2026-12-07 (AWS Price List API)``, or of each date and source the prices have."""
    described = list(dict.fromkeys(price.described.removeprefix("on-demand prices of ") for price in prices))
    return "on-demand prices of " + " and of ".join(described)


def unit_price(region: str, key: str, *, client: Any, snapshot: PriceSnapshot) -> Price:
    """As ``instance_hour_price``, for one of ``UNIT_PRICES``."""
    unit = UNIT_PRICE_BY_KEY[key]
    note = ""
    if client is not None:
        try:
            live = listed_unit(client, region, unit)
        except (BotoCoreError, ClientError) as error:
            note = f"{NO_ANSWER} ({_error_name(error)})"
        else:
            if live is not None:
                return live
            note = f"the Price List API lists no {unit.service_code} {unit.usage_type} price in {region}"
    stored = snapshot.unit(region, key)
    if stored is None:
        raise PriceUnknown(
            f"no {unit.service_code} {unit.usage_type} price in {region}: the price snapshot of {snapshot.date} "
            f"covers {', '.join(sorted(snapshot.regions))}. Run `driftline cost --refresh-prices --region {region}` "
            "with AWS credentials to add it."
        )
    return stored if client is None else Price(stored.usd, stored.source, stored.as_of, note)


def usd_amount(value: float) -> str:
    """Cents for a dollar figure; two significant digits below a cent, so a small cost is not shown as $0.00."""
    if value >= 0.01 or value <= 0:
        return f"${value:,.2f}"
    return f"${value:.{1 - math.floor(math.log10(value))}f}".rstrip("0")


def unit_amount(value: float) -> str:
    """A unit price as AWS lists it (``$0.115``, ``$0.23``, ``$1.104``): at least cents, at most four decimals."""
    whole, _, fraction = f"{value:,.4f}".rstrip("0").partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"


def _error_name(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or type(error).__name__)
    return type(error).__name__
