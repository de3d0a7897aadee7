"""Which local mode a command means: the one running from this folder's state folder, one that stopped (its stack
file stays behind), or one running from another folder; and ``destroy --local``'s refusals.

Whether an endpoint answers is a connection, which unit tests do not open: ``answering`` says which do.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from driftline import stack_target
from driftline.cli import main
from driftline.cli_errors import CommandError
from driftline.destroy import local_teardown_lines
from driftline.local import instances

URL = "http://127.0.0.1:4777"


@pytest.fixture
def answering(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> set[str]:
    """The endpoints that accept connections (none unless a test adds one); the runtime folder is the test's."""
    up: set[str] = set()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "runtime"))
    (tmp_path / "runtime").mkdir()
    monkeypatch.setattr(instances, "endpoint_answers", lambda url, timeout=1.0: url in up)
    monkeypatch.setattr(stack_target, "endpoint_answers", lambda url, timeout=1.0: url in up)
    monkeypatch.setattr(stack_target, "default_port_answers", lambda: URL in up)
    monkeypatch.chdir(tmp_path)
    return up


def _stack_file(folder: Path, url: str = URL) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "endpoint_url": url,
        "region": "us-east-1",
        "stack_name": "driftline",
        "outputs": {"PipelineStateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:driftline-pipeline"},
    }
    (folder / "stack.json").write_text(json.dumps(document))
    return folder


def _args(**given: object) -> argparse.Namespace:
    defaults: dict[str, object] = {"local": False, "stack_name": None, "region": None, "state_dir": Path(".driftline")}
    return argparse.Namespace(**{**defaults, **given})


def test_local_mode_running_from_this_folder_is_used_and_said_so(answering: set[str]) -> None:
    _stack_file(Path(".driftline"))
    answering.add(URL)
    notes: list[str] = []

    target = stack_target.resolve_target(_args(), note=notes.append)

    assert (target.endpoint_url, target.region, target.flags) == (URL, "us-east-1", "--local")
    assert target.machine_arn.endswith(":stateMachine:driftline-pipeline")
    assert notes == [f"using local mode at {URL} (state in .driftline); pass --stack-name for a deployed stack"]


def test_a_state_folder_given_by_hand_is_repeated_in_suggested_commands(answering: set[str], tmp_path: Path) -> None:
    folder = _stack_file(tmp_path / "elsewhere")
    answering.add(URL)

    assert stack_target.resolve_target(_args(local=True, state_dir=folder)).flags == f"--local --state-dir {folder}"


def test_local_mode_that_stopped_is_said_to_have_stopped(answering: set[str]) -> None:
    _stack_file(Path(".driftline"))

    with pytest.raises(CommandError) as refused:
        stack_target.resolve_target(_args(local=True))

    assert str(refused.value) == "local mode is not running (it stopped; its last outputs are in .driftline/stack.json)"


def test_local_outputs_after_local_mode_stopped_print_nothing_and_fail(
    answering: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    _stack_file(Path(".driftline"))

    assert main(["local", "outputs"]) == 1

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "driftline: local mode is not running (it stopped; its last outputs are in .driftline/stack.json)\n"
    )


def test_local_outputs_from_another_folder_point_to_where_local_mode_runs(
    answering: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project" / ".driftline"
    instances.record_running("http://127.0.0.1:4800", project, "driftline")
    answering.add("http://127.0.0.1:4800")

    assert main(["local", "outputs"]) == 1

    assert capsys.readouterr().err == (
        "driftline: local mode is not running from .driftline (no stack.json there)\n"
        f"driftline: local mode runs at http://127.0.0.1:4800 with its state in {project}: pass --state-dir {project}\n"
    )


def test_something_on_local_mode_s_port_without_a_record_is_named_as_a_hint(
    answering: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    answering.add(URL)

    assert main(["local", "outputs"]) == 1

    assert "something answers on 127.0.0.1:4777, local mode's port: pass --state-dir" in capsys.readouterr().err


def test_a_record_left_by_a_local_mode_that_ended_is_dropped(answering: set[str], tmp_path: Path) -> None:
    note = instances.record_running("http://127.0.0.1:4801", tmp_path / "gone", "driftline")

    assert instances.running_instances() == []
    assert not note.exists()


def test_the_runtime_records_are_the_user_s_alone(answering: set[str]) -> None:
    note = instances.record_running(URL, Path("s"), "driftline")

    assert note.parent.stat().st_mode & 0o077 == 0


def test_destroy_local_refuses_while_local_mode_runs_from_the_folder(answering: set[str]) -> None:
    _stack_file(Path(".driftline"))
    answering.add(URL)

    with pytest.raises(CommandError, match=r"^local mode is running with the state folder \.driftline"):
        local_teardown_lines(Path(".driftline"))


def test_destroy_local_refuses_a_folder_local_mode_did_not_write(answering: set[str], tmp_path: Path) -> None:
    folder = tmp_path / "home"
    (folder / "Documents").mkdir(parents=True)

    with pytest.raises(CommandError, match="does not look like local mode's state folder"):
        local_teardown_lines(folder)
    assert (folder / "Documents").is_dir()


def test_destroy_local_deletes_a_stopped_local_mode_s_folder(
    answering: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _stack_file(Path(".driftline"))
    (folder / "outbox").mkdir()
    (folder / "outbox" / "mail.eml").write_text("hello")

    assert main(["destroy", "--local", "--yes"]) == 0

    assert not folder.exists()
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"delete {folder.resolve()}: 2 file(s), 0.0 MiB")
    assert out[-1] == "Deleted .driftline."


def test_destroy_local_without_a_folder_says_there_is_nothing(
    answering: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--local", "--yes"]) == 1

    assert capsys.readouterr().err == (
        "driftline: no local state folder at .driftline: nothing to delete (pass --state-dir with local mode's)\n"
    )


def test_an_aws_failure_from_another_folder_points_to_the_local_mode_running_elsewhere(
    answering: set[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no region from an instance's metadata either
    project = tmp_path / "project" / ".driftline"
    instances.record_running("http://127.0.0.1:4800", project, "driftline")
    answering.add("http://127.0.0.1:4800")

    assert main(["runs"]) == 1

    assert capsys.readouterr().err.splitlines() == [
        "driftline: no AWS region is set: set AWS_REGION (or AWS_DEFAULT_REGION) or pass --region; "
        "for local mode pass --local",
        f"driftline: local mode runs at http://127.0.0.1:4800 with its state in {project}: "
        f"pass --local --state-dir {project}",
    ]
