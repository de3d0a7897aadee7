"""What an A/B trial decided: the analysis job's ``trial.json`` read into the run's ``TrialDecision``.

The job (``ml/trial_analysis.py``) does the statistics and writes the decision with every figure behind it; this
reads the few the state machine and the notifications need. The challenger serves alone afterwards only when the
job found it significantly better; a champion found better, no significant difference and too little evidence all
keep the champion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.error_codes import transient_aws_errors
from driftline_core.errors import DriftlineError
from driftline_core.payloads import DecideTrialInput, JobResult, TrialDecision
from driftline_core.training.job_requests import TRIAL_OUTPUT

DECISIONS = ("challenger", "champion", "not_enough_evidence")
ROLES = ("champion", "challenger")


class TrialReportInvalid(DriftlineError):
    """The trial analysis job's ``trial.json`` is missing or cannot be read; nothing about the trial is decided."""


def decide_trial(step: DecideTrialInput) -> TrialDecision:
    """Read the analysis job's ``trial.json`` and say who serves after the trial."""
    folder = trial_output_uri(step.trial_analysis)
    trial_uri = f"{folder}{layout.TRIAL_FILE}"
    with transient_aws_errors():
        document = _read_trial_document(trial_uri, step.trial_analysis.job_name)
    return trial_decision_from_document(document, trial_uri=trial_uri, report_uri=f"{folder}{layout.TRIAL_REPORT_FILE}")


def trial_output_uri(analysis: JobResult) -> str:
    """The job's output folder (``outputs["trial"]``), ending in ``/``."""
    folder = analysis.outputs.get(TRIAL_OUTPUT)
    if not folder:
        raise TrialReportInvalid(
            f"Trial analysis job {analysis.job_name} reported no '{TRIAL_OUTPUT}' output (outputs: "
            f"{', '.join(sorted(analysis.outputs)) or 'none'}), so there is no {layout.TRIAL_FILE} to read; "
            "check the job's request and its logs."
        )
    return f"{folder.rstrip('/')}/"


def trial_decision_from_document(document: Any, *, trial_uri: str, report_uri: str) -> TrialDecision:
    """The decision and its figures; a document without them is refused naming the field and the file."""
    if not isinstance(document, Mapping):
        raise TrialReportInvalid(f"{trial_uri} is not a JSON object, so the trial's decision cannot be read from it.")
    decision = document.get("decision")
    if decision not in DECISIONS:
        raise TrialReportInvalid(
            f"{trial_uri} has decision {decision!r}, not one of {', '.join(DECISIONS)}; "
            "the trial analysis job did not finish writing it."
        )
    sides = {role: _section(document, role, trial_uri) for role in ROLES}
    test = document.get("test")
    if test is not None and not isinstance(test, Mapping):
        raise TrialReportInvalid(f"{trial_uri} has a 'test' that is not an object.")
    return TrialDecision(
        decision=decision,
        winner="challenger" if decision == "challenger" else "champion",
        reason=_text(document, "reason", trial_uri),
        metric=_text(document, "metric", trial_uri),
        champion_value=_number(sides["champion"], "metric_value", f"champion.metric_value in {trial_uri}"),
        challenger_value=_number(sides["challenger"], "metric_value", f"challenger.metric_value in {trial_uri}"),
        champion_rows=_count(sides["champion"], "compared_rows", f"champion.compared_rows in {trial_uri}"),
        challenger_rows=_count(sides["challenger"], "compared_rows", f"challenger.compared_rows in {trial_uri}"),
        p_value=None if test is None else _number(test, "p_value", f"test.p_value in {trial_uri}"),
        test="" if test is None else str(test.get("label") or test.get("name") or ""),
        trial_uri=trial_uri,
        report_uri=report_uri,
    )


def _read_trial_document(uri: str, job_name: str) -> Any:
    bucket, key = layout.split_s3_uri(uri)
    try:
        document = s3io.read_json_if_exists(bucket, key)
    except ValueError as error:  # not JSON, or not text
        raise TrialReportInvalid(
            f"{uri} is not valid JSON ({error}), so the trial's decision cannot be read; see trial analysis job "
            f"{job_name}'s logs."
        ) from error
    if document is None:
        raise TrialReportInvalid(
            f"There is no {layout.TRIAL_FILE} at {uri}: trial analysis job {job_name} did not write it; see the "
            "job's logs (/aws/sagemaker/ProcessingJobs)."
        )
    return document


def _section(document: Mapping[str, Any], role: str, uri: str) -> Mapping[str, Any]:
    section = document.get(role)
    if not isinstance(section, Mapping):
        raise TrialReportInvalid(f"{uri} has no '{role}' section, so the {role}'s figures cannot be read.")
    return section


def _text(document: Mapping[str, Any], field: str, uri: str) -> str:
    value = document.get(field)
    if not isinstance(value, str) or not value.strip():
        raise TrialReportInvalid(f"{uri} has no '{field}' text; the trial analysis job did not finish writing it.")
    return value


def _number(section: Mapping[str, Any], field: str, where: str) -> float | None:
    value = section.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TrialReportInvalid(f"{where} is {value!r}, not a number or null.")
    return float(value)


def _count(section: Mapping[str, Any], field: str, where: str) -> int:
    value = section.get(field, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TrialReportInvalid(f"{where} is {value!r}, not a count of rows.")
    return value
