"""The console mounted on local mode's own port (under ``/_console``, as a WSGI application behind the emulator's
guard): the same rules, with every link, redirect and cookie below its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from driftline.console.app import CONTENT_SECURITY_POLICY, SESSION_COOKIE, ConsoleApp
from driftline.local.http_guard import LoopbackGuard, MountedApps
from driftline.local.settings import CONSOLE_PATH
from tests.console.targets import offline_target

PORT = 4777
HOST = f"127.0.0.1:{PORT}"


def _emulator(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"emulator {environ['PATH_INFO']}".encode()]


@pytest.fixture
def server(tmp_path: Path) -> Client:
    """Local mode's port: the guard, then the console under its path, the emulator for everything else."""
    target = offline_target(tmp_path)
    apps = MountedApps(_emulator)
    apps.mount(CONSOLE_PATH, ConsoleApp(target, PORT, user="tester", base=CONSOLE_PATH).wsgi)
    (tmp_path / "outbox").mkdir()
    (tmp_path / "outbox" / "20261207-1-deployed.eml").write_text("Subject: Driftline: model deployed\n\nServing.\n")
    return Client(LoopbackGuard(apps, PORT))


def test_only_the_console_s_path_reaches_the_console_and_the_rest_reaches_the_emulator(server: Client) -> None:
    for path in ("/_consoles", "/console/runs", "/driftline-data/_console/x", "/"):
        reply = server.get(path, headers={"Host": HOST})
        assert reply.text == f"emulator {path}", path
    page = server.get(f"{CONSOLE_PATH}/outbox", headers={"Host": HOST})
    assert page.status_code == 200 and "Driftline: model deployed" in page.text


def test_the_console_s_links_redirects_and_cookie_stay_below_its_path(server: Client) -> None:
    page = server.get(f"{CONSOLE_PATH}/outbox", headers={"Host": HOST})

    assert f'href="{CONSOLE_PATH}/outbox/20261207-1-deployed.eml"' in page.text
    assert (
        f'href="{CONSOLE_PATH}/static/console.css"' in page.text
        and f'src="{CONSOLE_PATH}/static/console.js"' in page.text
    )
    assert 'href="/' not in page.text.replace(f'href="{CONSOLE_PATH}/', "")
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=") and f"Path={CONSOLE_PATH};" in cookie and "HttpOnly" in cookie
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for path in (CONSOLE_PATH, f"{CONSOLE_PATH}/"):
        assert server.get(path, headers={"Host": HOST}).headers["Location"] == f"{CONSOLE_PATH}/runs"
    script = server.get(f"{CONSOLE_PATH}/static/console.js", headers={"Host": HOST})
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")


@pytest.mark.parametrize(
    "headers",
    [
        {"Host": "evil.example:4777"},
        {"Host": HOST, "Origin": "http://evil.example"},
        {"Host": HOST, "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_a_foreign_host_origin_or_site_is_refused_before_the_console(server: Client, headers: dict[str, str]) -> None:
    for method in ("GET", "POST"):
        reply = server.open(f"{CONSOLE_PATH}/models/decide", method=method, headers=headers, data=b"decision=approve")
        assert reply.status_code == 403 and "Forbidden" in reply.text


def test_a_decision_without_the_token_or_larger_than_a_form_is_refused(server: Client) -> None:
    own = {"Host": HOST, "Origin": f"http://{HOST}", "Content-Type": "application/x-www-form-urlencoded"}
    refused = server.post(f"{CONSOLE_PATH}/models/decide", headers=own, data=b"decision=approve&package=x")
    too_large = server.post(f"{CONSOLE_PATH}/models/decide", headers=own, data=b"reason=" + b"x" * 20_000)

    assert refused.status_code == 403 and "lacks the console's token" in refused.text
    assert too_large.status_code == 413


def test_a_mount_takes_only_a_path_no_bucket_can_have() -> None:
    apps = MountedApps(_emulator)
    for prefix in ("/console", "/_console/", "_console"):
        with pytest.raises(ValueError, match="prefix"):
            apps.mount(prefix, _emulator)
