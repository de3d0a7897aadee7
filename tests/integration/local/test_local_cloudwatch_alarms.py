"""CloudWatch alarms in local mode, under moto: metrics move alarms between states, each change reaches
EventBridge, and the timer evaluates alarms whose periods pass without data."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from driftline.local import cloudwatch

ALARM_PATTERN = {
    "source": ["aws.cloudwatch"],
    "detail-type": ["CloudWatch Alarm State Change"],
    "detail": {"alarmName": [{"prefix": "driftline-drift-"}], "state": {"value": ["ALARM"]}},
}


@pytest.fixture
def local_cloudwatch(aws: None) -> Iterator[cloudwatch.AlarmEvaluator]:
    evaluator = cloudwatch.AlarmEvaluator(period_scale=1.0)
    cloudwatch.install(evaluator)
    try:
        yield evaluator
    finally:
        cloudwatch.uninstall()


def _queue_rule() -> tuple[object, str]:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="alarm-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    events.put_rule(Name="drift-alarms", EventPattern=json.dumps(ALARM_PATTERN))
    events.put_targets(Rule="drift-alarms", Targets=[{"Id": "queue", "Arn": queue_arn}])
    return sqs, queue_url


def _put_alarm(name: str = "driftline-drift-credit") -> None:
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName=name,
        Namespace="Driftline/Drift",
        MetricName="drifted_features",
        Dimensions=[{"Name": "Endpoint", "Value": "credit"}, {"Name": "MonitoringSchedule", "Value": "credit-drift"}],
        Statistic="Maximum",
        Period=3600,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )


def _put_drift(value: float) -> None:
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Driftline/Drift",
        MetricData=[
            {
                "MetricName": "drifted_features",
                "Dimensions": [
                    {"Name": "MonitoringSchedule", "Value": "credit-drift"},
                    {"Name": "Endpoint", "Value": "credit"},
                ],
                "Timestamp": datetime.now(UTC),
                "Value": value,
                "Unit": "Count",
            }
        ],
    )


def _state(name: str = "driftline-drift-credit") -> str:
    return str(boto3.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"])


def test_a_new_alarm_without_data_is_insufficient_data_then_ok_when_missing_data_is_not_breaching(
    local_cloudwatch: cloudwatch.AlarmEvaluator,
) -> None:
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="plain",
        Namespace="N",
        MetricName="m",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    assert _state("plain") == "INSUFFICIENT_DATA"
    _put_alarm()
    assert _state() == "OK"  # notBreaching: no data is no drift


def test_a_metric_over_the_threshold_moves_the_alarm_to_alarm_and_the_event_reaches_the_rule_target(
    local_cloudwatch: cloudwatch.AlarmEvaluator,
) -> None:
    sqs, queue_url = _queue_rule()
    _put_alarm()
    _put_drift(0)
    assert _state() == "OK"

    _put_drift(3)

    assert _state() == "ALARM"
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]  # type: ignore[attr-defined]
    assert len(messages) == 1  # the OK transition did not match the rule
    event = json.loads(messages[0]["Body"])
    assert event["detail-type"] == "CloudWatch Alarm State Change"
    assert event["source"] == "aws.cloudwatch"
    assert event["resources"] == ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:driftline-drift-credit"]
    detail = event["detail"]
    assert detail["alarmName"] == "driftline-drift-credit"
    assert detail["state"]["value"] == "ALARM"
    assert detail["previousState"]["value"] == "OK"
    assert "greater than or equal to the threshold (1.0)" in detail["state"]["reason"]
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [3.0]
    assert detail["state"]["timestamp"].endswith("+0000")
    metric = detail["configuration"]["metrics"][0]["metricStat"]
    assert metric["metric"] == {
        "dimensions": {"Endpoint": "credit", "MonitoringSchedule": "credit-drift"},
        "name": "drifted_features",
        "namespace": "Driftline/Drift",
    }
    assert metric["period"] == 3600 and metric["stat"] == "Maximum"


def test_evaluations_while_the_alarm_stays_in_alarm_send_no_further_event(
    local_cloudwatch: cloudwatch.AlarmEvaluator,
) -> None:
    sqs, queue_url = _queue_rule()
    _put_alarm()
    _put_drift(2)
    _put_drift(4)
    local_cloudwatch.evaluate_all()

    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])  # type: ignore[attr-defined]
    assert len(messages) == 1


def test_statistic_sets_put_with_statistic_values_are_evaluated(
    local_cloudwatch: cloudwatch.AlarmEvaluator,
) -> None:
    _put_alarm()
    boto3.client("cloudwatch").put_metric_data(
        Namespace="Driftline/Drift",
        MetricData=[
            {
                "MetricName": "drifted_features",
                "Dimensions": [
                    {"Name": "Endpoint", "Value": "credit"},
                    {"Name": "MonitoringSchedule", "Value": "credit-drift"},
                ],
                "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 0, "Maximum": 3},
            }
        ],
    )
    assert _state() == "ALARM"


def test_updating_an_alarm_keeps_its_state(local_cloudwatch: cloudwatch.AlarmEvaluator) -> None:
    _put_alarm()
    _put_drift(2)
    assert _state() == "ALARM"
    _put_alarm()
    assert _state() == "ALARM"


def test_the_alarm_s_state_changes_are_its_history_newest_first_and_an_update_keeps_them(
    local_cloudwatch: cloudwatch.AlarmEvaluator,
) -> None:
    _put_alarm()
    _put_alarm("driftline-drift-other")
    _put_drift(0)
    _put_drift(3)
    _put_alarm()  # an update of the configuration keeps the history
    client = boto3.client("cloudwatch")

    items = client.describe_alarm_history(AlarmName="driftline-drift-credit", HistoryItemType="StateUpdate")[
        "AlarmHistoryItems"
    ]

    assert [item["HistorySummary"] for item in items] == [
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
    ]
    assert {item["AlarmName"] for item in items} == {"driftline-drift-credit"}
    assert items[0]["Timestamp"] >= items[1]["Timestamp"]
    data = json.loads(items[0]["HistoryData"])
    assert data["oldState"]["stateValue"] == "OK" and data["newState"]["stateValue"] == "ALARM"
    assert data["newState"]["stateReasonData"]["recentDatapoints"] == [3.0]
    oldest = client.describe_alarm_history(
        AlarmName="driftline-drift-credit", ScanBy="TimestampAscending", MaxRecords=1
    )
    assert [item["HistorySummary"] for item in oldest["AlarmHistoryItems"]] == [
        "Alarm updated from INSUFFICIENT_DATA to OK"
    ]
    assert (
        client.describe_alarm_history(AlarmName="driftline-drift-credit", HistoryItemType="Action")["AlarmHistoryItems"]
        == []
    )


def test_the_timer_returns_the_alarm_to_ok_when_its_periods_pass_without_data(aws: None) -> None:
    ahead = [0.0]  # the clock follows real time (the datapoint's timestamp) until the test moves it on
    evaluator = cloudwatch.AlarmEvaluator(period_scale=1 / 3600, tick=0.05, clock=lambda: time.time() + ahead[0])
    cloudwatch.install(evaluator)
    try:
        _put_alarm()  # a one-hour period, scaled to one second
        _put_drift(2)
        assert _state() == "ALARM"
        ahead[0] += 5  # past the evaluation range of two scaled periods
        evaluator.start()
        deadline = time.time() + 5
        while _state() != "OK" and time.time() < deadline:
            time.sleep(0.05)
        assert _state() == "OK"
    finally:
        cloudwatch.uninstall()


# The deployment's rollback alarms, as Deploy puts them, on the metrics SageMaker publishes -------------------


def _put_minute(
    minutes_ago: int, now: float, invocations: int, errors: int, endpoint: str = "driftline-credit"
) -> None:
    """One minute of the variant's invocation metrics, as SageMaker publishes them (a statistic set each)."""
    dimensions = [{"Name": "EndpointName", "Value": endpoint}, {"Name": "VariantName", "Value": "AllTraffic"}]
    moment = datetime.fromtimestamp(now - now % 60 - 60 * minutes_ago + 1, tz=UTC)

    def statistics(count: int, total: int) -> dict[str, float]:
        return {
            "SampleCount": count,
            "Sum": total,
            "Minimum": 0.0 if total < count else 1.0,
            "Maximum": 1.0 if total else 0.0,
        }

    boto3.client("cloudwatch").put_metric_data(
        Namespace="AWS/SageMaker",
        MetricData=[
            {
                "MetricName": "Invocations",
                "Dimensions": dimensions,
                "Timestamp": moment,
                "StatisticValues": statistics(invocations, invocations),
            },
            {
                "MetricName": "Invocation5XXErrors",
                "Dimensions": dimensions,
                "Timestamp": moment,
                "StatisticValues": statistics(invocations, errors),
            },
        ],
    )


@pytest.fixture
def rollback_alarms(local_cloudwatch: cloudwatch.AlarmEvaluator) -> str:
    from driftline_core.deployment.endpoint import build_alarm_requests
    from driftline_core.settings import DeploymentSettings

    for request in build_alarm_requests("driftline-credit", DeploymentSettings(error_rate_alarm_percent=5)):
        boto3.client("cloudwatch").put_metric_alarm(**request)
    return "driftline-credit-invocation-5xx-errors"


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        # (minutes ago, invocations, 5xx errors)
        ([(3, 1, 1), (2, 200, 0), (1, 200, 0)], "OK"),  # the old fleet's one error as the update starts
        ([(2, 200, 1), (1, 200, 2)], "OK"),  # a few errors among many requests: under 5%
        ([(3, 200, 0), (2, 1, 1), (1, 200, 30)], "ALARM"),  # two minutes over 5% of three
        ([(2, 40, 4), (1, 40, 3)], "ALARM"),  # a steady 8-10% of requests failing
        ([(1, 40, 40)], "OK"),  # everything failing for one minute only: not yet
    ],
)
def test_the_error_rollback_alarm_goes_off_on_a_rate_in_two_of_three_minutes_not_on_one_error(
    rollback_alarms: str,
    local_cloudwatch: cloudwatch.AlarmEvaluator,
    minutes: list[tuple[int, int, int]],
    expected: str,
) -> None:
    now = time.time()
    local_cloudwatch.clock = lambda: now
    for minutes_ago, invocations, errors in minutes:
        _put_minute(minutes_ago, now, invocations, errors)
    local_cloudwatch.evaluate_all()

    assert _state(rollback_alarms) == expected


def test_the_error_alarm_is_reported_with_its_metric_math_in_the_state_change_event(rollback_alarms: str) -> None:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="rollback-alarm-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    pattern = {"source": ["aws.cloudwatch"], "detail": {"alarmName": [rollback_alarms], "state": {"value": ["ALARM"]}}}
    events.put_rule(Name="rollback", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="rollback", Targets=[{"Id": "queue", "Arn": queue_arn}])
    now = time.time()
    _put_minute(2, now, 10, 5)
    _put_minute(1, now, 10, 5)

    detail = json.loads(sqs.receive_message(QueueUrl=queue_url)["Messages"][0]["Body"])["detail"]
    metrics = {metric["id"]: metric for metric in detail["configuration"]["metrics"]}
    assert metrics["error_rate"] == {
        "id": "error_rate",
        "expression": "100 * errors / invocations",
        "label": "5XX error rate (%)",
        "returnData": True,
    }
    assert metrics["errors"]["metricStat"]["metric"]["name"] == "Invocation5XXErrors"
    assert json.loads(detail["state"]["reasonData"])["recentDatapoints"] == [50.0, 50.0]


def test_an_alarm_on_metric_math_local_mode_cannot_evaluate_is_refused_when_put(
    local_cloudwatch: cloudwatch.AlarmEvaluator,
) -> None:
    stat = {"Metric": {"Namespace": "N", "MetricName": "m"}, "Period": 60, "Stat": "Sum"}
    with pytest.raises(ClientError, match="FILL"):
        boto3.client("cloudwatch").put_metric_alarm(
            AlarmName="filled",
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[
                {"Id": "m1", "MetricStat": stat, "ReturnData": False},
                {"Id": "e1", "Expression": "FILL(m1, 0)", "ReturnData": True},
            ],
        )
    assert boto3.client("cloudwatch").describe_alarms(AlarmNames=["filled"])["MetricAlarms"] == []
