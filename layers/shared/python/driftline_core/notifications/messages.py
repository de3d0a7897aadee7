"""The message a run's subscribers get when it ends: registered, rejected by the gate, or failed.

Each message says what happened, why, and what to look at, in words a dataset owner can act on
without opening the Step Functions console.
"""

from __future__ import annotations

import json
import shlex
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from driftline_core.errors import APPROVAL_EXPIRED_ERROR, APPROVAL_REJECTED_ERROR, JOB_FAILED_ERROR
from driftline_core.notifications.job_cost import with_job_cost
from driftline_core.notifications.publish import UNKNOWN_DATASET, Notification, email_subject, publish_notification
from driftline_core.notifications.serving_example import ServingExample, read_serving_example
from driftline_core.notifications.text import sentence_start
from driftline_core.payloads import (
    ABTestPlan,
    ApprovalRequestInput,
    DataDriftSummary,
    GateResult,
    NotificationResult,
    NotifyInput,
    PromotionRequestInput,
    RunDocument,
    RunTrigger,
    StagingTestResult,
    StepError,
)
from driftline_core.settings import Settings

NOTHING_CHANGED = "Nothing was registered and no endpoint was changed."
CAUSE_LIMIT = 4000
"""Keeps a runaway error message inside the Fail state's cause and an email's first screen."""

STEP_ORDER: tuple[tuple[str, str], ...] = (
    ("validation", "validation"),
    ("preprocess", "preprocessing"),
    ("training", "training"),
    ("evaluation", "evaluation"),
    ("gate", "the quality gate"),
    ("registration", "registration"),
    ("approval", "approval"),
    ("deployment", "deployment"),
    ("serving", "the endpoint's autoscaling setup"),
)
"""Result key each step adds to the run document, and the step's name in messages, in pipeline order."""
JOB_STEPS = {"preprocessing", "training", "evaluation"}


def build_notification(notify: NotifyInput, serving: ServingExample | None = None) -> Notification:
    """Subject, body and summary for one outcome; pure, so every wording is unit-tested.

    ``serving`` is what a client sends the deployed model (its feature order and a row), for ``deployed``.
    """
    run = RunDocument.model_validate(notify.run)
    dataset = run.dataset or UNKNOWN_DATASET
    if notify.outcome == "registered":
        return _registered(notify, run, dataset)
    if notify.outcome == "rejected":
        return _rejected(notify, run, dataset)
    if notify.outcome == "approved":
        return _approved(notify, run, dataset)
    if notify.outcome == "approval_rejected":
        return _approval_rejected(notify, run, dataset)
    if notify.outcome == "approval_expired":
        return _approval_expired(notify, run, dataset)
    if notify.outcome == "deployed":
        if run.trial is not None:
            return _trial_concluded(notify, run, dataset, serving)
        return _deployed(notify, run, dataset, serving)
    if notify.outcome == "trial_started":
        return _trial_started(notify, run, dataset, serving)
    return _failed(notify, run, dataset)


def send_notification(notify: NotifyInput, settings: Settings, job_cost: Sequence[str] = ()) -> NotificationResult:
    """Publish one message; outcome and dataset go along as attributes subscribers can filter on. ``job_cost`` is what
    the run's SageMaker jobs cost, in lines (``driftline_core.costs.run_jobs``), or nothing."""
    serving = None
    if notify.outcome == "deployed":
        serving = read_serving_example(RunDocument.model_validate(notify.run).preprocess)
    notification = with_job_cost(build_notification(notify, serving), job_cost)
    return NotificationResult(
        subject=notification.subject,
        message_id=publish_notification(notification, settings),
        error=notification.error,
        cause=notification.cause,
    )


def upload_not_started(bucket: str, key: str, version_id: str | None, dataset: str | None, reason: str) -> Notification:
    """An upload under data/ that started no run: the reason names the file and says what to upload instead."""
    lines = [
        f"Driftline started no run for s3://{bucket}/{key}.",
        "",
        f"Why: {reason}",
        "",
        "Nothing was validated or trained, nothing was registered and no endpoint was changed.",
        "",
        f"Bucket:          {bucket}",
        f"Key:             {key}",
        f"Version:         {version_id or 'unversioned'}",
    ]
    name = dataset or UNKNOWN_DATASET
    return Notification(
        subject=email_subject(dataset, "upload started no run") if dataset else "Driftline: upload started no run",
        message="\n".join(lines),
        attributes=_attributes("not-started", name),
        error="",
        cause=reason,
    )


def failed_step(run: RunDocument) -> str:
    """The first step whose result is missing from the run document is the one that failed."""
    for field, label in STEP_ORDER:
        if getattr(run, field) is None:
            return label
    return "notification"


def readable_cause(error: StepError | None, step: str) -> str:
    """One readable paragraph from a Catch's error: Lambda errors carry JSON, job failures plain text."""
    if error is None:
        return "The run stopped without reporting an error."
    if error.error == "States.Timeout":
        if step in JOB_STEPS:
            return (
                f"The {step} job did not report back in time: no completion event arrived before the "
                "step's time limit. The job may still be running; check it in the SageMaker console."
            )
        return f"The {step} step did not report back in time."
    message = _error_message(error.cause or "")
    if not message:
        if error.error == JOB_FAILED_ERROR:
            return f"The {step} job failed without giving a reason; its CloudWatch logs have the details."
        return f"The {step} step failed with {error.error} and gave no further detail."
    if len(message) > CAUSE_LIMIT:
        message = message[: CAUSE_LIMIT - 3].rstrip() + "..."
    return message


def _error_message(cause: str) -> str:
    """A Lambda error's ``errorMessage``, or the cause itself when it is plain text."""
    text = cause.strip()
    if text.startswith("{"):
        try:
            parsed: Any = json.loads(text)
        except json.JSONDecodeError:
            return text
        if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
            return str(parsed["errorMessage"]).strip()
    return text


def _registered(notify: NotifyInput, run: RunDocument, dataset: str) -> Notification:
    registration = run.registration
    package = registration.model_package_arn if registration else "(not reported)"
    group = registration.model_package_group if registration else "(not reported)"
    lines = [
        f"The {dataset} model from run {notify.execution_name} passed the quality gate and is registered "
        "in the SageMaker Model Registry, waiting for approval.",
        "",
        f"Dataset:         {dataset}",
        f"Data:            {_data_line(run)}",
        *_gate_lines(run.gate),
        f"Model package:   {package}",
        f"Package group:   {group}",
        "",
        *_gate_reason_lines(run.gate),
        *_data_drift_lines(run.gate),
        "Artifacts:",
        *_artifact_lines(run),
        "",
        "To deploy it, approve the package in SageMaker Studio's Model Registry, or run:",
        f"  aws sagemaker update-model-package --model-package-arn {package} --model-approval-status Approved",
        "",
        f"Execution:       {notify.execution_id}",
    ]
    version = package.rsplit("/", 1)[-1] if registration else ""
    version_phrase = f" as version {version}" if version.isdigit() else ""
    return Notification(
        subject=email_subject(dataset, "model registered, waiting for approval"),
        message="\n".join(lines),
        attributes=_attributes("registered", dataset, notify.execution_name),
        error="",
        cause=f"The {dataset} model was registered{version_phrase} in {group} and is waiting for approval.",
    )


def _rejected(notify: NotifyInput, run: RunDocument, dataset: str) -> Notification:
    reasons = run.gate.reasons if run.gate and run.gate.reasons else ["The quality gate did not pass."]
    lines = [
        f"The {dataset} model from run {notify.execution_name} did not pass the quality gate, "
        "so nothing was registered and no endpoint was changed.",
        "",
        "Why:",
        *(f"  - {reason}" for reason in reasons),
        "",
        *_data_drift_lines(run.gate),
        f"Dataset:         {dataset}",
        f"Data:            {_data_line(run)}",
        *_gate_lines(run.gate),
        "",
        "Artifacts:",
        *_artifact_lines(run),
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, "model rejected by the quality gate"),
        message="\n".join(lines),
        attributes=_attributes("rejected", dataset, notify.execution_name),
        error="",
        cause=f"The {dataset} model was not registered: {' '.join(reasons)}",
    )


def _failed(notify: NotifyInput, run: RunDocument, dataset: str) -> Notification:
    step = failed_step(run)
    reason = readable_cause(notify.error, step)
    closing = _FAILURE_CLOSING.get(step, NOTHING_CHANGED)
    error_name = notify.error.error if notify.error else "RunFailed"
    lines = [
        f"The {dataset} run {notify.execution_name} failed during {step}.",
        "",
        f"Reason: {reason}",
        f"Error:  {error_name}",
        "",
        closing,
        "",
        f"Dataset:         {dataset}",
        f"Data:            {_data_line(run)}",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, f"run failed at {step}"),
        message="\n".join(lines),
        attributes=_attributes("failed", dataset, notify.execution_name),
        error=fail_state_error_name(error_name),
        cause=f"{sentence_start(step)} failed: {_as_sentence(reason)} {closing}",
    )


_FAILURE_CLOSING = {
    "registration": "No endpoint was changed.",
    "approval": "No endpoint was changed.",
    "deployment": (
        "The model stays Approved in the registry; an endpoint that was already serving keeps serving its "
        "previous model."
    ),
    "the endpoint's autoscaling setup": (
        "The endpoint serves the new model, on its initial instance count, without autoscaling."
    ),
}
"""What a failure at these steps left as it was; earlier steps registered and deployed nothing."""

_RESERVED_ERROR_NAMES = {"States.Timeout": "JobTimedOut", "States.HeartbeatTimeout": "JobTimedOut"}


def fail_state_error_name(error: str) -> str:
    """The name the run fails with: ``States.*`` names are reserved for Step Functions' own errors."""
    if error.startswith("States."):
        return _RESERVED_ERROR_NAMES.get(error, "PipelineError")
    return error


def _gate_lines(gate: GateResult | None) -> list[str]:
    if gate is None:
        return []
    direction = "higher is better" if gate.higher_is_better else "lower is better"
    if gate.incumbent_value is not None:
        incumbent = f"{gate.metric} = {_number(gate.incumbent_value)} ({gate.incumbent_model_package_arn})"
    elif gate.incumbent_model_package_arn:
        incumbent = f"{gate.incumbent_model_package_arn}, not compared (see the gate's reasons)"
    else:
        incumbent = "none approved yet"
    lines = [
        f"Metric:          {gate.metric} = {_number(gate.value)} (threshold {_number(gate.threshold)}, {direction})",
        f"Approved model:  {incumbent}",
    ]
    if gate.incumbent_value is not None:
        lines.append("Compared on:     this run's test split, both models scored on the same rows")
    return lines


def _gate_reason_lines(gate: GateResult | None) -> list[str]:
    """Why the gate passed, including why an approved model was not compared with."""
    if gate is None or not gate.reasons:
        return []
    return ["Quality gate:", *(f"  - {reason}" for reason in gate.reasons), ""]


def data_drift_sentence(drift: DataDriftSummary) -> str:
    """The run's data against the serving model's baseline in one sentence: the drifted features with their
    distances and thresholds and the report, no drift, or why there is no comparison."""
    if not drift.compared:
        return f"Not compared with the serving model's baseline: {drift.reason or 'the evaluation gave no reason'}."
    package = f" ({drift.model_package_arn})" if drift.model_package_arn else ""
    if drift.drifted_count:
        shown = ", ".join(
            f"{feature.name} {feature.distance:.2f} > {feature.threshold:g}"
            + (f" + {feature.margin:.2f}" if feature.margin else "")
            for feature in drift.drifted_features
        )
        more = drift.drifted_count - len(drift.drifted_features)
        found = f"drift in {drift.drifted_count} of {drift.features} features: {shown}" + (
            f" and {more} more" if more > 0 else ""
        )
        if any(feature.margin for feature in drift.drifted_features):
            found += " (distance > threshold + the Robust method's sampling-noise margin)"
    else:
        found = f"no drift in {drift.features} features"
    if drift.missing_columns:
        found += f"; columns the baseline has and this data lacks: {', '.join(drift.missing_columns)}"
    if drift.extra_columns:
        found += f"; columns new in this data: {', '.join(drift.extra_columns)}"
    rows = f"; {drift.rows_compared} rows of this upload compared" if drift.rows_compared else ""
    report = f"; report: {drift.report_uri}" if drift.report_uri else ""
    return f"Compared with the serving model's baseline{package}: {found}{rows}{report}"


def _data_drift_lines(gate: GateResult | None) -> list[str]:
    """The data drift paragraph; none when the gate's report predates the comparison."""
    if gate is None or gate.data_drift is None:
        return []
    return ["Data drift:", f"  {data_drift_sentence(gate.data_drift)}", ""]


def _artifact_lines(run: RunDocument) -> list[str]:
    artifacts: list[tuple[str, str]] = []
    if run.training and run.training.outputs.get("model"):
        artifacts.append(("Model", run.training.outputs["model"]))
    if run.gate:
        artifacts.append(("Evaluation", run.gate.evaluation_uri))
    if run.validation:
        artifacts.append(("Run config", run.validation.config_uri))
    if run.preprocess:
        artifacts.extend((f"Preprocessed {name}", uri) for name, uri in run.preprocess.outputs.items())
    if not artifacts:
        return ["  (none recorded)"]
    width = max(len(label) for label, _ in artifacts) + 2
    return [f"  {(label + ':').ljust(width)}{uri}" for label, uri in artifacts]


def _data_line(run: RunDocument) -> str:
    if run.data is None:
        return "(not recorded)"
    version = run.data.version_id or "unversioned"
    return f"{run.data.uri} (version {version})"


def _attributes(outcome: str, dataset: str, run: str = "") -> dict[str, str]:
    """What subscribers may filter on: the outcome, the dataset and, for a run's messages, the run's name."""
    return {"outcome": outcome, "dataset": dataset, **({"run": run} if run else {})}


def _number(value: float) -> str:
    return f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4f}"


def _as_sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


# Approval ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricComparison:
    """The candidate's metrics beside the approved model's, both scored on this run's test split.

    ``rows`` holds ``(name, candidate value, approved model's value or None)``. When the approved model was
    not scored on these rows (the gate's reasons say why), its column is empty and ``registered`` may hold its
    own registered figures, from its own run's test split: other rows, so shown apart and labelled as such.
    """

    rows: list[tuple[str, float, float | None]]
    test_rows: int | None
    approved_model: str | None
    """The approved model's package ARN; None when no model of the dataset is approved."""
    compared: bool
    registered: tuple[tuple[str, float], ...] = ()
    registered_note: str = ""
    """Why the registered figures are missing, when they are."""


@dataclass(frozen=True)
class DriftlineCommand:
    """Where the approver's ``driftline`` commands run: the stack, its Region, and a note for local mode."""

    stack_name: str
    region: str
    note: str = ""
    """Where to run the commands instead of an AWS account's Region (local mode: which folder); from the template."""

    def options(self) -> str:
        """The flags that name this stack: ``--stack-name`` unless it is the default, and the Region on AWS."""
        stack = "" if self.stack_name == DEFAULT_STACK_NAME else f" --stack-name {self.stack_name}"
        return stack + ("" if self.note else f" --region {self.region}")

    def where(self) -> str:
        return self.note or "with AWS credentials for this account"


DEFAULT_STACK_NAME = "driftline"
"""The stack ``driftline approve`` reads when it is given no ``--stack-name``."""


def approval_request(
    step: ApprovalRequestInput,
    *,
    approve_url: str,
    reject_url: str,
    expires_at: str,
    comparison: MetricComparison,
    command: DriftlineCommand,
) -> Notification:
    """The approver's email: which model, how it compares with the approved one, its data, and two links."""
    dataset = step.dataset
    package = step.registration.model_package_arn
    version = package.rsplit("/", 1)[-1]
    validation = step.validation
    gate = step.gate
    direction = "higher is better" if gate.higher_is_better else "lower is better"
    run = step.execution_name
    lines = [
        f"The {dataset} model version {version} from run {run} passed the quality gate and "
        "waits for your approval before it is deployed.",
        "",
        f"Dataset:         {dataset}",
        f"Model package:   {package}",
        f"Package group:   {step.registration.model_package_group}",
        f"Metric:          {gate.metric} = {_number(gate.value)} (threshold {_number(gate.threshold)}, {direction})",
        f"Approved model:  {comparison.approved_model or 'none approved yet'}",
        "",
        *_comparison_lines(comparison),
        "",
        *_gate_reason_lines(gate),
        *_data_drift_lines(gate),
        *_staging_lines(step.staging_test),
        *_trial_plan_lines(validation.release.ab_test),
        *_retrain_lines(step.trigger),
        "Trained on:",
        *_window_lines(step.trigger),
        f"  {step.data.uri} (version {step.data.version_id or 'unversioned'})",
        f"  {validation.rows} rows, {validation.columns} columns; run config {validation.config_uri}",
        f"  model artifact {step.training.outputs.get('model', '(not reported)')}",
        "",
        "Approve (opens a page that asks you to confirm):",
        f"  {approve_url}",
        "",
        "Reject (opens a page that asks for the reason):",
        f"  {reject_url}",
        "",
        f"The links work once and expire at {expires_at}; without a decision by then the run ends and nothing "
        "is deployed. You may also decide in SageMaker Studio's Model Registry, or with",
        f"  aws sagemaker update-model-package --model-package-arn {package} --model-approval-status Approved",
        f"or, {command.where()}:",
        f"  driftline approve {run}{command.options()}",
        f'  driftline reject {run}{command.options()} --reason "<why>"',
        "",
        f"Execution:       {step.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, f"model version {version} waits for your approval"),
        message="\n".join(lines),
        attributes=_attributes("approval-requested", dataset, run),
        error="",
        cause=f"The {dataset} model version {version} waits for approval until {expires_at}.",
    )


def promotion_request(
    step: PromotionRequestInput, *, approve_url: str, reject_url: str, expires_at: str, command: DriftlineCommand
) -> Notification:
    """The approver's email when a challenger won its trial: the figures, the report, and the two links."""
    dataset, run, decision = step.dataset, step.execution_name, step.trial
    package = step.registration.model_package_arn
    version = package.rsplit("/", 1)[-1]
    trial = step.deployment.trial
    endpoint = step.deployment.endpoint_name
    shares = (
        f"{trial.mode}, {trial.challenger_share:.0%} of the requests to the challenger, from {trial.started_at} to "
        f"{trial.ends_at}"
        if trial is not None
        else "(not reported)"
    )
    serving = f"variant {trial.champion_variant} ({trial.champion_model_name})" if trial else "(not reported)"
    challenger = f"variant {trial.challenger_variant} ({trial.challenger_model_name})" if trial else "(not reported)"

    def value(figure: float | None) -> str:
        return "-" if figure is None else _number(figure)

    lines = [
        f"The {dataset} model version {version} won its A/B trial on endpoint {endpoint} and waits for your approval "
        "before it takes all of the endpoint's traffic.",
        "",
        f"Why:             {decision.reason}",
        f"{decision.metric + ':':<17}serving model {value(decision.champion_value)} on {decision.champion_rows} rows, "
        f"challenger {value(decision.challenger_value)} on {decision.challenger_rows} rows",
        f"Test:            {decision.test or '-'}"
        + (f", p = {decision.p_value:.4g}" if decision.p_value is not None else ""),
        f"Trial:           {shares}",
        f"Serving model:   {serving}",
        f"Challenger:      {challenger}",
        f"Report:          {decision.report_uri}",
        f"Figures:         {decision.trial_uri}",
        f"Model package:   {package}",
        "",
        "Until you decide, both variants keep serving as in the trial.",
        "",
        "Promote the challenger to all traffic (opens a page that asks you to confirm):",
        f"  {approve_url}",
        "",
        "Keep the serving model (opens a page that asks for the reason; the challenger leaves the endpoint):",
        f"  {reject_url}",
        "",
        f"The links work once and expire at {expires_at}; without a decision by then the serving model keeps all "
        f"traffic and the challenger leaves the endpoint. You may also decide, {command.where()}, with:",
        f"  driftline approve {run}{command.options()}",
        f'  driftline reject {run}{command.options()} --reason "<why>"',
        "",
        f"Execution:       {step.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, f"model version {version} won its A/B trial: promote it?"),
        message="\n".join(lines),
        attributes=_attributes("promotion-requested", dataset, run),
        error="",
        cause=f"The {dataset} model version {version} won its A/B trial and waits for promotion until {expires_at}.",
    )


def _comparison_lines(comparison: MetricComparison) -> list[str]:
    """One table, one split: both models' figures on this run's test rows, labelled once."""
    rows = f" ({comparison.test_rows} rows)" if comparison.test_rows else ""
    both = comparison.approved_model is not None and comparison.compared
    width = max([len(name) for name, _, _ in comparison.rows] + [6]) + 2
    if both:
        heading = f"On this run's test split{rows}, both models scored on the same rows:"
        table = [f"  {'metric'.ljust(width)}{'this model':>12}{'approved model':>16}"]
        for name, candidate, approved in comparison.rows:
            shown = _number(approved) if approved is not None else "-"
            table.append(f"  {name.ljust(width)}{_number(candidate):>12}{shown:>16}")
        return [heading, *table]
    heading = f"On this run's test split{rows}:"
    table = [f"  {'metric'.ljust(width)}{'this model':>12}"]
    table += [f"  {name.ljust(width)}{_number(candidate):>12}" for name, candidate, _ in comparison.rows]
    if comparison.approved_model is None:
        return [heading, *table]
    lines = [heading, *table, "The approved model was not scored on these rows (the quality gate's reasons say why)."]
    if comparison.registered:
        figures = ", ".join(f"{name} {_number(value)}" for name, value in comparison.registered)
        lines.append(f"Its registered figures, from its own run's test split (other rows): {figures}")
    elif comparison.registered_note:
        lines.append(f"Its registered figures: {comparison.registered_note}")
    return lines


def _trial_plan_lines(plan: ABTestPlan | None) -> list[str]:
    """What approving does when the dataset's models are tried in an A/B trial before they replace the serving one."""
    if plan is None:
        return []
    how = (
        f"answers {plan.challenger_share:.0%} of the requests"
        if plan.mode == "split"
        else f"answers a copy of {plan.challenger_share:.0%} of the requests in shadow mode (never returned)"
    )
    promotion = (
        ", and you approve its promotion (a second email)" if plan.promotion == "approval" else " (automatically)"
    )
    return [
        f"A/B trial:       approving does not replace the serving model: this model {how} for "
        f"{plan.trial_minutes} minutes, and replaces it only if significantly better on labelled rows "
        f"(at least {plan.min_labelled_rows} per variant){promotion}. With no model serving yet, it is deployed as "
        "usual.",
        "",
    ]


def _staging_lines(staging: StagingTestResult | None) -> list[str]:
    """What the candidate did on its staging endpoint: the held-out rows it answered, and how fast under load."""
    if staging is None:
        return []
    smoke, load = staging.smoke, staging.load
    differing = f"{smoke.mismatches - smoke.unanswered} answered differently from the evaluation"
    unanswered = f", {smoke.unanswered} unanswered" if smoke.unanswered else ""
    latency = f"p50 {load.p50_milliseconds:g} ms, p99 {load.p99_milliseconds:g} ms"
    return [
        f"Staging:         endpoint {staging.endpoint_name}",
        f"  smoke test:    {smoke.rows} held-out rows, {differing}{unanswered}",
        f"  load test:     {load.requests_per_second:g} requests/s x {load.seconds} s: {load.requests} requests, "
        f"{latency} (limit {load.max_p99_milliseconds:g} ms), {load.errors} errors",
        f"  results:       {staging.report_uri}",
        "",
    ]


def _retrain_lines(trigger: RunTrigger) -> list[str]:
    """Why a drift run retrained: the alarm, each drifted feature with its distance, and the drift report."""
    if trigger.source != "drift":
        return []
    features = [
        f"  {feature.name}: distance {_number(feature.distance)}"
        + (f" (threshold {_number(feature.threshold)})" if feature.threshold is not None else "")
        if feature.distance is not None
        else f"  {feature.name}"
        for feature in trigger.drifted_features
    ]
    alarm = f" (alarm {trigger.alarm_name})" if trigger.alarm_name else ""
    return [
        f"Why retrained:   the drift monitor found the serving model's inputs drifting{alarm}.",
        "Drifted features:" if features else "Drifted features: named in the drift report",
        *features,
        f"Drift report:    {trigger.report_uri or 'not found when the retrain started'}",
        "",
    ]


def _window_lines(trigger: RunTrigger) -> list[str]:
    """A drift run trains on its labelled data window; the newest upload follows on the next line."""
    if not trigger.retrain_uri:
        return []
    return [f"  every upload of the labelled data window listed in {trigger.retrain_uri}, the newest being"]


def _package_phrase(run: RunDocument, dataset: str) -> tuple[str, str]:
    package = run.registration.model_package_arn if run.registration else "(not reported)"
    return package, f"{dataset} model version {package.rsplit('/', 1)[-1]}"


def _approved(notify: NotifyInput, run: RunDocument, dataset: str) -> Notification:
    package, model = _package_phrase(run, dataset)
    approval = run.approval
    who = f"{approval.decided_by} at {approval.decided_at}" if approval else "an approver"
    where = "in the SageMaker Model Registry" if approval and approval.source == "registry" else "by approval link"
    lines = [
        f"The {model} from run {notify.execution_name} was approved by {who} ({where}).",
        "",
        f"Dataset:         {dataset}",
        f"Data:            {_data_line(run)}",
        *_gate_lines(run.gate),
        f"Model package:   {package} (Approved)",
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, "model approved"),
        message="\n".join(lines),
        attributes=_attributes("approved", dataset, notify.execution_name),
        error="",
        cause=f"The {model} was approved by {who}.",
    )


def _approval_rejected(notify: NotifyInput, run: RunDocument, dataset: str) -> Notification:
    package, model = _package_phrase(run, dataset)
    reason = readable_cause(notify.error, "approval")
    lines = [
        f"The {model} from run {notify.execution_name} was rejected, so it is not deployed.",
        "",
        f"Rejection: {reason}",
        "",
        f"Dataset:         {dataset}",
        f"Data:            {_data_line(run)}",
        *_gate_lines(run.gate),
        f"Model package:   {package} (Rejected)",
        "",
        "No endpoint was changed.",
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, "model rejected by the approver"),
        message="\n".join(lines),
        attributes=_attributes("approval-rejected", dataset, notify.execution_name),
        error=APPROVAL_REJECTED_ERROR,
        cause=f"{_as_sentence(reason)} No endpoint was changed.",
    )


def _approval_expired(notify: NotifyInput, run: RunDocument, dataset: str) -> Notification:
    package, model = _package_phrase(run, dataset)
    lines = [
        f"Nobody approved or rejected the {model} from run {notify.execution_name} in time, so the run ended "
        "and the model is not deployed.",
        "",
        f"Model package:   {package} (still PendingManualApproval; approving it now does not resume this run)",
        f"Dataset:         {dataset}",
        f"Data:            {_data_line(run)}",
        *_gate_lines(run.gate),
        "",
        "No endpoint was changed. Upload the data again to start a new run, or deploy with a longer "
        "ApprovalTimeoutSeconds.",
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, "approval expired"),
        message="\n".join(lines),
        attributes=_attributes("approval-expired", dataset, notify.execution_name),
        error=APPROVAL_EXPIRED_ERROR,
        cause=f"Nobody decided on the {model} before its approval expired; no endpoint was changed.",
    )


# Deployment -------------------------------------------------------------------------------------------


def _deployed(notify: NotifyInput, run: RunDocument, dataset: str, serving: ServingExample | None) -> Notification:
    package, model = _package_phrase(run, dataset)
    deployment = run.deployment
    endpoint = deployment.endpoint_name if deployment else "(not reported)"
    how = {
        "created": "on a new endpoint",
        "updated": "on its endpoint, replacing the previous model (blue/green)",
        "unchanged": "on its endpoint, which already served it",
        "trial": "on its endpoint beside the serving model, in an A/B trial",
        "concluded": "on its endpoint, alone after its A/B trial",
    }[deployment.action if deployment else "created"]
    capture = deployment.data_capture_uri if deployment else None
    autoscaling = (run.serving or {}).get("autoscaling")
    lines = [
        f"The {model} from run {notify.execution_name} is live {how}.",
        "",
        f"Endpoint:        {endpoint}",
        f"Endpoint config: {deployment.endpoint_config_name if deployment else '(not reported)'}",
        f"Previous config: {(deployment.previous_endpoint_config_name if deployment else None) or '-'}",
        f"Model package:   {package}",
        f"Data capture:    {capture or 'none (serverless endpoints capture nothing; drift reports come from uploads)'}",
        f"Rollback alarms: {', '.join(deployment.alarms) if deployment and deployment.alarms else '-'}",
        f"Autoscaling:     {autoscaling or '-'}",
        "",
        *invocation_lines(endpoint, serving),
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, "model deployed"),
        message="\n".join(lines),
        attributes=_attributes("deployed", dataset, notify.execution_name),
        error="",
        cause=f"The {model} serves on endpoint {endpoint}.",
    )


def _trial_started(notify: NotifyInput, run: RunDocument, dataset: str, serving: ServingExample | None) -> Notification:
    deployment = run.deployment
    trial = deployment.trial if deployment else None
    if deployment is None or trial is None:
        return _deployed(notify, run, dataset, serving)
    endpoint = deployment.endpoint_name
    version = trial.challenger_model_package_arn.rsplit("/", 1)[-1]
    plan = run.validation.release.ab_test if run.validation else None
    share = f"{trial.challenger_share:.0%}"
    how = (
        f"answers {share} of the requests to endpoint {endpoint}; the serving model answers the rest"
        if trial.mode == "split"
        else f"gets a copy of {share} of the requests to endpoint {endpoint} (shadow mode): its answers are captured, "
        "never returned; the serving model answers every request"
    )
    lines = [
        f"Model version {version} of {dataset}, approved in run {notify.execution_name}, is in an A/B trial: it {how}.",
        "",
        f"Trial:           {trial.mode}, {trial.trial_minutes} minutes, from {trial.started_at} to {trial.ends_at}",
        f"Serving model:   variant {trial.champion_variant} ({trial.champion_model_name})",
        f"Challenger:      variant {trial.challenger_variant} ({trial.challenger_model_name})",
        f"Decision rule:   the challenger replaces the serving model only if it is significantly better "
        f"(significance {trial.significance:g}) on labelled rows, at least {trial.min_labelled_rows} per variant"
        + (
            ", and once the approver approves its promotion (an email with the report and two links)"
            if plan is not None and plan.promotion == "approval"
            else ""
        ),
        f"Data capture:    {deployment.data_capture_uri or '-'} (one folder per variant)",
        "",
        "Labels: the trial is decided on the true answers to the captured requests. Send requests with an",
        "InferenceId (InvokeEndpoint's InferenceId; the capture records it), then, before the trial ends, upload",
        "their labels under the data bucket's ground-truth/" + dataset + "/ folder (files there start no run):",
        "  - a CSV with a header naming inference_id and the target column, or",
        '  - Model Monitor\'s ground-truth JSON lines: {"groundTruthData": {"data": "<label>", "encoding": "CSV"},',
        '    "eventMetadata": {"eventId": "<inference id>"}, "eventVersion": "0"}',
        *(
            ["In shadow mode every request needs an InferenceId: it pairs the two variants' answers."]
            if trial.mode == "shadow"
            else []
        ),
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, f"A/B trial of model version {version} started"),
        message="\n".join(lines),
        attributes=_attributes("trial_started", dataset, notify.execution_name),
        error="",
        cause=f"Model version {version} is in an A/B trial on endpoint {endpoint} until {trial.ends_at}.",
    )


def _trial_concluded(
    notify: NotifyInput, run: RunDocument, dataset: str, serving: ServingExample | None
) -> Notification:
    decision, deployment = run.trial, run.deployment
    assert decision is not None
    trial = deployment.trial if deployment else None
    endpoint = deployment.endpoint_name if deployment else "(not reported)"
    version = trial.challenger_model_package_arn.rsplit("/", 1)[-1] if trial else "?"
    if decision.winner == "challenger":
        outcome = f"Model version {version} won its A/B trial and now serves alone on endpoint {endpoint}."
        subject = f"model version {version} won its A/B trial and is live"
    elif decision.decision == "challenger":
        outcome = (
            f"Model version {version} won its A/B trial but was not promoted: {_not_promoted(run)} "
            f"The serving model stays alone on endpoint {endpoint}."
        )
        subject = f"A/B trial of model version {version}: won, not promoted; the serving model stays"
    elif decision.decision == "not_enough_evidence":
        outcome = f"The A/B trial of model version {version} decided nothing; the serving model stays on {endpoint}."
        subject = f"A/B trial of model version {version}: not enough evidence"
    else:
        outcome = f"Model version {version} did not beat the serving model; it stays alone on endpoint {endpoint}."
        subject = f"A/B trial of model version {version}: the serving model stays"

    def value(figure: float | None) -> str:
        return "-" if figure is None else _number(figure)

    promoted = run.promotion
    lines = [
        outcome,
        "",
        f"Why:             {decision.reason}",
        *(
            [
                f"Promoted by:     {promoted.decided_by} at {promoted.decided_at}"
                + (f": {promoted.reason}" if promoted.reason else "")
            ]
            if promoted is not None and decision.winner == "challenger"
            else []
        ),
        f"{decision.metric + ':':<17}serving model {value(decision.champion_value)} on {decision.champion_rows} rows, "
        f"challenger {value(decision.challenger_value)} on {decision.challenger_rows} rows",
        f"Test:            {decision.test or '-'}"
        + (f", p = {decision.p_value:.4g}" if decision.p_value is not None else ""),
        f"Report:          {decision.report_uri}",
        f"Figures:         {decision.trial_uri}",
        f"Endpoint config: {deployment.endpoint_config_name if deployment else '(not reported)'}",
        *([f"Autoscaling:     {(run.serving or {}).get('autoscaling')}"] if run.serving else []),
        "",
        *(invocation_lines(endpoint, serving) if decision.winner == "challenger" else []),
        "",
        f"Execution:       {notify.execution_id}",
    ]
    return Notification(
        subject=email_subject(dataset, subject),
        message="\n".join(lines),
        attributes=_attributes("deployed", dataset, notify.execution_name),
        error="",
        cause=outcome,
    )


def _not_promoted(run: RunDocument) -> str:
    """Why a challenger that won was not promoted: the rejection's cause (who, when, why), or the expiry."""
    error = run.promotion_error
    if error is None:
        return "its promotion was not approved."
    if error.error == "States.Timeout":
        return "nobody decided on its promotion before the approval expired."
    return _as_sentence(error.cause or "its promotion was rejected")


FEATURE_LINE_WIDTH = 100


def invocation_lines(endpoint: str, serving: ServingExample | None) -> list[str]:
    """How to call the endpoint: the feature columns in order, one row of them, and the calls that send it.

    AWS CLI v2 reads a blob argument as base64 unless told ``--cli-binary-format raw-in-base64-out``; v1 takes
    it as it is; a ``fileb://`` file works in both.
    """
    if serving is None:
        lines = [
            "Invoke it with CSV rows of the feature columns, in the order of the model's feature_columns "
            "(model_metadata.json in its model.tar.gz), no target, no header:"
        ]
    else:
        columns = textwrap.wrap(
            ", ".join(serving.features), FEATURE_LINE_WIDTH, initial_indent="  ", subsequent_indent="  "
        )
        lines = [
            f"Invoke it with CSV rows of its {len(serving.features)} feature columns, in this order, "
            "no target, no header:",
            *columns,
        ]
    row = serving.row if serving is not None and serving.row is not None else None
    body = row if row is not None else "<feature values, comma-separated>"
    if row is not None:
        lines += ["", "For example, the first row of this run's test split:", f"  {row}"]
    command = f"aws sagemaker-runtime invoke-endpoint --endpoint-name {endpoint} --content-type text/csv"
    return [
        *lines,
        "",
        "AWS CLI v2:",
        f"  {command} \\",
        f"      --cli-binary-format raw-in-base64-out --body {shlex.quote(body)} answer.csv",
        "AWS CLI v1:",
        f"  {command} \\",
        f"      --body {shlex.quote(body)} answer.csv",
        "Either, from a file:",
        f"  printf '%s\\n' {shlex.quote(body)} > row.csv",
        f"  {command} --body fileb://row.csv answer.csv",
        "boto3:",
        f'  boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName={json.dumps(endpoint)}, '
        f'ContentType="text/csv", Body={json.dumps(body)})["Body"].read()',
    ]
