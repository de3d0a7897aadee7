"""The console in a real browser (headless Chromium, driven by Playwright) during a real local run, on local mode's
own port: the run appears in the list and its graph advances to the approval without a reload, the model is
approved from the console (the same registry decision as ``driftline approve``), the graph advances to the end and
the endpoint serves that model. Any error in the browser's console fails the test, and every page is screenshotted
(``DRIFTLINE_SCREENSHOTS`` names a folder to keep them in, as the README's were made)."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftline import datasets
from driftline.console.app import ConsoleApp
from driftline.local.demo import upload_and_follow
from driftline.local.emulator import LocalCloud
from driftline.stack_target import local_target
from tests.e2e.local_objects import answers_to_rows

pytestmark = pytest.mark.e2e

DATASET = "consoled"
TARGET = "diagnosis"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Chromium without the connections it makes on its own (updates, sync, its own services): the machine's network
is closed, and the test wants no traffic but the console's."""


def _browser_or_skip() -> Any:
    """Playwright's API with the system Chromium; CI has both (``.ci/run`` installs Chromium), so only a machine
    without them skips."""
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("playwright is a development dependency: make install")
        pytest.skip("playwright is not installed")
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("no chromium on PATH: .ci/run installs Debian's chromium package")
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium)")
    return sync_playwright


@pytest.fixture(scope="module")
def console_url(cloud: LocalCloud) -> str:
    """The console local mode serves on its own port."""
    return cloud.settings.console_url.rstrip("/")


@pytest.fixture(scope="module")
def standalone_console_url(cloud: LocalCloud) -> Iterator[str]:
    """The console on a port of its own, as ``driftline console --local`` serves it."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = int(listener.getsockname()[1])
    app = ConsoleApp(local_target(cloud.settings.state_dir), port, user="console-tester")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_run_followed_and_approved_in_the_console_ends_with_its_model_served(
    cloud: LocalCloud, console_url: str, standalone_console_url: str, tmp_path: Path
) -> None:
    sync_playwright = _browser_or_skip()
    shots = Path(os.environ.get("DRIFTLINE_SCREENSHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    csv_path = tmp_path / "cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    config = {"target": TARGET, "metric": "accuracy", "threshold": 0.8}
    followed: dict[str, Any] = {}
    uploading = threading.Thread(
        target=lambda: followed.update(
            record=upload_and_follow(cloud, DATASET, csv_path, config=json.dumps(config).encode(), approve=False)
        )
    )
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.on(
            "console",
            lambda message: errors.append(f"{message.text} {message.location}") if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(240_000)

        page.goto(f"{console_url}/runs")
        uploading.start()
        # The list refreshes itself: the run appears without a reload.
        page.locator("tr[data-run]", has_text=DATASET).first.wait_for()
        page.locator("tr[data-run] a", has_text=DATASET).first.click()
        page.wait_for_url("**/runs/consoled-*")
        assert page.url.startswith(f"{console_url}/runs/")  # on local mode's port, under the console's path
        run_name = page.url.rsplit("/", 1)[1]
        page.locator('g.state.succeeded[data-state="Validate"]').wait_for()
        # The graph advances on its own until the run waits for a person.
        page.locator('g.state.waiting[data-state="RequestApproval"]').wait_for()
        page.screenshot(path=str(shots / "run-waiting.png"), full_page=False)
        uploading.join(timeout=60)
        assert followed["record"].status == "RUNNING"

        page.locator("p.waiting a").click()
        page.wait_for_url("**/models/driftline-consoled")
        page.locator("svg.chart").wait_for()
        page.screenshot(path=str(shots / "models.png"), full_page=True)
        row = page.locator("tr[data-version='1']")
        row.locator("button[value=approve]").click()
        page.locator("p.message", has_text="Approved").wait_for()
        assert page.locator("tr[data-version='1'] .status").inner_text() == "Approved"
        decided = page.locator("tr[data-version='1']").inner_text()
        assert f"Approved by {getpass.getuser()} in the Driftline console" in decided

        page.goto(f"{console_url}/runs/{run_name}")
        page.locator('.live[data-status="SUCCEEDED"]').wait_for()
        page.locator('g.state.succeeded[data-state="ModelDeployed"]').wait_for()
        page.reload()  # the evaluation section is part of the page, not of its live part
        assert "Both models on the held-out rows" in page.locator("main").inner_text()
        assert page.locator("table.metrics th", has_text="accuracy").count() == 1
        assert page.locator('g.state.not-reached[data-state="NotifyFailure"]').count() == 1
        page.screenshot(path=str(shots / "run-succeeded.png"), full_page=False)

        page.goto(f"{console_url}/runs")
        page.screenshot(path=str(shots / "runs.png"), full_page=False)
        answers_to_rows(cloud, f"driftline-{DATASET}", csv_path, TARGET, 5)  # traffic for the endpoint's charts
        page.goto(f"{console_url}/endpoints")
        page.locator(f"tr[data-endpoint='driftline-{DATASET}'] a").click()
        page.locator("h2", has_text="AllTraffic: driftline-consoled-v1 (1, 1 instance(s))").wait_for()
        assert page.locator(".charts .chart-box").count() == 4
        deployed = page.locator("table.deployments tr.deployed", has_text=run_name)
        assert "version 1" in deployed.inner_text() and "(created)" in deployed.inner_text()
        page.screenshot(path=str(shots / "endpoint.png"), full_page=False)
        page.goto(f"{console_url}/drift")
        page.locator("a", has_text=DATASET).click()
        page.locator("h2", has_text="Alarm state changes").wait_for()
        page.screenshot(path=str(shots / "drift.png"), full_page=False)
        page.goto(f"{console_url}/outbox")
        page.locator("ul.outbox a", has_text="waits for your approval").first.click()
        assert "/approvals/" not in page.content()
        page.screenshot(path=str(shots / "outbox-email.png"), full_page=False)
        page.goto(f"{console_url}/runs/{run_name}")
        page.locator("ul.artifacts a", has_text="/evaluate/evaluation").first.click()
        page.locator("ul.artifacts a", has_text="evaluation.json").first.click()
        assert '"accuracy"' in page.locator("pre.artifact").inner_text()
        page.screenshot(path=str(shots / "artifact.png"), full_page=False)
        # driftline console on its own port shows the same run, with its links at its own root.
        page.goto(f"{standalone_console_url}/runs")
        page.locator(f"tr[data-run='{run_name}'] a[href='/runs/{run_name}']").wait_for()
        browser.close()

    assert not errors, errors
    described = cloud.client("sagemaker").describe_endpoint(EndpointName=f"driftline-{DATASET}")
    assert described["EndpointStatus"] == "InService"
    rows, answered = answers_to_rows(cloud, f"driftline-{DATASET}", csv_path, TARGET, 5)
    assert sum(line[0] == row[TARGET] for line, row in zip(answered, rows, strict=True)) >= 4
