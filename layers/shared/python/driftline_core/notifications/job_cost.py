"""Where a run's notification says what its SageMaker jobs cost: just above the execution line that ends it.

The lines themselves are written where the jobs are priced (``driftline_core.costs.run_jobs``); the Notify handler
reads them and hands them over, so a notification without them reads exactly as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from driftline_core.notifications.publish import Notification

EXECUTION_LINE = "Execution:"


def with_job_cost(notification: Notification, lines: Sequence[str]) -> Notification:
    """The notification with ``lines`` before its last ``Execution:`` line (at its end when it has none)."""
    if not lines:
        return notification
    message = notification.message.split("\n")
    at = next((i for i in range(len(message) - 1, -1, -1) if message[i].startswith(EXECUTION_LINE)), len(message))
    return dataclasses.replace(notification, message="\n".join([*message[:at], *lines, *message[at:]]))
