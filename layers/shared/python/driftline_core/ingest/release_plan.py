"""The release plan of a run: how a candidate that passed the gate reaches production.

Decided once, by Validate, from the stack's parameters, so every later state reads the same plan from
``$.validation.release``.
"""

from __future__ import annotations

from driftline_core.payloads import ReleasePlan
from driftline_core.settings import ReleaseSettings


def release_plan(settings: ReleaseSettings) -> ReleasePlan:
    return ReleasePlan(staging=settings.staging_endpoint == "Enabled")
