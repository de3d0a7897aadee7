"""CloudWatch alarms in local mode: states follow CloudWatch's evaluation rules and changes reach EventBridge."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest

from driftline.local import cloudwatch
from driftline.local.cloudwatch import AlarmRule, Datapoint, evaluate

PERIOD = 60.0
NOW = 1_800_000_000.0 - 1  # the last second of a period: the newest period is the one holding NOW


def _points(*values: float | None) -> list[Datapoint]:
    """One datapoint per period, oldest first, ending in the period holding NOW; None is a missing period."""
    newest = NOW - (NOW % PERIOD)
    points = []
    for age, value in enumerate(reversed(values)):
        if value is not None:
            moment = newest - age * PERIOD + 1
            points.append(Datapoint(moment, 1.0, value, value, value, (value,)))
    return points


def _rule(n: int = 3, m: int | None = None, treat: str = "missing") -> AlarmRule:
    return AlarmRule(
        period=PERIOD,
        evaluation_periods=n,
        datapoints_to_alarm=m or n,
        statistic="Maximum",
        comparison_operator="GreaterThanOrEqualToThreshold",
        threshold=1.0,
        treat_missing_data=treat,
    )


def test_m_out_of_n_alarms_when_m_of_the_last_n_periods_breach() -> None:
    assert evaluate(_rule(3, 2), _points(2, 0, 3), NOW, "OK").state == "ALARM"
    assert evaluate(_rule(3, 2), _points(0, 0, 3), NOW, "OK").state == "OK"
    assert evaluate(_rule(3, 3), _points(2, 0, 3), NOW, "OK").state == "OK"


def test_a_breach_older_than_the_evaluated_periods_does_not_count() -> None:
    assert evaluate(_rule(2, 2), _points(5, 0, 3), NOW, "ALARM").state == "OK"


def test_the_reason_names_the_datapoints_and_the_threshold_as_cloudwatch_writes_it() -> None:
    result = evaluate(_rule(1), _points(2), NOW, "OK")

    assert result.reason.startswith("Threshold Crossed: 1 out of the last 1 datapoints [2.0 (")
    assert "was greater than or equal to the threshold (1.0)" in result.reason
    assert result.reason.endswith("(minimum 1 datapoint for OK -> ALARM transition).")
    assert result.reason_data["recentDatapoints"] == [2.0]
    assert result.reason_data["evaluatedDatapoints"][0]["value"] == 2.0


@pytest.mark.parametrize(
    ("treat", "current", "expected"),
    [
        ("missing", "OK", "INSUFFICIENT_DATA"),
        ("missing", "ALARM", "INSUFFICIENT_DATA"),
        ("ignore", "ALARM", "ALARM"),
        ("ignore", "OK", "OK"),
        ("ignore", "INSUFFICIENT_DATA", "INSUFFICIENT_DATA"),
        ("breaching", "OK", "ALARM"),
        ("notBreaching", "ALARM", "OK"),
    ],
)
def test_with_no_data_in_the_range_the_state_follows_the_missing_data_treatment(
    treat: str, current: cloudwatch.State, expected: str
) -> None:
    assert evaluate(_rule(2, treat=treat), [], NOW, current).state == expected


def test_when_enough_real_datapoints_exist_missing_periods_are_skipped_whatever_the_treatment() -> None:
    # 2 of 2 with a gap: the two newest real datapoints are evaluated, the gap is not filled
    for treat in ("missing", "ignore", "breaching", "notBreaching"):
        assert evaluate(_rule(2, 2, treat), _points(3, None, 3, None), NOW, "OK").state == "ALARM", treat
        assert evaluate(_rule(2, 2, treat), _points(0, None, 0, None), NOW, "ALARM").state == "OK", treat


def test_too_few_real_datapoints_are_filled_by_breaching_and_not_breaching_only() -> None:
    one_breach = _points(5)  # 1 real datapoint for a 2-of-2 alarm
    assert evaluate(_rule(2, 2, "breaching"), one_breach, NOW, "OK").state == "ALARM"
    assert evaluate(_rule(2, 2, "notBreaching"), one_breach, NOW, "OK").state == "OK"
    assert evaluate(_rule(2, 2, "missing"), one_breach, NOW, "OK").state == "OK"
    assert evaluate(_rule(2, 1, "missing"), one_breach, NOW, "OK").state == "ALARM"
    assert evaluate(_rule(2, 1, "ignore"), one_breach, NOW, "OK").state == "ALARM"


def test_datapoints_past_the_evaluation_range_are_not_used() -> None:
    old = _points(5, None, None, None, None)  # 4 periods back; the range of a 2-period alarm is 4 periods
    assert evaluate(_rule(2, 1, "missing"), old, NOW, "ALARM").state == "INSUFFICIENT_DATA"


@pytest.mark.parametrize(
    ("statistic", "expected"),
    [("Maximum", 4.0), ("Minimum", 1.0), ("Sum", 7.0), ("Average", 7 / 3), ("SampleCount", 3.0), ("p50", 2.0)],
)
def test_a_period_is_summarised_by_the_alarm_statistic(statistic: str, expected: float) -> None:
    points = [Datapoint(NOW - 5, 1.0, v, v, v, (v,)) for v in (1.0, 2.0, 4.0)]
    assert cloudwatch.period_value(statistic, points) == pytest.approx(expected)


# --- under moto: alarms, metrics and the event bus ------------------------------------------------------

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
