"""The A/B trial report as one self-contained HTML page, drawn from ``trial.json``: the decision and why, each
variant's figures and interval (an inline SVG), the test, and what could not be read. No scripts, no external
assets; every value from the inputs is escaped."""

from __future__ import annotations

import html
import math
from typing import Any

from driftline_ml.drift_report import STYLE as DRIFT_STYLE

CHART_WIDTH = 420
ROW_HEIGHT = 34
CHAMPION_COLOUR = "#8c96a8"
CHALLENGER_COLOUR = "#e07b39"
STYLE = (
    DRIFT_STYLE
    + """
.decision{padding:.8em 1em;border-radius:6px;margin:1em 0;border:1px solid #d8dce4}
.decision.challenger{background:#e8f5ec;border-color:#1b7a3a}.decision.champion{background:#eef1f6}
.decision.not_enough_evidence{background:#fff6e0;border-color:#b7791f}
td.num{text-align:right;font-variant-numeric:tabular-nums}
"""
)
DECISION_HEADINGS = {
    "challenger": "Promote the challenger",
    "champion": "The champion keeps serving",
    "not_enough_evidence": "Not enough evidence: nothing decided",
}
MODE_WORDS = {
    "split": "split trial: each variant answered its own share of the requests",
    "shadow": "shadow trial: the challenger answered copies of the champion's requests, compared in pairs",
}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, str):  # "Infinity", "NaN": JSON's stand-ins
        return _esc(value)
    return _esc(f"{value:.{digits}g}")


def _count(value: int) -> str:
    return f"{value:,}"


def render(document: dict[str, Any]) -> str:
    endpoint = document.get("endpoint_name") or ""
    trial = document.get("trial_name") or ""
    title = "A/B trial" + (f" on {endpoint}" if endpoint else "") + (f": {trial}" if trial else "")
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_esc(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>",
        f"<p class='muted'>{_esc(_context(document))}</p>",
        _decision(document),
        _variants(document),
        _chart(document),
        _test(document),
        _problems(document),
        "</body></html>",
    ]
    return "\n".join(parts)


def _context(document: dict[str, Any]) -> str:
    window = document["window"]
    start, end = window.get("start"), window.get("end")
    span = (
        f"requests from {start or 'the first captured'} to {end or 'the last captured'}"
        if start or end
        else "every captured request"
    )
    direction = "higher is better" if document["higher_is_better"] else "lower is better"
    items = [
        MODE_WORDS.get(document["mode"], document["mode"]),
        f"metric {document['metric']} ({direction}) for {document['problem_type'].replace('_', ' ')}",
        span,
        f"significance level {document['alpha']:g}",
        f"at least {document['min_labelled_rows']:,} labelled rows needed",
        f"analysed {document.get('analysed_at', '')}",
    ]
    if document.get("positive_class") is not None:
        items.insert(2, f"positive class {document['positive_class']}")
    return " · ".join(items)


def _decision(document: dict[str, Any]) -> str:
    decision = document["decision"]
    return (
        f"<div class='decision {_esc(decision)}'><h2>{_esc(DECISION_HEADINGS.get(decision, decision))}</h2>"
        f"<p>{_esc(document['reason'])}</p></div>"
    )


def _variants(document: dict[str, Any]) -> str:
    metric = _esc(document["metric"])
    rows = []
    for role in ("champion", "challenger"):
        side = document[role]
        interval = side["metric_interval"]
        shown = (
            "&ndash;"
            if interval is None
            else f"{_number(interval['low'])} to {_number(interval['high'])} ({interval['level']:.0%}, "
            f"{_esc(interval['method'].replace('_', ' '))})"
        )
        rows.append(
            f"<tr><td>{role}</td><td><strong>{_esc(side['variant'])}</strong></td>"
            f"<td class='num'>{_count(side['requests'])}</td><td class='num'>{_count(side['labelled_rows'])}</td>"
            f"<td class='num'>{_count(side['compared_rows'])}</td><td class='num'>{_number(side['metric_value'])}</td>"
            f"<td>{shown}</td><td class='num'>{_count(side['unreadable_records'])}</td></tr>"
        )
    return (
        "<h2>Variants</h2><table><tr><th>role</th><th>variant</th><th>requests</th><th>labelled rows</th>"
        f"<th>rows compared</th><th>{metric}</th><th>interval</th><th>records not read</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _chart(document: dict[str, Any]) -> str:
    """Each variant's value as a dot on its interval, on one shared axis."""
    sides = [(role, document[role]) for role in ("champion", "challenger")]
    points: list[float] = []
    for _, side in sides:
        interval: dict[str, Any] = side["metric_interval"] or {}
        values: list[Any] = [side["metric_value"], interval.get("low"), interval.get("high")]
        points += [float(v) for v in values if _finite(v)]
    if not points:
        return ""
    low, high = min(points), max(points)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    margin = (high - low) * 0.08
    low, high = low - margin, high + margin
    left, right = 110, CHART_WIDTH - 20

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (right - left)

    shapes = []
    for row, ((role, side), colour) in enumerate(zip(sides, (CHAMPION_COLOUR, CHALLENGER_COLOUR))):  # noqa: B905
        y = 20 + row * ROW_HEIGHT
        shapes.append(f"<text x='0' y='{y + 4}' font-size='12'>{_esc(role)}</text>")
        interval = side["metric_interval"] or {}
        if _finite(interval.get("low")) and _finite(interval.get("high")):
            shapes.append(
                f"<line x1='{x(interval['low']):.1f}' y1='{y}' x2='{x(interval['high']):.1f}' y2='{y}' "
                f"stroke='{colour}' stroke-width='3'/>"
            )
        if _finite(side["metric_value"]):
            shapes.append(
                f"<circle cx='{x(side['metric_value']):.1f}' cy='{y}' r='5' fill='{colour}'>"
                f"<title>{_esc(side['variant'])}: {_number(side['metric_value'])}</title></circle>"
            )
    axis_y = 20 + len(sides) * ROW_HEIGHT - 10
    height = axis_y + 18
    return (
        f"<svg width='{CHART_WIDTH}' height='{height}' role='img' "
        f"aria-label='{_esc(document['metric'])} of each variant with its interval'>"
        + "".join(shapes)
        + f"<line x1='{left}' y1='{axis_y}' x2='{right}' y2='{axis_y}' stroke='#5b6474'/>"
        + f"<text x='{left}' y='{axis_y + 14}' font-size='10'>{_number(low)}</text>"
        + f"<text x='{right}' y='{axis_y + 14}' font-size='10' text-anchor='end'>{_number(high)}</text></svg>"
    )


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _test(document: dict[str, Any]) -> str:
    test = document["test"]
    if test is None:
        return (
            "<h2>Test</h2><p class='muted'>No test was run: the trial does not hold the rows it needs, so it decides "
            "nothing. Let the trial run longer or label more of its requests, then analyse it again.</p>"
        )
    interval = test["difference_interval"]
    interval_text = (
        ""
        if interval is None
        else f", {interval['level']:.0%} interval {_number(interval['low'])} to {_number(interval['high'])}"
    )
    direction = "the challenger's way" if test["challenger_better"] else "the champion's way"
    verdict = (
        f"below the significance level {document['alpha']:g}: unlikely to be chance alone"
        if test["significant"]
        else f"not below the significance level {document['alpha']:g}: the difference may be chance"
    )
    details = "".join(
        f"<tr><td>{_esc(name.replace('_', ' '))}</td><td class='num'>{_number(value, 6)}</td></tr>"
        if not isinstance(value, str)
        else f"<tr><td>{_esc(name.replace('_', ' '))}</td><td>{_esc(value)}</td></tr>"
        for name, value in sorted(test["details"].items())
    )
    return (
        f"<h2>Test: {_esc(test['label'])}</h2><p>{_esc(test['description'])}; two-sided.</p>"
        "<table>"
        f"<tr><td>difference (challenger minus champion)</td><td class='num'>{_number(test['difference'])}"
        f"{interval_text} ({direction})</td></tr>"
        f"<tr><td>{_esc(test['statistic_name'])}</td><td class='num'>{_number(test['statistic'])}</td></tr>"
        f"<tr><td>p-value</td><td class='num'>{_number(test['p_value'])} ({verdict})</td></tr>"
        f"{details}</table>"
    )


def _problems(document: dict[str, Any]) -> str:
    items = []
    for role in ("champion", "challenger"):
        side = document[role]
        if side["outside_window"]:
            items.append(
                f"<li>{role} {_esc(side['variant'])}: {_count(side['outside_window'])} capture records outside the "
                "trial window, not counted.</li>"
            )
        if side["unreadable_records"]:
            reasons = ", ".join(f"{_esc(r)} ({n:,})" for r, n in sorted(side["unreadable_reasons"].items()))
            items.append(
                f"<li>{role} {_esc(side['variant'])}: {_count(side['unreadable_records'])} capture records not "
                f"read: {reasons}.</li>"
            )
            items.extend(f"<li class='muted'>{_esc(example)}</li>" for example in side["unreadable_examples"])
        if side["unusable_labels"]:
            reasons = ", ".join(f"{_esc(r)} ({n:,})" for r, n in sorted(side["unusable_label_reasons"].items()))
            items.append(
                f"<li>{role} {_esc(side['variant'])}: {_count(side['unusable_labels'])} labels not used: "
                f"{reasons}.</li>"
            )
    labels = document["labels"]
    items.append(
        f"<li>Labels: {_count(labels['labelled_ids'])} labelled ids in {_count(labels['files'])} files; "
        f"{_count(labels['matched_ids'])} match a request of the trial, {_count(labels['unmatched_ids'])} match "
        "none (labels of other requests, or of requests outside the trial window).</li>"
    )
    if labels["repeated_ids"]:
        items.append(
            f"<li>{_count(labels['repeated_ids'])} ids are labelled more than once: the label in the later file "
            "is used.</li>"
        )
    if labels["unreadable_records"]:
        reasons = ", ".join(f"{_esc(r)} ({n:,})" for r, n in sorted(labels["unreadable_reasons"].items()))
        items.append(f"<li>{_count(labels['unreadable_records'])} label records not read: {reasons}.</li>")
        items.extend(f"<li class='muted'>{_esc(example)}</li>" for example in labels["unreadable_examples"])
    if labels["other_files"]:
        names = ", ".join(_esc(name) for name in labels["other_files"])
        items.append(f"<li>Files in the labels input of neither layout, not read: {names}.</li>")
    return "<h2>What was read</h2><ul>" + "".join(items) + "</ul>"
