"""A run's path through the state machine, drawn as inline SVG: every state of the deployed definition in layers
(each state below every state that can lead to it), the transitions between them, and each state the run visited
coloured by how its visit went, with its duration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from itertools import pairwise
from typing import Any

from driftline.run_status import format_seconds
from driftline.stepfunctions_history import Step

BOX_WIDTH = 178
BOX_HEIGHT = 38
COLUMN_GAP = 14
ROW_GAP = 30
MARGIN = 8


@dataclass(frozen=True)
class StateVisit:
    """How the run's last visit of a state went: ``succeeded``, ``failed`` (an error the state caught or not),
    ``running`` or ``waiting`` (a task waiting for a callback); with its time in the state."""

    status: str
    seconds: float


def transitions(definition: Mapping[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """Each state's ``(next state, kind)``: ``next`` (Next, a Choice's branches and Default) or ``catch``."""
    edges: dict[str, list[tuple[str, str]]] = {}
    for name, state in definition.get("States", {}).items():
        found: list[tuple[str, str]] = []
        targets = [state.get("Next")] + [choice.get("Next") for choice in state.get("Choices", [])]
        targets.append(state.get("Default"))
        found += [(str(target), "next") for target in targets if target]
        found += [(str(catch["Next"]), "catch") for catch in state.get("Catch", []) if catch.get("Next")]
        edges[str(name)] = list(dict.fromkeys(found))
    return edges


def layers(definition: Mapping[str, Any]) -> list[list[str]]:
    """The states in rows: a state's row is one more than the deepest row of any state leading to it."""
    edges = transitions(definition)
    names = list(edges)
    depth = dict.fromkeys(names, 0)
    # Longest path over a graph without loops (the pipeline has none; a loop is cut where it closes).
    order = _topological(str(definition.get("StartAt", names[0] if names else "")), edges, names)
    for name in order:
        for target, _ in edges.get(name, []):
            if target in depth and order.index(target) > order.index(name):
                depth[target] = max(depth[target], depth[name] + 1)
    rows: dict[int, list[str]] = {}
    for name in order:
        rows.setdefault(depth[name], []).append(name)
    return [rows[row] for row in sorted(rows)]


def _topological(start: str, edges: Mapping[str, list[tuple[str, str]]], names: list[str]) -> list[str]:
    seen: set[str] = set()
    finished: list[str] = []

    def visit(name: str) -> None:
        stack = [(name, iter(edges.get(name, [])))]
        seen.add(name)
        while stack:
            current, children = stack[-1]
            for target, _ in children:
                if target in edges and target not in seen:
                    seen.add(target)
                    stack.append((target, iter(edges.get(target, []))))
                    break
            else:
                stack.pop()
                finished.append(current)

    for name in [start, *names]:
        if name in edges and name not in seen:
            visit(name)
    return finished[::-1]


def visits(steps: list[Step], now: datetime, *, run_status: str) -> dict[str, StateVisit]:
    """The last visit of each state the run entered."""
    found: dict[str, StateVisit] = {}
    for step in steps:
        if step.failures:
            status = "failed"
        elif step.exited is not None:
            status = "succeeded"
        elif run_status != "RUNNING":
            status = "failed"  # the run ended (stopped, timed out) inside this state
        else:
            status = "waiting" if step.submitted else "running"
        found[step.name] = StateVisit(status, step.seconds(now))
    return found


def taken_transitions(steps: list[Step]) -> set[tuple[str, str]]:
    """The transitions the run took: each step to the next one it entered."""
    return {(before.name, after.name) for before, after in pairwise(steps)}


def render_svg(
    definition: Mapping[str, Any], visited: Mapping[str, StateVisit], taken: set[tuple[str, str]] | None = None
) -> str:
    """The graph as an ``<svg>`` element; no script, no external references. A ``catch`` transition (to the
    failure handling) is drawn only when the run took it, so the run's own path stays readable."""
    taken = taken or set()
    rows = layers(definition)
    widest = max((len(row) for row in rows), default=1)
    width = MARGIN * 2 + widest * BOX_WIDTH + (widest - 1) * COLUMN_GAP
    height = MARGIN * 2 + len(rows) * BOX_HEIGHT + max(len(rows) - 1, 0) * ROW_GAP
    place: dict[str, tuple[float, float]] = {}
    for row_index, row in enumerate(rows):
        row_width = len(row) * BOX_WIDTH + (len(row) - 1) * COLUMN_GAP
        left = (width - row_width) / 2
        for column, name in enumerate(row):
            place[name] = (left + column * (BOX_WIDTH + COLUMN_GAP), MARGIN + row_index * (BOX_HEIGHT + ROW_GAP))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="run-graph" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'width="{width:.0f}" height="{height:.0f}" role="img" aria-label="the run\'s path through the pipeline">'
    ]
    for name, targets in transitions(definition).items():
        if name not in place:
            continue
        x, y = place[name]
        for target, kind in targets:
            if target not in place:
                continue
            tx, ty = place[target]
            went = (name, target) in taken
            if kind == "catch" and not went:
                continue
            parts.append(
                f'<line class="edge {kind}{" taken" if went else ""}" x1="{x + BOX_WIDTH / 2:.1f}" '
                f'y1="{y + BOX_HEIGHT:.1f}" x2="{tx + BOX_WIDTH / 2:.1f}" y2="{ty:.1f}"/>'
            )
    for name, (x, y) in place.items():
        visit = visited.get(name)
        status = visit.status if visit else "not-reached"
        label = escape(name)
        detail = f"{visit.status}, {format_seconds(visit.seconds)}" if visit else "not reached"
        parts.append(
            f'<g class="state {status}" data-state="{label}"><title>{label}: {escape(detail)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_WIDTH}" height="{BOX_HEIGHT}" rx="5"/>'
            f'<text x="{x + BOX_WIDTH / 2:.1f}" y="{y + 16:.1f}">{label}</text>'
            f'<text class="detail" x="{x + BOX_WIDTH / 2:.1f}" y="{y + 31:.1f}">{escape(detail)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
