"""Line charts as inline SVG: a series of values over model versions (or windows), with an optional threshold
line. No script and no external reference, so the console's Content-Security-Policy needs nothing for them."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH = 640
HEIGHT = 220
PAD_LEFT = 56
PAD_RIGHT = 16
PAD_TOP = 16
PAD_BOTTOM = 36


def line_chart(
    points: Sequence[tuple[str, float]], *, title: str, threshold: float | None = None, css_class: str = "chart"
) -> str:
    """``points`` are ``(label, value)`` in order, under the chart's title; an empty series draws a note instead of
    axes."""
    if not points:
        return f'<p class="empty">{escape(title)}: nothing to plot yet.</p>'
    values = [value for _, value in points] + ([threshold] if threshold is not None else [])
    smallest, largest = min(values), max(values)
    low, high = smallest, largest
    never_negative = low >= 0  # counts, latencies, distances: the axis never goes below zero for them
    if high == low:
        low, high = (0.0, 1.0) if low == 0 else (low - abs(low) * 0.1, high + abs(high) * 0.1)
    span = high - low
    low, high = low - span * 0.05, high + span * 0.05
    if never_negative:
        low = max(low, 0.0)
    inner_width = WIDTH - PAD_LEFT - PAD_RIGHT
    inner_height = HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(index: int) -> float:
        return PAD_LEFT + (inner_width * index / (len(points) - 1) if len(points) > 1 else inner_width / 2)

    def y(value: float) -> float:
        return PAD_TOP + inner_height * (1 - (value - low) / (high - low))

    parts = [
        f'<p class="chart-title">{escape(title)}</p>',
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{HEIGHT - PAD_BOTTOM}"/>',
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>',
    ]
    for value in sorted({smallest, largest}):
        parts.append(f'<text class="tick" x="{PAD_LEFT - 6}" y="{y(value) + 4:.1f}">{value:.4g}</text>')
    if threshold is not None:
        parts.append(
            f'<line class="threshold" x1="{PAD_LEFT}" y1="{y(threshold):.1f}" x2="{WIDTH - PAD_RIGHT}" '
            f'y2="{y(threshold):.1f}"><title>threshold {threshold:.4g}</title></line>'
        )
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(value):.1f}" for i, (_, value) in enumerate(points))
    parts.append(f'<path class="series" d="{path}"/>')
    step = max(1, len(points) // 10)
    for i, (label, value) in enumerate(points):
        parts.append(
            f'<circle class="point" cx="{x(i):.1f}" cy="{y(value):.1f}" r="3">'
            f"<title>{escape(label)}: {value:.6g}</title></circle>"
        )
        if i % step == 0 or i == len(points) - 1:
            parts.append(f'<text class="label" x="{x(i):.1f}" y="{HEIGHT - PAD_BOTTOM + 16}">{escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
