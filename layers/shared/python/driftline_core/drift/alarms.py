"""Drift alarms: one CloudWatch alarm per served dataset, on the drift monitor's ``drifted_features`` metric.

Design: the deploy step calls ``put_drift_alarm`` when it creates a dataset's endpoint and monitoring
schedule, instead of the template holding one alarm over a Metrics Insights query. CloudWatch can alarm on a
Metrics Insights query with ``GROUP BY`` (a multi-time-series alarm, each endpoint a contributor), but:

- a query selects one metric name, and the monitor's per-feature metrics (``feature_baseline_drift_<feature>``)
  differ per dataset, with thresholds per feature in each baseline's ``constraints.json``; an aggregate the
  monitor computes with those thresholds is needed either way (``drifted_features``, features failing the
  baseline drift check);
- contributors change state in "CloudWatch Alarm Contributor State Change" events that carry the
  contributor's dimensions only, while a per-dataset alarm names its dataset (``<stack>-drift-<dataset>``),
  which is all the retrain needs;
- Metrics Insights alarms evaluate only the latest 3 hours of data and are limited to 200 per Region by
  default, which a daily schedule or a shared account would run into.

A standard metric alarm per dataset costs $0.10 a month. Missing data is ``notBreaching``: a window
without captured traffic is not drift. The alarm has no actions: the stack's EventBridge rule on its state
change starts the retrain (``driftline_core.drift.retrain``), so nothing needs an SNS topic or a Lambda permission
per alarm.
"""

from __future__ import annotations

from typing import Any

from driftline_core.aws.clients import get_client
from driftline_core.layout import drift_alarm_name
from driftline_core.settings import DEFAULT_NAMESPACE

DRIFTED_FEATURES_METRIC = "drifted_features"
"""Published by ``ml/monitor.py`` for every analysed window, with the dimensions Endpoint and MonitoringSchedule."""
DEFAULT_PERIOD_SECONDS = 3600
"""One monitoring window: Model Monitor's hourly schedule."""
DATASET_TAG = "driftline:dataset"
ENDPOINT_TAG = "driftline:endpoint"


def build_drift_alarm_request(
    stack: str,
    dataset: str,
    endpoint: str,
    schedule: str,
    *,
    namespace: str = DEFAULT_NAMESPACE,
    period_seconds: int = DEFAULT_PERIOD_SECONDS,
    evaluation_periods: int = 1,
    datapoints_to_alarm: int = 1,
    min_drifted_features: int = 1,
) -> dict[str, Any]:
    """The PutMetricAlarm request: ALARM when ``datapoints_to_alarm`` of the last ``evaluation_periods`` windows
    had at least ``min_drifted_features`` features past their drift threshold."""
    if not 1 <= datapoints_to_alarm <= evaluation_periods:
        raise ValueError(
            f"datapoints_to_alarm ({datapoints_to_alarm}) must be between 1 and evaluation_periods "
            f"({evaluation_periods})"
        )
    if min_drifted_features < 1:
        raise ValueError(f"min_drifted_features must be at least 1, not {min_drifted_features}")
    name = drift_alarm_name(stack, dataset)
    return {
        "AlarmName": name,
        "AlarmDescription": (
            f"Drift in the live features of dataset {dataset} (endpoint {endpoint}): at least {min_drifted_features} "
            f"feature(s) past the baseline's drift threshold in {datapoints_to_alarm} of {evaluation_periods} "
            "monitoring windows. Its ALARM state starts a retrain."
        )[:1024],
        "ActionsEnabled": True,
        "Namespace": namespace,
        "MetricName": DRIFTED_FEATURES_METRIC,
        "Dimensions": [
            {"Name": "Endpoint", "Value": endpoint},
            {"Name": "MonitoringSchedule", "Value": schedule},
        ],
        "Statistic": "Maximum",
        "Period": period_seconds,
        "EvaluationPeriods": evaluation_periods,
        "DatapointsToAlarm": datapoints_to_alarm,
        "Threshold": float(min_drifted_features),
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "Tags": [{"Key": DATASET_TAG, "Value": dataset}, {"Key": ENDPOINT_TAG, "Value": endpoint}],
    }


def put_drift_alarm(stack: str, dataset: str, endpoint: str, schedule: str, **options: Any) -> str:
    """Create or update the dataset's drift alarm (an update keeps the alarm's state); returns its name."""
    request = build_drift_alarm_request(stack, dataset, endpoint, schedule, **options)
    get_client("cloudwatch").put_metric_alarm(**request)
    return str(request["AlarmName"])


def delete_drift_alarm(stack: str, dataset: str) -> None:
    get_client("cloudwatch").delete_alarms(AlarmNames=[drift_alarm_name(stack, dataset)])
