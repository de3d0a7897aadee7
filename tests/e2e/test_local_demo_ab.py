"""``driftline demo --ab`` as a user runs it: a weak first model serves, a better second one joins it for a split
trial on labelled live traffic, the challenger wins and serves alone; the demo says each step in a line."""

from __future__ import annotations

import csv
import io
import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

DRIFTLINE = str(Path(sys.executable).parent / "driftline")
DEMO_TIMEOUT_SECONDS = 480
SHARE_TOLERANCE = 0.1
"""569 requests at 50/50: the challenger's share is within 0.1 of 0.5 in all but about 1 run in 10^6."""
SPLIT = re.compile(
    r"\[trial\] sent (?P<sent>\d+) rows, each with an InferenceId, in [0-9.]+ s: "
    r"AllTraffic answered (?P<champion>\d+) \([0-9.]+%\), Challenger-v2 answered (?P<challenger>\d+) \([0-9.]+%\)"
)
LABELS = re.compile(
    r"\[trial\] uploaded their labels \(inference_id,diagnosis\) to s3://(?P<bucket>[^/]+)/(?P<key>\S+)"
)


@dataclass(frozen=True)
class Demo:
    folder: Path
    """Where the user ran it from."""
    state_dir: Path
    run: subprocess.CompletedProcess[str]


def _demo(folder: Path, port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    return subprocess.run(
        [DRIFTLINE, "demo", "--ab", "--port", str(port), "--state-dir", "state", *extra],
        cwd=folder,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
    )


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """The demo run once for the module, from a fresh project folder, on a port kept bound (not listening) until
    local mode takes it (SO_REUSEADDR on both sides), as the ``free_port`` fixture does for one test."""
    folder = tmp_path_factory.mktemp("project")
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", 0))
        run = _demo(folder, int(holder.getsockname()[1]), "--fresh")
    return Demo(folder=folder, state_dir=folder / "state", run=run)


def test_the_ab_demo_shows_the_split_the_labels_and_the_challenger_winning_and_serving_alone(demo: Demo) -> None:
    run = demo.run
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    # No function failed along the way: a handler error prints one "ERROR" line.
    assert " ERROR " not in run.stdout + run.stderr
    assert "takes a few minutes" in run.stdout[: run.stdout.index("[pipeline]")]

    split = SPLIT.search(run.stdout)
    assert split is not None, run.stdout[-4000:]
    sent, champion, challenger = (int(split[name]) for name in ("sent", "champion", "challenger"))
    assert sent == 569 and champion + challenger == sent
    assert champion > 0 and abs(challenger / sent - 0.5) <= SHARE_TOLERANCE, split[0]

    labels = LABELS.search(run.stdout)
    assert labels is not None and labels["key"].startswith("ground-truth/breast-cancer/"), run.stdout[-4000:]
    uploaded = (demo.state_dir / "s3" / labels["bucket"] / labels["key"]).read_text()
    rows = list(csv.reader(io.StringIO(uploaded)))
    assert rows[0] == ["inference_id", "diagnosis"] and len(rows) == 1 + sent
    assert {label for _, label in rows[1:]} == {"benign", "malignant"}

    # The winner's promotion was asked for by email and approved through its link, as a person would.
    assert re.search(r"\[approval\] promote: http://127\.0\.0\.1:\d+/approvals/\S+\.approve\.", run.stdout)
    assert "opened the promote link and confirmed as demo@localhost: Promoted" in run.stdout

    decision = run.stdout[run.stdout.index("A/B trial on driftline-breast-cancer: split") :]
    assert re.search(r"AllTraffic +champion \(model version 1\): accuracy 0\.\d{4} on \d+ labelled rows", decision)
    assert re.search(r"Challenger-v2 +challenger \(model version 2\): accuracy 0\.\d{4} on \d+ labelled rows", decision)
    assert re.search(r"test: two-proportion z-test, p-value [0-9.e-]+", decision)
    assert "decision: challenger." in decision
    assert "winner: Challenger-v2 (model version 2), the challenger" in decision
    report = re.search(r"report: s3://\S+/trial_report\.html\n +(?P<path>\S+trial_report\.html)", decision)
    assert report is not None and "<html" in Path(report["path"]).read_text().lower()
    assert (
        "Endpoint driftline-breast-cancer (DescribeEndpoint): InService, config driftline-breast-cancer-v2, one "
        "variant AllTraffic serving driftline-breast-cancer-v2: the winner alone"
    ) in decision
    assert re.search(r"\[demo\] baseline job driftline-breast-cancer-baseline-v2: Completed", decision)
    assert "drift baseline failed" not in run.stdout  # local mode stopped only once the winner was baselined

    what_next = run.stdout[run.stdout.index("What next:") :]
    assert "--parameter-overrides ABTestMode=Split ABTestChallengerShare=0.5 ABTestTrialMinutes=1" in what_next
    assert "ground-truth/breast-cancer/labels.csv" in what_next


def test_the_ab_demo_on_a_state_that_already_serves_a_model_stops_in_one_line_saying_to_start_fresh(
    demo: Demo, free_port: int
) -> None:
    assert demo.run.returncode == 0, demo.run.stderr[-3000:]

    again = _demo(demo.folder, free_port)

    assert again.returncode == 1, again.stdout[-3000:]
    assert "Traceback" not in again.stdout + again.stderr
    reasons = [line for line in again.stderr.splitlines() if line.startswith("driftline:")]
    assert reasons == [
        "driftline: demo --ab: driftline-breast-cancer already serves a model in the state restored from "
        f"{demo.state_dir.resolve()}; the A/B demo starts from none: add --fresh"
    ], again.stderr
