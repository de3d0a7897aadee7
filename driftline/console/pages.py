"""The console's pages as HTML: every value escaped, no inline script or style (the Content-Security-Policy allows
only the console's own files), and nothing secret: task tokens and approval links never reach a page."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email import policy
from email.parser import BytesParser
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from driftline.console.charts import line_chart
from driftline.console.graph import render_svg, taken_transitions, visits
from driftline.console.reads import (
    Deployment,
    DriftRow,
    DriftView,
    EndpointView,
    ModelGroup,
    ModelVersion,
    RunDetail,
    RunRow,
    VariantView,
    s3_uris,
)
from driftline.run_status import APPROVAL_STATE, PROMOTION_STATE, format_seconds, model_version, step_details

APPROVAL_LINK = re.compile(r"https?://\S+/approvals/\S+")
"""The signed approve/reject links of an approval email: whoever holds one decides, so no page shows them."""


def layout(title: str, body: str, *, where: str, local: bool, active: str = "") -> str:
    sections = [
        ("runs", "/runs", "Runs"),
        ("models", "/models", "Models"),
        ("endpoints", "/endpoints", "Endpoints"),
        ("drift", "/drift", "Drift"),
    ]
    if local:
        sections.append(("outbox", "/outbox", "Outbox"))
    links = "".join(
        f'<a href="{href}"{" class=active" if key == active else ""}>{label}</a>' for key, href, label in sections
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)} · Driftline</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/console.css"><script src="/static/console.js" defer></script>'
        f'</head><body><header><strong>Driftline</strong><nav>{links}</nav><span class="where">{escape(where)}</span>'
        f"</header><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else ""


def _status(status: str) -> str:
    return f'<span class="status {escape(status.lower())}">{escape(status)}</span>'


def runs_page(rows: list[RunRow], *, dataset: str, datasets: Iterable[str], now: datetime) -> str:
    choices = "".join(
        f'<a href="/runs?{urlencode({"dataset": name})}"{" class=active" if name == dataset else ""}>{escape(name)}</a>'
        for name in sorted(set(datasets))
    )
    filters = f'<p class="filters">Datasets: <a href="/runs">all</a> {choices}</p>' if choices else ""
    if not rows:
        which = f" of {escape(dataset)}" if dataset else ""
        return filters + f'<p class="empty">No runs{which} yet: an upload to data/&lt;dataset&gt;/ starts one.</p>'
    body = "".join(
        f'<tr data-run="{escape(row.name)}"><td><a href="/runs/{quote(row.name)}">{escape(row.name)}</a></td>'
        f"<td>{escape(row.dataset)}</td><td>{_status(row.status)}</td><td>{_when(row.started)}</td>"
        f"<td>{format_seconds(((row.stopped or now) - row.started).total_seconds())}</td></tr>"
        for row in rows
    )
    return (
        filters + '<table class="runs" data-live="/runs/live"><thead><tr><th>Run</th><th>Dataset</th><th>Status</th>'
        f"<th>Started</th><th>Took</th></tr></thead><tbody>{body}</tbody></table>"
    )


def run_live(detail: RunDetail, now: datetime, *, csrf: str) -> str:
    """The part of a run's page that changes while it runs: its status, graph and steps, and the promotion form
    while it waits for one (``csrf``: the session's token)."""
    visited = visits(detail.steps, now, run_status=detail.status)
    graph = render_svg(detail.definition, visited, taken_transitions(detail.steps))
    steps = "".join(
        f"<tr><td>{step.entered:%H:%M:%S}</td><td>{escape(step.name)}</td><td>{format_seconds(step.seconds(now))}"
        f"{'' if step.exited or detail.status != 'RUNNING' else ' so far'}</td>"
        f"<td>{'<br>'.join(escape(line) for line in step_details(step))}</td></tr>"
        for step in detail.steps
    )
    took = format_seconds(((detail.stopped or now) - detail.started).total_seconds())
    waiting = ""
    if detail.waiting_package and detail.waiting_state == APPROVAL_STATE:
        group = detail.waiting_package.rpartition(":model-package/")[2].rpartition("/")[0]
        waiting = (
            f'<p class="waiting">Waiting for approval of {escape(model_version(detail.waiting_package))}: decide on '
            f'<a href="/models/{quote(group)}">its model group\'s page</a>.</p>'
        )
    elif detail.waiting_package and detail.waiting_state == PROMOTION_STATE:
        waiting = promotion_form(detail, csrf)
    return (
        f'<div class="live" data-status="{escape(detail.status)}"><p class="summary">{_status(detail.status)} '
        f"started {_when(detail.started)}, {took}{'' if detail.stopped else ' so far'}: {escape(detail.reason)}</p>"
        f"{waiting}"
        f'<div class="columns"><div class="graph">{graph}</div>'
        '<div class="steps"><table><thead><tr><th>Entered</th><th>State</th><th>Took</th><th>What it did</th></tr>'
        f"</thead><tbody>{steps}</tbody></table></div></div></div>"
    )


def promotion_form(detail: RunDetail, csrf: str) -> str:
    """A trial's winner waits for a person: the trial's verdict, and Promote or Keep the serving model. The decision
    goes through the promotion's approval page, as the email's links and ``driftline approve`` do."""
    trial = next((step.result for step in reversed(detail.steps) if step.result.get("winner")), {})
    verdict = f"<p>{escape(str(trial.get('reason') or ''))}</p>" if trial.get("reason") else ""
    return (
        f'<div class="waiting promotion"><p>{escape(model_version(detail.waiting_package))} won its A/B trial and '
        "waits for a person: promote it to take all of the endpoint's traffic, or keep the serving model.</p>"
        f"{verdict}"
        f'<form method="post" action="/runs/{quote(detail.name)}/decide" class="decide">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        '<input name="reason" placeholder="why (recorded with the decision)" maxlength="400">'
        '<button name="decision" value="promote">Promote</button>'
        '<button name="decision" value="keep">Keep the serving model</button></form></div>'
    )


def run_page(
    detail: RunDetail,
    now: datetime,
    *,
    artifact_link: str,
    csrf: str,
    evaluation: dict[str, Any] | None = None,
    notice: str = "",
) -> str:
    trigger = detail.trigger
    origin = (
        f"Retrain after drift: {escape(str(trigger.get('reason') or ''))}"
        if trigger.get("source") == "drift"
        else f"Upload: {escape(detail.data_uri)}"
    )
    sections = [message_page(notice)] if notice else []
    sections += [
        f'<p class="origin">Dataset <a href="/runs?{urlencode({"dataset": detail.dataset})}">{escape(detail.dataset)}'
        f"</a>. {origin}</p>",
        f'<div data-live="/runs/{quote(detail.name)}/live">{run_live(detail, now, csrf=csrf)}</div>',
    ]
    gate = detail.output.get("gate")
    if isinstance(gate, dict) and gate:
        sections.append(_gate_section(gate))
    if evaluation:
        sections.append(evaluation_section(evaluation))
    validation = detail.output.get("validation")
    if isinstance(validation, dict) and validation:
        sections.append(_validation_section(validation))
    artifacts = s3_uris(detail.output)
    if artifacts:
        items = "".join(f"<li>{artifact_link_html(uri, artifact_link)}</li>" for uri in artifacts)
        sections.append(f"<h2>Artifacts</h2><ul class=artifacts>{items}</ul>")
    return "".join(sections)


def artifact_link_html(uri: str, artifact_link: str) -> str:
    """An artifact's URI, linked to where it can be read: the console's own viewer in local mode, the S3 console
    on AWS (``artifact_link`` holds ``{uri}``, ``{bucket}`` and ``{key}``)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    href = artifact_link.format(uri=quote(uri, safe=""), bucket=quote(bucket), key=quote(key, safe=""))
    return f'<a href="{escape(href)}">{escape(uri)}</a>'


def _gate_section(gate: dict[str, object]) -> str:
    rows = [
        ("Decision", "passed" if gate.get("passed") else "failed"),
        ("Metric", f"{gate.get('metric')} = {gate.get('value')}"),
        (
            "Threshold",
            f"{gate.get('threshold')} ({'higher' if gate.get('higher_is_better', True) else 'lower'} is better)",
        ),
        ("Serving model", f"{gate.get('incumbent_model_package_arn') or 'none'} scored {gate.get('incumbent_value')}"),
    ]
    reasons = "".join(f"<li>{escape(str(reason))}</li>" for reason in gate.get("reasons") or [])  # type: ignore[attr-defined]
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in rows)
    return f'<h2>Quality gate</h2><table class="facts">{table}</table><ul>{reasons}</ul>'


def evaluation_section(evaluation: dict[str, Any]) -> str:
    """The evaluation report (``evaluation.json``): every metric of this model and of the serving model on the same
    held-out rows, and the data drift of this run's data against the serving model's baseline."""
    kind = next((key for key in evaluation if key.endswith("_metrics")), "")
    ours = evaluation.get(kind) or {}
    incumbent = evaluation.get("incumbent") or {}
    theirs = incumbent.get(kind) or {}
    rows = "".join(
        f"<tr><th>{escape(str(name))}</th><td>{_metric(ours.get(name))}</td><td>{_metric(theirs.get(name))}</td></tr>"
        for name in sorted(ours)
    )
    serving = escape(model_version(str(incumbent["model_package_arn"]))) if incumbent.get("model_package_arn") else ""
    parts = [
        f'<h2>Both models on the held-out rows</h2><table class="facts metrics"><thead><tr><th>metric</th>'
        f"<th>this model</th><th>serving model{': ' + serving if serving else ''}</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    ]
    drift = evaluation.get("data_drift") or {}
    if drift.get("compared"):
        features = drift.get("drifted_features") or []
        drifted = "".join(
            f"<tr><td>{escape(str(f.get('name')))}</td><td>{escape(str(f.get('method', '')))}</td>"
            f"<td>{_metric(f.get('distance'))}</td><td>{_metric(f.get('threshold'))}</td></tr>"
            for f in features
            if isinstance(f, dict)
        )
        counted = escape(str(drift.get("features", "?")))
        rows_compared = escape(str(drift.get("rows_compared", "?")))
        table = (
            '<table class="drifted"><thead><tr><th>feature</th><th>test</th><th>distance</th><th>threshold</th>'
            f"</tr></thead><tbody>{drifted}</tbody></table>"
        )
        parts.append(
            f"<h2>Data drift against the serving model's baseline</h2><p>{len(features)} of {counted} features "
            f"drifted over {rows_compared} rows.</p>{table if drifted else ''}"
        )
    elif drift:
        parts.append(
            f"<h2>Data drift</h2><p>Not compared: {escape(str(drift.get('reason') or 'no serving model'))}</p>"
        )
    return "".join(parts)


def _metric(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("value")
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _validation_section(validation: dict[str, object]) -> str:
    shown = {k: v for k, v in validation.items() if isinstance(v, str | int | float | bool) and k != "config_uri"}
    table = "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>" for k, v in sorted(shown.items()))
    return f'<h2>Validation</h2><table class="facts">{table}</table>'


def models_page(groups: list[ModelGroup]) -> str:
    if not groups:
        return '<p class="empty">No model registered yet: a run that passes the quality gate registers one.</p>'
    items = "".join(
        f'<li><a href="/models/{quote(group.name)}">{escape(group.name)}</a> <span class="muted">created '
        f"{_when(group.created)}</span></li>"
        for group in groups
    )
    return f'<ul class="groups">{items}</ul>'


def group_page(group: str, versions: list[ModelVersion], *, csrf: str) -> str:
    metric = next((version.metric for version in reversed(versions) if version.metric), "metric")
    points = [(f"v{version.version}", version.value) for version in versions if version.value is not None]
    chart = line_chart(
        [(label, float(value)) for label, value in points if value is not None], title=f"{metric} by version"
    )
    rows = "".join(_version_row(version, csrf) for version in reversed(versions))
    return (
        f'<div class="chart-box">{chart}</div>'
        '<table class="versions"><thead><tr><th>Version</th><th>Status</th><th>Metric</th><th>Registered</th>'
        f"<th>Decided</th><th>Run</th><th></th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _version_row(version: ModelVersion, csrf: str) -> str:
    decision = ""
    if version.status == "PendingManualApproval":
        decision = (
            '<form method="post" action="/models/decide" class="decide">'
            f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
            f'<input type="hidden" name="package" value="{escape(version.arn)}">'
            '<input name="reason" placeholder="why (needed to reject)" maxlength="400">'
            '<button name="decision" value="approve">Approve</button>'
            '<button name="decision" value="reject">Reject</button></form>'
        )
    decided = (
        f"{escape(version.decided)}<br><span class=muted>{_when(version.decided_at)}</span>" if version.decided else ""
    )
    run = f'<a href="/runs/{quote(version.run)}">{escape(version.run)}</a>' if version.run else ""
    value = f"{escape(version.metric)} {version.value:.4f}" if version.value is not None else ""
    return (
        f'<tr data-version="{version.version}"><td>{version.version}</td><td>{_status(version.status)}</td>'
        f"<td>{value}</td><td>{_when(version.created)}</td><td>{decided}</td><td>{run}</td><td>{decision}</td></tr>"
    )


def message_page(text: str, *, link: tuple[str, str] | None = None) -> str:
    more = f' <a href="{escape(link[0])}">{escape(link[1])}</a>' if link else ""
    return f'<p class="message">{escape(text)}{more}</p>'


# The outbox (local mode) ---------------------------------------------------------------------------------------


def outbox_page(folder: Path) -> str:
    emails = sorted(folder.glob("*.eml"), reverse=True) if folder.is_dir() else []
    if not emails:
        return '<p class="empty">No email sent yet.</p>'
    items = []
    for path in emails[:200]:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes(), headersonly=True)
        items.append(
            f'<li><a href="/outbox/{quote(path.name)}">{escape(str(message["Subject"] or path.name))}</a> '
            f'<span class="muted">{escape(str(message["Date"] or ""))}</span></li>'
        )
    return f'<ul class="outbox">{"".join(items)}</ul>'


def email_page(path: Path) -> str:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    part = message.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else ""
    shown = APPROVAL_LINK.sub("(link withheld here: decide on the Models page, or open the email itself)", str(text))
    headers = "".join(
        f"<tr><th>{name}</th><td>{escape(str(message[name] or ''))}</td></tr>"
        for name in ("From", "To", "Subject", "Date")
    )
    return f'<table class="facts">{headers}</table><pre class="email">{escape(shown)}</pre>'


def now_utc() -> datetime:
    return datetime.now(UTC)


# Endpoints and drift -------------------------------------------------------------------------------------------


def endpoints_page(views: list[EndpointView]) -> str:
    if not views:
        return '<p class="empty">No endpoint yet: an approved model is deployed to one.</p>'
    rows = "".join(
        f'<tr data-endpoint="{escape(view.name)}">'
        f'<td><a href="/endpoints/{quote(view.name)}">{escape(view.name)}</a></td>'
        f"<td>{_status(view.status)}</td><td>{'<br>'.join(_variant_line(v) for v in view.variants)}</td>"
        f"<td>{_when(view.modified)}</td></tr>"
        for view in views
    )
    return (
        '<table class="endpoints"><thead><tr><th>Endpoint</th><th>Status</th><th>Serves (weight)</th>'
        f"<th>Last changed</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _variant_line(variant: VariantView) -> str:
    return f"{escape(variant.name)}: {escape(variant.model)} ({variant.weight:g}, {variant.instances} instance(s))"


def endpoint_page(view: EndpointView, deployed: list[Deployment]) -> str:
    parts = [
        f'<p class="summary">{_status(view.status)} configuration {escape(view.config)}, last changed '
        f"{_when(view.modified)}</p>"
    ]
    if view.failure:
        # A failed update or a rollback leaves the endpoint on its previous configuration with this reason.
        parts.append(f'<p class="message">Last failure: {escape(view.failure)}</p>')
    for variant in view.variants:
        parts.append(f"<h2>{_variant_line(variant)}</h2>")
        charts = []
        for metric, unit in (
            ("Invocations", "requests"),
            ("ModelLatency", "ms, average"),
            ("Invocation4XXErrors", "errors"),
            ("Invocation5XXErrors", "errors"),
        ):
            points = [(f"{when:%H:%M}", value) for when, value in variant.series.get(metric, [])]
            charts.append(f'<div class="chart-box">{line_chart(points, title=f"{metric} ({unit})")}</div>')
        parts.append(f'<div class="charts">{"".join(charts)}</div>')
    parts.append(deployments_section(deployed))
    return "".join(parts)


def deployments_section(deployed: list[Deployment]) -> str:
    """The endpoint's deployments and rollbacks, newest first: each run that deployed to it, and what came of it."""
    if not deployed:
        return '<h2>Deployments</h2><p class="empty">No run has deployed to this endpoint among the newest runs.</p>'
    rows = "".join(
        f'<tr class="{"failed" if item.failed else "deployed"}"><td>{_when(item.when)}</td>'
        f'<td><a href="/runs/{quote(item.run)}">{escape(item.run)}</a></td><td>{escape(item.version)}</td>'
        f"<td>{_status('FAILED' if item.failed else 'DEPLOYED')} {escape(item.outcome)}</td></tr>"
        for item in deployed
    )
    return (
        '<h2>Deployments</h2><table class="deployments"><thead><tr><th>Ended</th><th>Run</th><th>Model</th>'
        f"<th>What happened</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def drift_list_page(rows_shown: list[DriftRow]) -> str:
    if not rows_shown:
        return '<p class="empty">No drift monitor yet: deploying a model sets one up for its endpoint.</p>'
    rows = "".join(
        f'<tr><td><a href="/drift/{quote(row.dataset)}">{escape(row.dataset)}</a></td>'
        f"<td>{escape(row.endpoint)}</td><td>{_status(row.state)}</td><td>{escape(row.reason)}</td></tr>"
        for row in rows_shown
    )
    return (
        '<table class="drift"><thead><tr><th>Dataset</th><th>Endpoint</th><th>Drift alarm</th><th>Why</th></tr>'
        f"</thead><tbody>{rows}</tbody></table>"
    )


def drift_page(view: DriftView, *, artifact_link: str, retrains: list[RunRow]) -> str:
    parts = [
        f'<p class="summary">Alarm {escape(view.alarm)}: {_status(view.state)} {escape(view.state_reason)}</p>',
        f"<h2>Distance of each window from the baseline, per feature (threshold {view.threshold:g})</h2>"
        if view.threshold is not None
        else "<h2>Distance of each window from the baseline, per feature</h2>",
    ]
    charts = [
        f'<div class="chart-box" data-feature="{escape(feature)}">'
        f"{line_chart([(f'{when:%H:%M}', value) for when, value in points], title=feature, threshold=view.threshold)}"
        "</div>"
        for feature, points in sorted(view.features.items())
    ]
    parts.append(
        f'<div class="charts">{"".join(charts)}</div>' if charts else '<p class="empty">No window analysed yet.</p>'
    )
    history = "".join(f"<li>{_when(change.when)}: {escape(change.summary)}</li>" for change in view.history)
    parts.append(f"<h2>Alarm state changes</h2><ul>{history or '<li>none yet</li>'}</ul>")
    runs = "".join(
        f'<li><a href="/runs/{quote(run.name)}">{escape(run.name)}</a> {_status(run.status)} {_when(run.started)}</li>'
        for run in retrains
    )
    parts.append(f"<h2>Retrains started by drift</h2><ul>{runs or '<li>none yet</li>'}</ul>")
    reports = "".join(f"<li>{artifact_link_html(uri, artifact_link)}</li>" for uri in view.reports)
    parts.append(f"<h2>Reports</h2><ul class=artifacts>{reports or '<li>none yet</li>'}</ul>")
    return "".join(parts)
