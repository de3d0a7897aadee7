"""The ``driftline`` commands that follow and decide runs, against a real local mode after a real run, run as a
user runs them: ``driftline ...`` in a terminal whose folder holds (or does not hold) local mode's state folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from driftline import datasets
from driftline.local.demo import APPROVAL_STATE
from driftline.local.emulator import LocalCloud
from driftline.local.instances import forget_running, record_running
from driftline.local.runs import follow, wait_for_execution
from driftline.stepfunctions_history import execution_history

pytestmark = pytest.mark.e2e

DRIFTLINE = str(Path(sys.executable).parent / "driftline")


@pytest.fixture(scope="module")
def terminal(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A fresh terminal's environment: no AWS region, credentials or profile, and its own runtime folder."""
    home = tmp_path_factory.mktemp("home")
    (home / "runtime").mkdir(mode=0o700)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@pytest.fixture(scope="module")
def project(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder local mode was started from: its ``.driftline`` is the running local mode's state folder."""
    folder = tmp_path_factory.mktemp("project")
    (folder / ".driftline").symlink_to(cloud.settings.state_dir)
    return folder


@pytest.fixture(scope="module")
def recorded(cloud: LocalCloud, terminal: dict[str, str]) -> Iterator[None]:
    """The note ``driftline local up`` leaves in the runtime folder while it runs."""
    os.environ["XDG_RUNTIME_DIR"], previous = terminal["XDG_RUNTIME_DIR"], os.environ.get("XDG_RUNTIME_DIR")
    try:
        note = record_running(cloud.settings.endpoint_url, cloud.settings.state_dir, cloud.settings.stack_name)
    finally:
        if previous is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = previous
    yield
    forget_running(note)


@pytest.fixture(scope="module")
def waiting_run(cloud: LocalCloud, tmp_path_factory: pytest.TempPathFactory) -> str:
    """An upload whose model passed the gate and waits for approval: the run's name."""
    csv_path = tmp_path_factory.mktemp("data") / "breast_cancer.csv"
    datasets.write_breast_cancer_csv(csv_path)
    sfn = cloud.client("stepfunctions")
    machine = cloud.outputs["PipelineStateMachineArn"]
    known = {e["executionArn"] for e in sfn.list_executions(stateMachineArn=machine)["executions"]}
    cloud.client("s3").upload_file(
        str(csv_path), cloud.outputs["DataBucketName"], "data/breast-cancer/breast_cancer.csv"
    )
    arn = wait_for_execution(sfn, machine, known=known)
    record = follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={APPROVAL_STATE: lambda: False})
    assert record.status == "RUNNING", record.cause
    wait_for_approval_request(sfn, arn)
    return arn.rsplit(":", 1)[-1]


def wait_for_approval_request(sfn: Any, arn: str) -> None:
    """The approval email has gone out (RequestApproval's function answered) before the run counts as waiting."""
    deadline = time.time() + 60
    while not any(e["type"] == "TaskSubmitted" for e in execution_history(sfn, arn)):
        assert time.time() < deadline, "RequestApproval did not answer"
        time.sleep(0.2)


def driftline(*args: str, cwd: Path, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([DRIFTLINE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _stopped_local_mode(folder: Path) -> Path:
    """A state folder whose local mode has stopped: its stack file names a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = folder / ".driftline"
    state.mkdir(parents=True)
    (state / "stack.json").write_text(json.dumps({"endpoint_url": f"http://127.0.0.1:{port}", "region": "us-east-1"}))
    return state


def test_runs_from_the_folder_local_mode_runs_in_uses_it_and_says_so_in_one_line(
    cloud: LocalCloud, project: Path, terminal: dict[str, str], waiting_run: str
) -> None:
    listed = driftline("runs", cwd=project, env=terminal)

    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == (
        f"driftline: using local mode at {cloud.settings.endpoint_url} (state in .driftline); "
        "pass --stack-name for a deployed stack\n"
    )
    (row,) = [line for line in listed.stdout.splitlines() if line.startswith(waiting_run)]
    assert row.split()[1:3] == ["breast-cancer", "RUNNING"]
    assert row.endswith("waiting for approval of driftline-breast-cancer version 1")


def test_status_shows_the_steps_the_gate_and_the_commands_that_decide_the_waiting_run(
    project: Path, terminal: dict[str, str], waiting_run: str
) -> None:
    shown = driftline("status", waiting_run[:20], cwd=project, env=terminal)

    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"Run {waiting_run} (breast-cancer): RUNNING, started ")
    steps = [line.split()[1] for line in lines if line.startswith("  ") and line[2:4].isdigit()]
    assert steps[:6] == ["Validate", "Preprocess", "Train", "IsOwnContainer", "Evaluate", "QualityGate"]
    assert steps[-1] == APPROVAL_STATE
    assert f"      job {waiting_run}-train" in lines
    assert any(
        line.startswith("      passed: auc 0.9") and line.endswith("no serving model compared") for line in lines
    )
    assert lines[-2:] == [
        f"  approve: driftline approve {waiting_run} --local",
        f'  reject:  driftline reject {waiting_run} --local --reason "..."',
    ]


def test_logs_are_the_run_s_handler_and_job_lines_and_one_step_narrows_them(
    project: Path, terminal: dict[str, str], waiting_run: str
) -> None:
    everything = driftline("logs", waiting_run, cwd=project, env=terminal)
    training = driftline("logs", waiting_run, "--step", "train", cwd=project, env=terminal)

    assert everything.returncode == 0 and training.returncode == 0, everything.stderr + training.stderr
    assert f"[StartRun] INFO    Started run {waiting_run} for s3://" in everything.stdout
    assert "[Validate] INFO    Upload accepted" in everything.stdout
    assert "[train job] Training on " in everything.stdout
    assert "[JobEvents] INFO    Resumed the run with the job's outputs" in everything.stdout
    assert "[RequestApproval] INFO    Approval requested" in everything.stdout
    assert "START RequestId" not in everything.stdout and '"_aws"' not in everything.stdout
    sources = {line.split()[1] for line in training.stdout.splitlines()}
    assert sources == {"[Train]", "[train"}


def test_approve_by_prefix_then_follow_the_run_to_its_deployment(
    project: Path, terminal: dict[str, str], waiting_run: str
) -> None:
    approved = driftline("approve", waiting_run[:20], "--by", "maria", cwd=project, env=terminal)
    followed = driftline("status", waiting_run, "--follow", cwd=project, env=terminal, timeout=300)

    assert approved.returncode == 0, approved.stderr
    assert "Approved" in approved.stdout
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "approved by maria (registry)" in followed.stdout
    assert followed.stdout.splitlines()[-1] == "Run ended SUCCEEDED: deployed to driftline-breast-cancer (created)"


def test_from_another_folder_a_fresh_terminal_gets_one_line_per_problem_and_where_local_mode_runs(
    cloud: LocalCloud, terminal: dict[str, str], recorded: None, tmp_path: Path
) -> None:
    state = cloud.settings.state_dir
    outputs = driftline("local", "outputs", cwd=tmp_path, env=terminal)
    approve = driftline("approve", "breast-cancer", cwd=tmp_path, env=terminal)

    assert (outputs.returncode, outputs.stdout) == (1, "")
    assert outputs.stderr == (
        "driftline: local mode is not running from .driftline (no stack.json there)\n"
        f"driftline: local mode runs at {cloud.settings.endpoint_url} with its state in {state}: "
        f"pass --state-dir {state}\n"
    )
    assert (approve.returncode, approve.stdout) == (1, "")
    assert approve.stderr == (
        "driftline: no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region; "
        "for local mode pass --local\n"
        f"driftline: local mode runs at {cloud.settings.endpoint_url} with its state in {state}: "
        f"pass --local --state-dir {state}\n"
    )


def test_without_credentials_or_a_stack_each_is_one_line_without_a_traceback(
    terminal: dict[str, str], tmp_path: Path
) -> None:
    no_credentials = driftline("runs", "--region", "eu-west-1", "--stack-name", "driftline", cwd=tmp_path, env=terminal)

    assert no_credentials.returncode == 1
    assert no_credentials.stderr.startswith("driftline: no AWS credentials were found: ")
    assert no_credentials.stderr.count("\n") == 1 and "Traceback" not in no_credentials.stderr


def test_after_local_mode_stopped_outputs_print_nothing_and_destroy_local_deletes_its_folder(
    project: Path, terminal: dict[str, str], tmp_path: Path
) -> None:
    state = _stopped_local_mode(tmp_path)

    outputs = driftline("local", "outputs", cwd=tmp_path, env=terminal)
    refused = driftline("destroy", "--local", "--yes", cwd=project, env=terminal)
    destroyed = driftline("destroy", "--local", "--yes", cwd=tmp_path, env=terminal)

    assert (outputs.returncode, outputs.stdout) == (1, "")
    assert outputs.stderr == (
        "driftline: local mode is not running (it stopped; its last outputs are in .driftline/stack.json)\n"
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("driftline: local mode is running with the state folder .driftline (")
    assert (project / ".driftline" / "stack.json").exists()
    assert destroyed.returncode == 0, destroyed.stderr
    assert not state.exists()
