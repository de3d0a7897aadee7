"""The approval link's pages: the confirmation form a GET shows, and what a POST did.

Each page is one self-contained HTML document (inline style only, no scripts, no external assets),
every value escaped, served with headers that keep it out of frames and caches and let it load
nothing and post only to itself. Responses use API Gateway HTTP API's payload format 2.0.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import parse_qs

from driftline_core.approval.decisions import PENDING, DecisionResult, decide, get_record, settled
from driftline_core.approval.links import iso_time, signing_key, verify_link
from driftline_core.errors import LinkRefused
from driftline_core.settings import ApprovalSettings

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#222}"
    "h1{font-size:1.4rem}label{display:block;margin:.8rem 0 .2rem}"
    "input,textarea{width:100%;padding:.4rem;box-sizing:border-box}"
    "button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.note{color:#555}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(_STYLE.encode()).digest()).decode()
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
FORM_TOKEN = "token"
FORM_APPROVER = "approver"
FORM_REASON = "reason"
MAX_FIELD = 500


@dataclass(frozen=True)
class Form:
    """A confirmation form: the link's own token travels back in a hidden field."""

    token: str
    decision: str
    """``approve`` or ``reject``."""
    summary: str
    promotion: bool = False
    """The question is a trial winner's promotion, not a model's approval."""


def page(status: int, title: str, paragraphs: list[str], form: Form | None = None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) response holding one small, escaped HTML page."""
    body = [f"<h1>{escape(title)}</h1>", *(f"<p>{escape(text)}</p>" for text in paragraphs)]
    if form is not None:
        body.append(_form_html(form))
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="referrer" content="no-referrer"><title>{escape(title)}</title>'
        f"<style>{_STYLE}</style></head><body>{''.join(body)}</body></html>"
    )
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": CONTENT_SECURITY_POLICY,
            "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
        "body": html,
        "isBase64Encoded": False,
    }


def _form_html(form: Form) -> str:
    approving = form.decision == "approve"
    if approving:
        reason_label = "Reason (optional)"
    else:
        reason_label = "Why keep the serving model (required)" if form.promotion else "Reason for rejecting (required)"
    if form.promotion:
        button = "Promote this model to all traffic" if approving else "Keep the serving model"
    else:
        button = "Approve this model" if approving else "Reject this model"
    required = "" if approving else " required"
    return (
        '<form method="post">'
        f'<input type="hidden" name="{FORM_TOKEN}" value="{escape(form.token)}">'
        f'<label for="approver">Your name or email (recorded as the {"approver" if approving else "rejecter"})</label>'
        f'<input id="approver" name="{FORM_APPROVER}" maxlength="{MAX_FIELD}" required autocomplete="email">'
        f'<label for="reason">{reason_label}</label>'
        f'<textarea id="reason" name="{FORM_REASON}" maxlength="{MAX_FIELD}" rows="3"{required}></textarea>'
        f'<button type="submit">{button}</button>'
        '<p class="note">Nothing is decided until you press the button.</p>'
        "</form>"
    )


MAX_FORM_FIELDS = 20
"""The page sends three fields; a form with more did not come from it."""


class FormRefused(ValueError):
    """A POSTed form this page could not have sent; the message says what is wrong."""


def form_fields(body: str | None, is_base64: bool) -> dict[str, str]:
    """The POSTed form's fields (first value of each), trimmed; HTTP APIs may base64-encode the body.

    Raises ``FormRefused`` for a body that is not UTF-8 (the page declares UTF-8, so a browser sends it), for
    more fields than the page has, and for a value longer than the page's fields take: nothing is cut or
    replaced silently.
    """
    if not body:
        return {}
    try:
        text = base64.b64decode(body).decode("utf-8") if is_base64 else body
    except (ValueError, UnicodeDecodeError) as error:
        raise FormRefused("The form's text is not UTF-8, as the approval page sends it.") from error
    try:
        parsed = parse_qs(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS, errors="strict")
    except UnicodeDecodeError as error:
        raise FormRefused("The form's text is not UTF-8, as the approval page sends it.") from error
    except ValueError as error:
        raise FormRefused(f"The form has more than {MAX_FORM_FIELDS} fields; the approval page sends three.") from error
    fields = {name: values[0].strip() for name, values in parsed.items() if values}
    labels = {FORM_APPROVER: "Your name or email", FORM_REASON: "The reason"}
    for name, label in labels.items():
        if len(fields.get(name, "")) > MAX_FIELD:
            raise FormRefused(
                f"{label} has {len(fields[name])} characters; at most {MAX_FIELD} are kept. Shorten it and submit "
                "again."
            )
    return fields


_STATUS_BY_OUTCOME = {"decided": 200, "already_decided": 403, "expired": 410, "run_ended": 410, "unknown": 403}
_TITLE_BY_OUTCOME = {
    "already_decided": "Already decided",
    "expired": "This approval has expired",
    "run_ended": "This run has already ended",
    "unknown": "Unknown approval",
}


def answer_get(link: str, settings: ApprovalSettings) -> dict[str, Any]:
    """The confirmation page for a valid, pending link; a GET never decides anything."""
    try:
        signed = verify_link(link, signing_key(settings.approval_secret_arn))
    except LinkRefused as refused:
        return page(refused.status, "This link cannot be used", [str(refused)])
    record = get_record(signed.approval_id, settings)
    if record is None:
        return page(403, _TITLE_BY_OUTCOME["unknown"], ["Driftline has no approval waiting under this link."])
    if record.status != PENDING:
        return result_page(settled(record))
    promotion = record.kind == "promotion"
    if promotion and signed.decision == "approve":
        title = f"Promote {record.dataset} model version {record.version} to all of the endpoint's traffic?"
    elif promotion:
        title = f"Keep the serving model, and take {record.dataset} model version {record.version} off the endpoint?"
    else:
        verb = "Approve" if signed.decision == "approve" else "Reject"
        title = f"{verb} {record.dataset} model version {record.version}?"
    return page(
        200,
        title,
        [
            record.summary,
            f"Model package: {record.model_package_arn}",
            f"This link works until {iso_time(record.expires_at)}.",
        ],
        Form(token=link, decision=signed.decision, summary=record.summary, promotion=promotion),
    )


def answer_post(link: str, body: str | None, is_base64: bool, settings: ApprovalSettings) -> dict[str, Any]:
    """Decide with the confirmation form's fields; a form that is incomplete or unreadable answers 400 and
    decides nothing."""
    try:
        fields = form_fields(body, is_base64)
    except FormRefused as refused:
        return page(400, "The form cannot be used", [str(refused), "Nothing was decided."])
    token = fields.get(FORM_TOKEN, "")
    approver = fields.get(FORM_APPROVER, "")
    reason = fields.get(FORM_REASON, "")
    if not token or token != link:
        return page(
            400,
            "The form is incomplete",
            ["This request did not come from the approval page of this link. Open the link from the email again."],
        )
    try:
        signed = verify_link(link, signing_key(settings.approval_secret_arn))
    except LinkRefused as refused:
        return page(refused.status, "This link cannot be used", [str(refused)])
    missing = [label for label, value in (("your name or email", approver), ("a reason", reason)) if not value]
    if signed.decision == "approve" and reason == "":
        missing = [m for m in missing if m != "a reason"]
    if missing:
        return page(
            400,
            "The form is incomplete",
            [f"Please give {' and '.join(missing)}, then submit again. Nothing was decided."],
        )
    result = decide(
        signed.approval_id, signed.decision, decided_by=approver, reason=reason, source="link", settings=settings
    )
    return result_page(result)


def result_page(result: DecisionResult) -> dict[str, Any]:
    if result.outcome == "decided" and result.record is not None:
        approved = result.record.status == "approved"
        if result.record.kind == "promotion":
            title = "Promoted" if approved else "The serving model stays"
        else:
            title = "Approved" if approved else "Rejected"
        return page(200, title, [result.message])
    return page(_STATUS_BY_OUTCOME[result.outcome], _TITLE_BY_OUTCOME[result.outcome], [result.message])
