"""The quality gate: which metrics each problem type offers, and whether a candidate model may be registered.

A candidate passes when its gate metric meets the dataset's threshold and, once a model of the dataset
has been approved, when it also beats the model the dataset's endpoint serves (without an endpoint, the newest
Approved one: ``registry.find_model_to_beat``) on the same test split: the evaluation job scores both
models on the candidate's held-out rows. The metric values come from the evaluation report, written in
SageMaker Model Monitor's model-quality format (so the Model Registry can show it), whose ``incumbent``
section holds that model's metrics on that split, or why it could not be scored.

The report's ``data_drift`` section says how the run's rows differ from that model's drift baseline.
The gate carries a summary of it (URIs and a few numbers) in its result for the notifications; drift informs
the people deciding and never changes the decision.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from driftline_core import layout
from driftline_core.aws import s3io
from driftline_core.aws.error_codes import is_not_found
from driftline_core.errors import EvaluationReportInvalid
from driftline_core.ingest.dataset_config import ResolvedConfig
from driftline_core.metrics import REPORT_SECTIONS
from driftline_core.notifications.text import sentence_start
from driftline_core.payloads import DataDriftSummary, FeatureDistance, GateInput, GateResult, JobResult, ProblemType
from driftline_core.settings import Settings
from driftline_core.training.registry import ModelToBeat, find_model_to_beat

EVALUATION_OUTPUT = "evaluation"
"""Output name of the evaluation processing job; its prefix holds the report."""
EVALUATION_REPORT_FILE = "evaluation.json"
INCUMBENT_SECTION = "incumbent"
"""The report's section with the compared model's metrics on the candidate's test split."""
DATA_DRIFT_SECTION = "data_drift"
"""The report's section comparing the run's rows with the compared model's drift baseline."""
DATA_DRIFT_REPORT_FILE = "data_drift.html"
"""The drift report the evaluation job writes beside the evaluation report."""
MAX_DRIFTED_SHOWN = 5
MAX_COLUMNS_SHOWN = 10
"""A run's payload carries a few names; the drift report has them all."""


def evaluation_report_uri(evaluation: JobResult) -> str:
    """The report's URI from the evaluation job's outputs (``outputs["evaluation"]`` is a prefix)."""
    prefix = evaluation.outputs.get(EVALUATION_OUTPUT)
    if not prefix:
        raise EvaluationReportInvalid(
            f"evaluation job {evaluation.job_name} reported no '{EVALUATION_OUTPUT}' output "
            f"(outputs: {', '.join(sorted(evaluation.outputs)) or 'none'}), so there is no report to judge."
        )
    return f"{prefix.rstrip('/')}/{EVALUATION_REPORT_FILE}"


def read_metric(report: Any, problem_type: ProblemType, metric: str) -> float:
    """The metric's value from a model-quality report; the error names what is missing and what is there."""
    section_name = REPORT_SECTIONS[problem_type]
    if not isinstance(report, dict):
        raise EvaluationReportInvalid(
            f"the evaluation report is a JSON {type(report).__name__}, not an object with '{section_name}'."
        )
    section = report.get(section_name)
    if not isinstance(section, dict):
        present = [name for name in REPORT_SECTIONS.values() if name in report]
        found = f"it has {', '.join(present)}" if present else "it has no metrics section"
        raise EvaluationReportInvalid(
            f"the evaluation report has no '{section_name}' for this {problem_type} run ({found}); "
            "the model was evaluated as a different problem type than the run config says."
        )
    entry = section.get(metric)
    if entry is None:
        available = ", ".join(sorted(section)) or "none"
        raise EvaluationReportInvalid(
            f"the evaluation report's '{section_name}' has no '{metric}' (it has: {available})."
        )
    raw = entry.get("value") if isinstance(entry, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        raise EvaluationReportInvalid(
            f"the evaluation report's {section_name}.{metric}.value is {json.dumps(raw)}, not a finite number."
        )
    return float(raw)


@dataclass(frozen=True)
class Incumbent:
    """The model the candidate is compared with, as far as the gate can compare with it."""

    model_package_arn: str | None
    """None when the endpoint serves a model whose package cannot be read (``unreadable`` says why)."""
    value: float | None
    """Its value of the gate metric on the candidate's test split; None when it has none."""
    unreadable: str | None = None
    """Why it could not be scored on that split, when it could not (the gate then judges on the threshold)."""
    serving_on: str | None = None
    """The endpoint it serves on; None when the dataset has no serving endpoint (it is the newest Approved one)."""
    approved_not_serving: str | None = None
    """The package ARN of the newest Approved version when that version does not serve."""

    def named(self, detail: str | None = None) -> str:
        """How the gate's sentences name it: by its endpoint and version, or by its package ARN; ``detail`` joins
        the parenthesis."""
        details = [detail] if detail else []
        if self.serving_on is None:
            name = f"the approved model {self.model_package_arn}"
        else:
            name = f"the model serving on {self.serving_on}"
            details.insert(0, f"version {_version(self.model_package_arn or '')}")
        return f"{name} ({', '.join(details)})" if details else name


def decide(
    *,
    metric: str,
    value: float,
    threshold: float,
    higher_is_better: bool,
    evaluation_uri: str,
    incumbent: Incumbent | None = None,
    min_improvement: float = 0.0,
    data_drift: DataDriftSummary | None = None,
) -> GateResult:
    """Pass when the candidate meets the threshold and beats the compared model by more than min_improvement.

    With ``min_improvement`` 0 the candidate must be strictly better: an equal model is not worth a version.
    ``data_drift`` travels along unread: drift informs the people deciding, it does not block.
    """
    reasons: list[str] = []
    direction = "higher is better" if higher_is_better else "lower is better"
    meets_threshold = value >= threshold if higher_is_better else value <= threshold
    if meets_threshold:
        reasons.append(f"{metric} {_fmt(value)} meets the threshold {_fmt(threshold)} ({direction}).")
    else:
        side = "below" if higher_is_better else "above"
        reasons.append(
            f"{metric} {_fmt(value)} is {side} the threshold {_fmt(threshold)} ({direction}); "
            "the candidate is not good enough to register."
        )

    beats_incumbent = True
    if incumbent is None:
        reasons.append("No model of this dataset is approved yet, so the threshold alone decides.")
    elif incumbent.model_package_arn is None:
        reasons.append(
            f"What {incumbent.serving_on} serves cannot be read, so no model was compared: {incumbent.unreadable} "
            "The threshold alone decides."
        )
    elif incumbent.unreadable is not None:
        reasons.append(
            f"{sentence_start(incumbent.named())} was not compared: {incumbent.unreadable} The threshold alone decides."
        )
    elif incumbent.value is None:
        reasons.append(
            f"{sentence_start(incumbent.named())} has no {metric} on this run's test split, "
            "so the threshold alone decides."
        )
    else:
        improvement = value - incumbent.value if higher_is_better else incumbent.value - value
        beats_incumbent = improvement > min_improvement
        required = f"more than the required {_fmt(min_improvement)}" if min_improvement > 0 else "strictly better"
        scored = incumbent.named(f"{_fmt(incumbent.value)} on the same test split")
        if beats_incumbent:
            reasons.append(f"{metric} {_fmt(value)} beats {scored} by {_fmt(improvement)}, {required}.")
        else:
            comparison = "is no better than" if improvement <= 0 else "does not improve enough on"
            reasons.append(f"{metric} {_fmt(value)} {comparison} {scored}: the candidate must be {required}.")
    if incumbent is not None and incumbent.approved_not_serving is not None:
        reasons.append(
            f"Version {_version(incumbent.approved_not_serving)} is Approved but does not serve on "
            f"{incumbent.serving_on} (its deployment did not complete, or has not finished yet), so it is not the "
            "model compared with."
        )

    return GateResult(
        passed=meets_threshold and beats_incumbent,
        metric=metric,
        value=value,
        threshold=threshold,
        higher_is_better=higher_is_better,
        incumbent_model_package_arn=incumbent.model_package_arn if incumbent else None,
        incumbent_value=incumbent.value if incumbent else None,
        evaluation_uri=evaluation_uri,
        reasons=reasons,
        data_drift=data_drift,
    )


def evaluate_gate(gate_input: GateInput, settings: Settings) -> GateResult:
    """Read the run's config and evaluation report, find the model to beat, and decide."""
    # Imported here because dataset_config checks declared metrics against this module's catalogue.
    config = ResolvedConfig.model_validate(s3io.read_json(gate_input.validation.config_uri))
    evaluation_uri = evaluation_report_uri(gate_input.evaluation)
    report = _read_report(evaluation_uri)
    if report is None:
        raise EvaluationReportInvalid(
            f"there is no evaluation report at {evaluation_uri}; "
            f"evaluation job {gate_input.evaluation.job_name} did not write {EVALUATION_REPORT_FILE}."
        )
    try:
        value = read_metric(report, config.problem_type, config.metric)
    except EvaluationReportInvalid as error:
        raise EvaluationReportInvalid(f"{evaluation_uri}: {error}") from None

    to_beat = find_model_to_beat(settings.model_package_group_prefix, gate_input.dataset)
    return decide(
        metric=config.metric,
        value=value,
        threshold=config.threshold,
        higher_is_better=config.higher_is_better,
        evaluation_uri=evaluation_uri,
        incumbent=incumbent_from_report(to_beat, report, config.problem_type, config.metric),
        min_improvement=settings.min_improvement,
        data_drift=data_drift_from_report(report, evaluation_uri),
    )


def incumbent_from_report(
    to_beat: ModelToBeat, report: dict[str, Any], problem_type: ProblemType, metric: str
) -> Incumbent | None:
    """The model to beat as the evaluation job scored it on the candidate's test split, or why it was not."""
    not_serving = to_beat.approved_not_serving.model_package_arn if to_beat.approved_not_serving else None
    if to_beat.model is None:
        if to_beat.unreadable is None:
            return None
        return Incumbent(
            None, None, unreadable=to_beat.unreadable, serving_on=to_beat.serving_on, approved_not_serving=not_serving
        )
    arn = to_beat.model.model_package_arn

    def incumbent(value: float | None, unreadable: str | None = None) -> Incumbent:
        return Incumbent(arn, value, unreadable, serving_on=to_beat.serving_on, approved_not_serving=not_serving)

    section = report.get(INCUMBENT_SECTION)
    if not isinstance(section, dict) or section.get("model_package_arn") != arn:
        since = "began serving" if to_beat.serving_on else "was approved"
        return incumbent(
            None, f"it {since} after this run's evaluation job started, so it was not scored on this run's test split."
        )
    if section.get("scored") is not True:
        reason = str(section.get("reason") or "the job gave no reason").rstrip(".")
        return incumbent(None, f"the evaluation job could not score it on this run's test split: {reason}.")
    try:
        return incumbent(read_metric(section, problem_type, metric))
    except EvaluationReportInvalid as error:
        return incumbent(None, f"its scores in the evaluation report cannot be used ({error})")


def data_drift_from_report(report: dict[str, Any], evaluation_uri: str) -> DataDriftSummary | None:
    """The report's comparison with the serving model's baseline, summarised for the run's payload; None when the
    report has none (written before the comparison existed). A section that cannot be read is said so, not raised:
    it must not cost the candidate its gate."""
    section = report.get(DATA_DRIFT_SECTION)
    if section is None:
        return None
    known: dict[str, Any] = {}
    try:
        if not isinstance(section, dict):
            raise TypeError(f"a JSON {type(section).__name__}")
        known = {
            key: section[key] for key in ("model_package_arn", "baseline_uri") if isinstance(section.get(key), str)
        }
        if section.get("compared") is not True:
            reason = str(section.get("reason") or "the evaluation job gave no reason").strip().rstrip(".")
            return DataDriftSummary(compared=False, reason=reason, **known)
        drifted = sorted(
            (
                FeatureDistance(
                    name=str(entry["name"]),
                    distance=float(entry["distance"]),
                    threshold=float(entry["threshold"]),
                    margin=float(entry.get("margin") or 0.0),
                )
                for entry in section.get("drifted_features") or []
            ),
            key=lambda feature: feature.margin + feature.threshold - feature.distance,
        )
        return DataDriftSummary(
            compared=True,
            report_uri=f"{evaluation_uri.rsplit('/', 1)[0]}/{DATA_DRIFT_REPORT_FILE}",
            rows_compared=int(section["rows_compared"]),
            features=int(section["features"]),
            drifted_count=len(drifted),
            drifted_features=drifted[:MAX_DRIFTED_SHOWN],
            missing_columns=[str(name) for name in section.get("missing_columns") or []][:MAX_COLUMNS_SHOWN],
            extra_columns=[str(name) for name in section.get("extra_columns") or []][:MAX_COLUMNS_SHOWN],
            **known,
        )
    except (KeyError, TypeError, ValueError) as error:
        return DataDriftSummary(
            compared=False,
            reason=f"the evaluation report's {DATA_DRIFT_SECTION} section cannot be read ({error})",
            **known,
        )


def _read_report(uri: str) -> Any | None:
    """The parsed report, or None when the object is gone; a report that is not JSON is an error."""
    bucket, key = layout.split_s3_uri(uri)
    try:
        return s3io.read_json_if_exists(bucket, key)
    except json.JSONDecodeError as error:
        raise EvaluationReportInvalid(f"the evaluation report at {uri} is not valid JSON ({error}).") from error
    except ClientError as error:
        if is_not_found(error):
            return None
        raise


def _version(model_package_arn: str) -> str:
    return model_package_arn.rsplit("/", 1)[-1]


def _fmt(number: float) -> str:
    return f"{number:.6g}"
