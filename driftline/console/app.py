"""The console's web application (ASGI, served by uvicorn on 127.0.0.1): routes, and the rules every request
passes before any of them.

- Only this machine's own pages reach it: a ``Host`` other than the console's loopback address and port, an
  ``Origin`` other than its own, or a browser's ``Sec-Fetch-Site`` naming another site gets ``403``, as local
  mode's emulator does (``driftline.local.http_guard``).
- Every form carries a CSRF token: an HMAC, under a key made when the console starts, of a random session cookie
  (``HttpOnly``, ``SameSite=Strict``) set on the first page. A POST without both, or with a token of another
  session, is refused before anything is decided.
- Every answer carries a strict Content-Security-Policy (the console's own script and style only; no inline code,
  no frames, forms post only to the console) and is never cached.

A decision made here goes through the same path as ``driftline approve``: the package's registry status, whose
event resumes the waiting run (``approvals_cli.decide_in_registry``).
"""

from __future__ import annotations

import asyncio
import base64
import getpass
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from html import escape
from http import HTTPStatus
from http.cookies import SimpleCookie
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from driftline.approvals_cli import DecisionRefused, decide_in_registry, decide_promotion, waiting_decision
from driftline.console import pages
from driftline.console.reads import (
    GROUP_NAME,
    RUN_NAME,
    RunRow,
    deployments,
    drift_alarms,
    drift_row,
    drift_view,
    endpoint_names,
    endpoint_view,
    model_groups,
    model_versions,
    recent_runs,
    run_detail,
)
from driftline.local.endpoints.server import read_body
from driftline.local.http_guard import allowed_hosts, allowed_origins
from driftline.run_status import PROMOTION_STATE, may_be_of_dataset
from driftline.stack_target import StackTarget
from driftline.stepfunctions_history import execution_arn_for, json_object

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
REPORT_POLICY = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"
"""For an HTML report shown as itself: a sandbox (no script, an origin of its own), its own styles and images."""
SESSION_COOKIE = "driftline_console"
MAX_FORM_BYTES = 16 * 1024
MAX_ARTIFACT_BYTES = 2 * 1024 * 1024
"""The most of an artifact the viewer shows (the first bytes of a larger one)."""
EMAIL_FILE = re.compile(r"^[A-Za-z0-9._-]{1,200}\.eml$")
STATIC_FILES = {
    "console.css": "text/css; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
DECISION_WAIT_SECONDS = 10.0
OWN_LINK = re.compile(r'\b(href|src|action|data-live)="/')


@dataclass
class Answer:
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    policy: str = CONTENT_SECURITY_POLICY


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    session: str


class ConsoleApp:
    """The console for one stack (``target``), answering on ``127.0.0.1:<port>``: on a port of its own as an ASGI
    application (``driftline console``), or under ``base`` on local mode's own port as a WSGI one."""

    def __init__(self, target: StackTarget, port: int, *, user: str | None = None, base: str = "") -> None:
        self.target = target
        self.port = port
        self.base = base.rstrip("/")
        """The path the console is mounted under (``/_console`` on local mode's port); empty on its own port."""
        self.user = user or getpass.getuser()
        self._key = secrets.token_bytes(32)
        self._hosts = allowed_hosts(port)
        self._origins = allowed_origins(port)
        self._clients: dict[str, Any] = {}

    # -- the rules every request passes ------------------------------------------------------------------------
    def refusal(self, headers: dict[str, str]) -> str | None:
        host = headers.get("host", "").strip().lower()
        if host not in self._hosts:
            return f"Forbidden: the console answers only requests addressed to 127.0.0.1:{self.port} (Host {host!r})."
        origin = headers.get("origin")
        if origin is not None and origin.strip().lower().rstrip("/") not in self._origins:
            return f"Forbidden: the console serves only its own pages, not pages of {origin}."
        site = headers.get("sec-fetch-site")
        if site is not None and site.strip().lower() not in ("same-origin", "none"):
            return f"Forbidden: a browser sent this request on behalf of another site (Sec-Fetch-Site: {site})."
        return None

    def csrf_token(self, session: str) -> str:
        digest = hmac.new(self._key, session.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def csrf_valid(self, session: str, token: str) -> bool:
        return bool(session) and hmac.compare_digest(self.csrf_token(session), token)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.target.client(service)
        return self._clients[service]

    # -- every request, whatever serves it ------------------------------------------------------------------------
    def respond(
        self, method: str, path: str, query_string: str, headers: dict[str, str], body: bytes | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The answer to one request (its status, headers and body): the rules, then the route. ``headers`` are
        lower-cased; ``body`` is None when it was larger than a form may be (it is then never read)."""
        refusal = self.refusal(headers)
        new_session = ""
        if refusal is not None:
            answer = Answer(403, refusal.encode(), "text/plain; charset=utf-8")
        elif body is None:
            answer = Answer(413, b"The form is too large.", "text/plain; charset=utf-8")
        else:
            session = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
            if not session:
                session = new_session = secrets.token_urlsafe(24)
            query = {k: v[0] for k, v in parse_qs(query_string).items()}
            try:
                answer = self.route(Request(method, path, query, headers, body, session))
            except Exception as error:  # an AWS error, say: shown, not a stack trace
                answer = Answer(
                    502,
                    self.page(
                        "The console could not read this page", pages.message_page(f"{type(error).__name__}: {error}")
                    ),
                )
        if self.base:
            answer = self._under_base(answer)
        extra = list(answer.headers)
        if new_session:
            extra.append(
                ("set-cookie", f"{SESSION_COOKIE}={new_session}; Path={self.base or '/'}; HttpOnly; SameSite=Strict")
            )
        return (
            answer.status,
            [
                ("content-type", answer.content_type),
                ("content-length", str(len(answer.body))),
                ("content-security-policy", answer.policy),
                ("x-content-type-options", "nosniff"),
                ("x-frame-options", "DENY"),
                # Not no-referrer: under it Chromium sends "Origin: null" with the console's own forms.
                ("referrer-policy", "same-origin"),
                ("cache-control", "no-store"),
                *extra,
            ],
            answer.body,
        )

    def _under_base(self, answer: Answer) -> Answer:
        """The answer of a console mounted under ``base``: its pages' links and its redirects point below it.

        Pages write every link of their own as an attribute starting ``="/``; no value a page shows can (they are
        escaped, quotes included), and an HTML report shown as itself is not a page of the console."""
        body = answer.body
        if answer.content_type.startswith("text/html") and answer.policy == CONTENT_SECURITY_POLICY:
            body = OWN_LINK.sub(rf'\1="{self.base}/', body.decode()).encode()
        headers = [
            (name, f"{self.base}{value}" if name == "location" and value.startswith("/") else value)
            for name, value in answer.headers
        ]
        return Answer(answer.status, body, answer.content_type, headers, answer.policy)

    # -- ASGI (``driftline console``) ----------------------------------------------------------------------------
    async def __call__(
        self, scope: dict[str, Any], receive: Callable[..., Awaitable[Any]], send: Callable[..., Any]
    ) -> None:
        if scope["type"] != "http":
            return
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        body = await read_body(receive, headers, MAX_FORM_BYTES) if self.refusal(headers) is None else b""
        status, answer_headers, payload = await asyncio.to_thread(
            self.respond,
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            body,
        )
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(name.encode(), value.encode()) for name, value in answer_headers],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    # -- WSGI (mounted on local mode's own port) -------------------------------------------------------------------
    def wsgi(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        headers = {
            name.removeprefix("HTTP_").replace("_", "-").lower(): str(value)
            for name, value in environ.items()
            if name.startswith("HTTP_") or name in ("CONTENT_TYPE", "CONTENT_LENGTH")
        }
        body = wsgi_body(environ, MAX_FORM_BYTES) if self.refusal(headers) is None else b""
        status, answer_headers, payload = self.respond(
            str(environ.get("REQUEST_METHOD", "GET")),
            str(environ.get("PATH_INFO", "")),
            str(environ.get("QUERY_STRING", "")),
            headers,
            body,
        )
        start_response(f"{status} {HTTPStatus(status).phrase}", answer_headers)
        return [payload]

    # -- routes --------------------------------------------------------------------------------------------------
    def page(self, title: str, body: str, *, active: str = "") -> bytes:
        return pages.layout(
            title, body, where=self.target.describe(), local=self.target.is_local, active=active
        ).encode()

    def route(self, request: Request) -> Answer:
        path = request.path.rstrip("/") or "/"
        if request.method == "POST":
            if path == "/models/decide":
                return self.decide(request)
            name, _, rest = path.removeprefix("/runs/").partition("/")
            if path.startswith("/runs/") and rest == "decide":
                return self.decide_promotion(request, name)
            return Answer(405, b"Only a decision's form is posted.", "text/plain; charset=utf-8")
        if request.method not in ("GET", "HEAD"):
            return Answer(405, b"Method not allowed.", "text/plain; charset=utf-8")
        if path == "/":
            return Answer(303, b"", headers=[("location", "/runs")])
        if path == "/favicon.ico":
            return Answer(301, b"", headers=[("location", "/static/favicon.svg")])
        if path.startswith("/static/"):
            return self.static(path.removeprefix("/static/"))
        if path in ("/runs", "/runs/live"):
            return self.runs(request, live=path.endswith("/live"))
        if path.startswith("/runs/"):
            name, _, rest = path.removeprefix("/runs/").partition("/")
            if rest in ("", "live"):
                return self.run(name, request, live=rest == "live")
        if path == "/models":
            groups = model_groups(
                self.client("sagemaker"), self.target.outputs.get("ModelPackageGroupPrefix", self.target.stack_name)
            )
            return Answer(200, self.page("Models", pages.models_page(groups), active="models"))
        if path.startswith("/models/"):
            return self.group(path.removeprefix("/models/"), request)
        if path == "/endpoints":
            return self.endpoints()
        if path.startswith("/endpoints/"):
            return self.endpoint(path.removeprefix("/endpoints/"))
        if path == "/drift":
            return self.drift_list()
        if path.startswith("/drift/"):
            return self.drift(path.removeprefix("/drift/"))
        if path == "/artifacts":
            return self.artifact(request.query.get("uri", ""))
        if self.target.is_local and path == "/outbox":
            return Answer(200, self.page("Outbox", pages.outbox_page(self.outbox()), active="outbox"))
        if self.target.is_local and path.startswith("/outbox/"):
            return self.email(path.removeprefix("/outbox/"))
        return self.not_found("There is no such page.")

    def not_found(self, text: str) -> Answer:
        return Answer(404, self.page("Not found", pages.message_page(text, link=("/runs", "Back to the runs"))))

    def static(self, name: str) -> Answer:
        if name not in STATIC_FILES:
            return Answer(404, b"", "text/plain; charset=utf-8")
        return Answer(200, (resources.files("driftline.console") / "static" / name).read_bytes(), STATIC_FILES[name])

    def runs(self, request: Request, *, live: bool) -> Answer:
        dataset = request.query.get("dataset", "")
        sfn = self.client("stepfunctions")
        rows = recent_runs(sfn, self.target.machine_arn, dataset=dataset)
        datasets = {row.dataset for row in (rows if not dataset else recent_runs(sfn, self.target.machine_arn))}
        now = pages.now_utc()
        table = pages.runs_page(rows, dataset=dataset, datasets=datasets, now=now)
        if live:
            return Answer(200, table.encode())
        live_url = "/runs/live" + (f"?{urlencode({'dataset': dataset})}" if dataset else "")
        body = f'<div data-live="{live_url}" data-every="3000">{table}</div>'
        return Answer(200, self.page("Runs", body, active="runs"))

    def run(self, name: str, request: Request, *, live: bool) -> Answer:
        detail = run_detail(self.client("stepfunctions"), self.target.machine_arn, name)
        if detail is None:
            return self.not_found(f"There is no run {name}.")
        now = pages.now_utc()
        csrf = self.csrf_token(request.session)
        if live:
            return Answer(200, pages.run_live(detail, now, csrf=csrf).encode())
        body = pages.run_page(
            detail,
            now,
            artifact_link=self.artifact_link(),
            csrf=csrf,
            evaluation=self.evaluation(detail),
            notice=request.query.get("notice", ""),
        )
        return Answer(200, self.page(f"Run {name}", body, active="runs"))

    def evaluation(self, detail: Any) -> dict[str, Any] | None:
        """The run's evaluation report, which its gate names; None before the gate or when it cannot be read."""
        gate = detail.output.get("gate")
        uri = str(gate.get("evaluation_uri") or "") if isinstance(gate, dict) else ""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or bucket != self.target.outputs.get("ArtifactBucketName") or not key:
            return None
        s3 = self.client("s3")
        try:
            body = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_ARTIFACT_BYTES - 1}")["Body"].read()
            report = json.loads(body)
        except (s3.exceptions.ClientError, ValueError):
            return None
        return report if isinstance(report, dict) else None

    @property
    def prefix(self) -> str:
        """Every resource name of the stack starts with ``<prefix>-`` (the model package group prefix output)."""
        return self.target.outputs.get("ModelPackageGroupPrefix", self.target.stack_name)

    @property
    def metric_period(self) -> int:
        """Local mode's endpoints publish a minute at a time and its windows are minutes; SageMaker's are hourly."""
        return 60 if self.target.is_local else 300

    def endpoints(self) -> Answer:
        sagemaker = self.client("sagemaker")
        now = pages.now_utc()
        views = [
            view
            for name in endpoint_names(sagemaker, self.prefix)
            if (view := endpoint_view(sagemaker, None, name, period=self.metric_period, now=now)) is not None
        ]
        return Answer(200, self.page("Endpoints", pages.endpoints_page(views), active="endpoints"))

    def endpoint(self, name: str) -> Answer:
        if not GROUP_NAME.fullmatch(name) or not name.startswith(f"{self.prefix}-"):
            return self.not_found(f"There is no endpoint {name} of this stack.")
        now = pages.now_utc()
        view = endpoint_view(
            self.client("sagemaker"), self.client("cloudwatch"), name, period=self.metric_period, now=now
        )
        if view is None:
            return self.not_found(f"There is no endpoint {name}.")
        deployed = deployments(self.client("stepfunctions"), self.target.machine_arn, name, prefix=self.prefix)
        return Answer(200, self.page(f"Endpoint {name}", pages.endpoint_page(view, deployed), active="endpoints"))

    def _drift_view(self, alarm: dict[str, Any]) -> Any:
        return drift_view(
            self.client("cloudwatch"),
            self.client("sagemaker"),
            self.client("s3"),
            alarm,
            stack=self.prefix,
            bucket=self.target.outputs.get("ArtifactBucketName", ""),
            period=self.metric_period,
            now=pages.now_utc(),
        )

    def drift_list(self) -> Answer:
        alarms = drift_alarms(self.client("cloudwatch"), self.prefix)
        views = [drift_row(alarm, self.prefix) for alarm in alarms]
        return Answer(200, self.page("Drift", pages.drift_list_page(views), active="drift"))

    def drift(self, dataset: str) -> Answer:
        alarms = [
            alarm
            for alarm in drift_alarms(self.client("cloudwatch"), self.prefix)
            if str(alarm["AlarmName"]) == f"{self.prefix}-drift-{dataset}"
        ]
        if not alarms:
            return self.not_found(f"Dataset {dataset} has no drift monitor.")
        view = self._drift_view(alarms[0])
        sfn = self.client("stepfunctions")
        retrains: list[RunRow] = []
        for row in recent_runs(sfn, self.target.machine_arn, limit=200):
            if len(retrains) >= 20:
                break
            if not may_be_of_dataset(row.name, dataset):
                continue
            described = sfn.describe_execution(executionArn=execution_arn_for(self.target.machine_arn, row.name))
            run_input = json_object(described.get("input"))
            if run_input.get("dataset") == dataset and (run_input.get("trigger") or {}).get("source") == "drift":
                retrains.append(row)
        body = pages.drift_page(view, artifact_link=self.artifact_link(), retrains=retrains)
        return Answer(200, self.page(f"Drift of {dataset}", body, active="drift"))

    def artifact_link(self) -> str:
        if self.target.is_local:
            return "/artifacts?uri={uri}"
        region = self.target.region
        return f"https://{region}.console.aws.amazon.com/s3/object/{{bucket}}?region={region}&prefix={{key}}"

    def group(self, name: str, request: Request) -> Answer:
        if not GROUP_NAME.fullmatch(name):
            return self.not_found(f"There is no model group {name}.")
        versions = model_versions(self.client("sagemaker"), name)
        if not versions:
            return self.not_found(f"Model group {name} holds no version.")
        body = pages.group_page(name, versions, csrf=self.csrf_token(request.session))
        notice = request.query.get("notice")
        if notice:
            body = pages.message_page(notice) + body
        return Answer(200, self.page(f"Models of {name}", body, active="models"))

    def form(self, request: Request) -> dict[str, str] | None:
        """A posted form's fields; None when it lacks the session's CSRF token."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        return form if self.csrf_valid(request.session, form.get("csrf", "")) else None

    def decide(self, request: Request) -> Answer:
        form = self.form(request)
        if form is None:
            return _without_token()
        package = form.get("package", "")
        decision = form.get("decision", "")
        reason = form.get("reason", "").strip()
        group = package.rpartition(":model-package/")[2].rpartition("/")[0]
        if decision not in ("approve", "reject") or not GROUP_NAME.fullmatch(group):
            return Answer(
                400, self.page("Not decided", pages.message_page("The form names no decision on a model version."))
            )
        back = f"/models/{quote(group)}"
        if decision == "reject" and not reason:
            return _see(back, "Nothing was decided: a rejection needs a reason.")
        sagemaker = self.client("sagemaker")
        described = sagemaker.describe_model_package(ModelPackageName=package)
        execution_arn = str((described.get("CustomerMetadataProperties") or {}).get("execution_arn") or "")
        try:
            message = decide_in_registry(
                self.client("stepfunctions"),
                sagemaker,
                execution_arn,
                package,
                approve=decision == "approve",
                by=self.user,
                reason=reason,
                wait=DECISION_WAIT_SECONDS,
                where="in the Driftline console",
            )
        except DecisionRefused as refused:
            message = str(refused)
        return _see(back, message)

    def decide_promotion(self, request: Request, name: str) -> Answer:
        """Promote a trial's winner or keep the serving model, through the promotion's approval page: the same
        path as the email's links and ``driftline approve``. The run names what is decided, never the form."""
        form = self.form(request)
        if form is None:
            return _without_token()
        decision = form.get("decision", "")
        if decision not in ("promote", "keep") or not RUN_NAME.fullmatch(name):
            return Answer(400, self.page("Not decided", pages.message_page("The form names no promotion decision.")))
        back = f"/runs/{quote(name)}"
        try:
            state, package = waiting_decision(
                self.client("stepfunctions"), execution_arn_for(self.target.machine_arn, name)
            )
            if state != PROMOTION_STATE:
                raise DecisionRefused(f"run {name} waits for its model's approval: decide on the Models page")
            message = decide_promotion(
                self.target,
                package=package,
                approve=decision == "promote",
                by=self.user,
                reason=form.get("reason", "").strip(),
            )
        except DecisionRefused as refused:
            message = str(refused)
        return _see(back, message)

    def outbox(self) -> Path:
        assert self.target.state_dir is not None
        return self.target.state_dir / "outbox"

    def email(self, name: str) -> Answer:
        path = self.outbox() / name
        if not EMAIL_FILE.fullmatch(name) or not path.is_file():
            return self.not_found(f"There is no email {name} in the outbox.")
        return Answer(200, self.page("Email", pages.email_page(path), active="outbox"))

    def artifact(self, uri: str) -> Answer:
        """An artifact of the stack's buckets, shown as text, or a folder's objects (local mode has no S3 console to
        link to)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        buckets = {self.target.outputs.get("DataBucketName"), self.target.outputs.get("ArtifactBucketName")}
        if not self.target.is_local or not uri.startswith("s3://") or bucket not in buckets or not key:
            return self.not_found("The console shows only objects of this stack's buckets.")
        s3 = self.client("s3")
        if key.endswith("/"):
            listed = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=200).get("Contents", [])
            links = "".join(
                f"<li>{pages.artifact_link_html('s3://' + bucket + '/' + str(item['Key']), self.artifact_link())} "
                f'<span class="muted">{int(item["Size"])} bytes</span></li>'
                for item in listed
            )
            body = pages.message_page(f"{uri}: {len(listed)} objects") + f'<ul class="artifacts">{links}</ul>'
            return Answer(200, self.page("Artifacts", body))
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError:
            return self.not_found(f"There is no object {uri}.")
        size = int(head.get("ContentLength") or 0)
        data = (
            s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_ARTIFACT_BYTES - 1}")["Body"].read()
            if size
            else b""
        )
        if key.endswith(".html") and size <= MAX_ARTIFACT_BYTES:
            # A drift or trial report is a self-contained page: shown as itself, sandboxed.
            return Answer(200, data, "text/html; charset=utf-8", policy=REPORT_POLICY)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return Answer(200, self.page(uri, pages.message_page(f"{uri} is a binary object of {size} bytes.")))
        more = f" (the first {MAX_ARTIFACT_BYTES} of {size} bytes)" if size > MAX_ARTIFACT_BYTES else ""
        body = pages.message_page(f"{uri}{more}") + f'<pre class="artifact">{escape(text)}</pre>'
        return Answer(200, self.page("Artifact", body))


def _without_token() -> Answer:
    return Answer(
        403,
        b"Forbidden: this form lacks the console's token (reload the page and decide again).",
        "text/plain; charset=utf-8",
    )


def _see(path: str, notice: str) -> Answer:
    return Answer(303, b"", headers=[("location", f"{path}?{urlencode({'notice': notice[:500]})}")])


def _cookie(header: str, name: str) -> str:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(header)
    except Exception:
        return ""
    morsel = cookie.get(name)
    value = morsel.value if morsel is not None else ""
    return value if re.fullmatch(r"[A-Za-z0-9_-]{16,64}", value) else ""


def wsgi_body(environ: dict[str, Any], limit: int) -> bytes | None:
    """A WSGI request's body; None when it is (or says it is) longer than ``limit`` bytes, unread then."""
    declared = str(environ.get("CONTENT_LENGTH") or "")
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    if declared.isdigit():
        if int(declared) > limit:
            return None
        return bytes(stream.read(int(declared)))
    if not environ.get("wsgi.input_terminated"):
        return b""  # no length and not chunked: HTTP/1.1 says there is no body
    body = bytes(stream.read(limit + 1))
    return None if len(body) > limit else body
