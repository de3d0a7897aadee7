"""A Step Functions execution's history, read whole: following a run and deciding one both walk it.

It takes any Step Functions client (local mode's or a real account's), so it imports nothing of local mode.
"""

from __future__ import annotations

from typing import Any


def execution_history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    """Every event of the execution, oldest first, over as many GetExecutionHistory pages as it takes."""
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]
