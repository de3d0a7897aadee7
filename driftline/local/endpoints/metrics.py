"""Endpoint invocation metrics: what SageMaker publishes to CloudWatch for each endpoint variant.

SageMaker sends every endpoint's ``Invocations``, ``Invocation4XXErrors``, ``Invocation5XXErrors``,
``InvocationsPerInstance`` (each request counts ``1 / instances`` of its variant), ``ModelLatency`` and
``OverheadLatency`` (microseconds) to the ``AWS/SageMaker`` namespace with the dimensions ``EndpointName`` and
``VariantName``, for every production and shadow variant, one datapoint a minute (the SageMaker developer
guide, "Amazon SageMaker AI metrics in Amazon CloudWatch", endpoint invocation metrics). Local mode tallies
each answered request and publishes one statistic set per metric and ``METRICS_PERIOD_SECONDS``: local alarm
periods are scaled (a one-minute period lasts a second), so a local second plays SageMaker's minute. The
deployment's rollback alarms watch these metrics, both fleets of a blue/green update alike, as on AWS (the old
and the new fleet serve under the same variant name).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

NAMESPACE = "AWS/SageMaker"
METRICS_PERIOD_SECONDS = 1.0
"""Local seconds a published datapoint covers (SageMaker's one minute, at local mode's alarm scale)."""


@dataclass
class _Tally:
    invocations: int = 0
    errors_4xx: int = 0
    errors_5xx: int = 0
    per_instance: list[float] = field(default_factory=list)
    model_latencies: list[float] = field(default_factory=list)
    overhead_latencies: list[float] = field(default_factory=list)


class InvocationMetrics:
    """Tallies invocations per endpoint, variant and period, and hands them out as PutMetricData entries."""

    def __init__(self, period: float = METRICS_PERIOD_SECONDS) -> None:
        self.period = period
        self._tallies: dict[tuple[str, str, int], _Tally] = {}
        self._lock = threading.Lock()

    def record(
        self,
        endpoint: str,
        variant: str,
        status: int,
        model_seconds: float,
        total_seconds: float,
        at: float,
        instances: int = 1,
    ) -> None:
        """One request the model answered with ``status`` (``at``: epoch seconds when it was answered; ``instances``:
        the variant's instance count then)."""
        key = (endpoint, variant, math.floor(at / self.period))
        with self._lock:
            tally = self._tallies.setdefault(key, _Tally())
            tally.invocations += 1
            tally.errors_4xx += 400 <= status < 500
            tally.errors_5xx += status >= 500
            tally.per_instance.append(1.0 / max(instances, 1))
            tally.model_latencies.append(model_seconds * 1_000_000)
            tally.overhead_latencies.append(max(total_seconds - model_seconds, 0.0) * 1_000_000)

    def drain(self, before: float) -> list[dict[str, Any]]:
        """PutMetricData entries of every period that ended before ``before`` (epoch seconds); they are forgotten."""
        newest = math.floor(before / self.period)
        with self._lock:
            done = {key: tally for key, tally in self._tallies.items() if key[2] < newest}
            for key in done:
                del self._tallies[key]
        entries: list[dict[str, Any]] = []
        for (endpoint, variant, index), tally in sorted(done.items()):
            # Naive UTC, as moto keeps the timestamps of the metric data it is sent.
            timestamp = datetime.fromtimestamp(index * self.period, tz=UTC).replace(tzinfo=None)
            dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": variant}]
            counts = {
                "Invocations": tally.invocations,
                "Invocation4XXErrors": tally.errors_4xx,
                "Invocation5XXErrors": tally.errors_5xx,
            }
            for name, count in counts.items():
                # One sample per request, 1 where it counts: the Sum is the count, the Average the rate.
                statistics = _statistics(
                    tally.invocations, count, 1.0 if count else 0.0, 0.0 if count < tally.invocations else 1.0
                )
                entries.append(_entry(name, dimensions, timestamp, "None", statistics))
            shares = tally.per_instance
            statistics = _statistics(len(shares), sum(shares), max(shares), min(shares))
            entries.append(_entry("InvocationsPerInstance", dimensions, timestamp, "None", statistics))
            for name, values in (
                ("ModelLatency", tally.model_latencies),
                ("OverheadLatency", tally.overhead_latencies),
            ):
                statistics = _statistics(len(values), sum(values), max(values), min(values))
                entries.append(_entry(name, dimensions, timestamp, "Microseconds", statistics))
        return entries


def _statistics(count: int, total: float, maximum: float, minimum: float) -> dict[str, float]:
    return {"SampleCount": float(count), "Sum": float(total), "Minimum": float(minimum), "Maximum": float(maximum)}


def _entry(
    name: str, dimensions: list[dict[str, str]], timestamp: datetime, unit: str, statistics: dict[str, float]
) -> dict[str, Any]:
    """A statistic set, as SageMaker publishes a minute of one metric."""
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": timestamp,
        "Unit": unit,
        "StatisticValues": statistics,
    }
