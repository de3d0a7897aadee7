"""Drift alarms: one per served dataset, on the monitor's drifted_features, evaluated by local CloudWatch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from driftline.local import cloudwatch
from driftline_core.drift.alarms import DRIFTED_FEATURES_METRIC, build_drift_alarm_request, put_drift_alarm
from driftline_core.layout import dataset_from_alarm_name
from driftline_core.settings import DEFAULT_NAMESPACE


@pytest.fixture
def alarms(aws: None) -> Iterator[Any]:
    cloudwatch.install(cloudwatch.AlarmEvaluator())
    try:
        yield boto3.client("cloudwatch")
    finally:
        cloudwatch.uninstall()


def _monitor_window(client: Any, drifted: int) -> None:
    """What ml/monitor.py publishes for one window, beside its per-feature metrics."""
    client.put_metric_data(
        Namespace=DEFAULT_NAMESPACE,
        MetricData=[
            {
                "MetricName": DRIFTED_FEATURES_METRIC,
                "Dimensions": [
                    {"Name": "Endpoint", "Value": "driftline-credit"},
                    {"Name": "MonitoringSchedule", "Value": "driftline-credit-drift"},
                ],
                "Timestamp": datetime.now(UTC),
                "Value": float(drifted),
                "Unit": "Count",
            }
        ],
    )


def test_the_deploy_step_puts_one_alarm_per_dataset_named_and_tagged_for_it(alarms: Any) -> None:
    name = put_drift_alarm("driftline", "credit", "driftline-credit", "driftline-credit-drift")

    (alarm,) = alarms.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert name == "driftline-drift-credit" and dataset_from_alarm_name("driftline", name) == "credit"
    assert alarm["MetricName"] == "drifted_features" and alarm["Namespace"] == "Driftline/DataDrift"
    assert alarm["TreatMissingData"] == "notBreaching" and alarm["AlarmActions"] == []
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and alarm["Threshold"] == 1.0
    tags = alarms.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
    assert {"Key": "driftline:dataset", "Value": "credit"} in tags


def test_a_window_with_drifted_features_sets_the_alarm_off(alarms: Any) -> None:
    name = put_drift_alarm("driftline", "credit", "driftline-credit", "driftline-credit-drift")
    _monitor_window(alarms, 2)
    assert alarms.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "ALARM"


def test_an_alarm_of_another_stack_or_an_impossible_m_of_n_is_refused() -> None:
    assert dataset_from_alarm_name("driftline", "driftline-prod-drift-credit") is None
    assert dataset_from_alarm_name("driftline", "driftline-drift-") is None
    with pytest.raises(ValueError, match="datapoints_to_alarm"):
        build_drift_alarm_request("driftline", "credit", "e", "s", evaluation_periods=2, datapoints_to_alarm=3)
