"""CloudWatch alarms in local mode: states follow CloudWatch's evaluation rules (that changes reach EventBridge is
checked under moto, in tests/integration/local/test_local_cloudwatch_alarms.py)."""

from __future__ import annotations

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


# Metric math ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "values", "expected"),
    [
        ("100 * errors / invocations", {"errors": 3.0, "invocations": 60.0}, 5.0),
        ("(a + b) * -2 - .5", {"a": 1.0, "b": 2.0}, -6.5),
        ("a - b - c", {"a": 10.0, "b": 3.0, "c": 2.0}, 5.0),  # left to right
        ("a / b * 2", {"a": 6.0, "b": 3.0}, 4.0),
        ("errors / invocations", {"errors": 1.0, "invocations": 0.0}, None),  # no value, not an error
    ],
)
def test_arithmetic_metric_math_evaluates_as_written(
    text: str, values: dict[str, float], expected: float | None
) -> None:
    assert cloudwatch.parse_expression(text).value(values) == expected


@pytest.mark.parametrize("text", ["FILL(m1, 0)", "m1 +", "(m1", "m1 ^ 2", "METRICS()", "m1 m2"])
def test_metric_math_beyond_arithmetic_is_refused_rather_than_misread(text: str) -> None:
    with pytest.raises(cloudwatch.UnsupportedExpression):
        cloudwatch.parse_expression(text)


def test_an_expression_has_a_value_only_in_periods_where_every_metric_it_names_has_one() -> None:
    value = cloudwatch.PeriodValue
    series = {
        "errors": {1: value(2.0, 10), 2: value(0.0, 10), 3: value(1.0, 1)},
        "invocations": {1: value(10.0, 10), 2: value(0.0, 0), 4: value(5.0, 5)},
    }
    periods = cloudwatch.expression_periods(cloudwatch.parse_expression("100 * errors / invocations"), series)
    assert {index: found.value for index, found in periods.items()} == {1: 20.0}
