"""The demo's last words: where a newcomer goes next, with the commands and names of the stack it ran."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from driftline.local.demo import driftline_command, what_next
from driftline.local.settings import LocalSettings

BUCKET = "driftline-databucket-3pwkrssgj2cv"


def _cloud(tmp_path: Path) -> Any:
    """What ``what_next`` reads of a local cloud: its settings and its stack's outputs."""
    settings = LocalSettings(state_dir=tmp_path / ".driftline")
    return SimpleNamespace(settings=settings, outputs={"DataBucketName": BUCKET})


def test_what_next_gives_the_commands_to_keep_local_mode_up_upload_follow_and_approve(tmp_path: Path) -> None:
    report = tmp_path / ".driftline" / "s3" / "drift_report.html"

    text = what_next(_cloud(tmp_path), report)

    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "What next:"
    assert "make up" in lines
    assert (
        "export AWS_ENDPOINT_URL=http://127.0.0.1:4777 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=local "
        "AWS_SECRET_ACCESS_KEY=local"
    ) in lines
    assert f"aws s3 cp my.csv s3://{BUCKET}/data/my-dataset/my.csv" in lines
    command = driftline_command()
    assert command.endswith("driftline") and (command == "driftline" or "/" in command)  # runnable as printed
    assert f"{command} status <run> --follow" in lines
    assert f"{command} approve <run>" in lines
    assert f"This demo's drift report: {report}" in lines


def test_without_the_drift_loop_there_is_no_drift_report_to_open(tmp_path: Path) -> None:
    assert "drift report" not in what_next(_cloud(tmp_path), None)
