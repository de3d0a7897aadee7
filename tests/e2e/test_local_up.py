"""``driftline local up`` is a long-running process that other processes use as their AWS endpoint."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from driftline import datasets
from driftline.local.runs import follow, wait_for_execution

pytestmark = pytest.mark.e2e

TOO_FEW_ROWS = b"age,income,default\n41,52000,no\nforty,18000,yes\n"
STOP_SECONDS = 120
"""How long Ctrl-C may take: local mode stops its jobs, model servers and function workers one after another,
each waiting for its process to end, which on a 2-core machine running other tests beside it took over 30 s."""


def test_a_second_process_uploads_through_the_endpoint_and_a_run_registers_a_model(
    tmp_path: Path, free_port: int
) -> None:
    port = free_port
    state_dir = tmp_path / "state"
    process = subprocess.Popen(
        [sys.executable, "-m", "driftline.cli", "local", "up", "--port", str(port), "--state-dir", str(state_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job has
    )
    try:
        stack_file = state_dir / "stack.json"
        deadline = time.time() + 120
        while not stack_file.exists():
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.time() < deadline, "local mode did not come up"
            time.sleep(0.2)
        outputs_cli = subprocess.run(
            [sys.executable, "-m", "driftline.cli", "local", "outputs", "--state-dir", str(state_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        stack = json.loads(outputs_cli.stdout)
        assert stack["endpoint_url"] == f"http://127.0.0.1:{port}"
        outputs = stack["outputs"]

        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
        s3 = session.client("s3", endpoint_url=stack["endpoint_url"])
        sfn = session.client("stepfunctions", endpoint_url=stack["endpoint_url"])
        machine = outputs["PipelineStateMachineArn"]
        # A file that fails validation: its run fails at Validate, told in the terminal in a line or two.
        s3.put_object(Bucket=outputs["DataBucketName"], Key="data/credit/two-rows.csv", Body=TOO_FEW_ROWS)
        refused = wait_for_execution(sfn, machine, known=set(), timeout=30)
        assert follow(sfn, refused, show=lambda _: None, timeout=120).status == "FAILED"
        csv_path = tmp_path / "breast_cancer.csv"
        datasets.write_breast_cancer_csv(csv_path)
        s3.upload_file(str(csv_path), outputs["DataBucketName"], "data/tumours/breast_cancer.csv")

        arn = wait_for_execution(sfn, machine, known={refused}, timeout=30)
        waiting = follow(sfn, arn, show=lambda _: None, timeout=300, on_enter={"RequestApproval": lambda: False})
        assert waiting.status == "RUNNING", waiting.cause
        # A third process approves from the terminal; the registry's event resumes the run.
        run_name = arn.rsplit(":", 1)[-1]
        approve = ["approve", run_name, "--local", "--by", "maria", "--state-dir", str(state_dir)]
        approved = subprocess.run(
            [sys.executable, "-m", "driftline.cli", *approve],
            capture_output=True,
            text=True,
        )
        assert approved.returncode == 0, approved.stderr
        assert "Approved" in approved.stdout
        record = follow(sfn, arn, show=lambda _: None, timeout=120)
        assert record.status == "SUCCEEDED", record.cause
        assert record.output["approval"]["source"] == "registry"
        validate_log = _log_events(session.client("logs", endpoint_url=stack["endpoint_url"]), "ValidateFunction")
        # The approver is the name the command was given, not the emulator's idea of the caller.
        assert (record.output["approval"]["decided_by"], record.output["approval"]["reason"]) == ("maria", "")
    finally:
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C: the terminal signals every process of the job
        try:
            output, _ = process.communicate(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    assert "[Validate]" in output and "[email]" in output
    _assert_a_quiet_terminal(output, refused.rsplit(":", 1)[-1], arn.rsplit(":", 1)[-1])
    # The deployed email names the features in order with a row to send, read under the Notify function's role.
    [deployed] = [path.read_text() for path in (state_dir / "outbox").glob("*-model-deployed-*.eml")]
    assert "Invoke it with CSV rows of its 30 feature columns, in this order, no target, no header:" in deployed
    assert "For example, the first row of this run's test split:" in deployed
    # The traceback the terminal leaves out is in the function's log group, as Lambda logs it.
    assert any(
        event.startswith("[ERROR] ValidationFailed: data/credit/two-rows.csv") and "Traceback" in event
        for event in validate_log
    )
    # Killed (-9) means local mode did not stop within STOP_SECONDS: its last lines say what it was doing.
    assert process.returncode == 0, output[-4000:]
    assert list((state_dir / "jobs").glob("*-train/model/model.joblib"))
    assert list((state_dir / "s3").rglob("model.tar.gz")), "artifacts stay on disk after local mode stops"


def _log_events(logs: Any, function: str) -> list[str]:
    """Every event of the stack's function whose logical name is ``function``, from its log group."""
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/aws/lambda/driftline-{function}")["logGroups"]
    return [
        event["message"]
        for group in groups
        for event in logs.filter_log_events(logGroupName=group["logGroupName"])["events"]
    ]


def _assert_a_quiet_terminal(output: str, refused: str, approved: str) -> None:
    """One line per run outcome with its reason; a named handler error in one line; none of the emulator's
    internals (its exception objects, their addresses, interpreter tracebacks)."""
    lines = output.splitlines()
    validate = [line for line in lines if "[Validate] ERROR" in line]
    assert len(validate) == 1 and "ValidationFailed: data/credit/two-rows.csv" in validate[0], validate
    assert any(f"[run] {refused}: FAILED at Validate (ValidationFailed): Validation failed: " in line for line in lines)
    assert any(f"[run] {approved}: waiting for approval: links in " in line for line in lines)
    assert any(
        f"[run] {approved}: SUCCEEDED: model version 1 serving on endpoint driftline-tumours" in line for line in lines
    )
    assert "Traceback" not in output
    assert not re.search(r"\b0x[0-9a-f]{6,}", output), re.search(r".*\b0x[0-9a-f]{6,}.*", output)
    assert "moto." not in output and "Exception=" not in output
