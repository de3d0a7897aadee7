"""The console's rules for every request: only its own loopback pages reach it, every form needs the session's
CSRF token, and every answer carries the strict Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftline.console.app import CONTENT_SECURITY_POLICY, SESSION_COOKIE, ConsoleApp
from tests.console.asgi_calls import call
from tests.console.targets import offline_target

PORT = 8766
OWN = {"host": f"127.0.0.1:{PORT}"}


@pytest.fixture
def console(tmp_path: Path) -> ConsoleApp:
    return ConsoleApp(offline_target(tmp_path), PORT, user="tester")


@pytest.mark.parametrize(
    ("headers", "says"),
    [
        ({"host": "evil.example:8766"}, "answers only requests addressed to 127.0.0.1:8766"),
        ({"host": "127.0.0.1:9999"}, "answers only requests addressed to 127.0.0.1:8766"),
        ({}, "answers only requests addressed"),
        (OWN | {"origin": "http://evil.example"}, "not pages of http://evil.example"),
        (OWN | {"origin": "http://127.0.0.1:9999"}, "not pages of"),
        (OWN | {"sec-fetch-site": "cross-site"}, "on behalf of another site"),
    ],
)
def test_a_request_from_another_host_origin_or_site_is_refused_before_anything_runs(
    console: ConsoleApp, headers: dict[str, str], says: str
) -> None:
    for method, path in (("GET", "/runs"), ("POST", "/models/decide")):
        reply = call(console, method, path, headers=headers, body=b"decision=approve")
        assert reply.status == 403 and says in reply.text
        assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "set-cookie" not in reply.headers


def test_a_decision_without_the_session_s_token_is_refused_and_decides_nothing(console: ConsoleApp) -> None:
    form = (
        b"package=arn%3Aaws%3Asagemaker%3Aus-east-1%3A123456789012%3Amodel-package%2Fdriftline-x%2F1&decision=approve"
    )
    session = "s" * 32
    other = console.csrf_token("t" * 32)
    headers = OWN | {"origin": f"http://127.0.0.1:{PORT}", "cookie": f"{SESSION_COOKIE}={session}"}

    for body in (form, form + b"&csrf=" + other.encode(), form + b"&csrf=forged"):
        reply = call(console, "POST", "/models/decide", headers=headers, body=body)
        assert reply.status == 403 and "lacks the console's token" in reply.text
    # The right token without the session cookie it was made for is refused too.
    reply = call(
        console, "POST", "/models/decide", headers=OWN, body=form + b"&csrf=" + console.csrf_token(session).encode()
    )
    assert reply.status == 403


def test_a_first_page_sets_a_strict_session_cookie_and_every_answer_the_security_headers(console: ConsoleApp) -> None:
    reply = call(console, "GET", "/static/console.js", headers=OWN)

    assert reply.status == 200 and reply.headers["content-type"].startswith("text/javascript")
    cookie = reply.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY and "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert reply.headers["x-content-type-options"] == "nosniff" and reply.headers["cache-control"] == "no-store"
    again = call(console, "GET", "/static/console.css", headers=OWN | {"cookie": cookie.split(";")[0]})
    assert "set-cookie" not in again.headers


def test_a_session_s_token_is_its_own(console: ConsoleApp) -> None:
    assert console.csrf_valid("a" * 32, console.csrf_token("a" * 32))
    assert not console.csrf_valid("a" * 32, console.csrf_token("b" * 32))
    assert not console.csrf_valid("", console.csrf_token(""))
    other_console = ConsoleApp(console.target, PORT)
    assert not other_console.csrf_valid("a" * 32, console.csrf_token("a" * 32))


@pytest.mark.parametrize("name", ["../../etc/passwd.eml", "x.txt", "missing.eml", "..%2Fx.eml"])
def test_the_outbox_shows_only_its_own_emails(console: ConsoleApp, tmp_path: Path, name: str) -> None:
    (tmp_path / "outbox").mkdir()
    (tmp_path / "secret.eml").write_text("Subject: not in the outbox\n\nno")

    reply = call(console, "GET", f"/outbox/{name}", headers=OWN)

    assert reply.status == 404


def test_an_email_s_approval_links_never_reach_the_page(console: ConsoleApp, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    link = "http://127.0.0.1:4000/approvals/c22e5b3295c3.approve.1796676316.sQNBAAS428PMAwfFjkGyNy"
    (outbox / "20261207-1-approval.eml").write_text(
        f"Subject: Driftline: credit model version 1 waits for your approval\n\nApprove:\n  {link}\nDataset: <credit>\n"
    )

    listed = call(console, "GET", "/outbox", headers=OWN)
    shown = call(console, "GET", "/outbox/20261207-1-approval.eml", headers=OWN)

    assert "waits for your approval" in listed.text
    assert shown.status == 200 and "link withheld" in shown.text
    assert "/approvals/" not in shown.text and "sQNBAAS428" not in shown.text
    assert "&lt;credit&gt;" in shown.text and "<credit>" not in shown.text


def test_an_unknown_page_or_method_is_answered_with_its_status(console: ConsoleApp) -> None:
    assert call(console, "GET", "/nowhere", headers=OWN).status == 404
    assert call(console, "DELETE", "/runs", headers=OWN).status == 405
    assert call(console, "GET", "/runs/..%2F..", headers=OWN).status == 404
    assert call(console, "GET", "/", headers=OWN).headers["location"] == "/runs"


def test_a_form_larger_than_the_console_takes_is_refused_unread(console: ConsoleApp) -> None:
    reply = call(console, "POST", "/models/decide", headers=OWN, body=b"reason=" + b"x" * 20_000)

    assert reply.status == 413


def test_a_promotion_without_the_session_s_token_or_naming_no_decision_decides_nothing(console: ConsoleApp) -> None:
    session = "s" * 32
    headers = OWN | {"origin": f"http://127.0.0.1:{PORT}", "cookie": f"{SESSION_COOKIE}={session}"}
    token = console.csrf_token(session)

    unsigned = call(console, "POST", "/runs/x-123456789abc/decide", headers=headers, body=b"decision=promote")
    foreign = call(
        console, "POST", "/runs/x-123456789abc/decide", headers=headers, body=b"decision=promote&csrf=" + b"x" * 43
    )
    no_decision = call(
        console, "POST", "/runs/x-123456789abc/decide", headers=headers, body=f"decision=all&csrf={token}".encode()
    )
    no_run = call(console, "POST", "/runs/../decide", headers=headers, body=f"decision=keep&csrf={token}".encode())

    assert unsigned.status == 403 and foreign.status == 403 and "lacks the console's token" in unsigned.text
    assert no_decision.status == 400 and "names no promotion decision" in no_decision.text
    assert no_run.status in (400, 405)
