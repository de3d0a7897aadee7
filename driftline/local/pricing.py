"""The AWS Price List API (``pricing``), which moto does not emulate: GetProducts answers from the shipped snapshot.

It is added the way moto adds a service: a backend module (this one, with ``pricing_backends``, ``url_bases`` and
``url_paths``, which moto's backend lookup finds for ``pricing``) and its URL patterns among moto's, by which the
server's dispatcher and ``mock_aws`` find a request's service (its host, or the credential scope of its signature). Its
response class is moto's, so a role's GetProducts passes local mode's IAM evaluation and request checks like any
other call.

The products are those of ``driftline_core.costs.prices``' snapshot in the Price List format (``aws_v1``), with the
attributes the real list has for the filters Driftline sends (``regionCode``, ``instanceName``, ``usagetype``,
``servicecode``, SageMaker's ``component``), one on-demand term each, and the price's date as the publication date: a
local notification prices its jobs the same way, and says which prices and of which date. Other products of the real
list are not known here: a query for them finds none. Their ``version`` says they are the snapshot's
(``SNAPSHOT_VERSION_PREFIX``), so what prices with them says so too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Callable
from functools import cache
from typing import Any

import moto.backend_index as backend_index
import moto.backends as backends
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import ServiceException
from moto.core.responses import BaseResponse

from driftline.layer_modules import layer_module
from driftline.local import seams

SERVICE = "pricing"
PATCH_GROUP = "pricing"
FORMAT_VERSION = "aws_v1"
DEFAULT_MAX_RESULTS = 100
ON_DEMAND_TERM = "JRTCKXETXF"
"""The offer term code of AWS's on-demand terms."""
PRICE_DIMENSION = "6YS6EN2CT7"

USAGE_TYPE_PREFIXES = {"us-east-1": "USE1", "us-west-2": "USW2", "eu-west-1": "EU", "eu-central-1": "EUC1"}
"""How AWS's usage types name the snapshot's regions (us-east-1's are unprefixed, except SageMaker's)."""
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-central-1": "EU (Frankfurt)",
}
_COMPONENT_NAMES = {"training": "Training", "processing": "Processing", "hosting": "Hosting"}
_UNITS = {"GB-second": "Second", "GB-month": "GB-Mo"}


class InvalidParameterException(ServiceException):
    code = "InvalidParameterException"


class InvalidNextTokenException(ServiceException):
    code = "InvalidNextTokenException"


def _prices() -> Any:
    return layer_module("driftline_core.costs.prices")


@cache
def snapshot_products() -> tuple[dict[str, Any], ...]:
    """Every product of the shipped snapshot, as the Price List API lists products."""
    prices = _prices()
    snapshot = prices.load_snapshot()
    products = []
    for region in snapshot.regions:
        prefix = USAGE_TYPE_PREFIXES.get(region)
        for component in prices.COMPONENTS:
            for instance_type in snapshot.regions[region]["sagemaker_instance_hour"][component]:
                price = snapshot.instance_hour(region, component, instance_type)
                usage = f"{prices.USAGE_BY_COMPONENT[component]}:{instance_type}"
                attributes = {"instanceName": instance_type, "component": _COMPONENT_NAMES[component]}
                products.append(
                    _product(prices.SAGEMAKER_SERVICE_CODE, "ML Instance", region, _prefixed(prefix, usage), attributes)
                    | _on_demand(region, usage, price, "Hrs", f"${price.usd} per {usage} hour")
                )
        for unit in prices.UNIT_PRICES:
            price = snapshot.unit(region, unit.key)
            sagemaker = unit.service_code == prices.SAGEMAKER_SERVICE_CODE
            usage = _prefixed(prefix if sagemaker or region != "us-east-1" else None, unit.usage_type)
            products.append(
                _product(unit.service_code, unit.service_code, region, usage, {})
                | _on_demand(region, usage, price, _UNITS.get(unit.unit, unit.unit), f"${price.usd} per {unit.unit}")
            )
    return tuple(products)


def _prefixed(prefix: str | None, usage_type: str) -> str:
    return f"{prefix}-{usage_type}" if prefix else usage_type


def _product(service_code: str, family: str, region: str, usage_type: str, attributes: dict[str, str]) -> Any:
    sku = hashlib.sha256(f"{service_code}\n{region}\n{usage_type}".encode()).hexdigest()[:16].upper()
    return {
        "product": {
            "productFamily": family,
            "attributes": {
                "servicecode": service_code,
                "regionCode": region,
                "location": LOCATIONS.get(region, region),
                "locationType": "AWS Region",
                "usagetype": usage_type,
                **attributes,
            },
            "sku": sku,
        },
        "serviceCode": service_code,
    }


def _on_demand(region: str, usage_type: str, price: Any, unit: str, description: str) -> dict[str, Any]:
    sku = hashlib.sha256(f"{region}\n{usage_type}\n{unit}".encode()).hexdigest()[:16].upper()
    term_code = f"{sku}.{ON_DEMAND_TERM}"
    published = f"{price.as_of}T00:00:00Z"
    return {
        "terms": {
            "OnDemand": {
                term_code: {
                    "priceDimensions": {
                        f"{term_code}.{PRICE_DIMENSION}": {
                            "unit": unit,
                            "endRange": "Inf",
                            "description": description,
                            "appliesTo": [],
                            "rateCode": f"{term_code}.{PRICE_DIMENSION}",
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{price.usd:.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": published,
                    "offerTermCode": ON_DEMAND_TERM,
                    "termAttributes": {},
                }
            }
        },
        "version": f"{_prices().SNAPSHOT_VERSION_PREFIX}{price.as_of}",
        "publicationDate": published,
    }


def matches(product: dict[str, Any], filters: list[dict[str, str]]) -> bool:
    """Whether a product passes every filter, as GetProducts' filter types are documented."""
    attributes = {**product["product"]["attributes"], "productFamily": product["product"]["productFamily"]}
    for item in filters:
        value = attributes.get(item["Field"])
        wanted = item["Value"]
        kind = item["Type"]
        if kind in ("TERM_MATCH", "EQUALS") and value != wanted:
            return False
        if kind == "CONTAINS" and (value is None or wanted not in value):
            return False
        if kind == "ANY_OF" and value not in wanted.split(","):
            return False
        if kind == "NONE_OF" and value in wanted.split(","):
            return False
    return True


class PricingBackend(BaseBackend):
    """The Price List's products, the same in every region and account."""

    @property
    def _url_module(self) -> Any:
        return sys.modules[__name__]  # moto looks for ``urls`` beside a backend's models; here they are one module

    def get_products(
        self, service_code: str, filters: list[dict[str, str]], max_results: int, next_token: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        found = [
            product
            for product in snapshot_products()
            if product["serviceCode"] == service_code and matches(product, filters)
        ]
        query = hashlib.sha256(json.dumps([service_code, filters], sort_keys=True).encode()).hexdigest()[:16]
        start = _token_offset(next_token, query) if next_token else 0
        page = found[start : start + max_results]
        more = start + max_results < len(found)
        return page, _token(start + max_results, query) if more else None


def _token(offset: int, query: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset, "query": query}).encode()).decode()


def _token_offset(token: str, query: str) -> int:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = int(decoded["offset"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidNextTokenException("The NextToken is not valid: pass the NextToken of the last answer.") from None
    if decoded.get("query") != query:
        raise InvalidNextTokenException("The NextToken belongs to another query: ask again without it.")
    return offset


pricing_backends = BackendDict(PricingBackend, SERVICE)


class PricingResponse(BaseResponse):
    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)

    def get_products(self) -> str:
        params = json.loads(self.body or "{}")
        version = params.get("FormatVersion", FORMAT_VERSION)
        if version != FORMAT_VERSION:
            raise InvalidParameterException(f"FormatVersion {version!r} is not supported; use {FORMAT_VERSION}.")
        backend = pricing_backends[self.current_account][self.region]
        page, token = backend.get_products(
            params["ServiceCode"],
            params.get("Filters") or [],
            int(params.get("MaxResults") or DEFAULT_MAX_RESULTS),
            params.get("NextToken"),
        )
        answer: dict[str, Any] = {"FormatVersion": FORMAT_VERSION, "PriceList": [json.dumps(p) for p in page]}
        if token:
            answer["NextToken"] = token
        return json.dumps(answer)


url_bases = [r"https?://api\.pricing\.(.+)\.amazonaws\.com", r"https?://pricing\.(.+)\.amazonaws\.com"]
"""The API's endpoints, and the host moto's server dispatcher infers from a request signed for ``pricing``."""
url_paths = {"{0}/$": PricingResponse.dispatch}


def _import_backend(original: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    def import_backend(module_name: str, backends_name: str) -> Any:
        return pricing_backends if module_name == SERVICE else original(module_name, backends_name)

    return import_backend


def _targets() -> list[tuple[Any, str]]:
    return [(backends, "_import_backend"), (backend_index, "backend_url_patterns")]


def install() -> None:
    """Answer the Price List API from now on, in moto's server (one started after this) and under ``mock_aws``."""
    if not seams.claim(PATCH_GROUP):
        return
    seams.replace(backends, "_import_backend", _import_backend(backends._import_backend))
    patterns = [(SERVICE, re.compile(base)) for base in url_bases]
    seams.replace(backend_index, "backend_url_patterns", [*backend_index.backend_url_patterns, *patterns])


def uninstall() -> None:
    """Leave the Price List API unanswered again, keeping local mode's other patches."""
    seams.undo(PATCH_GROUP, _targets())
