"""The run graph: every state of the pipeline's definition in rows that follow its transitions, each visited state
marked by how its visit went."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from driftline.console.graph import layers, render_svg, transitions, visits
from driftline.stepfunctions_history import Step, StepFailure

ASL = Path(__file__).resolve().parents[2] / "statemachine" / "pipeline.asl.json"


def definition() -> dict[str, Any]:
    """The pipeline's definition with its substitutions filled as the deployed one has them (any JSON value)."""
    return json.loads(re.sub(r"\$\{[A-Za-z]+\}", "0", ASL.read_text()))


def test_every_state_is_drawn_once_below_every_state_that_leads_to_it() -> None:
    pipeline = definition()
    rows = layers(pipeline)
    row_of = {name: index for index, row in enumerate(rows) for name in row}

    assert sorted(row_of) == sorted(pipeline["States"]) and sum(len(row) for row in rows) == len(pipeline["States"])
    assert rows[0] == [pipeline["StartAt"]]
    for name, targets in transitions(pipeline).items():
        for target, _ in targets:
            assert row_of[target] > row_of[name], (name, target)


def test_a_visit_is_coloured_by_how_it_went_and_the_states_never_reached_are_drawn_faint() -> None:
    start = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    steps = [
        Step("Validate", "Task", start, start + timedelta(seconds=2)),
        Step("Preprocess", "Task", start + timedelta(seconds=2), start + timedelta(seconds=9)),
        Step("Train", "Task", start + timedelta(seconds=9), failures=[StepFailure("States.TaskFailed", "boom")]),
    ]
    now = start + timedelta(seconds=30)

    visited = visits(steps, now, run_status="RUNNING")
    svg = render_svg(definition(), visited)

    assert visited["Validate"].status == "succeeded" and visited["Validate"].seconds == 2
    assert visited["Train"].status == "failed"
    assert '<g class="state succeeded" data-state="Preprocess">' in svg
    assert '<g class="state failed" data-state="Train">' in svg
    assert '<g class="state not-reached" data-state="Deploy">' in svg
    assert "<script" not in svg and "href" not in svg
    # A run that ended inside a state that never exited (stopped, timed out) ended there.
    running = [Step("Deploy", "Task", start)]
    assert visits(running, now, run_status="RUNNING")["Deploy"].status == "running"
    assert visits(running, now, run_status="ABORTED")["Deploy"].status == "failed"
    waiting = [Step("RequestApproval", "Task", start, submitted={"model_package_arn": "arn:x"})]
    assert visits(waiting, now, run_status="RUNNING")["RequestApproval"].status == "waiting"


def test_state_names_are_escaped_in_the_drawing() -> None:
    tricky = {"StartAt": "A<b>", "States": {"A<b>": {"Type": "Pass", "Next": "C&d"}, "C&d": {"Type": "Succeed"}}}

    svg = render_svg(tricky, {})

    assert "A&lt;b&gt;" in svg and "C&amp;d" in svg and "<b>" not in svg
