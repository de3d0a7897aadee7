"""CloudWatch: metric alarms evaluate the metrics put to them and emit "CloudWatch Alarm State Change".

moto stores alarms and metric data but never evaluates an alarm, and it starts every alarm in ``OK``.
Here an alarm on one metric is evaluated as CloudWatch's user guide describes ("Evaluating an alarm",
"Configuring how CloudWatch alarms treat missing data"):

- The metric's datapoints (exactly the alarm's namespace, name and dimensions) are grouped into periods
  aligned to the epoch; each period's value is the alarm's statistic over its datapoints.
- The evaluation range reaches back further than ``EvaluationPeriods``: when enough periods in it hold real
  datapoints, the most recent ``EvaluationPeriods`` of those are evaluated and missing periods do not count.
  Only when fewer real periods exist is the rest filled according to ``TreatMissingData``: ``breaching``
  and ``notBreaching`` fill, ``missing`` and ``ignore`` do not. AWS documents only that the range depends
  on the period and resolution; local mode looks back ``RANGE_FACTOR`` times the evaluation periods.
- ``DatapointsToAlarm`` (M out of N): ALARM when at least M evaluated periods breach, OK otherwise.
- With no datapoint in the whole range: ``missing`` gives INSUFFICIENT_DATA, ``ignore`` keeps the state,
  ``breaching`` gives ALARM and ``notBreaching`` OK.

A new alarm starts in INSUFFICIENT_DATA, as on AWS; updating an alarm keeps its state. Alarms are evaluated
whenever metric data is put and on a timer (so periods that end without data count as missing), and every
state change (``SetAlarmState`` included) is sent to EventBridge with the shape CloudWatch documents.
Local periods are scaled (``LocalSettings.alarm_period_scale``), as scheduled rules are: an alarm with a
one-hour period evaluates one-minute periods locally.

Alarms on metric math are evaluated too, for the expressions that are arithmetic (``+ - * /``, parentheses,
numbers and the ids of the alarm's metric queries): each metric query's periods are computed as above, and
the expression has a value in a period where every query it names has one; a division by zero gives that
period no value (it counts as missing). Metrics Insights queries and metric math functions are refused
with a ValidationError when the alarm is put, rather than stored and never evaluated.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, cast

from moto.cloudwatch.exceptions import ValidationError
from moto.cloudwatch.models import (
    Alarm,
    CloudWatchBackend,
    MetricAggregatedDatum,
    MetricDataQuery,
    MetricDatum,
    cloudwatch_backends,
)
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.events.models import events_backends

from driftline.local import seams

State = Literal["OK", "ALARM", "INSUFFICIENT_DATA"]
RANGE_FACTOR = 2
"""How many times ``EvaluationPeriods`` local mode looks back for real datapoints."""
EVENT_DETAIL_TYPE = "CloudWatch Alarm State Change"
EXPRESSION = "expression"
"""The statistic of an alarm rule whose value is a metric math expression's (no single statistic)."""
INITIAL_REASON = "Unchecked: Initial alarm creation"

_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    "GreaterThanOrEqualToThreshold": (lambda value, threshold: value >= threshold, "greater than or equal to"),
    "GreaterThanThreshold": (lambda value, threshold: value > threshold, "greater than"),
    "LessThanThreshold": (lambda value, threshold: value < threshold, "less than"),
    "LessThanOrEqualToThreshold": (lambda value, threshold: value <= threshold, "less than or equal to"),
}


@dataclass(frozen=True)
class AlarmRule:
    """What decides a metric alarm's state: its statistic, comparison and missing-data treatment."""

    period: float
    """Seconds, already scaled for local mode."""
    evaluation_periods: int
    datapoints_to_alarm: int
    statistic: str
    comparison_operator: str
    threshold: float
    treat_missing_data: str = "missing"


@dataclass(frozen=True)
class Datapoint:
    """One value put with PutMetricData (``Value``/``Values``) or a statistic set (``StatisticValues``)."""

    timestamp: float
    sample_count: float
    total: float
    minimum: float
    maximum: float
    values: tuple[float, ...] = ()


@dataclass(frozen=True)
class Evaluation:
    state: State
    reason: str
    reason_data: dict[str, Any] = field(default_factory=dict)


def period_value(statistic: str, points: Sequence[Datapoint]) -> float:
    """The alarm's statistic over one period's datapoints."""
    count = sum(p.sample_count for p in points)
    if statistic == "Maximum":
        return max(p.maximum for p in points)
    if statistic == "Minimum":
        return min(p.minimum for p in points)
    if statistic == "Sum":
        return sum(p.total for p in points)
    if statistic == "SampleCount":
        return count
    if statistic == "Average":
        return sum(p.total for p in points) / count if count else 0.0
    if statistic.startswith("p"):
        values = sorted(v for p in points for v in (p.values or (p.maximum,)))
        rank = max(1, math.ceil(float(statistic[1:]) / 100 * len(values)))
        return values[rank - 1]
    raise ValueError(f"statistic {statistic!r} is not one CloudWatch alarms evaluate")


@dataclass(frozen=True)
class PeriodValue:
    """One period's value of what an alarm watches, and how many samples it came from."""

    value: float
    sample_count: float


def period_values(statistic: str, points: Iterable[Datapoint], period: float) -> dict[int, PeriodValue]:
    """A metric's value in each period (numbered from the epoch) that holds a datapoint."""
    by_period: dict[int, list[Datapoint]] = {}
    for point in points:
        by_period.setdefault(math.floor(point.timestamp / period), []).append(point)
    return {
        index: PeriodValue(float(period_value(statistic, grouped)), _count(grouped))
        for index, grouped in by_period.items()
    }


def evaluate(rule: AlarmRule, points: Iterable[Datapoint], now: float, current: State) -> Evaluation:
    """The state CloudWatch would give an alarm at ``now`` (epoch seconds) from its metric's datapoints."""
    return evaluate_periods(rule, period_values(rule.statistic, points, rule.period), now, current)


def evaluate_periods(rule: AlarmRule, series: Mapping[int, PeriodValue], now: float, current: State) -> Evaluation:
    """The state CloudWatch would give an alarm at ``now`` from the value of each period that has one."""
    newest = math.floor(now / rule.period)
    oldest = newest - rule.evaluation_periods * RANGE_FACTOR + 1
    in_range = {index: value for index, value in series.items() if oldest <= index <= newest}
    real = sorted(in_range, reverse=True)[: rule.evaluation_periods]
    values = [(index, in_range[index].value) for index in real]
    compare, words = _COMPARISONS[rule.comparison_operator]
    treatment = rule.treat_missing_data or "missing"
    missing = rule.evaluation_periods - len(values)
    data: dict[str, Any] = {
        "version": "1.0",
        "queryDate": event_time(now),
        **({"statistic": rule.statistic} if rule.statistic != EXPRESSION else {}),
        "period": int(rule.period),
        "recentDatapoints": [value for _, value in reversed(values)],
        "threshold": rule.threshold,
        "evaluatedDatapoints": [
            {"timestamp": event_time(index * rule.period), "sampleCount": in_range[index].sample_count, "value": value}
            for index, value in values
        ],
    }
    if not values:
        data["startDate"] = event_time(oldest * rule.period)
        unknown = f"{rule.evaluation_periods} datapoint{'s were' if rule.evaluation_periods > 1 else ' was'} unknown"
        if treatment == "ignore":
            return Evaluation(current, f"Insufficient Data: {unknown}; missing data ignored.", data)
        if treatment in ("breaching", "notBreaching"):
            state: State = "ALARM" if treatment == "breaching" else "OK"
            kind = "Breaching" if treatment == "breaching" else "NonBreaching"
            return Evaluation(
                state,
                f"Threshold Crossed: no datapoints were received for {rule.evaluation_periods} periods and "
                f"{rule.evaluation_periods} missing datapoints were treated as [{kind}].",
                data,
            )
        return Evaluation("INSUFFICIENT_DATA", f"Insufficient Data: {unknown}.", data)
    data["startDate"] = event_time(values[-1][0] * rule.period)
    breaching = sum(1 for _, value in values if compare(value, rule.threshold))
    filled = missing if treatment in ("breaching", "notBreaching") else 0
    if treatment == "breaching":
        breaching += filled
    state = "ALARM" if breaching >= rule.datapoints_to_alarm else "OK"
    shown = ", ".join(f"{value} ({_reason_time(index * rule.period)})" for index, value in values)
    verb = "were" if len(values) > 1 else "was"
    negation = "" if state == "ALARM" else "not "
    counted = breaching if state == "ALARM" else len(values) + filled - breaching
    filled_text = (
        f" and {filled} missing datapoint{'s were' if filled > 1 else ' was'} treated as "
        f"[{'Breaching' if treatment == 'breaching' else 'NonBreaching'}]"
        if filled
        else ""
    )
    transition = f"{current} -> {state}" if current != state else state
    needed = rule.datapoints_to_alarm if state == "ALARM" else 1
    reason = (
        f"Threshold Crossed: {counted} out of the last {len(values) + filled} datapoints [{shown}] {verb} "
        f"{negation}{words} the threshold ({rule.threshold}){filled_text} (minimum {needed} datapoint"
        f"{'s' if needed > 1 else ''} for {transition} transition)."
    )
    return Evaluation(state, reason, data)


def _count(points: Sequence[Datapoint]) -> float:
    return float(sum(p.sample_count for p in points))


def event_time(epoch: float) -> str:
    """CloudWatch's timestamps in alarm events: ``2019-10-02T17:04:40.989+0000``."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _reason_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%d/%m/%y %H:%M:%S")


# ---------------------------------------------------------------------------------------------------------
# Metric math: the arithmetic expressions local mode evaluates


class UnsupportedExpression(ValueError):
    """A metric math expression that is not plain arithmetic over the alarm's metric queries."""


_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d*)?|\.\d+)|(?P<id>[a-z][A-Za-z0-9_]*)|(?P<op>[-+*/()]))")

Node = float | str | tuple[str, "Node", "Node"] | tuple[str, "Node"]


@dataclass(frozen=True)
class ArithmeticExpression:
    """A parsed metric math expression: numbers, query ids, ``+ - * /``, unary minus and parentheses."""

    text: str
    tree: Node
    ids: frozenset[str]

    def value(self, values: Mapping[str, float]) -> float | None:
        """The expression's value for one period; None where it divides by zero."""
        return _value(self.tree, values)


def parse_expression(text: str) -> ArithmeticExpression:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise UnsupportedExpression(
                f"local mode evaluates metric math made of numbers, query ids, + - * / and parentheses; "
                f"{text!r} has {text[position:].strip()[:20]!r}"
            )
        kind = str(match.lastgroup)
        tokens.append((kind, match.group(kind)))
        position = match.end()
    parser = _Parser(text, tokens)
    tree = parser.sum()
    if parser.index != len(tokens):
        raise UnsupportedExpression(f"metric math {text!r} has {tokens[parser.index][1]!r} where it should end")
    return ArithmeticExpression(text, tree, frozenset(_ids(tree)))


class _Parser:
    def __init__(self, text: str, tokens: list[tuple[str, str]]) -> None:
        self.text, self.tokens, self.index = text, tokens, 0

    def _peek(self) -> str | None:
        return self.tokens[self.index][1] if self.index < len(self.tokens) else None

    def sum(self) -> Node:
        node = self.product()
        while self._peek() in ("+", "-"):
            operator = self.tokens[self.index][1]
            self.index += 1
            node = (operator, node, self.product())
        return node

    def product(self) -> Node:
        node = self.factor()
        while self._peek() in ("*", "/"):
            operator = self.tokens[self.index][1]
            self.index += 1
            node = (operator, node, self.factor())
        return node

    def factor(self) -> Node:
        if self.index >= len(self.tokens):
            raise UnsupportedExpression(f"metric math {self.text!r} ends where a value should follow")
        kind, token = self.tokens[self.index]
        self.index += 1
        if token == "-":
            return ("neg", self.factor())
        if token == "(":
            node = self.sum()
            if self._peek() != ")":
                raise UnsupportedExpression(f"metric math {self.text!r} has an unclosed parenthesis")
            self.index += 1
            return node
        if kind == "number":
            return float(token)
        if kind == "id":
            return token
        raise UnsupportedExpression(f"metric math {self.text!r} has {token!r} where a value should be")


def _ids(node: Node) -> set[str]:
    if isinstance(node, str):
        return {node}
    if isinstance(node, tuple):
        return set().union(*(_ids(child) for child in node[1:]))
    return set()


def _value(node: Node, values: Mapping[str, float]) -> float | None:
    if isinstance(node, float):
        return node
    if isinstance(node, str):
        return values[node]
    if node[0] == "neg":
        inner = _value(node[1], values)
        return None if inner is None else -inner
    left, right = _value(node[1], values), _value(node[2], values)  # type: ignore[misc]
    if left is None or right is None:
        return None
    if node[0] == "+":
        return left + right
    if node[0] == "-":
        return left - right
    if node[0] == "*":
        return left * right
    return None if right == 0 else left / right


def expression_periods(
    expression: ArithmeticExpression, series: Mapping[str, Mapping[int, PeriodValue]]
) -> dict[int, PeriodValue]:
    """The expression's value in each period where every query it names has a value (and it divides by no zero)."""
    named = [series[identifier] for identifier in sorted(expression.ids)]
    indexes = set.intersection(*(set(values) for values in named)) if named else set()
    result: dict[int, PeriodValue] = {}
    for index in indexes:
        value = expression.value({identifier: series[identifier][index].value for identifier in expression.ids})
        if value is not None:
            count = max((series[identifier][index].sample_count for identifier in expression.ids), default=0.0)
            result[index] = PeriodValue(value, count)
    return result


# ---------------------------------------------------------------------------------------------------------
# moto: the alarms and metrics it stores


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _datapoints(
    backend: CloudWatchBackend, namespace: str, name: str, dimensions: Iterable[Any], unit: str | None
) -> list[Datapoint]:
    wanted = sorted((d.name, d.value) for d in dimensions)
    found = []
    for datum in backend.metric_data:
        if datum.namespace != namespace or datum.name != name:
            continue
        if sorted((d.name, d.value) for d in datum.dimensions) != wanted:
            continue
        if unit and datum.unit and datum.unit != unit:
            continue
        moment = _epoch(datum.timestamp)
        if isinstance(datum, MetricAggregatedDatum):
            found.append(Datapoint(moment, datum.sample_count, datum.sum, datum.min, datum.max))
        elif isinstance(datum, MetricDatum):
            value = float(datum.value)
            found.append(Datapoint(moment, 1.0, value, value, value, (value,)))
    return found


def _returns_data(query: MetricDataQuery) -> bool:
    return str(query.return_data).lower() != "false"


def returned_expression(alarm: Alarm) -> tuple[MetricDataQuery, ArithmeticExpression] | None:
    """A metric math alarm's expression query (the one whose data it returns) and its parsed expression."""
    returned = [query for query in alarm.metric_data_queries or [] if _returns_data(query)]
    if len(returned) != 1 or not returned[0].expression:
        return None
    return returned[0], parse_expression(str(returned[0].expression))


def refusal(alarm: Alarm) -> str | None:
    """Why local mode cannot evaluate a metric math alarm (None when it can)."""
    queries = alarm.metric_data_queries or []
    if not queries:
        return None
    returned = [query for query in queries if _returns_data(query)]
    if len(returned) != 1:
        return f"Metrics must return exactly one time series (ReturnData true); {len(returned)} do"
    try:
        found = returned_expression(alarm)
    except UnsupportedExpression as error:
        return str(error)
    if found is None:
        return None  # one metric returned as it is
    known = {str(query.id) for query in queries if query.metric_stat is not None}
    unknown = sorted(found[1].ids - known)
    if unknown:
        return f"metric math {found[1].text!r} names {', '.join(unknown)}, which no metric query of the alarm is"
    return None


def rule_for(alarm: Alarm, period_scale: float) -> AlarmRule | None:
    """The evaluation rule of an alarm on one metric or on arithmetic metric math; None for other alarms."""
    if alarm.rule or refusal(alarm):
        return None
    periods = int(alarm.evaluation_periods)
    if alarm.metric_data_queries:
        stats = [query.metric_stat for query in alarm.metric_data_queries if query.metric_stat is not None]
        if not stats:
            return None
        found = returned_expression(alarm)
        period, statistic = float(stats[0].period), (EXPRESSION if found else str(stats[0].stat))
    elif alarm.metric_name:
        period, statistic = float(alarm.period), str(alarm.extended_statistic or alarm.statistic)
    else:
        return None
    return AlarmRule(
        period=period * period_scale,
        evaluation_periods=periods,
        datapoints_to_alarm=int(alarm.datapoints_to_alarm or periods),
        statistic=statistic,
        comparison_operator=alarm.comparison_operator,
        threshold=float(alarm.threshold),
        treat_missing_data=alarm.treat_missing_data or "missing",
    )


def alarm_periods(backend: CloudWatchBackend, alarm: Alarm, rule: AlarmRule) -> dict[int, PeriodValue]:
    """What the alarm watches, per period: its metric's statistic, or its expression over its metric queries."""
    if not alarm.metric_data_queries:
        points = _datapoints(backend, alarm.namespace, alarm.metric_name, alarm.dimensions, alarm.unit)
        return period_values(rule.statistic, points, rule.period)
    series: dict[str, dict[int, PeriodValue]] = {}
    for query in alarm.metric_data_queries:
        stat = query.metric_stat
        if stat is None:
            continue
        metric = stat.metric
        points = _datapoints(backend, metric.namespace, metric.metric_name, metric.dimensions, stat.unit)
        series[str(query.id)] = period_values(str(stat.stat), points, rule.period)
    found = returned_expression(alarm)
    if found is None:
        return next(iter(series.values()), {})
    return expression_periods(found[1], series)


def watched_metrics(alarm: Alarm) -> set[tuple[str, str]]:
    """The (namespace, metric name) pairs an alarm's value is made of."""
    if alarm.metric_name:
        return {(str(alarm.namespace), str(alarm.metric_name))}
    return {
        (str(query.metric_stat.metric.namespace), str(query.metric_stat.metric.metric_name))
        for query in alarm.metric_data_queries or []
        if query.metric_stat is not None
    }


def state_change_event_detail(
    alarm: Alarm, previous: dict[str, Any], current: dict[str, Any], period_scale: float = 1.0
) -> dict[str, Any]:
    """The ``detail`` of "CloudWatch Alarm State Change" for a single-metric alarm, as CloudWatch documents it."""
    configuration: dict[str, Any] = {"metrics": []}
    if alarm.description:
        configuration["description"] = alarm.description
    if alarm.metric_name:
        stat: dict[str, Any] = {
            "metric": {
                "dimensions": {d.name: d.value for d in alarm.dimensions},
                "name": alarm.metric_name,
                "namespace": alarm.namespace,
            },
            "period": int(alarm.period),
            "stat": alarm.extended_statistic or alarm.statistic,
        }
        if alarm.unit:
            stat["unit"] = alarm.unit
        configuration["metrics"].append(
            {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, alarm.alarm_arn)), "metricStat": stat, "returnData": True}
        )
    for query in alarm.metric_data_queries or []:
        entry: dict[str, Any] = {"id": query.id}
        if query.expression:
            entry["expression"] = query.expression
        if query.label:
            entry["label"] = query.label
        if query.metric_stat is not None:
            metric = query.metric_stat.metric
            entry["metricStat"] = {
                "metric": {
                    "dimensions": {d.name: d.value for d in metric.dimensions},
                    "name": metric.metric_name,
                    "namespace": metric.namespace,
                },
                "period": int(query.metric_stat.period),
                "stat": query.metric_stat.stat,
            }
        entry["returnData"] = _returns_data(query)
        configuration["metrics"].append(entry)
    return {"alarmName": alarm.name, "configuration": configuration, "previousState": previous, "state": current}


def _state(value: str, reason: str, reason_data: str | None, moment: datetime) -> dict[str, Any]:
    state: dict[str, Any] = {"reason": reason}
    if reason_data and reason_data != "{}":
        state["reasonData"] = reason_data
    state["timestamp"] = event_time(_epoch(moment))
    state["value"] = value
    return state


class AlarmEvaluator:
    """Evaluates the metric alarms moto holds and moves them between states as CloudWatch does."""

    def __init__(self, period_scale: float = 1.0, *, tick: float = 1.0, clock: Callable[[], float] = time.time):
        self.period_scale = period_scale
        self.tick = tick
        self.clock = clock
        self._lock = threading.RLock()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def evaluate_alarm(self, backend: CloudWatchBackend, alarm: Alarm) -> None:
        rule = rule_for(alarm, self.period_scale)
        if rule is None:
            return
        with self._lock:
            current = cast(State, alarm.state_value)
            result = evaluate_periods(rule, alarm_periods(backend, alarm, rule), self.clock(), current)
            if result.state != alarm.state_value:
                alarm.update_state(result.reason, json.dumps(result.reason_data), result.state)

    def evaluate_metric(self, backend: CloudWatchBackend, namespace: str, names: set[str]) -> None:
        for alarm in list(backend.alarms.values()):
            if watched_metrics(alarm) & {(namespace, name) for name in names}:
                self.evaluate_alarm(backend, alarm)

    def evaluate_all(self) -> None:
        for regions in list(cloudwatch_backends.values()):
            for backend in list(regions.values()):
                for alarm in list(backend.alarms.values()):
                    self.evaluate_alarm(backend, alarm)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cloudwatch-alarms", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self.tick):
            try:
                self.evaluate_all()
            except Exception:  # the timer must survive one bad alarm, as CloudWatch does
                continue


_active: list[AlarmEvaluator] = []


def install(evaluator: AlarmEvaluator, *, start_timer: bool = False) -> None:
    """Evaluate alarms with ``evaluator`` and send their state changes to EventBridge; with ``start_timer``
    also every ``evaluator.tick`` seconds, so that periods ending without data count as missing."""
    while _active:
        _active.pop().stop()
    _active.append(evaluator)
    if seams.claim("cloudwatch"):
        _patch()
    if start_timer:
        evaluator.start()


def uninstall() -> None:
    while _active:
        _active.pop().stop()
    seams.undo(
        "cloudwatch",
        [(CloudWatchBackend, "put_metric_data"), (CloudWatchBackend, "put_metric_alarm"), (Alarm, "update_state")],
    )


def _patch() -> None:
    put_metric_data = CloudWatchBackend.put_metric_data
    put_metric_alarm = CloudWatchBackend.put_metric_alarm
    update_state = Alarm.update_state

    def put_metric_data_and_evaluate(self: CloudWatchBackend, namespace: str, metric_data: list[Any]) -> None:
        put_metric_data(self, namespace, metric_data)
        if _active:
            _active[-1].evaluate_metric(self, namespace, {str(m["MetricName"]) for m in metric_data})

    def put_metric_alarm_keeping_state(self: CloudWatchBackend, name: str, *args: Any, **kwargs: Any) -> Alarm:
        existing = self.alarms.get(name)
        alarm = put_metric_alarm(self, name, *args, **kwargs)
        refused = refusal(alarm)
        if refused:
            if existing is None:
                del self.alarms[name]
            else:
                self.alarms[name] = existing
            raise ValidationError(f"Alarm {name}: {refused}")
        if existing is not None:  # an update keeps the state (PutMetricAlarm overwrites only the configuration)
            alarm.state_value, alarm.state_reason = existing.state_value, existing.state_reason
            alarm.state_reason_data, alarm.state_updated_timestamp = (
                existing.state_reason_data,
                existing.state_updated_timestamp,
            )
            alarm.history = existing.history
            setattr(alarm, STATE_UPDATES, _state_updates(existing))
        else:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_reason = INITIAL_REASON
        if _active:
            _active[-1].evaluate_alarm(self, alarm)
        return alarm

    def update_state_and_emit(self: Alarm, reason: str, reason_data: str, state_value: str) -> None:
        previous = _state(self.state_value, self.state_reason, self.state_reason_data, self.state_updated_timestamp)
        changed = state_value != self.state_value
        update_state(self, reason, reason_data, state_value)
        if changed:
            current = _state(self.state_value, self.state_reason, self.state_reason_data, self.state_updated_timestamp)
            _state_updates(self).append(state_update_item(self, previous, current))
            _emit(self, state_change_event_detail(self, previous, current))

    seams.add(CloudWatchResponse, "describe_alarm_history", describe_alarm_history)
    seams.replace(CloudWatchBackend, "put_metric_data", put_metric_data_and_evaluate)
    seams.replace(CloudWatchBackend, "put_metric_alarm", put_metric_alarm_keeping_state)
    seams.replace(Alarm, "update_state", update_state_and_emit)


STATE_UPDATES = "driftline_state_updates"
"""The alarm's state changes as DescribeAlarmHistory answers them (``StateUpdate`` items), kept on the alarm."""


def _state_updates(alarm: Alarm) -> list[dict[str, Any]]:
    if not hasattr(alarm, STATE_UPDATES):
        setattr(alarm, STATE_UPDATES, [])
    return cast(list[dict[str, Any]], getattr(alarm, STATE_UPDATES))


def state_update_item(alarm: Alarm, previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """An ``AlarmHistoryItem`` of a state change, as CloudWatch writes one."""

    def state(event_state: dict[str, Any]) -> dict[str, Any]:
        shown = {"stateValue": event_state["value"], "stateReason": event_state["reason"]}
        if "reasonData" in event_state:
            try:
                shown["stateReasonData"] = json.loads(event_state["reasonData"])
            except ValueError:
                shown["stateReasonData"] = event_state["reasonData"]
        return shown

    return {
        "AlarmName": alarm.name,
        "AlarmType": "MetricAlarm",
        "Timestamp": alarm.state_updated_timestamp,
        "HistoryItemType": "StateUpdate",
        "HistorySummary": f"Alarm updated from {previous['value']} to {current['value']}",
        "HistoryData": json.dumps({"version": "1.0", "oldState": state(previous), "newState": state(current)}),
    }


def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarmHistory (moto has none) for the state changes local mode's alarms made: by alarm name and type,
    between the dates, newest first unless ``ScanBy`` is ``TimestampAscending``, at most ``MaxRecords`` (100)."""
    backend = self.cloudwatch_backend
    name = self._get_param("AlarmName")
    kind = self._get_param("HistoryItemType")
    start, end = self._get_param("StartDate"), self._get_param("EndDate")
    items = [
        item
        for alarm in backend.alarms.values()
        if not name or alarm.name == name
        for item in _state_updates(alarm)
        if (not kind or kind == item["HistoryItemType"])
        and (start is None or item["Timestamp"] >= _as_datetime(start))
        and (end is None or item["Timestamp"] <= _as_datetime(end))
    ]
    items.sort(key=lambda item: item["Timestamp"], reverse=self._get_param("ScanBy") != "TimestampAscending")
    limit = int(self._get_param("MaxRecords") or 100)
    return ActionResult({"AlarmHistoryItems": items[:limit]})


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _emit(alarm: Alarm, detail: dict[str, Any]) -> None:
    """CloudWatch sends every alarm state change to the default event bus of the alarm's account and Region."""
    account = alarm.alarm_arn.split(":")[4]
    events_backends[account][alarm.region_name].put_events(
        [
            {
                "Source": "aws.cloudwatch",
                "DetailType": EVENT_DETAIL_TYPE,
                "Detail": json.dumps(detail),
                "Resources": [alarm.alarm_arn],
            }
        ]
    )
