"""Production and shadow variants: what DescribeEndpoint says of them, and how an endpoint's requests are routed.

- Weights: a production variant gets ``weight / sum of the production weights`` of the requests that name no
  ``TargetVariant`` (``InitialVariantWeight`` defaults to 1.0); a variant of weight 0 gets none of them, and any
  production variant answers the requests that target it.
- Shadow variant: an endpoint config with ``ShadowProductionVariants`` has one production variant and one shadow
  variant. The shadow gets a copy of a share of the requests the production variant serves: its weight over the
  production variant's (1 and 1: every request; 0.1 and 1: one in ten), at most all of them. Its answers go to
  data capture and its own metrics, never to the caller.
- Summaries: DescribeEndpoint's ``ProductionVariantSummary`` for each variant, with ``CurrentWeight`` and
  ``DesiredWeight``, ``CurrentInstanceCount`` and ``DesiredInstanceCount``; UpdateEndpointWeightsAndCapacities
  sets the desired values, which become current once the endpoint is back InService. Instance counts are recorded
  numbers: one local server answers for all of a variant's instances.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from driftline.local.endpoints.server_process import ModelServer

DEFAULT_WEIGHT = 1.0
"""ProductionVariant's ``InitialVariantWeight`` when a configuration leaves it out (the API reference)."""


class VariantNotFound(Exception):
    """An InvokeEndpoint ``TargetVariant`` that is none of the endpoint's production variants."""


class NoWeightedVariant(Exception):
    """Every production variant has weight 0 and the request names no ``TargetVariant``."""


def variant_summaries(
    variants: Iterable[Mapping[str, Any]],
    retained: Iterable[Mapping[str, Any]] = (),
    keep: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """DescribeEndpoint's summary of each variant of a configuration, deployed now.

    ``retained`` are the summaries the endpoint shows before an UpdateEndpoint with ``RetainAllVariantProperties``:
    a variant of the same name keeps its ``keep`` properties (``DesiredWeight``, ``DesiredInstanceCount``) from them.
    """
    before = {str(summary["VariantName"]): summary for summary in retained}
    summaries = []
    for variant in variants:
        name = str(variant["VariantName"])
        weight = variant.get("InitialVariantWeight")
        summary: dict[str, Any] = {
            "VariantName": name,
            "CurrentWeight": float(DEFAULT_WEIGHT if weight is None else weight),
        }
        if variant.get("InitialInstanceCount") is not None:
            summary["CurrentInstanceCount"] = int(variant["InitialInstanceCount"])
        if variant.get("ServerlessConfig"):
            summary["CurrentServerlessConfig"] = dict(variant["ServerlessConfig"])
            summary["DesiredServerlessConfig"] = dict(variant["ServerlessConfig"])
        old = before.get(name)
        if old is not None:
            if "DesiredWeight" in keep and old.get("CurrentWeight") is not None:
                summary["CurrentWeight"] = float(old["CurrentWeight"])
            if "DesiredInstanceCount" in keep and old.get("CurrentInstanceCount") is not None:
                summary["CurrentInstanceCount"] = int(old["CurrentInstanceCount"])
        summary["DesiredWeight"] = summary["CurrentWeight"]
        if "CurrentInstanceCount" in summary:
            summary["DesiredInstanceCount"] = summary["CurrentInstanceCount"]
        summaries.append(summary)
    return summaries


def current_weight(summary: Mapping[str, Any]) -> float:
    weight = summary.get("CurrentWeight")
    return float(DEFAULT_WEIGHT if weight is None else weight)


def current_instances(summary: Mapping[str, Any]) -> int:
    """The instances a variant's invocations are shared by (``InvocationsPerInstance``); serverless counts one."""
    count = summary.get("CurrentInstanceCount")
    return max(int(count), 1) if count is not None else 1


@dataclass(frozen=True)
class Fleet:
    """The servers serving one endpoint configuration, and how its requests are routed among them.

    A fleet is never changed: a weight update makes a new one, so a request routed by the old weights and one
    routed by the new ones each see a whole routing table.
    """

    config_name: str
    production: tuple[ModelServer, ...]
    shadow: ModelServer | None
    weights: Mapping[str, float]
    """Each variant's current weight, production and shadow."""
    instances: Mapping[str, int]
    """Each variant's current instance count, production and shadow."""
    capture: dict[str, Any] | None
    chooser: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    @property
    def servers(self) -> list[ModelServer]:
        return [*self.production, *([self.shadow] if self.shadow is not None else [])]

    def choose(self, target: str | None) -> ModelServer:
        """The production variant's server that answers a request (``target``: its TargetVariant)."""
        names = ", ".join(server.variant for server in self.production)
        if target is not None:
            for server in self.production:
                if server.variant == target:
                    return server
            shadow = (
                f"; {target} is its shadow variant, which gets copies of the production variant's requests and is "
                "not invoked directly"
                if self.shadow is not None and self.shadow.variant == target
                else ""
            )
            raise VariantNotFound(
                f"TargetVariant {target} is not one of the endpoint's production variants ({names}){shadow}: "
                "name one of them, or leave TargetVariant out to let the variants' weights choose."
            )
        weights = [self.weights.get(server.variant, DEFAULT_WEIGHT) for server in self.production]
        if len(self.production) == 1 and weights[0] > 0:
            return self.production[0]
        if sum(weights) <= 0:
            raise NoWeightedVariant(
                f"every production variant of the endpoint has weight 0 ({names}), so a request without "
                "TargetVariant has no variant to go to: name one with TargetVariant, or give one a weight with "
                "UpdateEndpointWeightsAndCapacities."
            )
        return self.chooser.choices(self.production, weights)[0]

    def shadow_copy(self, production: ModelServer) -> ModelServer | None:
        """The shadow server that gets a copy of a request ``production`` serves, when this request is sampled."""
        if self.shadow is None:
            return None
        shadow_weight = self.weights.get(self.shadow.variant, DEFAULT_WEIGHT)
        production_weight = self.weights.get(production.variant, DEFAULT_WEIGHT)
        if shadow_weight <= 0:
            return None
        share = 1.0 if production_weight <= 0 else min(shadow_weight / production_weight, 1.0)
        return self.shadow if share >= 1.0 or self.chooser.random() < share else None

    def with_weights(self, weights: Mapping[str, float], instances: Mapping[str, int]) -> Fleet:
        return replace(self, weights={**self.weights, **weights}, instances={**self.instances, **instances})


def routing_of(summaries: Iterable[Mapping[str, Any]]) -> tuple[dict[str, float], dict[str, int]]:
    """Each variant's current weight and instance count, from DescribeEndpoint's summaries of them."""
    listed = list(summaries)
    weights = {str(summary["VariantName"]): current_weight(summary) for summary in listed}
    instances = {str(summary["VariantName"]): current_instances(summary) for summary in listed}
    return weights, instances
