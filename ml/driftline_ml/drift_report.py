"""The drift report as one self-contained HTML page: a table of distances beside thresholds and, per feature,
the baseline and current distributions drawn as inline SVG (no scripts, no external assets)."""

from __future__ import annotations

import html
from typing import Any

from driftline_ml.drift import (
    Analysis,
    CategoricalFeature,
    FeatureDrift,
    NumericFeature,
    WindowSummary,
    even_edges,
    unrepresentable_statistics,
)

CHART_WIDTH = 360
CHART_HEIGHT = 120
NUMERIC_BINS = 20
MAX_CATEGORIES = 12
BASELINE_COLOUR = "#8c96a8"
CURRENT_COLOUR = "#e07b39"
STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#1d2330}
table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #d8dce4;padding:.35em .8em;text-align:left}
.drift{color:#b3261e;font-weight:600}.ok{color:#1b7a3a}.muted{color:#5b6474}
.legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:middle}
section{margin:1.5em 0}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def render(
    analysis: Analysis,
    baseline: WindowSummary,
    current: WindowSummary,
    *,
    endpoint: str = "",
    schedule: str = "",
    window: str = "",
) -> str:
    title = f"Drift report{' for ' + endpoint if endpoint else ''}"
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_esc(title)}</title>",
        f"<style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>",
        "<p class='muted'>",
        " · ".join(
            _esc(text)
            for text in (
                f"monitoring schedule {schedule}" if schedule else "",
                f"window {window}" if window else "",
                f"{current.records} capture records, {current.rows} rows analysed, {baseline.rows} baseline rows",
                f"{current.outside_window} capture records outside the window, not analysed"
                if current.outside_window
                else "",
            )
            if text
        ),
        "</p>",
        _verdict(analysis, current),
        _problems(analysis, current),
        _table(analysis),
    ]
    if not analysis.no_data:
        parts.append(
            f"<p class='legend'>Distributions:<span style='background:{BASELINE_COLOUR}'></span>baseline"
            f"<span style='background:{CURRENT_COLOUR}'></span>current window</p>"
        )
        for drift, base, now in zip(analysis.features, baseline.features, current.features):  # noqa: B905
            parts.append(_feature_section(drift, base, now))
    parts.append("</body></html>")
    return "\n".join(parts)


def _verdict(analysis: Analysis, current: WindowSummary) -> str:
    if analysis.no_data:
        return (
            "<p><strong>No data:</strong> the window holds no rows that could be analysed, so nothing is said "
            "about drift. Check that the endpoint received requests and that data capture is on.</p>"
        )
    drifted = analysis.drifted_features
    if drifted:
        names = ", ".join(_esc(n) for n in drifted)
        return f"<p class='drift'>Drift in {len(drifted)} of {len(analysis.features)} features: {names}.</p>"
    return f"<p class='ok'>No drift: every feature is within its threshold ({current.rows} rows).</p>"


def _problems(analysis: Analysis, current: WindowSummary) -> str:
    items = []
    if current.malformed:
        reasons = ", ".join(f"{_esc(r)} ({n})" for r, n in sorted(current.malformed.items()))
        items.append(f"<li>{current.malformed_records} capture records could not be read: {reasons}.</li>")
        items.extend(f"<li class='muted'>{_esc(example)}</li>" for example in current.malformed_examples)
    items.extend(
        f"<li>Not in statistics.json (given as null there): {_esc(text)}.</li>"
        for text in unrepresentable_statistics(current)
    )
    for violation in analysis.violations:
        items.append(
            f"<li><code>{_esc(violation['constraint_check_type'])}</code> "
            f"<strong>{_esc(violation['feature_name'])}</strong>: {_esc(violation['description'])}</li>"
        )
    if not items:
        return "<p class='muted'>No constraint violations and no unreadable records.</p>"
    return "<h2>Violations and unreadable records</h2><ul>" + "".join(items) + "</ul>"


def _table(analysis: Analysis) -> str:
    rows = []
    for drift in analysis.features:
        if drift.distance is None:
            distance, verdict = "&ndash;", "<span class='muted'>no values</span>"
        else:
            distance = f"{drift.distance:.4f}"
            verdict = "<span class='drift'>drift</span>" if drift.drifted else "<span class='ok'>ok</span>"
        margin = f" (minus the Robust margin {drift.margin:.4f})" if drift.margin else ""
        rows.append(
            f"<tr><td><a href='#f-{_esc(drift.name)}'>{_esc(drift.name)}</a></td><td>{_esc(drift.kind)}</td>"
            f"<td>{distance}{_esc(margin)}</td><td>{drift.threshold:g}</td><td>{_esc(drift.method)}</td>"
            f"<td>{drift.baseline_count} / {drift.current_count}</td><td>{verdict}</td></tr>"
        )
    return (
        "<table><tr><th>feature</th><th>type</th><th>distance</th><th>threshold</th><th>method</th>"
        "<th>values (baseline / current)</th><th>verdict</th></tr>" + "".join(rows) + "</table>"
    )


def _feature_section(drift: FeatureDrift, base: Any, now: Any) -> str:
    heading = f"<h3 id='f-{_esc(drift.name)}'>{_esc(drift.name)}</h3>"
    if not base.present or not now.present:
        return f"<section>{heading}<p class='muted'>No values on one side.</p></section>"
    if isinstance(base, NumericFeature):
        labels, base_share, now_share = _numeric_shares(base, now)
    else:
        labels, base_share, now_share = _categorical_shares(base, now)
    return f"<section>{heading}{_bars(labels, base_share, now_share)}</section>"


def _numeric_shares(base: NumericFeature, now: NumericFeature) -> tuple[list[str], list[float], list[float]]:
    low, high = min(base.minimum, now.minimum), max(base.maximum, now.maximum)
    if high <= low:
        return [f"{low:g}"], [1.0], [1.0]
    edges = even_edges(low, high, NUMERIC_BINS)
    inner = edges[1:-1].tolist()
    base_share = [float(v) for v in base.sketch.get_pmf(inner)]
    now_share = [float(v) for v in now.sketch.get_pmf(inner)]
    labels = [f"{edges[i]:.4g} to {edges[i + 1]:.4g}" for i in range(NUMERIC_BINS)]
    return labels, base_share, now_share


def _categorical_shares(
    base: CategoricalFeature, now: CategoricalFeature
) -> tuple[list[str], list[float], list[float]]:
    n_base, n_now = base.present, now.present
    values = sorted(
        set(base.counts) | set(now.counts),
        key=lambda v: -max(base.counts.get(v, 0) / n_base, now.counts.get(v, 0) / n_now),
    )[:MAX_CATEGORIES]
    return (
        values,
        [base.counts.get(v, 0) / n_base for v in values],
        [now.counts.get(v, 0) / n_now for v in values],
    )


def _bars(labels: list[str], base_share: list[float], now_share: list[float]) -> str:
    """Grouped bars, baseline beside current, each bar's share as its tooltip."""
    top = max([*base_share, *now_share, 1e-12])
    slot = CHART_WIDTH / len(labels)
    bar = max(slot / 2 - 1, 1)
    shapes = []
    for i, label in enumerate(labels):
        for j, (share, colour, side) in enumerate(
            ((base_share[i], BASELINE_COLOUR, "baseline"), (now_share[i], CURRENT_COLOUR, "current"))
        ):
            height = share / top * (CHART_HEIGHT - 4)
            x = i * slot + j * bar
            shapes.append(
                f"<rect x='{x:.1f}' y='{CHART_HEIGHT - height:.1f}' width='{bar:.1f}' height='{height:.1f}' "
                f"fill='{colour}'><title>{_esc(label)}: {side} {share:.1%}</title></rect>"
            )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{CHART_WIDTH}' height='{CHART_HEIGHT + 16}' "
        f"role='img' aria-label='baseline and current distribution'>"
        f"<line x1='0' y1='{CHART_HEIGHT}' x2='{CHART_WIDTH}' y2='{CHART_HEIGHT}' stroke='#5b6474'/>"
        + "".join(shapes)
        + f"<text x='0' y='{CHART_HEIGHT + 13}' font-size='10'>{_esc(labels[0])}</text>"
        + f"<text x='{CHART_WIDTH}' y='{CHART_HEIGHT + 13}' font-size='10' text-anchor='end'>"
        f"{_esc(labels[-1])}</text></svg>"
    )
